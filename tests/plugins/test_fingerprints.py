"""Technology fingerprinting: the bundled data, matching, versions, implies and evidence.

Samples are the marks each technology really leaves in a page (script hosts and paths, meta
tags, headers, cookies), one technology at a time, so a pattern matching the wrong thing shows.
"""

from __future__ import annotations

import json
import random
import time
from importlib import resources
from typing import Any

import pytest

from enrichd.plugins.builtin._fingerprints import (
    CATEGORIES,
    CMS_CATEGORY,
    COMMERCE_CATEGORY,
    FINGERPRINTS,
    SEARCH_CATEGORY,
    TECHNOLOGIES,
    Detection,
    FingerprintError,
    detect,
    load_fingerprints,
    primary,
    required_literal,
)
from enrichd.plugins.builtin._html import extract_facts

URL = "https://www.acme.example/"


def script(src: str) -> str:
    return f'<script src="{src}"></script>'


def inline(code: str) -> str:
    return f"<script>{code}</script>"


def run(
    html: str = "",
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    url: str = URL,
) -> dict[str, Detection]:
    facts = extract_facts(html, url)
    return {d.name: d for d in detect(facts, headers or {}, cookies or {}, url)}


# (technology, html, headers, cookies): one sample per platform and vendor of the sales rules,
# and per family of tools the daemon reports.
SAMPLES: list[tuple[str, str, dict[str, str], dict[str, str]]] = [
    # -- commerce platforms
    ("Shopify", script("https://cdn.shopify.com/s/files/1/0123/t/12/assets/theme.js?v=9"), {}, {}),
    ("Shopify", "", {"x-shopify-stage": "production", "x-shopid": "123"}, {}),
    ("Shopify", "", {}, {"_shopify_y": "abc"}),
    ("Shopify", inline('window.Shopify = {}; Shopify.shop = "acme.myshopify.com";'), {}, {}),
    ("Shopify Plus", inline('Shopify.plan = "shopify_plus";'), {}, {}),
    (
        "Magento",
        script("/static/version1712345678/frontend/Acme/default/en_US/mage/cookies.js"),
        {},
        {},
    ),
    ("Magento", "", {}, {"X-Magento-Vary": "abc"}),
    ("Magento", inline("Mage.Cookies.path = '/';"), {}, {}),
    (
        "Adobe Commerce",
        '<script type="text/x-magento-init">{"*": {"Magento_GiftCardAccount/js/x": {}}}</script>',
        {},
        {},
    ),
    ("Adobe Commerce", '<meta name="generator" content="Adobe Commerce 2.4.7">', {}, {}),
    (
        "Salesforce Commerce Cloud",
        script("/on/demandware.static/Sites-Acme-Site/-/en_US/v1712/js/main.js"),
        {},
        {},
    ),
    ("Salesforce Commerce Cloud", "", {}, {"dwanonymous_0a1b2c": "x", "dwsid": "y"}),
    (
        "commercetools",
        script("https://unpkg.com/@commercetools/checkout-browser-sdk@latest/browser/sdk.js"),
        {},
        {},
    ),
    (
        "commercetools",
        inline('fetch("https://api.europe-west1.gcp.commercetools.com/acme/products")'),
        {},
        {},
    ),
    (
        "BigCommerce",
        script("https://cdn11.bigcommerce.com/s-abc123/stencil/x/e/y/dist/theme-bundle.main.js"),
        {},
        {},
    ),
    ("BigCommerce", "", {}, {"SHOP_SESSION_TOKEN": "x"}),
    ("WooCommerce", script("/wp-content/plugins/woocommerce/assets/js/woocommerce.min.js"), {}, {}),
    ("Spryker", script("/assets/current/default/js/yves_default.runtime.js"), {}, {}),
    ("Amplience", '<img src="https://cdn.media.amplience.net/i/acme/hero?w=1600" alt="">', {}, {}),
    ("Amplience", '<link rel="preconnect" href="https://cdn.media.amplience.net">', {}, {}),
    ("SAP Commerce Cloud", script("/_ui/responsive/common/js/acc.storefinder.js"), {}, {}),
    ("SAP Commerce Cloud", '<img src="/medias/hero.jpg?context=bWFzdGVy">', {}, {}),
    ("VTEX", script("https://acme.vtexassets.com/_v/public/assets/v1/bundle.js"), {}, {}),
    # -- content management
    (
        "Adobe Experience Manager",
        script("/etc.clientlibs/acme/clientlibs/clientlib-site.lc-abc-lc.min.js"),
        {},
        {},
    ),
    (
        "Adobe Experience Manager",
        '<div class="aem-Grid aem-Grid--12 aem-Grid--default--12">',
        {},
        {},
    ),
    ("WordPress", '<meta name="generator" content="WordPress 6.6.2">', {}, {}),
    ("WordPress", script("/wp-includes/js/wp-embed.min.js?ver=6.6.2"), {}, {}),
    (
        "WordPress",
        "",
        {"link": '<https://www.acme.example/wp-json/>; rel="https://api.w.org/"'},
        {},
    ),
    ("Drupal", '<meta name="Generator" content="Drupal 10 (https://www.drupal.org)">', {}, {}),
    ("Drupal", "", {"X-Generator": "Drupal 10 (https://www.drupal.org)"}, {}),
    ("Contentful", '<img src="https://images.ctfassets.net/abc/hero/def/h.jpg" alt="">', {}, {}),
    ("Sitecore", "", {}, {"SC_ANALYTICS_GLOBAL_COOKIE": "abc|True"}),
    ("Contentstack", '<img src="https://images.contentstack.io/v3/assets/x/y/h.jpg">', {}, {}),
    ("Squarespace", script("https://static1.squarespace.com/static/vta/x/scripts/site.js"), {}, {}),
    ("Wix", "", {"x-wix-request-id": "123"}, {}),
    ("Webflow", '<html data-wf-page="64a" data-wf-site="64b"><body></body></html>', {}, {}),
    # -- site search
    (
        "Elasticsearch",
        script("https://cdn.jsdelivr.net/npm/@elastic/search-ui@1.21.2/lib/esm/index.js"),
        {},
        {},
    ),
    (
        "Elasticsearch",
        inline('window.searchConfig = { host: "https://acme.es.us-east-1.aws.found.io" };'),
        {},
        {},
    ),
    (
        "Elastic App Search",
        inline('const client = { endpointBase: "https://acme.ent.us-east-1.aws.found.io" };'),
        {},
        {},
    ),
    ("Swiftype", script("https://s.swiftypecdn.com/install/v2/st.js"), {}, {}),
    (
        "OpenSearch",
        inline('window.searchEndpoint = "https://search-acme-0a1b.us-east-1.es.amazonaws.com";'),
        {},
        {},
    ),
    ("Solr", inline('window.searchEndpoint = "/solr/acme/select"; /* Apache Solr */'), {}, {}),
    (
        "Algolia",
        script("https://cdn.jsdelivr.net/npm/algoliasearch@4.24.0/dist/algoliasearch-lite.umd.js"),
        {},
        {},
    ),
    ("Algolia", '<link rel="preconnect" href="https://ABCDEF1234-dsn.algolia.net">', {}, {}),
    (
        "Coveo",
        script("https://static.cloud.coveo.com/searchui/v2.10116/js/CoveoJsSearch.Lazy.min.js"),
        {},
        {},
    ),
    ("Coveo", "<atomic-search-interface></atomic-search-interface>", {}, {}),
    (
        "Searchspring",
        script("https://cdn.searchspring.net/search/v3/js/searchspring.catalog.js?abc"),
        {},
        {},
    ),
    ("Klevu", script("https://js.klevu.com/core/v2/klevu.js"), {}, {}),
    ("Constructor", script("https://cnstrc.com/js/cust/acme_abc123.js"), {}, {}),
    ("Bloomreach", script("https://cdns.brsrvr.com/v1/br-trk-5123.js"), {}, {}),
    ("Bloomreach", script("https://connect.brcdn.com/acme/search-widget.js"), {}, {}),
    ("Lucidworks", script("https://acme.b.lucidworks.cloud/static/springboard/search.js"), {}, {}),
    ("Yext", script("https://assets.sitescdn.net/answers/v1.15/answers.min.js"), {}, {}),
    ("Yext", inline('ANSWERS.init({ apiKey: "x", experienceKey: "acme" });'), {}, {}),
    ("Doofinder", script("https://cdn.doofinder.com/livelayer/1/js/loader.min.js"), {}, {}),
    ("Salesforce Einstein", script("https://cdn.cquotient.com/js/v2/gretel.min.js"), {}, {}),
    ("Endeca", '<form action="/search"><input type="text" name="Ntt"></form>', {}, {}),
    (
        "Google Cloud Retail Search",
        inline('fetch("https://retail.googleapis.com/v2/projects/1/locations/global:search")'),
        {},
        {},
    ),
    # -- front end
    ("React", script("https://unpkg.com/react@18.3.1/umd/react.production.min.js"), {}, {}),
    ("React", '<div id="app-root" data-reactroot="">', {}, {}),
    ("Next.js", script("/_next/static/chunks/main-abc123.js"), {}, {}),
    ("Next.js", '<script id="__NEXT_DATA__" type="application/json">{}</script>', {}, {}),
    ("Next.js", "", {"x-powered-by": "Next.js"}, {}),
    ("Vue.js", script("https://cdn.jsdelivr.net/npm/vue@3.4.38/dist/vue.global.prod.js"), {}, {}),
    ("Vue.js", '<div data-v-7ba5bd90 class="promo-strip">', {}, {}),
    ("Nuxt.js", '<div id="__nuxt"></div>', {}, {}),
    ("Nuxt.js", script("/_nuxt/entry.abc123.js"), {}, {}),
    ("Angular", '<app-root ng-version="17.3.1"></app-root>', {}, {}),
    ("jQuery", script("https://code.jquery.com/jquery-3.7.1.min.js"), {}, {}),
    ("Svelte", '<main class="svelte-1x2y3z4">', {}, {}),
    ("Gatsby", '<div id="___gatsby"></div>', {}, {}),
    # -- analytics and tag management
    (
        "Google Analytics",
        script("https://www.googletagmanager.com/gtag/js?id=G-ABC123DEF4"),
        {},
        {},
    ),
    ("Google Analytics", "", {}, {"_ga": "GA1.1.1.2"}),
    ("Adobe Analytics", script("/js/analytics/AppMeasurement.min.js"), {}, {}),
    ("Segment", script("https://cdn.segment.com/analytics.js/v1/abc/analytics.min.js"), {}, {}),
    ("Hotjar", script("https://static.hotjar.com/c/hotjar-123.js?sv=6"), {}, {}),
    ("Mixpanel", script("https://cdn.mxpnl.com/libs/mixpanel-2-latest.min.js"), {}, {}),
    ("Heap", script("https://cdn.heapanalytics.com/js/heap-123.js"), {}, {}),
    (
        "Amplitude",
        script("https://cdn.amplitude.com/libs/analytics-browser-2.0.0-min.js.gz"),
        {},
        {},
    ),
    (
        "Google Tag Manager",
        inline(
            "(function(w,d,s,l,i){j.src='https://www.googletagmanager.com/gtm.js?id='+i+dl;})"
            "(window,document,'script','dataLayer','GTM-ABC123');"
        ),
        {},
        {},
    ),
    ("Tealium", script("https://tags.tiqcdn.com/utag/acme/main/prod/utag.js"), {}, {}),
    ("Adobe Launch", script("https://assets.adobedtm.com/abc/def/launch-123.min.js"), {}, {}),
    ("Adobe DTM", script("https://assets.adobedtm.com/abc/satelliteLib-def.js"), {}, {}),
    ("Ensighten", script("https://nexus.ensighten.com/acme/prod/Bootstrap.js"), {}, {}),
    ("Bootstrap", script("/js/vendor/bootstrap.bundle.min.js"), {}, {}),
    # -- CDN and hosting
    ("Cloudflare", "", {"server": "cloudflare", "cf-ray": "8a1b2c3d4e5f6a7b-IAD"}, {}),
    ("Akamai", "", {"x-akamai-transformed": "9 - 0 pmb=mTOE,1"}, {}),
    ("Akamai", "", {}, {"ak_bmsc": "x"}),
    ("Fastly", "", {"x-served-by": "cache-iad-kiad7000123-IAD"}, {}),
    ("Amazon CloudFront", "", {"via": "1.1 abc.cloudfront.net (CloudFront)"}, {}),
    ("Vercel", "", {"x-vercel-id": "iad1::abc"}, {}),
    ("Netlify", "", {"server": "Netlify"}, {}),
    # -- marketing
    ("HubSpot", "<!-- Start of HubSpot Embed Code -->", {}, {}),
    ("HubSpot", script("https://js.hs-scripts.com/123.js"), {}, {}),
    ("Marketo", script("https://munchkin.marketo.net/munchkin.js"), {}, {}),
    ("Salesforce Pardot", script("https://pi.pardot.com/pd.js"), {}, {}),
    ("Klaviyo", script("https://static.klaviyo.com/onsite/js/klaviyo.js?company_id=AbC"), {}, {}),
    ("Optimizely", script("https://cdn.optimizely.com/js/123.js"), {}, {}),
    # -- servers and payments
    ("nginx", "", {"Server": "nginx"}, {}),
    ("Apache", "", {"server": "Apache/2.4.62 (Debian)"}, {}),
    ("IIS", "", {"server": "Microsoft-IIS/10.0"}, {}),
    ("Stripe", script("https://js.stripe.com/v3/"), {}, {}),
    ("PayPal", script("https://www.paypal.com/sdk/js?client-id=abc&components=buttons"), {}, {}),
    # -- others from the sandbox's stacks
    ("OneTrust", script("https://cdn.cookielaw.org/scripttemplates/otSDKStub.js"), {}, {}),
    ("New Relic", script("https://js-agent.newrelic.com/nr-spa-1.268.0.min.js"), {}, {}),
    ("Facebook Pixel", script("https://connect.facebook.net/en_US/fbevents.js"), {}, {}),
    ("Dynamic Yield", script("https://cdn.dynamicyield.com/api/123/api_dynamic.js"), {}, {}),
    (
        "Bazaarvoice",
        script("https://apps.bazaarvoice.com/deployments/acme/main_site/production/en_US/bv.js"),
        {},
        {},
    ),
    (
        "Google Font API",
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Inter">',
        {},
        {},
    ),
]


@pytest.mark.parametrize(("name", "page", "headers", "cookies"), SAMPLES)
def test_sample_is_detected(
    name: str, page: str, headers: dict[str, str], cookies: dict[str, str]
) -> None:
    found = run(page, headers, cookies)
    assert name in found, f"{name} not in {sorted(found)}"
    detection = found[name]
    assert detection.category == TECHNOLOGIES[name].category
    assert 0 < detection.confidence <= 100
    assert detection.evidence
    # Nothing unrelated matched: every other detection is one the sample's technology implies.
    assert set(found) <= implied_closure(name), found


def implied_closure(name: str) -> set[str]:
    names = {name}
    queue = [name]
    while queue:
        for implied, _ in TECHNOLOGIES[queue.pop()].implies:
            if implied not in names:
                names.add(implied)
                queue.append(implied)
    return names


def test_every_sales_platform_and_search_vendor_is_covered() -> None:
    partners = [
        "Adobe Experience Manager", "Adobe Commerce", "Magento", "Shopify", "Shopify Plus",
        "Salesforce Commerce Cloud", "commercetools", "BigCommerce", "Amplience", "Spryker",
    ]  # fmt: skip
    vendors = [
        "Elasticsearch", "OpenSearch", "Solr", "Coveo", "Searchspring", "Klevu", "Constructor",
        "Bloomreach", "Lucidworks", "Yext", "Swiftype", "Doofinder", "Salesforce Einstein",
        "Endeca", "Algolia", "Elastic App Search", "Google Cloud Retail Search",
    ]  # fmt: skip
    sampled = {name for name, *_ in SAMPLES}
    for name in partners + vendors:
        assert name in TECHNOLOGIES
        assert name in sampled
    for name in vendors:
        assert TECHNOLOGIES[name].category == SEARCH_CATEGORY
    commerce = {"Adobe Commerce", "Magento", "Shopify", "Shopify Plus", "BigCommerce", "Spryker",
                "Salesforce Commerce Cloud", "commercetools", "WooCommerce", "VTEX",
                "SAP Commerce Cloud"}  # fmt: skip
    for name in commerce:
        assert TECHNOLOGIES[name].category == COMMERCE_CATEGORY
    for name in ("Adobe Experience Manager", "WordPress", "Drupal", "Contentful", "Sitecore",
                 "Contentstack", "Squarespace", "Wix", "Webflow", "Amplience"):  # fmt: skip
        assert TECHNOLOGIES[name].category == CMS_CATEGORY


# -- no false positives ---------------------------------------------------------------------------

PLAIN = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Plain Anvils</title><meta name="viewport" content="width=device-width">
<meta name="description" content="Search our catalogue of anvils">
<meta name="enrichd-sandbox" content="simulated">
<link rel="stylesheet" href="/css/site.css?v=3">
<link rel="search" type="application/opensearchdescription+xml" href="/opensearch.xml">
<link rel="icon" href="/favicon.ico">
<script src="/js/app.js"></script>
<script>document.documentElement.className = 'js'; var search = {index: 'products'};</script>
</head><body class="home page">
<form action="/search" method="get"><input name="q" type="search"></form>
<p>Solid anvils. Our team loves search, analytics and shopping. Jobs at the plant.</p>
<a href="/about">About</a> <a href="/careers">Careers</a>
<img src="/media/hero.jpg" alt=""></body></html>"""


def test_no_false_positives_on_a_plain_page() -> None:
    headers = {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-cache",
        "x-enrichd-simulated": "sandbox",
        "date": "Sun, 29 Nov 2026 10:00:00 GMT",
    }
    assert run(PLAIN, headers, {"session": "abc", "consent": "yes"}) == {}


def test_tomcat_is_not_apache() -> None:
    found = run("", {"server": "Apache-Coyote/1.1"})
    assert set(found) == {"Apache Tomcat", "Java"}


# -- versions, confidence, evidence ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "page", "headers", "version"),
    [
        ("nginx", "", {"server": "nginx/1.25.3"}, "1.25.3"),
        ("nginx", "", {"server": "nginx"}, None),
        ("Apache", "", {"server": "Apache/2.4.62 (Debian)"}, "2.4.62"),
        ("IIS", "", {"server": "Microsoft-IIS/10.0"}, "10.0"),
        ("WordPress", '<meta name="generator" content="WordPress 6.6.2">', {}, "6.6.2"),
        # The most specific version wins: "10.3.2" from the script over "10" from the meta.
        (
            "Drupal",
            '<meta name="generator" content="Drupal 10 (https://www.drupal.org)">'
            + script("/core/misc/drupal.js?v=10.3.2"),
            {},
            "10.3.2",
        ),
        ("jQuery", script("https://code.jquery.com/jquery-3.7.1.min.js"), {}, "3.7.1"),
        (
            "jQuery",
            script("https://ajax.googleapis.com/ajax/libs/jquery/3.6.0/jquery.min.js"),
            {},
            "3.6.0",
        ),
        (
            "Algolia",
            script("https://cdn.jsdelivr.net/npm/algoliasearch@4.24.0/dist/algoliasearch.umd.js"),
            {},
            "4.24.0",
        ),
        (
            "Coveo",
            script("https://static.cloud.coveo.com/searchui/v2.10116/js/CoveoJsSearch.min.js"),
            {},
            "2.10116",
        ),
        ("Angular", '<app-root ng-version="17.3.1">', {}, "17.3.1"),
        (
            "React",
            script("https://unpkg.com/react@18.3.1/umd/react.production.min.js"),
            {},
            "18.3.1",
        ),
        ("Next.js", "", {"x-powered-by": "Next.js 14.2.3"}, "14.2.3"),
        ("PHP", "", {"x-powered-by": "PHP/8.3.1"}, "8.3.1"),
        ("Google Analytics", script("https://www.googletagmanager.com/gtag/js?id=G-X1"), {}, "GA4"),
        (
            "Google Analytics",
            script("https://www.google-analytics.com/analytics.js"),
            {},
            "UA",
        ),
    ],
)
def test_versions(name: str, page: str, headers: dict[str, str], version: str | None) -> None:
    assert run(page, headers)[name].version == version


def test_ga4_from_a_cookie_name_pattern() -> None:
    found = run("", {}, {"_ga_1A2B3C4D": "GS1.1.1"})
    assert found["Google Analytics"].version == "GA4"
    assert found["Google Analytics"].evidence == "cookie _ga_1A2B3C4D"


def test_confidence_tags_and_sums() -> None:
    # A Sitecore media path alone is a weak sign (50)...
    weak = run('<img src="/-/media/acme/images/home/hero.jpg?h=600">')
    assert weak["Sitecore"].confidence == 50
    # ...which a cookie confirms; the sum is capped at 100.
    strong = run(
        '<img src="/-/media/acme/images/home/hero.jpg?h=600">',
        {},
        {"SC_ANALYTICS_GLOBAL_COOKIE": "x", "sxa_site": "acme"},
    )
    assert strong["Sitecore"].confidence == 100


def test_evidence_says_what_matched() -> None:
    found = run(
        script("https://cdn.shopify.com/s/files/1/0123/t/12/assets/theme.js?v=9")
        + '<meta name="generator" content="WordPress 6.6.2">',
        {"server": "nginx/1.25.3", "x-shopify-stage": "production"},
        {"_shopify_y": "abc"},
    )
    assert found["Shopify"].evidence == (
        "script src cdn.shopify.com/s/files/1/0123/t/12/assets/theme.js?v=9 (+2 more)"
    )
    assert found["nginx"].evidence == "header server: nginx/1.25.3"
    assert found["WordPress"].evidence == "meta generator: WordPress 6.6.2"
    assert found["PHP"].evidence == "implied by WordPress"
    html_evidence = run('<div id="__next"></div>')["Next.js"].evidence
    assert html_evidence == 'html <div id="__next"'
    long_src = "https://cdn.shopify.com/" + "a" * 200 + ".js"
    assert len(run(script(long_src))["Shopify"].evidence) <= len("script src ") + 80


def test_url_patterns() -> None:
    found = run("", url="https://acme.myshopify.com/")
    assert found["Shopify"].evidence == "url https://acme.myshopify.com/"


# -- implies --------------------------------------------------------------------------------------


def test_implies_adds_the_implied_technology() -> None:
    found = run(inline('Shopify.plan = "shopify_plus";'))
    assert found["Shopify Plus"].confidence == 100
    assert found["Shopify"].evidence == "implied by Shopify Plus"
    assert found["Shopify"].version is None


def test_implies_is_transitive_and_keeps_the_implier_confidence() -> None:
    # Salesforce Einstein -> Salesforce Commerce Cloud -> Java.
    found = run(script("https://cdn.cquotient.com/js/v2/gretel.min.js"))
    assert found["Salesforce Commerce Cloud"].evidence == "implied by Salesforce Einstein"
    assert found["Java"].evidence == "implied by Salesforce Commerce Cloud"
    weak = run('<img src="/-/media/acme/hero.jpg">')  # Sitecore (50) -> Microsoft ASP.NET
    assert weak["Microsoft ASP.NET"].confidence == 50


def test_a_direct_detection_keeps_its_own_evidence() -> None:
    found = run(
        inline('Shopify.plan = "shopify_plus";')
        + script("https://cdn.shopify.com/s/files/1/theme.js")
    )
    assert found["Shopify"].evidence.startswith("script src cdn.shopify.com")


def test_detections_are_sorted_by_category_then_name() -> None:
    found = list(
        run(
            script("https://cdn.jsdelivr.net/npm/algoliasearch@4.24.0/dist/a.js")
            + script("https://js.stripe.com/v3/"),
            {"server": "nginx"},
        ).values()
    )
    keys = [(d.category, d.name.lower()) for d in found]
    assert keys == sorted(keys)


# -- primary --------------------------------------------------------------------------------------


def det(name: str, confidence: int = 100) -> Detection:
    return Detection(
        name=name,
        category=TECHNOLOGIES[name].category,
        confidence=confidence,
        version=None,
        evidence="test",
    )


def test_primary_prefers_the_more_specific_technology() -> None:
    assert primary([det("Shopify"), det("Shopify Plus")], COMMERCE_CATEGORY) == det("Shopify Plus")
    assert primary([det("Magento"), det("Adobe Commerce")], COMMERCE_CATEGORY) == det(
        "Adobe Commerce"
    )


def test_primary_takes_the_highest_confidence_then_the_first() -> None:
    detections = [det("Algolia", 50), det("Coveo", 100), det("Klevu", 100)]
    assert primary(detections, SEARCH_CATEGORY) == det("Coveo")
    assert primary(detections, CMS_CATEGORY) is None
    assert primary([], SEARCH_CATEGORY) is None


def test_primary_on_a_real_page() -> None:
    page = (
        inline('Shopify.plan = "shopify_plus";')
        + script("https://cnstrc.com/js/cust/acme_abc.js")
        + '<meta name="generator" content="WordPress 6.6.2">'
    )
    detections = detect(extract_facts(page, URL), {}, {}, URL)
    assert primary(detections, COMMERCE_CATEGORY).name == "Shopify Plus"  # type: ignore[union-attr]
    assert primary(detections, SEARCH_CATEGORY).name == "Constructor"  # type: ignore[union-attr]
    assert primary(detections, CMS_CATEGORY).name == "WordPress"  # type: ignore[union-attr]


# -- the data -------------------------------------------------------------------------------------


def bundled() -> dict[str, Any]:
    text = resources.files("enrichd.plugins.builtin").joinpath("fingerprints.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def test_bundled_data_is_our_own_format() -> None:
    data = bundled()
    assert "not derived from" in " ".join(data["$comment"])
    for name, spec in data["technologies"].items():
        assert "cats" not in spec, name  # Wappalyzer's numeric categories are not used
        assert spec["category"] in CATEGORIES, name
        assert spec["website"].startswith(("https://", "http://")), name


def test_every_category_constant_is_used() -> None:
    used = {t.category for t in TECHNOLOGIES.values()}
    assert {COMMERCE_CATEGORY, CMS_CATEGORY, SEARCH_CATEGORY} <= used
    assert used <= CATEGORIES


def test_big_text_patterns_have_a_prefilter_literal() -> None:
    # The speed of detect() on a 2 MiB page depends on it.
    missing = [
        (p.tech, p.kind, p.regex.pattern)
        for p in FINGERPRINTS.patterns
        if p.kind in ("html", "scripts", "scriptSrc") and p.literal is None
    ]
    assert missing == []


def test_prefilter_never_hides_a_match() -> None:
    texts = [
        "\n".join(f.script_srcs) + "\n".join(f.inline_scripts) + f.markup
        for f in (extract_facts(page, URL) for _, page, _, _ in SAMPLES)
    ]
    for pattern in FINGERPRINTS.patterns:
        if pattern.literal is None:
            continue
        for text in texts:
            if pattern.regex.search(text):
                assert pattern.literal in text.lower(), (pattern.tech, pattern.regex.pattern)


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (r"cdn\.shopify\.com/", "cdn.shopify.com/"),
        (r"[\w-]+-dsn\.algolia\.net", "-dsn.algolia.net"),
        (r"\bsolr\b", "solr"),
        (r"(?:js|static)\.afterpay\.com", ".afterpay.com"),
        (r"abcd?ef", "abc"),
        (r"abc*def", "def"),
        (r"abcx{2,3}yz", "abc"),
        (r"abc+def", "abc"),
        (r"abc|def", None),
        (r"(?:abc|def)", None),
        (r"a[bcd]e", None),
        (r"x[]abc]yzw", "yzw"),
        (r"^nginx(?:/([\d.]+))?", "nginx"),
        (r"\d+\.\d+", None),
    ],
)
def test_required_literal(pattern: str, literal: str | None) -> None:
    assert required_literal(pattern) == literal


def test_detect_is_fast_on_a_big_page() -> None:
    rng = random.Random(3)
    parts = [
        script("https://cdn.shopify.com/s/files/1/theme.js"),
        inline("var state = " + json.dumps({"items": list(range(50_000))}) + ";"),
    ]
    size = sum(map(len, parts))
    while size < 2 * 1024 * 1024:
        n = rng.randrange(10**6)
        parts.append(f'<div class="card c{n}"><a href="/p/{n}">Item {n}</a></div>\n')
        size += len(parts[-1])
    facts = extract_facts("".join(parts), URL)
    started = time.perf_counter()
    found = {d.name for d in detect(facts, {"server": "nginx"}, {}, URL)}
    elapsed = time.perf_counter() - started
    assert found == {"Shopify", "nginx"}
    assert elapsed < 2.0  # about 0.05 s on a developer laptop


# -- loading errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("technologies", "message"),
    [
        ({}, "non-empty"),
        ({"X": {"category": "Nope", "website": "https://x"}}, "unknown category 'Nope'"),
        ({"X": {"category": "CMS", "html": ["(unclosed"]}}, "X.html: invalid regex"),
        ({"X": {"category": "CMS", "headers": {"server": "a\\;bogus:1"}}}, "X.headers.server"),
        ({"X": {"category": "CMS", "html": ["a\\;confidence:101"]}}, "invalid tag"),
        ({"X": {"category": "CMS", "cats": [1]}}, "unknown field(s) cats"),
        ({"X": {"category": "CMS", "implies": ["Y"]}}, "implies unknown technology 'Y'"),
        ({"X": {"category": "CMS", "cookies": ["a"]}}, "must be an object"),
        ({"X": "CMS"}, "X: must be an object"),
    ],
)
def test_load_errors_name_the_technology_and_field(
    technologies: dict[str, Any], message: str
) -> None:
    with pytest.raises(FingerprintError) as info:
        load_fingerprints({"technologies": technologies})
    assert message in str(info.value)


def test_loading_accepts_bare_strings_and_implied_confidence() -> None:
    fingerprints = load_fingerprints(
        {
            "technologies": {
                "A": {"category": "CMS", "html": "<x-a\\b", "implies": "B\\;confidence:40"},
                "B": {"category": "Web Framework", "website": "https://b.example"},
            }
        }
    )
    facts = extract_facts("<x-a></x-a>", URL)
    found = {d.name: d for d in fingerprints.detect(facts, {}, {}, URL)}
    assert found["A"].confidence == 100
    assert found["B"].confidence == 40
    assert found["B"].evidence == "implied by A"
