"""The simulated homepage: redirects, real-world fingerprints, and agreement with the APIs."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

from enrichd.sandbox._http import HttpRequest, HttpResponse
from enrichd.sandbox._profile import profile_for
from enrichd.sandbox._upstreams import Upstreams

NOW = 1_780_000_000.0
BASE = "http://127.0.0.1:8900"
CURATED = [
    "costco.com",
    "walmart.com",
    "target.com",
    "bestbuy.com",
    "homedepot.com",
    "wayfair.com",
    "nytimes.com",
    "shopify.com",
    "patagonia.com",
    "ikea.com",
    "allbirds.com",
    "gymshark.com",
]
DOMAINS = CURATED + [f"shop{i}.com" for i in range(80)] + ["acme-goods.co.uk", "brightlabs.io"]

# Real-world signatures (what Wappalyzer-style matchers look for), written independently of the
# sandbox's catalogue: the page (plus "name: value" header lines) must match one per technology.
SIGNATURES = {
    "Adobe Experience Manager": r"/etc\.clientlibs/|/content/dam/",
    "WordPress": r"/wp-content/|/wp-includes/|<meta name=\"generator\" content=\"WordPress",
    "Drupal": r"content=\"Drupal|x-generator: Drupal",
    "Contentful": r"ctfassets\.net",
    "Sitecore": r"SC_ANALYTICS_GLOBAL_COOKIE|/-/media/",
    "Amplience": r"amplience\.net",
    "Shopify": r"cdn\.shopify\.com",
    "Shopify Plus": r"Shopify\.plan = \"shopify_plus\"",
    "Salesforce Commerce Cloud": r"demandware\.static|dwanonymous_",
    "Adobe Commerce": r"Magento_CustomerSegment",
    "Magento": r"Mage\.Cookies|/static/version\d+/frontend/",
    "BigCommerce": r"cdn11\.bigcommerce\.com",
    "commercetools": r"<script src=\"[^\"]*commercetools",
    "Spryker": r"yves_default",
    "Algolia": r"algoliasearch|algolia\.net",
    "Coveo": r"static\.cloud\.coveo\.com",
    "Constructor": r"cnstrc\.com",
    "Bloomreach": r"brsrvr\.com|brcdn\.com",
    "Searchspring": r"searchspring\.net",
    "Klevu": r"js\.klevu\.com",
    "Doofinder": r"doofinder\.com",
    "Yext": r"yextapis\.com|answers\.yext|sitescdn\.net/answers",
    "Lucidworks": r"lucidworks",
    "Elasticsearch": r"@elastic/search-ui|\.es\.[\w.-]+\.found\.io",
    "Swiftype": r"swiftype",
    "Solr": r"/solr/[\w-]+/select",
    "OpenSearch": r"\.es\.amazonaws\.com",
    "Cloudflare": r"server: cloudflare",
    "Akamai": r"x-akamai-transformed|akamai-grn",
    "Fastly": r"x-served-by: cache-|x-fastly-request-id",
    "Amazon CloudFront": r"x-amz-cf-",
    "nginx": r"server: nginx",
    "Apache": r"server: Apache",
    "React": r"data-reactroot|react\.production\.min\.js",
    "Next.js": r"__NEXT_DATA__|/_next/",
    "Vue.js": r"data-v-[0-9a-f]{6}|vue\.global",
    "Nuxt.js": r"__nuxt|/_nuxt/",
    "jQuery": r"jquery-[\d.]+(?:\.min)?\.js",
    "Google Font API": r"fonts\.googleapis\.com/css",
    "Google Tag Manager": r"googletagmanager\.com/gtm\.js",
    "Google Analytics": r"googletagmanager\.com/gtag/js\?id=G-",
    "Adobe Analytics": r"AppMeasurement",
    "Optimizely": r"cdn\.optimizely\.com",
    "Segment": r"cdn\.segment\.com",
    "Hotjar": r"static\.hotjar\.com",
    "New Relic": r"js-agent\.newrelic\.com",
    "Facebook Pixel": r"connect\.facebook\.net",
    "Tealium": r"tags\.tiqcdn\.com",
    "OneTrust": r"cdn\.cookielaw\.org",
    "Dynamic Yield": r"cdn\.dynamicyield\.com",
    "Bazaarvoice": r"apps\.bazaarvoice\.com",
    "HubSpot": r"js\.hs-scripts\.com",
    "Salesforce": r"webto\.salesforce\.com",
    "Klaviyo": r"static\.klaviyo\.com",
    "Marketo": r"munchkin\.marketo\.net",
    "Stripe": r"js\.stripe\.com",
    "PayPal": r"paypal\.com/sdk/js",
    "PHP": r"PHPSESSID",
    "Java": r"JSESSIONID",
    "Microsoft ASP.NET": r"ASP\.NET_SessionId",
}
SEARCH_VENDORS = [
    "Algolia",
    "Coveo",
    "Constructor",
    "Bloomreach",
    "Searchspring",
    "Klevu",
    "Doofinder",
    "Yext",
    "Lucidworks",
    "Elasticsearch",
    "Swiftype",
    "Solr",
    "OpenSearch",
]


async def get(path: str, upstream: str = "homepage", **query: str) -> HttpResponse:
    req = HttpRequest(method="GET", path=path, query=query, headers={}, body=b"", target=path)
    return await Upstreams(now=lambda: NOW).handle(upstream, req, BASE)


async def page(domain: str) -> tuple[str, str]:
    """The homepage's HTML and its headers as ``name: value`` lines (after any redirect)."""
    response = await get(f"/homepage/{domain}/")
    if response.status == 301:
        location = dict(response.headers)["location"]
        assert location == f"{BASE}/homepage/www.{domain}/"
        response = await get(location.removeprefix(BASE))
    assert response.status == 200
    headers = dict(response.headers)
    assert headers["content-type"] == "text/html; charset=utf-8"
    lines = "\n".join(f"{k}: {v}" for k, v in response.headers)
    return response.body.decode(), lines


async def builtwith(domain: str) -> dict[str, Any]:
    response = await get(
        "/builtwith/v22/api.json", "builtwith", KEY="k", LOOKUP=domain, LIVEONLY="yes"
    )
    result: dict[str, Any] = json.loads(response.body)["Results"][0]
    return result


class _JsonLd(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[Any] = []
        self.meta: dict[str, str] = {}
        self._in_ld = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self._in_ld = tag == "script" and values.get("type") == "application/ld+json"
        if tag == "meta":
            key = values.get("property") or values.get("name")
            if key and values.get("content") is not None:
                self.meta.setdefault(key, values["content"] or "")

    def handle_data(self, data: str) -> None:
        if self._in_ld:
            self.blocks.append(json.loads(data))
            self._in_ld = False


def organization(html: str) -> tuple[dict[str, Any], dict[str, str]]:
    parser = _JsonLd()
    parser.feed(html)
    nodes = [n for b in parser.blocks for n in b.get("@graph", [b])]
    org = next(n for n in nodes if n["@type"] in ("Organization", "Corporation"))
    return org, parser.meta


async def test_about_half_the_domains_redirect_to_www() -> None:
    redirects = 0
    for i in range(200):
        response = await get(f"/homepage/site{i}.com/")
        if response.status == 301:
            redirects += 1
            assert dict(response.headers)["location"] == f"{BASE}/homepage/www.site{i}.com/"
        else:
            assert response.status == 200
    assert 60 <= redirects <= 140
    assert (await get("/homepage/www.site0.com/")).status == 200


async def test_page_basics() -> None:
    html, headers = await page("costco.com")
    assert '<meta name="enrichd-sandbox" content="simulated">' in html
    assert "X-Enrichd-Simulated: sandbox" in headers
    assert 'href="careers/"' in html
    unknown_html, _ = await page("unknown-shop.com")
    assert "Unknown Shop" in unknown_html
    assert (await get("/homepage/not_a_domain/")).status == 404
    assert (await get("/homepage/www.costco.com/no/such/page")).status == 404


async def test_fingerprints_agree_with_builtwith() -> None:
    for domain in DOMAINS:
        html, headers = await page(domain)
        haystack = f"{html}\n{headers}"
        result = await builtwith(domain)
        names = {t["Name"] for p in result["Result"]["Paths"] for t in p["Technologies"]}
        for name in names:
            assert name in SIGNATURES, f"no real-world signature known for {name}"
            assert re.search(SIGNATURES[name], haystack), f"{domain}: {name} not in the page"
        for vendor in SEARCH_VENDORS:
            if vendor not in names:
                assert not re.search(SIGNATURES[vendor], haystack), f"{domain}: stray {vendor}"


async def test_json_ld_and_opengraph_agree_with_builtwith_and_yahoo() -> None:
    for domain in DOMAINS:
        html, _ = await page(domain)
        org, meta = organization(html)
        result = await builtwith(domain)
        bw = result["Meta"]
        assert org["name"] == bw["CompanyName"] == meta["og:site_name"]
        assert org["telephone"] in bw["Telephones"]
        assert sorted(org["sameAs"]) == sorted(bw["Social"])
        address = org["address"]
        assert (
            address["addressLocality"],
            address["addressRegion"],
            address["postalCode"],
            address["addressCountry"],
        ) == (bw["City"], bw["State"], bw["Postcode"], bw["Country"])
        assert org["numberOfEmployees"]["value"] == result["Attributes"]["Employees"]
        profile = profile_for(domain)
        assert profile is not None and org["foundingDate"] == str(profile.founded)
    costco, _ = await page("costco.com")
    org, _ = organization(costco)
    assert org["tickerSymbol"] == "NASDAQ:COST" and org["legalName"] == (
        "Costco Wholesale Corporation"
    )


async def test_careers_page_agrees_with_web_search() -> None:
    profile = profile_for("costco.com")
    assert profile is not None
    response = await get("/homepage/www.costco.com/careers/")
    assert response.status == 200
    assert f"{profile.open_positions} open positions" in response.body.decode()
