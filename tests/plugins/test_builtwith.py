"""The BuiltWith clients against a canned loopback upstream: the reference examples, every error
shape, the version path option and the epoch conversions.

Sources are resolved from a config table exactly as the engine does (``resolve_sources``) and run
as real source actors, so retries, rate limits and the KEY parameter are the production ones.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import trio

from enrichd.config import ConfigError
from enrichd.plugins import ModuleError, NoData
from enrichd.plugins.builtin._builtwith import (
    SOURCES,
    BuiltWithOptions,
    DomainProfile,
    FreeProfile,
    epoch_date,
    lookup_domain,
    lookup_free,
    profile_url,
    tag_name,
)
from enrichd.sandbox import HttpResponse
from enrichd.testing import running_sources, source_actors
from tests.canned import CannedServer

# -- the reference document's examples, verbatim -------------------------------------------------

#: upstream-apis.md 1.1, "Minimal example (constructed from real field names; values invented)".
DOMAIN_EXAMPLE: dict[str, Any] = {
    "Results": [
        {
            "Result": {
                "IsDB": "True",
                "Spend": 734,
                "Paths": [
                    {
                        "Technologies": [
                            {
                                "Name": "nginx",
                                "Tag": "Web Server",
                                "Categories": ["Web Server"],
                                "Description": "nginx is an HTTP and reverse proxy server.",
                                "Link": "http://nginx.org/en/",
                                "FirstDetected": 1533510000000,
                                "LastDetected": 1727161200000,
                                "IsPremium": "no",
                            },
                            {
                                "Name": "HubSpot",
                                "Tag": "analytics",
                                "Categories": ["Marketing Automation"],
                                "FirstDetected": 1577836800000,
                                "LastDetected": 1727161200000,
                                "IsPremium": "yes",
                            },
                        ],
                        "FirstIndexed": 1533510000000,
                        "LastIndexed": 1727161200000,
                        "Domain": "acme.example",
                        "Url": "",
                        "SubDomain": "",
                    }
                ],
            },
            "Meta": {
                "Majestic": 0,
                "Umbrella": 0,
                "Vertical": "Business And Industrial",
                "Social": ["https://twitter.com/acme", "https://linkedin.com/company/acme"],
                "CompanyName": "Acme Corp",
                "Telephones": ["+1-555-0100"],
                "Emails": ["info@acme.example"],
                "City": "Springfield",
                "State": "IL",
                "Postcode": "62701",
                "Country": "US",
                "Names": None,
                "ARank": 6249242,
                "QRank": -1,
            },
            "Attributes": {
                "Employees": 0,
                "MJRank": 0,
                "MJTLDRank": 0,
                "RefSN": 0,
                "RefIP": 0,
                "Followers": 0,
                "Sitemap": 0,
                "GTMTags": 0,
                "QubitTags": 0,
                "TealiumTags": 0,
                "AdobeTags": 0,
                "CDimensions": 0,
                "CGoals": 0,
                "CMetrics": 0,
                "ProductCount": 0,
            },
            "FirstIndexed": 1389481200000,
            "LastIndexed": 1727161200000,
            "Lookup": "acme.example",
            "SalesRevenue": 0,
        }
    ],
    "Errors": [],
    "Trust": None,
}

#: upstream-apis.md 1.2, "Example (constructed from documented fields and example values)".
FREE_EXAMPLE: dict[str, Any] = {
    "domain": "hotelscombined.com",
    "first": 1294059600,
    "last": 1501282800,
    "groups": [
        {
            "name": "analytics",
            "live": 15,
            "dead": 9,
            "latest": 1501282800,
            "oldest": 1294059600,
            "categories": [
                {
                    "name": "social-sdk",
                    "live": 2,
                    "dead": 0,
                    "latest": 1479942000,
                    "oldest": 1388957967,
                },
                {
                    "name": "marketing-automation",
                    "live": 1,
                    "dead": 1,
                    "latest": 1479942000,
                    "oldest": 1388957967,
                },
            ],
        },
        {
            "name": "javascript",
            "live": 8,
            "dead": 4,
            "latest": 1479942000,
            "oldest": 1388957967,
            "categories": [],
        },
    ],
}

#: The recorded Free API answer for an unknown domain (upstream-apis.md 1.1, Errors).
NOT_IN_SYSTEM: dict[str, Any] = {
    "Errors": [
        {
            "Lookup": None,
            "Message": "Domain not in our system. Paid for lookups would return something.",
            "Code": -10,
        }
    ],
    "NextOffset": None,
    "Results": None,
}

#: How BuiltWith (and the sandbox) answer a bad key: HTTP 200 with an Errors array.
BAD_KEY: dict[str, Any] = {
    "Errors": [{"Lookup": "acme.example", "Message": "API Key Invalid", "Code": -1}],
    "Results": [],
}

V22 = "/v22/api.json"
FREE = "/free1/api.json"


# -- helpers shared with test_company.py ---------------------------------------------------------


def bw(canned: CannedServer, **extra: Any) -> dict[str, dict[str, Any]]:
    """``[sources]`` with both BuiltWith sources pointed at the canned server."""
    table = {"base_url": canned.url, "api_key": "k", **extra}
    return {"builtwith": table, "builtwith_free": {"base_url": canned.url, "api_key": "k"}}


async def domain_lookup(canned: CannedServer, domain: str = "acme.example") -> DomainProfile:
    async with running_sources(bw(canned)) as actors:
        return await lookup_domain(actors["builtwith"].handle(), domain)


async def free_lookup(canned: CannedServer, domain: str = "hotelscombined.com") -> FreeProfile:
    async with running_sources(bw(canned)) as actors:
        return await lookup_free(actors["builtwith_free"].handle(), domain)


# -- the Domain API ------------------------------------------------------------------------------


async def test_domain_example(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", V22, DOMAIN_EXAMPLE)
    profile = await domain_lookup(canned)

    (request,) = canned.requests
    assert request.path == V22
    # The actor adds KEY; no flags by default, so Meta and the texts come back.
    assert request.query == {"LOOKUP": "acme.example", "KEY": "k"}
    assert profile.domain == "acme.example"
    assert profile.spend_usd == 734
    assert profile.first_indexed == "2014-01-11"
    assert profile.last_indexed == "2024-09-24"
    nginx, hubspot = profile.technologies
    assert (nginx.name, nginx.category, nginx.tag) == ("nginx", "Web Server", "Web Server")
    # Epoch milliseconds become ISO dates (UTC).
    assert (nginx.first_detected, nginx.last_detected) == ("2018-08-05", "2024-09-24")
    assert nginx.premium is False
    assert (hubspot.name, hubspot.category) == ("HubSpot", "Marketing Automation")
    assert (hubspot.first_detected, hubspot.premium) == ("2020-01-01", True)
    meta = profile.meta
    assert meta is not None
    assert meta.company_name == "Acme Corp"
    assert meta.vertical == "Business And Industrial"
    assert meta.social == ("https://twitter.com/acme", "https://linkedin.com/company/acme")
    assert meta.telephones == ("+1-555-0100",)
    assert meta.emails == ("info@acme.example",)
    assert (meta.city, meta.state, meta.postcode, meta.country) == (
        "Springfield",
        "IL",
        "62701",
        "US",
    )
    # Attributes.Employees 0 means "unknown", not "no employees".
    assert meta.employees is None


async def test_version_path_and_flags_are_options(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", "/v21/api.json", DOMAIN_EXAMPLE)
    sources = bw(canned, api_version="v21", flags=["LIVEONLY", "NOPII"])
    async with running_sources(sources) as actors:
        await lookup_domain(actors["builtwith"].handle(), "acme.example")
    (request,) = canned.requests
    assert request.path == "/v21/api.json"
    assert request.query == {
        "LOOKUP": "acme.example",
        "LIVEONLY": "yes",
        "NOPII": "yes",
        "KEY": "k",
    }


def test_options_are_validated() -> None:
    assert BuiltWithOptions().api_version == "v22"
    with pytest.raises(ConfigError, match="api_version"):
        source_actors({"builtwith": {"api_key": "k", "api_version": "22"}})
    with pytest.raises(ConfigError, match="flags"):
        source_actors({"builtwith": {"api_key": "k", "flags": ["DROPTABLES"]}})
    with pytest.raises(ConfigError):
        source_actors({"builtwith": {"api_key": "k", "api_verison": "v22"}})


async def test_base_url_with_a_path_prefix(autojump: Any, canned: CannedServer) -> None:
    # The sandbox serves BuiltWith under {S}/builtwith: paths must stay relative to the base.
    canned.json("GET", "/builtwith/v22/api.json", DOMAIN_EXAMPLE)
    canned.json("GET", "/builtwith/free1/api.json", FREE_EXAMPLE)
    prefixed = {"base_url": f"{canned.url}/builtwith", "api_key": "k"}
    async with running_sources({"builtwith": prefixed, "builtwith_free": prefixed}) as actors:
        assert (await lookup_domain(actors["builtwith"].handle(), "acme.example")).spend_usd
        assert (await lookup_free(actors["builtwith_free"].handle(), "acme.example")).groups


async def test_technologies_are_merged_across_paths(autojump: Any, canned: CannedServer) -> None:
    payload = copy.deepcopy(DOMAIN_EXAMPLE)
    result = payload["Results"][0]["Result"]
    result["Paths"].append(
        {
            "SubDomain": "shop",
            "Technologies": [
                # nginx again, seen earlier and later on the shop subdomain.
                {
                    "Name": "nginx",
                    "Tag": "Web Server",
                    "FirstDetected": 1400000000000,
                    "LastDetected": 1730000000000,
                },
                # No Categories (HIDETEXT): the tag's human name is the category.
                {
                    "Name": "Shopify Plus",
                    "Tag": "shop",
                    "FirstDetected": 1600000000000,
                    "LastDetected": None,
                    "IsPremium": "yes",
                },
                {"Name": "Mystery", "Tag": "quantum", "Categories": None},
                {"Name": None, "Tag": "cms"},
                {"Name": "Bare"},
            ],
        }
    )
    result["Paths"].append({"Technologies": None})
    result["SpendHistory"] = [{"D": 1704067200000, "S": 700}, {"D": None, "S": 1}]
    canned.json("GET", V22, payload)
    profile = await domain_lookup(canned)

    names = [t.name for t in profile.technologies]
    assert names == ["nginx", "HubSpot", "Shopify Plus", "Mystery", "Bare"]
    nginx = profile.technologies[0]
    assert (nginx.first_detected, nginx.last_detected) == ("2014-05-13", "2024-10-27")
    assert nginx.category == "Web Server"
    shop = profile.technologies[2]
    assert (shop.category, shop.tag, shop.last_detected) == ("eCommerce", "shop", None)
    assert profile.technologies[3].category == "quantum"
    assert profile.technologies[4].category == "Other"
    assert [(p.date, p.usd) for p in profile.spend_history] == [("2024-01-01", 700)]


async def test_tolerates_missing_blocks(autojump: Any, canned: CannedServer) -> None:
    canned.json(
        "GET",
        V22,
        {
            "Results": [
                {"Lookup": "other.example", "Result": None},
                {
                    "Lookup": "ACME.example",
                    "Result": {"Paths": None},
                    "Meta": None,
                    "Attributes": {"Employees": 250},
                },
            ]
        },
    )
    profile = await domain_lookup(canned)
    assert profile.technologies == ()
    assert profile.spend_usd is None
    assert profile.meta is not None
    assert profile.meta.employees == 250
    assert profile.meta.company_name is None


async def test_bad_key_with_http_200_is_auth_failed(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", V22, BAD_KEY)
    with pytest.raises(ModuleError) as info:
        await domain_lookup(canned)
    assert info.value.code == "auth_failed"
    assert "API Key Invalid" in info.value.message
    assert info.value.source == "builtwith"


async def test_not_in_system_is_no_data(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", V22, NOT_IN_SYSTEM)
    with pytest.raises(NoData) as info:
        await domain_lookup(canned)
    assert info.value.code == "no_data"
    assert "not in our system" in info.value.message


async def test_other_errors_are_upstream_errors(autojump: Any, canned: CannedServer) -> None:
    canned.json(
        "GET", V22, {"Errors": [{"Message": "Lookup failed, try later", "Code": -3}], "Results": []}
    )
    with pytest.raises(ModuleError) as info:
        await domain_lookup(canned)
    assert info.value.code == "upstream_error"
    assert "Lookup failed, try later" in info.value.message


async def test_out_of_credits_is_quota_exhausted(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", V22, {"Errors": [{"Message": "Out of credits", "Code": -4}]})
    with pytest.raises(ModuleError) as info:
        await domain_lookup(canned)
    assert info.value.code == "quota_exhausted"


@pytest.mark.parametrize("results", [None, []])
async def test_no_results_is_no_data(autojump: Any, canned: CannedServer, results: Any) -> None:
    canned.json("GET", V22, {"Results": results, "Errors": []})
    with pytest.raises(NoData):
        await domain_lookup(canned)


@pytest.mark.parametrize("status", [401, 403])
async def test_401_403_are_auth_failed(autojump: Any, canned: CannedServer, status: int) -> None:
    canned.json("GET", V22, {"Errors": [{"Message": "Forbidden"}]}, status=status)
    with pytest.raises(ModuleError) as info:
        await domain_lookup(canned)
    assert info.value.code == "auth_failed"
    assert str(status) in info.value.message


async def test_other_4xx_is_upstream_error(autojump: Any, canned: CannedServer) -> None:
    # Nothing queued: the canned server answers 404 (e.g. a wrong api_version).
    with pytest.raises(ModuleError) as info:
        await domain_lookup(canned)
    assert info.value.code == "upstream_error"
    assert "404" in info.value.message
    assert "KEY=k" not in info.value.message  # the actor redacts the key in URLs


async def test_errors_on_a_4xx_body_are_read(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", V22, NOT_IN_SYSTEM, status=404)
    with pytest.raises(NoData):
        await domain_lookup(canned)


@pytest.mark.parametrize("body", [b'{"Results": [', b"<html>down</html>", b"[1, 2]", b'"x"'])
async def test_malformed_bodies(autojump: Any, canned: CannedServer, body: bytes) -> None:
    canned.add("GET", V22, HttpResponse(headers=[("content-type", "application/json")], body=body))
    with pytest.raises(ModuleError) as info:
        await domain_lookup(canned)
    assert info.value.code == "malformed_response"


async def test_wrong_field_types_are_malformed(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", V22, {"Results": [{"Result": {"Paths": "nope"}}]})
    with pytest.raises(ModuleError) as info:
        await domain_lookup(canned)
    assert info.value.code == "malformed_response"


async def test_5xx_is_retried_by_the_actor(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", V22, {"Message": "busy"}, status=503)
    canned.json("GET", V22, DOMAIN_EXAMPLE)
    profile = await domain_lookup(canned)
    assert profile.meta is not None and profile.meta.company_name == "Acme Corp"
    assert len(canned.calls(V22)) == 2


# -- the Free API --------------------------------------------------------------------------------


async def test_free_example(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", FREE, FREE_EXAMPLE)
    profile = await free_lookup(canned)

    (request,) = canned.requests
    assert request.query == {"LOOKUP": "hotelscombined.com", "KEY": "k"}
    assert profile.domain == "hotelscombined.com"
    # Epoch seconds here, not milliseconds.
    assert (profile.first_indexed, profile.last_indexed) == ("2011-01-03", "2017-07-28")
    analytics, javascript = profile.groups
    assert (analytics.name, analytics.category) == ("analytics", "Analytics and Tracking")
    assert (analytics.live, analytics.dead) == (15, 9)
    assert (analytics.first_detected, analytics.last_detected) == ("2011-01-03", "2017-07-28")
    social, marketing = analytics.categories
    assert (social.name, social.live, social.dead) == ("social-sdk", 2, 0)
    assert (social.first_detected, social.last_detected) == ("2014-01-05", "2016-11-23")
    assert (marketing.name, marketing.live, marketing.dead) == ("marketing-automation", 1, 1)
    assert (javascript.category, javascript.categories) == ("JavaScript Libraries", ())


async def test_free_not_in_system_is_no_data(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", FREE, NOT_IN_SYSTEM)
    with pytest.raises(NoData):
        await free_lookup(canned)


async def test_free_bad_key_is_auth_failed(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", FREE, BAD_KEY)
    with pytest.raises(ModuleError) as info:
        await free_lookup(canned)
    assert info.value.code == "auth_failed"
    assert info.value.source == "builtwith_free"


@pytest.mark.parametrize("payload", [{"domain": "x.example", "groups": []}, {"groups": None}])
async def test_free_without_groups_is_no_data(
    autojump: Any, canned: CannedServer, payload: Any
) -> None:
    canned.json("GET", FREE, payload)
    with pytest.raises(NoData):
        await free_lookup(canned)


async def test_free_malformed(autojump: Any, canned: CannedServer) -> None:
    canned.add("GET", FREE, HttpResponse(body=b"{oops"))
    with pytest.raises(ModuleError) as info:
        await free_lookup(canned)
    assert info.value.code == "malformed_response"


async def test_free_api_sends_one_request_a_second(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", FREE, FREE_EXAMPLE)
    times: list[float] = []
    async with running_sources(bw(canned)) as actors:
        source = actors["builtwith_free"].handle()
        for domain in ("a.example", "b.example", "c.example"):
            await lookup_free(source, domain)
            times.append(trio.current_time())
    assert times[1] - times[0] >= 0.99
    assert times[2] - times[1] >= 0.99
    (free_spec,) = [s for s in SOURCES if s.name == "builtwith_free"]
    assert (free_spec.rate_per_second, free_spec.burst) == (1.0, 1)


# -- helpers -------------------------------------------------------------------------------------


def test_epoch_date_units() -> None:
    assert epoch_date(1727161200000, milliseconds=True) == "2024-09-24"
    assert epoch_date(1727161200, milliseconds=False) == "2024-09-24"
    assert epoch_date(None, milliseconds=True) is None
    assert epoch_date(0, milliseconds=False) is None
    assert epoch_date(-5, milliseconds=False) is None
    # Milliseconds read as seconds would be year ~56000: no date rather than a crash.
    assert epoch_date(1727161200000, milliseconds=False) is None


def test_tag_names_and_profile_url() -> None:
    assert tag_name("shop") == "eCommerce"
    assert tag_name("Web Server") == "Web Server"
    assert tag_name("cdns") == "Content Delivery Network"
    assert tag_name("brand-new-tag") == "brand-new-tag"
    assert profile_url("acme.example") == "https://builtwith.com/acme.example"
