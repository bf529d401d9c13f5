"""The module against real source actors and a canned resolver (no daemon, no internet)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import Resolver
from enrichd.plugins import ModuleError, ModuleResult
from enrichd.testing import ModuleTestContext, running_sources

import enrichd_plugin_example
from enrichd_plugin_example import MODULE_ID
from enrichd_plugin_example._mail import run

PLUGIN = [("example", enrichd_plugin_example)]
DOMAIN = "acme.com"


async def enrich(
    sources: dict[str, dict[str, Any]], options: dict[str, Any] | None = None
) -> ModuleResult:
    """Run the module for ``DOMAIN`` as the daemon would, against the configured sources."""
    async with running_sources(sources, plugins=PLUGIN) as actors:
        ctx = ModuleTestContext(actors, DOMAIN, module_id=MODULE_ID, options=options)
        return await run(ctx)


async def test_google_workspace_with_its_senders(
    google: Resolver, sources: dict[str, dict[str, Any]]
) -> None:
    google.answer(DOMAIN, "MX", "5 alt1.aspmx.l.google.com.", "1 aspmx.l.google.com.")
    google.answer(
        DOMAIN,
        "TXT",
        "google-site-verification=abc",
        "v=spf1 include:_spf.google.com include:sendgrid.net ~include:servers.mcsv.net -all",
    )
    result = await enrich(sources)
    assert result.data == {
        "mail_provider": "Google Workspace",
        "provider_evidence": "mx",
        "security_gateway": None,
        "mx_records": [
            {"priority": 1, "host": "aspmx.l.google.com"},
            {"priority": 5, "host": "alt1.aspmx.l.google.com"},
        ],
        "spf_senders": ["Google Workspace", "SendGrid", "Mailchimp"],
        "spf_record": (
            "v=spf1 include:_spf.google.com include:sendgrid.net ~include:servers.mcsv.net -all"
        ),
    }
    assert result.data_points == 2 + 4 + 3 + 1
    assert result.source == "example_doh" and result.warnings == []
    assert [c.url for c in result.citations] == [
        "https://dns.google/query?name=acme.com&rr_type=MX",
        "https://dns.google/query?name=acme.com&rr_type=TXT",
    ]
    assert result.source_url == result.citations[0].url
    assert sorted(google.queries()) == [(DOMAIN, "MX"), (DOMAIN, "TXT")]
    assert all(r.headers["accept"] == "application/dns-json" for r in google.server.requests)


async def test_a_gateway_hides_the_provider_and_spf_names_it(
    google: Resolver, sources: dict[str, dict[str, Any]]
) -> None:
    google.answer(DOMAIN, "MX", "10 mxa-001.pphosted.com.", "10 mxb-001.pphosted.com.")
    google.answer(DOMAIN, "TXT", "v=spf1 include:spf.protection.outlook.com -all")
    data = (await enrich(sources)).data
    assert data["security_gateway"] == "Proofpoint"
    assert data["mail_provider"] == "Microsoft 365"
    assert data["provider_evidence"] == "spf"


async def test_cloudflare_serves_when_google_refuses(
    google: Resolver, cloudflare: Resolver, sources: dict[str, dict[str, Any]]
) -> None:
    google.server.json("GET", "/resolve", {"error": "blocked"}, 403)
    cloudflare.answer(DOMAIN, "MX", "10 acme-com.mail.protection.outlook.com.")
    # Cloudflare keeps a TXT record's quotes, and splits long ones into several strings.
    cloudflare.answer(DOMAIN, "TXT", '"v=spf1 include:spf.protection.outlook.com " "-all"')
    result = await enrich(sources)
    assert result.source == "example_doh_cf"
    assert result.data["mail_provider"] == "Microsoft 365"
    assert result.data["spf_record"] == "v=spf1 include:spf.protection.outlook.com -all"
    # MX and TXT are queried together: whichever refusal came first is the one reported.
    [warning] = result.warnings
    assert re.fullmatch(
        r"fell back to example_doh_cf: example_doh: "
        r"the resolver answered HTTP 403 for acme\.com (MX|TXT)",
        warning,
    )
    # Without a lookup page, the citation is the API URL that answered.
    assert result.citations[0].url.startswith(cloudflare.url + "/dns-query?")


async def test_an_unknown_domain_is_no_data(
    google: Resolver, cloudflare: Resolver, sources: dict[str, dict[str, Any]]
) -> None:
    for resolver in (google, cloudflare):
        for rrtype in ("MX", "TXT"):
            resolver.answer(DOMAIN, rrtype, status=3)
    with pytest.raises(ModuleError) as info:
        await enrich(sources)
    assert info.value.code == "no_data"
    assert "NXDOMAIN" in info.value.message


async def test_no_mx_and_no_spf_is_no_data(
    google: Resolver, sources: dict[str, dict[str, Any]]
) -> None:
    google.answer(DOMAIN, "MX")
    google.answer(DOMAIN, "TXT", "some-other-verification=1")
    with pytest.raises(ModuleError) as info:
        await enrich(sources)
    assert info.value.code == "no_data"


async def test_a_server_failure_is_an_upstream_error(
    google: Resolver, cloudflare: Resolver, sources: dict[str, dict[str, Any]]
) -> None:
    for resolver in (google, cloudflare):
        for rrtype in ("MX", "TXT"):
            resolver.answer(DOMAIN, rrtype, status=2)
    with pytest.raises(ModuleError) as info:
        await enrich(sources)
    assert info.value.code == "upstream_error"
    assert "DNS response code 2" in info.value.message


async def test_an_answer_that_is_not_the_json_api(
    google: Resolver, sources: dict[str, dict[str, Any]]
) -> None:
    sources["example_doh_cf"]["enabled"] = False
    google.server.json("GET", "/resolve", ["not", "a", "dns", "answer"])
    with pytest.raises(ModuleError) as info:
        await enrich(sources)
    assert info.value.code == "malformed_response"


async def test_module_options(google: Resolver, sources: dict[str, dict[str, Any]]) -> None:
    google.answer(DOMAIN, "MX", "10 mx1.acme-hosting.net.")
    options = {"providers": {"acme-hosting.net": "Acme Hosting"}, "spf": False}
    result = await enrich(sources, options)
    assert result.data["mail_provider"] == "Acme Hosting"
    assert result.data["spf_record"] is None
    assert google.queries() == [(DOMAIN, "MX")]  # spf = false: no TXT query


async def test_bad_module_options_name_the_key(sources: dict[str, dict[str, Any]]) -> None:
    with pytest.raises(ModuleError) as info:
        await enrich(sources, {"spf": "sometimes"})
    assert info.value.code == "invalid_options"
    assert info.value.message.startswith("modules.example.mail_provider.spf: Expected `bool`")
