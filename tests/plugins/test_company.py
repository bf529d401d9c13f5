"""m01_company_context and m02_tech_stack: the merge, the fallback chain and the engine end to end.

Each module's ``run`` is called with a small fake context whose sources are real source actors
(resolved from ``[sources]`` tables as the engine does) talking to the canned loopback server:
BuiltWith under ``/builtwith``, homepages under ``/homepage/{domain}/``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

from enrichd.daemon import JobRequest
from enrichd.daemon._sources import SourceActor
from enrichd.plugins import ModuleError, ModuleResult, SourceNotConfigured
from enrichd.plugins.builtin._company import (
    MODULES,
    Tech,
    country_code,
    pick_roles,
    run_company_context,
    run_tech_stack,
    social_profiles,
    ticker_symbol,
)
from enrichd.sandbox import HttpResponse
from enrichd.testing import ModuleTestContext, running_sources
from tests.canned import CannedServer
from tests.conftest import BUILTIN, wait_for_status
from tests.plugins.test_builtwith import (
    BAD_KEY,
    DOMAIN_EXAMPLE,
    FREE_EXAMPLE,
    NOT_IN_SYSTEM,
)

DOMAIN = "acme.example"
BW = "/builtwith/v22/api.json"
FREE = "/builtwith/free1/api.json"
HOME = f"/homepage/{DOMAIN}/"

ORGANIZATION = {
    "@context": "https://schema.org",
    "@graph": [
        {
            "@type": "Organization",
            "@id": "https://acme.example/#organization",
            "name": "Acme Corporation",
            "legalName": "Acme Corporation Inc.",
            "url": "https://acme.example/",
            "logo": {"@type": "ImageObject", "url": "https://acme.example/logo.png"},
            "description": "JSON-LD description of Acme.",
            "foundingDate": "2009-03-01",
            "numberOfEmployees": {"@type": "QuantitativeValue", "minValue": 201, "maxValue": 500},
            "address": {
                "@type": "PostalAddress",
                "streetAddress": "1 Main St",
                "addressLocality": "Shelbyville",
                "addressRegion": "IL",
                "postalCode": "62565",
                "addressCountry": "United States",
            },
            "sameAs": [
                "https://www.linkedin.com/company/acme-jsonld",
                "https://www.facebook.com/acme",
            ],
            "contactPoint": {
                "@type": "ContactPoint",
                "telephone": "+1-555-0199",
                "contactType": "sales",
            },
            "tickerSymbol": "NYSE: ACME",
        },
        {"@type": "WebSite", "url": "https://acme.example/", "name": "Acme"},
    ],
}

SHOPIFY_JS = "https://cdn.shopify.com/s/files/1/0001/theme.js"
ALGOLIA_JS = "https://cdn.jsdelivr.net/npm/algoliasearch@4.24.0/dist/algoliasearch-lite.umd.js"
GTM_JS = "https://www.googletagmanager.com/gtm.js?id=GTM-ABC123"


def page_html(
    *,
    jsonld: bool = True,
    og_description: bool = True,
    scripts: tuple[str, ...] = (SHOPIFY_JS, ALGOLIA_JS, GTM_JS),
) -> str:
    """A company homepage: JSON-LD, OpenGraph, contact and social links, fingerprints."""
    head = [
        "<title>Acme Corp | Widgets for everyone</title>",
        '<meta name="description" content="Meta description of Acme.">',
        '<meta property="og:site_name" content="Acme Shop">',
        '<meta name="twitter:site" content="@acmetweets">',
    ]
    if og_description:
        head.append('<meta property="og:description" content="OpenGraph description of Acme.">')
    if jsonld:
        head.append(f'<script type="application/ld+json">{json.dumps(ORGANIZATION)}</script>')
    head += [f'<script src="{src}"></script>' for src in scripts]
    body = [
        '<a href="tel:+1-555-0142">Call us</a>',
        '<a href="mailto:hello@acme.example">Write to us</a>',
        '<a href="https://www.instagram.com/acme/">Instagram</a>',
        '<a href="https://twitter.com/acme_links">Twitter</a>',
        '<a href="/careers">Careers</a>',
    ]
    return (
        '<!doctype html><html lang="en"><head>'
        + "".join(head)
        + "</head><body>"
        + "".join(body)
        + "</body></html>"
    )


def serve_page(canned: CannedServer, html: str | None = None, path: str = HOME) -> None:
    canned.add(
        "GET",
        path,
        HttpResponse(
            headers=[
                ("content-type", "text/html; charset=utf-8"),
                ("server", "nginx/1.25.3"),
                ("set-cookie", "_shopify_y=abc123; Path=/"),
            ],
            body=(page_html() if html is None else html).encode(),
        ),
    )


def sources(
    canned: CannedServer,
    *,
    builtwith: bool = True,
    free: bool = True,
    homepage: bool = True,
    builtwith_key: str = "k",
) -> dict[str, dict[str, Any]]:
    """``[sources]`` pointing the three sources at the canned server; False disables one."""
    base = f"{canned.url}/builtwith"
    return {
        "builtwith": {"base_url": base, "api_key": builtwith_key, "enabled": builtwith},
        "builtwith_free": {"base_url": base, "api_key": "k", "enabled": free},
        "homepage": {
            "url_template": f"{canned.url}/homepage/{{domain}}/",
            # The canned server is 127.0.0.1, which the homepage source refuses by default.
            "allow_private_addresses": True,
            "enabled": homepage,
        },
    }


def FakeContext(actors: Mapping[str, SourceActor], domain: str = DOMAIN) -> ModuleTestContext:
    """m01 and m02 depend on nothing; a context over running actors is all they need."""
    return ModuleTestContext(actors, domain, module_id="m0x_test")


@asynccontextmanager
async def context(canned: CannedServer, **flags: Any) -> AsyncIterator[FakeContext]:
    async with running_sources(sources(canned, **flags)) as actors:
        yield FakeContext(actors)


async def company(canned: CannedServer, **flags: Any) -> ModuleResult:
    async with context(canned, **flags) as ctx:
        return await run_company_context(ctx)


async def tech_stack(canned: CannedServer, **flags: Any) -> ModuleResult:
    async with context(canned, **flags) as ctx:
        return await run_tech_stack(ctx)


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


# -- m01_company_context -------------------------------------------------------------------------


async def test_m01_merges_builtwith_then_jsonld_then_opengraph_then_html(
    autojump: Any, canned: CannedServer
) -> None:
    canned.json("GET", BW, DOMAIN_EXAMPLE)
    serve_page(canned)
    result = await company(canned)

    data = result.data
    assert data["company_name"] == "Acme Corp"  # BuiltWith beats JSON-LD "Acme Corporation"
    assert data["legal_name"] == "Acme Corporation Inc."
    assert data["domain"] == DOMAIN
    assert data["description"] == "JSON-LD description of Acme."
    assert data["industry"] == "Business And Industrial"
    assert data["founded"] == 2009
    assert (data["city"], data["state"], data["country"]) == ("Springfield", "IL", "US")
    assert data["hq"] == "Springfield, IL"
    # Attributes.Employees is 0 (unknown), so JSON-LD's range gives its lower bound.
    assert data["employees"] == 201
    assert data["employees_range"] == {"min": 201, "max": 500}
    assert data["phones"] == ["+1-555-0100"]
    assert data["emails"] == ["info@acme.example"]
    assert data["social_profiles"] == {
        "facebook": "https://www.facebook.com/acme",
        "instagram": "https://www.instagram.com/acme",
        "linkedin": "https://linkedin.com/company/acme",
        "twitter": "https://twitter.com/acme",
    }
    assert data["ticker"] == "ACME"
    assert data["logo"] == "https://acme.example/logo.png"
    assert data["careers_url"] == f"{canned.url}/careers"
    assert data["field_sources"] == {
        "city": "builtwith",
        "company_name": "builtwith",
        "country": "builtwith",
        "emails": "builtwith",
        "hq": "builtwith",
        "industry": "builtwith",
        "phones": "builtwith",
        "social_profiles.linkedin": "builtwith",
        "social_profiles.twitter": "builtwith",
        "state": "builtwith",
        "careers_url": "homepage:html",
        "description": "homepage:jsonld",
        "employees": "homepage:jsonld",
        "employees_range": "homepage:jsonld",
        "founded": "homepage:jsonld",
        "legal_name": "homepage:jsonld",
        "logo": "homepage:jsonld",
        "social_profiles.facebook": "homepage:jsonld",
        "social_profiles.instagram": "homepage:html",
        "ticker": "homepage:jsonld",
    }
    # 10 fields each: the tie goes to the primary source.
    assert result.source == "builtwith"
    assert [c.url for c in result.citations] == [
        "https://builtwith.com/acme.example",
        f"{canned.url}{HOME}",
    ]
    assert result.citations[1].title == "Acme Corp | Widgets for everyone"
    assert result.warnings == []
    # Every found value counts once; domain and field_sources are bookkeeping.
    assert result.data_points == 21


async def test_m01_homepage_alone_when_builtwith_has_no_data(
    autojump: Any, canned: CannedServer
) -> None:
    canned.json("GET", BW, NOT_IN_SYSTEM)
    serve_page(canned)
    result = await company(canned)

    data = result.data
    assert data["company_name"] == "Acme Corporation"
    assert (data["city"], data["state"], data["country"]) == ("Shelbyville", "IL", "US")
    assert data["hq"] == "Shelbyville, IL"
    assert data["industry"] is None
    assert data["phones"] == ["+1-555-0199"]  # the Organization's, not the tel: link's
    assert data["emails"] == ["hello@acme.example"]  # none in JSON-LD: the mailto link
    assert data["social_profiles"] == {
        "facebook": "https://www.facebook.com/acme",
        "instagram": "https://www.instagram.com/acme",
        "linkedin": "https://www.linkedin.com/company/acme-jsonld",
        "twitter": "https://twitter.com/acmetweets",
    }
    fs = data["field_sources"]
    assert fs["company_name"] == fs["phones"] == fs["country"] == "homepage:jsonld"
    assert fs["emails"] == "homepage:html"
    assert fs["social_profiles.twitter"] == "homepage:opengraph"
    assert "builtwith" not in fs.values()
    assert result.source == "homepage"
    assert [c.url for c in result.citations] == [f"{canned.url}{HOME}"]
    (warning,) = result.warnings
    assert warning.startswith("builtwith unavailable (no_data)")


async def test_m01_opengraph_and_meta_without_jsonld(autojump: Any, canned: CannedServer) -> None:
    serve_page(canned, page_html(jsonld=False, og_description=False))
    result = await company(canned, builtwith=False)

    data = result.data
    assert data["company_name"] == "Acme Shop"
    assert data["description"] == "Meta description of Acme."
    assert data["phones"] == ["+1-555-0142"]
    assert data["founded"] is None and data["ticker"] is None
    fs = data["field_sources"]
    assert fs["company_name"] == "homepage:opengraph"
    assert fs["description"] == "homepage:html"
    assert fs["phones"] == "homepage:html"
    assert result.source == "homepage"
    (warning,) = result.warnings
    assert warning.startswith("builtwith not used")


async def test_m01_follows_homepage_redirects(autojump: Any, canned: CannedServer) -> None:
    final = f"/homepage/www.{DOMAIN}/"
    canned.add(
        "GET", HOME, HttpResponse(status=301, headers=[("location", f"{canned.url}{final}")])
    )
    serve_page(canned, path=final)
    result = await company(canned, builtwith=False)
    assert result.citations[0].url == f"{canned.url}{final}"
    assert result.data["company_name"] == "Acme Corporation"


async def test_m01_builtwith_alone_when_the_homepage_fails(
    autojump: Any, canned: CannedServer
) -> None:
    canned.json("GET", BW, DOMAIN_EXAMPLE)
    # No page queued: the canned server answers 404.
    result = await company(canned)
    assert result.data["company_name"] == "Acme Corp"
    assert result.data["description"] is None
    assert set(result.data["field_sources"].values()) == {"builtwith"}
    assert result.source == "builtwith"
    assert [c.url for c in result.citations] == ["https://builtwith.com/acme.example"]
    (warning,) = result.warnings
    assert warning.startswith("homepage unavailable (no_data)")


async def test_m01_both_failing_raises_the_first_error(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", BW, BAD_KEY)
    with pytest.raises(ModuleError) as info:
        await company(canned)
    assert info.value.code == "auth_failed"
    assert info.value.source == "builtwith"
    assert "builtwith: BuiltWith refused the API key" in info.value.message
    assert "homepage:" in info.value.message


async def test_m01_with_no_source_configured(autojump: Any, canned: CannedServer) -> None:
    with pytest.raises(SourceNotConfigured) as info:
        await company(canned, builtwith=False, homepage=False)
    assert info.value.code == "source_not_configured"
    assert canned.requests == []


async def test_m01_reports_nothing_rather_than_inventing(
    autojump: Any, canned: CannedServer
) -> None:
    canned.json("GET", BW, {"Results": [{"Lookup": DOMAIN, "Result": {"Paths": []}}]})
    serve_page(canned, "<html><head><title>Welcome</title></head><body></body></html>")
    result = await company(canned)
    assert result.data_points == 0
    assert result.data["company_name"] is None
    assert result.data["field_sources"] == {}
    assert result.citations == []
    assert any("gave any company facts" in w for w in result.warnings)


# -- m02_tech_stack ------------------------------------------------------------------------------


def with_techs(*techs: dict[str, Any]) -> dict[str, Any]:
    """DOMAIN_EXAMPLE with ``techs`` added to its path."""
    payload = copy.deepcopy(DOMAIN_EXAMPLE)
    payload["Results"][0]["Result"]["Paths"][0]["Technologies"].extend(techs)
    return payload


NOW_MS = 1727161200000


def tech(name: str, tag: str, *categories: str, last: int = NOW_MS, **extra: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "Tag": tag,
        "Categories": list(categories),
        "FirstDetected": 1600000000000,
        "LastDetected": last,
        **extra,
    }


async def test_m02_from_builtwith(autojump: Any, canned: CannedServer) -> None:
    canned.json(
        "GET",
        BW,
        with_techs(
            tech("Shopify Plus", "shop", "Hosted Solution", Parent="Shopify"),
            tech("Shopify", "shop", "Hosted Solution"),
            # Magento left the site in 2019: not the current platform.
            tech("Magento 2 Community", "shop", "Open Source", last=1560000000000),
            tech("Coveo", "widgets", "Site Search"),
            tech("Adobe Experience Manager", "cms", "Enterprise", "Content Management System"),
        ),
    )
    serve_page(canned)
    result = await tech_stack(canned)

    data = result.data
    assert result.source == "builtwith"
    assert data["technologies"][0] == {
        "name": "nginx",
        "category": "Web Server",
        "first_detected": "2018-08-05",
        "last_detected": "2024-09-24",
        "source": "builtwith",
    }
    assert [t["name"] for t in data["technologies"]] == [
        "nginx",
        "HubSpot",
        "Shopify Plus",
        "Shopify",
        "Magento 2 Community",
        "Coveo",
        "Adobe Experience Manager",
    ]
    assert data["technology_count"] == 7
    assert data["monthly_spend_usd"] == 734
    assert data["commerce_platform"] == "Shopify Plus"
    assert data["cms"] == "Adobe Experience Manager"
    assert data["search_provider"] == "Coveo"
    assert data["field_sources"] == {
        "commerce_platform": "builtwith",
        "cms": "builtwith",
        "search_provider": "builtwith",
    }
    assert data["categories"] == {
        "Hosted Solution": 2,
        "Enterprise": 1,
        "Marketing Automation": 1,
        "Open Source": 1,
        "Site Search": 1,
        "Web Server": 1,
    }
    assert [c.url for c in result.citations] == ["https://builtwith.com/acme.example"]
    assert result.warnings == []
    # BuiltWith named a search vendor, so the homepage was never fetched.
    assert canned.calls(HOME) == []


async def test_m02_asks_the_homepage_when_builtwith_names_no_search_vendor(
    autojump: Any, canned: CannedServer
) -> None:
    canned.json("GET", BW, DOMAIN_EXAMPLE)
    serve_page(canned)
    result = await tech_stack(canned)

    data = result.data
    assert result.source == "builtwith"
    assert data["search_provider"] == "Algolia"
    assert data["commerce_platform"] == "Shopify"
    assert data["cms"] is None
    assert data["field_sources"] == {"commerce_platform": "homepage", "search_provider": "homepage"}
    added = {t["name"]: t for t in data["technologies"] if t["source"] == "homepage"}
    assert set(added) == {"Algolia", "Shopify"}
    assert added["Algolia"]["version"] == "4.24.0"
    assert data["technology_count"] == 4
    assert data["categories"] == {
        "Ecommerce": 1,
        "Marketing Automation": 1,
        "Site Search": 1,
        "Web Server": 1,
    }
    assert [c.url for c in result.citations] == [
        "https://builtwith.com/acme.example",
        f"{canned.url}{HOME}",
    ]


async def test_m02_builtwith_not_configured_falls_back_to_the_free_api(
    autojump: Any, canned: CannedServer
) -> None:
    canned.json("GET", FREE, FREE_EXAMPLE)
    result = await tech_stack(canned, builtwith=False, homepage=False)

    data = result.data
    assert result.source == "builtwith_free"
    assert data["technologies"] == [
        {
            "name": "social-sdk",
            "category": "Analytics and Tracking",
            "first_detected": "2014-01-05",
            "last_detected": "2016-11-23",
            "source": "builtwith_free",
            "live": 2,
            "dead": 0,
        },
        {
            "name": "marketing-automation",
            "category": "Analytics and Tracking",
            "first_detected": "2014-01-05",
            "last_detected": "2016-11-23",
            "source": "builtwith_free",
            "live": 1,
            "dead": 1,
        },
        {
            "name": "javascript",
            "category": "JavaScript Libraries",
            "first_detected": "2014-01-05",
            "last_detected": "2016-11-23",
            "source": "builtwith_free",
            "live": 8,
            "dead": 4,
        },
    ]
    # The Free API counts live technologies per group: 15 + 8.
    assert data["technology_count"] == 23
    assert data["monthly_spend_usd"] is None
    assert data["commerce_platform"] is None
    assert data["search_provider"] is None
    assert data["categories"] == {"Analytics and Tracking": 15, "JavaScript Libraries": 8}
    assert any("categories" in w and "only" in w for w in result.warnings)
    assert any(w.startswith("fell back to builtwith_free: builtwith:") for w in result.warnings)
    assert [c.url for c in result.citations] == ["https://builtwith.com/acme.example"]


async def test_m02_builtwith_errors_fall_back_to_the_free_api(
    autojump: Any, canned: CannedServer
) -> None:
    canned.json("GET", BW, BAD_KEY)
    canned.json("GET", FREE, FREE_EXAMPLE)
    serve_page(canned)
    result = await tech_stack(canned)

    assert result.source == "builtwith_free"
    assert any("API Key Invalid" in w for w in result.warnings)
    # The Free API names no vendor: the homepage's fingerprints do.
    data = result.data
    assert (data["commerce_platform"], data["search_provider"]) == ("Shopify", "Algolia")
    assert data["field_sources"] == {"commerce_platform": "homepage", "search_provider": "homepage"}


async def test_m02_a_spent_daily_quota_hands_over(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", FREE, FREE_EXAMPLE)
    config = sources(canned, homepage=False)
    config["builtwith"]["daily_quota"] = 0
    async with running_sources(config) as actors:
        result = await run_tech_stack(FakeContext(actors))
    assert result.source == "builtwith_free"
    assert any("daily quota" in w for w in result.warnings)
    assert canned.calls(BW) == []


async def test_m02_both_builtwith_sources_unavailable_uses_the_homepage(
    autojump: Any, canned: CannedServer
) -> None:
    canned.json("GET", BW, NOT_IN_SYSTEM)
    canned.json("GET", FREE, NOT_IN_SYSTEM)
    serve_page(canned)
    result = await tech_stack(canned)

    data = result.data
    assert result.source == "homepage"
    names = {t["name"].casefold(): t for t in data["technologies"]}
    assert {"shopify", "algolia", "google tag manager", "nginx"} <= set(names)
    shopify = names["shopify"]
    assert shopify["source"] == "homepage"
    assert shopify["category"] == "Ecommerce"
    assert (shopify["first_detected"], shopify["last_detected"]) == (None, today())
    assert 0 < shopify["confidence"] <= 100
    assert names["nginx"]["version"] == "1.25.3"  # from the Server header
    assert data["monthly_spend_usd"] is None
    assert (data["commerce_platform"], data["cms"], data["search_provider"]) == (
        "Shopify",
        None,
        "Algolia",
    )
    assert set(data["field_sources"].values()) == {"homepage"}
    assert data["technology_count"] == len(data["technologies"])
    assert [c.url for c in result.citations] == [f"{canned.url}{HOME}"]
    assert len(canned.calls(HOME)) == 1
    assert sum(1 for w in result.warnings if w.startswith("fell back to homepage")) == 2


async def test_m02_fails_when_every_source_fails(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", BW, NOT_IN_SYSTEM)
    canned.json("GET", FREE, BAD_KEY)
    with pytest.raises(ModuleError) as info:
        await tech_stack(canned)
    # The first source tried names the error; the message lists every source's reason.
    assert info.value.code == "no_data"
    assert info.value.source == "builtwith"
    for name in ("builtwith:", "builtwith_free:", "homepage:"):
        assert name in info.value.message


async def test_m02_a_page_without_fingerprints_is_no_data(
    autojump: Any, canned: CannedServer
) -> None:
    plain = b"<html><head><title>Hi</title></head><body>plain</body></html>"
    canned.add("GET", HOME, HttpResponse(headers=[("content-type", "text/html")], body=plain))
    with pytest.raises(ModuleError) as info:
        await tech_stack(canned, builtwith=False, free=False)
    assert info.value.code == "no_data"


# -- helpers -------------------------------------------------------------------------------------


def t(name: str, category: str = "Other", **kw: Any) -> Tech:
    return Tech(name=name, category=category, source=kw.pop("source", "builtwith"), **kw)


def test_role_picking() -> None:
    roles = pick_roles(
        [
            t("Shopify", last_detected="2024-09-01"),
            t("Shopify Plus", parent="Shopify", last_detected="2024-09-01"),
            t("Bloomreach Experience Manager", last_detected="2024-09-01"),
            t("SuperFind", "Site Search", last_detected="2024-09-01"),
        ]
    )
    assert roles == {
        "commerce_platform": "Shopify Plus",
        "cms": "Bloomreach Experience Manager",
        "search_provider": "SuperFind",
    }
    # A vendor on the list beats one known only by its category; a stale one loses to a current.
    roles = pick_roles(
        [
            t("SuperFind", "Site Search", last_detected="2024-09-01"),
            t("Klevu", last_detected="2024-09-01"),
            t("Magento Enterprise", last_detected="2019-01-01"),
            t("BigCommerce", last_detected="2024-08-20"),
        ]
    )
    assert roles["search_provider"] == "Klevu"
    assert roles["commerce_platform"] == "BigCommerce"
    # A child entry is not a platform by its category alone; "Elastic Path" is not Elastic search.
    roles = pick_roles(
        [t("Yoast", "Site Search", parent="WordPress"), t("Elastic Path"), t("Wix Stores")]
    )
    assert roles == {
        "commerce_platform": "Elastic Path",
        "cms": None,
        "search_provider": None,
    }
    # From fingerprints: the implier wins (Adobe Commerce implies Magento).
    roles = pick_roles(
        [
            t("Magento", "Ecommerce", source="homepage", confidence=100),
            t("Adobe Commerce", "Ecommerce", source="homepage", confidence=100),
        ]
    )
    assert roles["commerce_platform"] == "Adobe Commerce"


def test_country_ticker_and_social_helpers() -> None:
    assert country_code("United States") == "US"
    assert country_code("usa") == "US"
    assert country_code("gb") == "GB"
    assert country_code("Deutschland") == "DE"
    assert country_code("Atlantis") == "Atlantis"
    assert country_code("  ") is None
    assert ticker_symbol("NYSE: ACME") == "ACME"
    assert ticker_symbol("cost") == "COST"
    assert ticker_symbol("BRK.B") == "BRK.B"
    assert ticker_symbol("not a ticker") is None
    assert social_profiles(
        [
            "https://twitter.com/intent/tweet?url=x",
            "https://www.facebook.com/sharer.php?u=x",
            "https://x.com/acme/",
            "linkedin.com/company/acme",
            "https://example.com/acme",
            "https://www.youtube.com/",
        ]
    ) == {"twitter": "https://x.com/acme", "linkedin": "https://linkedin.com/company/acme"}


def test_module_specs() -> None:
    m01, m02 = MODULES
    assert (m01.id, m01.wave, m01.sources) == ("m01_company_context", 1, ("builtwith", "homepage"))
    assert (m02.id, m02.wave) == ("m02_tech_stack", 1)
    assert m02.sources == ("builtwith", "builtwith_free", "homepage")
    assert (m01.ttl_seconds, m02.ttl_seconds) == (30 * 86400, 7 * 86400)


# -- end to end through the engine ---------------------------------------------------------------


async def test_engine_runs_m01_and_m02_naming_the_serving_source(
    autojump: Any, engine_factory: Any, canned: CannedServer
) -> None:
    # The Domain API refuses the key: m02 falls back to the Free API, m01 to the homepage.
    canned.json("GET", BW, BAD_KEY)
    canned.json("GET", FREE, FREE_EXAMPLE)
    serve_page(canned)
    async with engine_factory(**BUILTIN, sources=sources(canned)) as engine:
        job = await engine.start_job(
            DOMAIN, JobRequest(modules=["m01_company_context", "m02_tech_stack"])
        )
        final = await wait_for_status(engine, job.job_id, {"completed", "failed"})
        outputs = engine.store.outputs(job.job_id)

    assert final.status == "completed", final.module_states
    m01 = final.module_states["m01_company_context"]
    m02 = final.module_states["m02_tech_stack"]
    assert (m01.status, m01.source) == ("completed", "homepage")
    assert (m02.status, m02.source) == ("completed", "builtwith_free")
    assert any("API Key Invalid" in w for w in m01.warnings)
    assert any("fell back to builtwith_free" in w for w in m02.warnings)
    assert outputs["m01_company_context"].data["company_name"] == "Acme Corporation"
    assert outputs["m01_company_context"].source_url == f"{canned.url}{HOME}"
    assert outputs["m02_tech_stack"].data["search_provider"] == "Algolia"
    assert outputs["m02_tech_stack"].source_url == "https://builtwith.com/acme.example"
    # Both modules wanted the same Domain API answer at the same time: one upstream call.
    assert len(canned.calls(BW)) == 1
