"""The technologies the sandbox knows: BuiltWith's view of each and its real-world fingerprint.

Each fingerprint is what the technology really leaves in a page (the signatures Wappalyzer and
BuiltWith match): script hosts, paths, meta generator tags, response headers, cookies. The
homepage simulation renders exactly the fingerprints of the technologies BuiltWith reports,
so a fingerprint matcher run on the page agrees with the BuiltWith simulation.

Fingerprint kinds: ``script`` (src), ``css`` (stylesheet href), ``preconnect`` (href),
``meta`` (``name=content``), ``header`` (``name: value``), ``cookie`` (``name=value``),
``html`` (raw markup in the body), ``inline`` (inline script). Values are ``str.format``
templates over ``domain``, ``label``, ``Label``, ``num``, ``hex``, ``ver``.
"""

from __future__ import annotations

from dataclasses import dataclass

Fingerprint = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Tech:
    """One technology as BuiltWith describes it, with its fingerprints."""

    name: str
    tag: str
    categories: tuple[str, ...]
    description: str
    link: str
    premium: bool
    fingerprints: tuple[Fingerprint, ...]


def _t(
    name: str,
    tag: str,
    cats: str,
    description: str,
    link: str,
    premium: bool,
    *fingerprints: Fingerprint,
) -> Tech:
    return Tech(name, tag, tuple(cats.split("|")), description, link, premium, fingerprints)


_GTM_SNIPPET = (
    "(function(w,d,s,l,i){{w[l]=w[l]||[];w[l].push({{'gtm.start':new Date().getTime(),"
    "event:'gtm.js'}});var f=d.getElementsByTagName(s)[0],j=d.createElement(s),"
    "dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src='https://www.googletagmanager.com/gtm.js"
    "?id='+i+dl;f.parentNode.insertBefore(j,f);}})(window,document,'script','dataLayer',"
    "'GTM-{HEX6}');"
)

# fmt: off
_ALL = [
    _t("Adobe Experience Manager", "cms", "Enterprise|Content Management System",
       "Adobe Experience Manager is a content management solution for building websites, mobile "
       "apps and forms.",
       "https://business.adobe.com/products/experience-manager/adobe-experience-manager.html", True,
       ("css", "/etc.clientlibs/{label}/clientlibs/clientlib-base.lc-{hex}-lc.min.css"),
       ("script", "/etc.clientlibs/{label}/clientlibs/clientlib-site.lc-{hex}-lc.min.js"),
       ("html", "<div class=\"aem-Grid aem-Grid--12 aem-Grid--default--12\">"),
       ("html",
        "<img src=\"/content/dam/{label}/homepage/hero-banner.jpg\" alt=\"\" "
        "class=\"cmp-image__image\">")),
    _t("WordPress", "cms", "Blog|Open Source",
       "WordPress is an open source content management system.",
       "https://wordpress.org", False,
       ("meta", "generator=WordPress 6.6.2"),
       ("css", "/wp-content/themes/{label}/style.css?ver=6.6.2"),
       ("script", "/wp-includes/js/wp-embed.min.js?ver=6.6.2"),
       ("header", "link=<https://www.{domain}/wp-json/>; rel=\"https://api.w.org/\"")),
    _t("Drupal", "cms", "Open Source",
       "Drupal is an open source content management platform.",
       "https://www.drupal.org", False,
       ("meta", "generator=Drupal 10 (https://www.drupal.org)"),
       ("header", "x-generator=Drupal 10 (https://www.drupal.org)"),
       ("script", "/core/misc/drupal.js?v=10.3.2")),
    _t("Contentful", "cms", "Headless CMS",
       "Contentful is an API-first headless content management system.",
       "https://www.contentful.com", True,
       ("html",
        "<img src=\"https://images.ctfassets.net/{hex}/hero/{hex}/home-hero.jpg\""
        " alt=\"\">")),
    _t("Sitecore", "cms", "Enterprise",
       "Sitecore is an enterprise content management and digital experience platform.",
       "https://www.sitecore.com", True,
       ("cookie", "SC_ANALYTICS_GLOBAL_COOKIE={hex}|True"),
       ("html", "<img src=\"/-/media/{label}/images/home/hero.jpg?h=600&amp;w=1600\" alt=\"\">")),
    _t("Amplience", "cms", "Headless CMS|Digital Asset Management",
       "Amplience is a headless content and digital asset management platform for commerce.",
       "https://amplience.com", True,
       ("preconnect", "https://cdn.media.amplience.net"),
       ("html",
        "<img src=\"https://cdn.media.amplience.net/i/{label}/home-hero?w=1600\" "
        "alt=\"\">")),
    _t("Shopify", "shop", "Hosted Solution|Ecommerce",
       "Shopify is a hosted e-commerce platform for online stores.",
       "https://www.shopify.com", True,
       ("script", "https://cdn.shopify.com/s/files/1/{num}/t/12/assets/theme.js?v={ver}"),
       ("header", "x-shopify-stage=production"),
       ("header", "x-shopid={num}"),
       ("cookie", "_shopify_y={hex}"),
       ("inline",
        "window.Shopify = window.Shopify || {{}}; Shopify.shop = "
        "\"{label}.myshopify.com\";")),
    _t("Shopify Plus", "shop", "Enterprise|Ecommerce",
       "Shopify Plus is the enterprise plan of the Shopify e-commerce platform.",
       "https://www.shopify.com/plus", True,
       ("inline", "Shopify.plan = \"shopify_plus\"; Shopify.checkout = \"checkout.{domain}\";")),
    _t("Salesforce Commerce Cloud", "shop", "Enterprise|Ecommerce",
       "Salesforce Commerce Cloud (formerly Demandware) is a cloud e-commerce platform.",
       "https://www.salesforce.com/commerce/", True,
       ("script", "/on/demandware.static/Sites-{Label}-Site/-/en_US/v{ver}/js/main.js"),
       ("cookie", "dwanonymous_{hex}={hex}"),
       ("cookie", "dwsid={hex}")),
    _t("Adobe Commerce", "shop", "Enterprise|Ecommerce",
       "Adobe Commerce (formerly Magento Commerce) is an enterprise e-commerce platform.",
       "https://business.adobe.com/products/magento/magento-commerce.html", True,
       ("script", "/static/version{ver}/frontend/{Label}/default/en_US/requirejs/require.js"),
       ("html", '<script type="text/x-magento-init">{{"*": {{'
                '"Magento_CustomerSegment/js/customer-segment": {{}}}}}}</script>')),
    _t("Magento", "shop", "Open Source|Ecommerce",
       "Magento Open Source is an e-commerce platform written in PHP.",
       "https://business.adobe.com/products/magento/open-source.html", False,
       ("script", "/static/version{ver}/frontend/{Label}/default/en_US/mage/cookies.js"),
       ("cookie", "X-Magento-Vary={hex}"),
       ("inline", "Mage.Cookies.path = '/'; Mage.Cookies.domain = '.{domain}';")),
    _t("BigCommerce", "shop", "Hosted Solution|Ecommerce",
       "BigCommerce is a hosted e-commerce platform.",
       "https://www.bigcommerce.com", True,
       ("script",
        "https://cdn11.bigcommerce.com/s-"
        "{hex}/stencil/{hex}/e/{hex}/dist/theme-bundle.main.js"),
       ("cookie", "SHOP_SESSION_TOKEN={hex}")),
    _t("commercetools", "shop", "Headless Commerce|Enterprise",
       "commercetools is a cloud-native, headless commerce platform.",
       "https://commercetools.com", True,
       ("script", "https://unpkg.com/@commercetools/checkout-browser-sdk@latest/browser/sdk.js")),
    _t("Spryker", "shop", "Enterprise|Ecommerce",
       "Spryker is a composable commerce platform.",
       "https://spryker.com", True,
       ("script", "/assets/current/default/js/yves_default.runtime.js")),
    _t("Algolia", "widgets", "Site Search",
       "Algolia is a hosted search API for websites and apps.",
       "https://www.algolia.com", True,
       ("script",
        "https://cdn.jsdelivr.net/npm/algoliasearch@4.24.0/dist/algoliasearch-"
        "lite.umd.js"),
       ("script",
        "https://cdn.jsdelivr.net/npm/instantsearch.js@4.74.0/dist/instantsearc"
        "h.production.min.js"),
       ("preconnect", "https://{HEX10}-dsn.algolia.net")),
    _t("Coveo", "widgets", "Site Search",
       "Coveo is an AI-powered search and recommendations platform.",
       "https://www.coveo.com", True,
       ("css", "https://static.cloud.coveo.com/searchui/v2.10116/css/CoveoFullSearch.css"),
       ("script", "https://static.cloud.coveo.com/searchui/v2.10116/js/CoveoJsSearch.Lazy.min.js")),
    _t("Constructor", "widgets", "Site Search",
       "Constructor is an AI-first product search and discovery platform for e-commerce.",
       "https://constructor.com", True,
       ("script", "https://cnstrc.com/js/cust/{label}_{hex}.js")),
    _t("Bloomreach", "widgets", "Site Search|Personalization",
       "Bloomreach Discovery provides product search, merchandising and recommendations.",
       "https://www.bloomreach.com", True,
       ("script", "https://cdns.brsrvr.com/v1/br-trk-{num}.js"),
       ("script", "https://connect.brcdn.com/{label}/search-widget.js")),
    _t("Searchspring", "widgets", "Site Search",
       "Searchspring is a site search and merchandising platform for e-commerce.",
       "https://searchspring.com", True,
       ("script", "https://cdn.searchspring.net/search/v3/js/searchspring.catalog.js?{hex}")),
    _t("Klevu", "widgets", "Site Search",
       "Klevu is an AI-powered site search for e-commerce.",
       "https://www.klevu.com", True,
       ("script", "https://js.klevu.com/core/v2/klevu.js"),
       ("inline", "klevu({{ search: {{ apiKey: \"klevu-{num}\" }} }});")),
    _t("Doofinder", "widgets", "Site Search",
       "Doofinder is a site search solution for online stores.",
       "https://www.doofinder.com", True,
       ("script", "https://cdn.doofinder.com/livelayer/1/js/loader.min.js"),
       ("inline", "const dfLayerOptions = {{ installationId: \"{hex}\", zone: \"eu1\" }};")),
    _t("Yext", "widgets", "Site Search",
       "Yext Search is an AI search platform for websites.",
       "https://www.yext.com", True,
       ("script", "https://assets.sitescdn.net/answers/v1.15/answers.min.js"),
       ("preconnect", "https://liveapi.yextapis.com"),
       ("inline",
        "ANSWERS.init({{ apiKey: \"{hex}\", experienceKey: \"{label}-answers\", "
        "businessId: \"{num}\", endpoint: \"https://answers.yext.com\" }});")),
    _t("Lucidworks", "widgets", "Site Search",
       "Lucidworks Fusion is an AI-powered search platform.",
       "https://lucidworks.com", True,
       ("script", "https://{label}.b.lucidworks.cloud/static/springboard/search.js")),
    _t("Elasticsearch", "widgets", "Site Search",
       "Elasticsearch is a distributed search and analytics engine.",
       "https://www.elastic.co/elasticsearch", False,
       ("script", "https://cdn.jsdelivr.net/npm/@elastic/search-ui@1.21.2/lib/esm/index.js"),
       ("inline",
        "window.searchConfig = {{ host: \"https://{label}.es.us-"
        "east-1.aws.found.io\", index: \"{label}-products\" }};")),
    _t("Swiftype", "widgets", "Site Search",
       "Swiftype is a hosted site search by Elastic.",
       "https://swiftype.com", True,
       ("script", "https://s.swiftypecdn.com/install/v2/st.js"),
       ("inline", "_st('install','{hex}','2.0.0'); /* swiftype.com site search */")),
    _t("Solr", "widgets", "Site Search|Open Source",
       "Apache Solr is an open source enterprise search platform.",
       "https://solr.apache.org", False,
       ("inline", "window.searchEndpoint = \"/solr/{label}/select\"; /* Apache Solr */")),
    _t("OpenSearch", "widgets", "Site Search|Open Source",
       "OpenSearch is an open source search and analytics suite.",
       "https://opensearch.org", False,
       ("inline",
        "window.searchEndpoint = \"https://search-{label}-{hex}.us-"
        "east-1.es.amazonaws.com\";")),
    _t("Cloudflare", "cdn", "Content Delivery Network",
       "Cloudflare is a content delivery network and DDoS protection service.",
       "https://www.cloudflare.com", False,
       ("header", "server=cloudflare"),
       ("header", "cf-ray={HEX16}-IAD"),
       ("cookie", "__cf_bm={hex}")),
    _t("Akamai", "cdn", "Content Delivery Network",
       "Akamai is a content delivery network and cloud services provider.",
       "https://www.akamai.com", True,
       ("header", "x-akamai-transformed=9 - 0 pmb=mTOE,1"),
       ("header", "akamai-grn=0.{hex}.{num}.{hex}"),
       ("cookie", "ak_bmsc={hex}")),
    _t("Fastly", "cdn", "Content Delivery Network",
       "Fastly is an edge cloud platform and CDN.",
       "https://www.fastly.com", True,
       ("header", "x-served-by=cache-iad-kiad7000{num}-IAD"),
       ("header", "x-fastly-request-id={hex}")),
    _t("Amazon CloudFront", "cdn", "Content Delivery Network",
       "Amazon CloudFront is the CDN of Amazon Web Services.",
       "https://aws.amazon.com/cloudfront/", False,
       ("header", "x-amz-cf-pop=IAD89-C1"),
       ("header", "x-amz-cf-id={hex}"),
       ("header", "via=1.1 {hex}.cloudfront.net (CloudFront)")),
    _t("nginx", "Web Server", "Web Server",
       "nginx is an HTTP and reverse proxy server.",
       "http://nginx.org/en/", False,
       ("header", "server=nginx")),
    _t("Apache", "Web Server", "Web Server",
       "Apache HTTP Server is an open source web server.",
       "https://httpd.apache.org", False,
       ("header", "server=Apache")),
    _t("React", "javascript", "JavaScript Library",
       "React is a JavaScript library for building user interfaces.",
       "https://react.dev", False,
       ("script", "https://unpkg.com/react@18.3.1/umd/react.production.min.js"),
       ("html", "<div id=\"app-root\" data-reactroot=\"\">")),
    _t("Next.js", "framework", "JavaScript Framework",
       "Next.js is a React framework for server-rendered applications.",
       "https://nextjs.org", False,
       ("header", "x-powered-by=Next.js"),
       ("script", "/_next/static/chunks/main-{hex}.js"),
       ("html",
        "<script id=\"__NEXT_DATA__\" type=\"application/json\">{{\"props\":{{\"pagePr"
        "ops\":{{}}}},\"page\":\"/\",\"buildId\":\"{hex}\"}}</script>")),
    _t("Vue.js", "javascript", "JavaScript Library",
       "Vue.js is a progressive JavaScript framework.",
       "https://vuejs.org", False,
       ("script", "https://cdn.jsdelivr.net/npm/vue@3.4.38/dist/vue.global.prod.js"),
       ("html", "<div data-v-{hex} class=\"promo-strip\">")),
    _t("Nuxt.js", "framework", "JavaScript Framework",
       "Nuxt is a Vue.js framework for server-rendered applications.",
       "https://nuxt.com", False,
       ("script", "/_nuxt/entry.{hex}.js"),
       ("html", "<div id=\"__nuxt\">"),
       ("inline", "window.__NUXT__={{config:{{public:{{}},app:{{baseURL:\"/\"}}}}}};")),
    _t("jQuery", "javascript", "JavaScript Library",
       "jQuery is a fast, small JavaScript library.",
       "https://jquery.com", False,
       ("script", "https://code.jquery.com/jquery-3.7.1.min.js")),
    _t("Google Font API", "widgets", "Fonts",
       "Google Fonts is a library of free licensed font families.",
       "https://fonts.google.com", False,
       ("css", "https://fonts.googleapis.com/css2?family=Inter:wght@400;600&display=swap")),
    _t("Google Tag Manager", "analytics", "Tag Management",
       "Google Tag Manager manages JavaScript and HTML tags.",
       "https://marketingplatform.google.com/about/tag-manager/", False,
       ("inline",
        "(function(w,d,s,l,i){{w[l]=w[l]||[];w[l].push({{'gtm.start':new "
        "Date().getTime(),event:'gtm.js'}});var f=d.getElementsByTagName(s)[0],"
        "j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src='"
        "https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertB"
        "efore(j,f);}})(window,document,'script','dataLayer','GTM-{HEX6}');")),
    _t("Google Analytics", "analytics", "Application Performance|Audience Measurement",
       "Google Analytics offers website traffic and conversion statistics.",
       "https://marketingplatform.google.com/about/analytics/", False,
       ("script", "https://www.googletagmanager.com/gtag/js?id=G-{HEX10}"),
       ("cookie", "_ga=GA1.1.{num}.{num}")),
    _t("Adobe Analytics", "analytics", "Enterprise|Audience Measurement",
       "Adobe Analytics measures and analyses web and app traffic.",
       "https://business.adobe.com/products/analytics/adobe-analytics.html", True,
       ("script", "/js/analytics/AppMeasurement.min.js"),
       ("cookie", "s_cc=true")),
    _t("Optimizely", "analytics", "A/B Testing",
       "Optimizely is a digital experience and experimentation platform.",
       "https://www.optimizely.com", True,
       ("script", "https://cdn.optimizely.com/js/{num}.js")),
    _t("Segment", "analytics", "Customer Data Platform",
       "Segment is a customer data platform.",
       "https://segment.com", True,
       ("script", "https://cdn.segment.com/analytics.js/v1/{hex}/analytics.min.js")),
    _t("Hotjar", "analytics", "Heat Maps|Feedback Forms",
       "Hotjar records visitor sessions and heatmaps.",
       "https://www.hotjar.com", True,
       ("script", "https://static.hotjar.com/c/hotjar-{num}.js?sv=6"),
       ("inline",
        "window.hj=window.hj||function(){{(hj.q=hj.q||[]).push(arguments)}};win"
        "dow._hjSettings={{hjid:{num},hjsv:6}};")),
    _t("New Relic", "analytics", "Application Performance",
       "New Relic monitors application performance.",
       "https://newrelic.com", True,
       ("script", "https://js-agent.newrelic.com/nr-spa-1.268.0.min.js"),
       ("inline", "window.NREUM||(NREUM={{}});NREUM.info={{applicationID:\"{num}\"}};")),
    _t("Facebook Pixel", "analytics", "Retargeting",
       "Facebook Pixel measures the effectiveness of Facebook advertising.",
       "https://www.facebook.com/business/tools/meta-pixel", False,
       ("script", "https://connect.facebook.net/en_US/fbevents.js"),
       ("inline", "fbq('init', '{num}'); fbq('track', 'PageView');")),
    _t("Tealium", "analytics", "Tag Management|Enterprise",
       "Tealium is an enterprise tag management and customer data platform.",
       "https://tealium.com", True,
       ("script", "https://tags.tiqcdn.com/utag/{label}/main/prod/utag.js")),
    _t("OneTrust", "widgets", "Privacy Compliance",
       "OneTrust provides cookie consent and privacy management.",
       "https://www.onetrust.com", True,
       ("script", "https://cdn.cookielaw.org/scripttemplates/otSDKStub.js")),
    _t("Dynamic Yield", "analytics", "Personalization",
       "Dynamic Yield is a personalization and experimentation platform.",
       "https://www.dynamicyield.com", True,
       ("script", "https://cdn.dynamicyield.com/api/{num}/api_dynamic.js")),
    _t("Bazaarvoice", "widgets", "Product Reviews",
       "Bazaarvoice provides ratings, reviews and user-generated content.",
       "https://www.bazaarvoice.com", True,
       ("script",
        "https://apps.bazaarvoice.com/deployments/{label}/main_site/production/"
        "en_US/bv.js")),
    _t("HubSpot", "analytics", "Marketing Automation",
       "HubSpot is a marketing and sales software platform.",
       "https://www.hubspot.com", True,
       ("html", "<!-- Start of HubSpot Embed Code -->"),
       ("script", "https://js.hs-scripts.com/{num}.js")),
    _t("Salesforce", "analytics", "CRM|Marketing Automation",
       "Salesforce is a customer relationship management (CRM) platform.",
       "https://www.salesforce.com", True,
       ("html", '<form class="contact-sales" method="post" '
                'action="https://webto.salesforce.com/servlet/servlet.WebToLead?encoding=UTF-8">'
                '<input type="hidden" name="oid" value="00D{HEX10}"></form>')),
    _t("Klaviyo", "analytics", "Email Marketing",
       "Klaviyo is an email and SMS marketing platform for e-commerce.",
       "https://www.klaviyo.com", True,
       ("script", "https://static.klaviyo.com/onsite/js/klaviyo.js?company_id={HEX6}")),
    _t("Marketo", "analytics", "Marketing Automation",
       "Marketo is Adobe's marketing automation platform.",
       "https://business.adobe.com/products/marketo/adobe-marketo.html", True,
       ("script", "https://munchkin.marketo.net/munchkin.js")),
    _t("Stripe", "payment", "Payment Processor",
       "Stripe is an online payment processing platform.",
       "https://stripe.com", False,
       ("script", "https://js.stripe.com/v3/")),
    _t("PayPal", "payment", "Payment Processor",
       "PayPal is an online payments system.",
       "https://www.paypal.com", False,
       ("script", "https://www.paypal.com/sdk/js?client-id={hex}&components=buttons")),
    _t("PHP", "framework", "Programming Language",
       "PHP is an open source general-purpose scripting language.", "https://www.php.net", False,
       ("cookie", "PHPSESSID={hex}")),
    _t("Java", "framework", "Programming Language",
       "Java is a class-based, object-oriented programming language.", "https://www.java.com",
       False,
       ("cookie", "JSESSIONID={HEX16}")),
    _t("Microsoft ASP.NET", "framework", "Web Framework",
       "ASP.NET is Microsoft's open source web framework.",
       "https://dotnet.microsoft.com/apps/aspnet", False,
       ("cookie", "ASP.NET_SessionId={hex}")),
    # Retired products: only ever reported as no longer detected.
    _t("Google Optimize", "analytics", "A/B Testing",
       "Google Optimize was Google's A/B testing tool (retired September 2023).",
       "https://marketingplatform.google.com/about/optimize/", False),
    _t("AddThis", "widgets", "Social Sharing",
       "AddThis was a social bookmarking and sharing service (retired May 2023).",
       "https://www.addthis.com", False),
    _t("Universal Analytics", "analytics", "Audience Measurement",
       "Universal Analytics was Google's previous analytics version (retired July 2023).",
       "https://support.google.com/analytics/answer/11583528", False),
]
# fmt: on

#: Every technology by name.
TECHS: dict[str, Tech] = {tech.name: tech for tech in _ALL}

#: Site-search vendors a seller of site search displaces (names as the sales rules use them).
SEARCH_VENDORS = (
    "Elasticsearch",
    "Algolia",
    "Coveo",
    "Constructor",
    "Bloomreach",
    "Searchspring",
    "Klevu",
    "Lucidworks",
    "Yext",
    "Doofinder",
    "Solr",
    "Swiftype",
    "OpenSearch",
)
#: Commerce platforms (partners in the sales rules).
COMMERCE = (
    "Shopify",
    "Shopify Plus",
    "Salesforce Commerce Cloud",
    "Adobe Commerce",
    "Magento",
    "BigCommerce",
    "commercetools",
    "Spryker",
)
#: Content management systems.
CMS = ("Adobe Experience Manager", "WordPress", "Drupal", "Contentful", "Sitecore", "Amplience")
#: Technologies a product runs on, which BuiltWith reports along with it.
IMPLIES = {
    "WordPress": ("PHP",),
    "Drupal": ("PHP",),
    "Magento": ("PHP",),
    "Spryker": ("PHP",),
    "Salesforce Commerce Cloud": ("Java",),
    "Adobe Experience Manager": ("Java",),
    "Sitecore": ("Microsoft ASP.NET",),
}
#: First year each product could be detected (when it launched or took its current name).
# fmt: off
LAUNCHED = {
    "Adobe Commerce": 2015, "Shopify Plus": 2014, "commercetools": 2013, "Spryker": 2014,
    "Salesforce Commerce Cloud": 2016, "BigCommerce": 2009, "Contentful": 2013, "Amplience": 2010,
    "Algolia": 2012, "Constructor": 2015, "Klevu": 2013, "Doofinder": 2011, "Yext": 2019,
    "Elasticsearch": 2010, "Swiftype": 2012, "Solr": 2006, "OpenSearch": 2021, "Coveo": 2012,
    "Searchspring": 2007, "Bloomreach": 2009, "Lucidworks": 2009, "Cloudflare": 2010,
    "Fastly": 2011, "React": 2013, "Next.js": 2016, "Vue.js": 2014, "Nuxt.js": 2016,
    "jQuery": 2006, "Google Tag Manager": 2012, "Google Analytics": 2020, "Segment": 2012,
    "Hotjar": 2014, "OneTrust": 2016, "Dynamic Yield": 2011, "Klaviyo": 2012, "Stripe": 2011,
    "Optimizely": 2010, "New Relic": 2008, "Facebook Pixel": 2015, "HubSpot": 2006,
    "Tealium": 2008, "Amazon CloudFront": 2008, "Universal Analytics": 2012,
    "Google Optimize": 2016, "AddThis": 2006, "Google Font API": 2010, "Bazaarvoice": 2005,
    "Microsoft ASP.NET": 2002,
}
# fmt: on
#: Retired products and the day they stopped working (epoch seconds): never live.
RETIRED = {"Google Optimize": 1696032000, "AddThis": 1685491200, "Universal Analytics": 1688169600}
