"""The plugin inside a real daemon: installed, configured, and driven through the REST API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import Resolver
from enrichd.client import Client
from enrichd.testing import EnrichdDaemon

from enrichd_plugin_example import MODULE_ID

DOMAIN = "acme.com"


@pytest.fixture
def enrichd_config(sources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The daemon's extra tables: both resolvers on the canned upstream, a module option."""
    return {
        "sources": sources,
        "modules": {MODULE_ID: {"senders": {"spf.acme-mailer.example": "Acme Mailer"}}},
    }


def test_a_job_runs_the_plugin_module(
    enrichd_client: Client, enrichd_daemon: EnrichdDaemon, google: Resolver
) -> None:
    google.answer(DOMAIN, "MX", "1 aspmx.l.google.com.")
    google.answer(DOMAIN, "TXT", "v=spf1 include:_spf.google.com include:spf.acme-mailer.example")
    job = enrichd_client.start(DOMAIN, modules=[MODULE_ID])
    assert job.modules == [MODULE_ID] and job.waves == [4]
    status = enrichd_client.wait(DOMAIN, job.job_id, poll=0.1, timeout=30)
    assert status.status == "completed", status.errors
    results = enrichd_client.results(DOMAIN, job.job_id)
    data = results.results[MODULE_ID]
    assert data["mail_provider"] == "Google Workspace"
    assert data["spf_senders"] == ["Google Workspace", "Acme Mailer"]  # the module option
    assert results.module_statuses[MODULE_ID].source == "example_doh"
    assert results.source_citations[MODULE_ID][0].url.startswith("https://dns.google")
    # A second job is served from the cache, as for any built-in module.
    again = enrichd_client.start(DOMAIN, modules=[MODULE_ID])
    enrichd_client.wait(DOMAIN, again.job_id, poll=0.1, timeout=30)
    assert enrichd_client.results(DOMAIN, again.job_id).cached_modules == [MODULE_ID]
    assert google.queries().count((DOMAIN, "MX")) == 1
    health = httpx.get(enrichd_daemon.url + "/healthz", trust_env=False).json()
    [plugin] = [p for p in health["plugins"] if p["name"] == "example"]
    assert plugin["status"] == "loaded" and plugin["modules"] == [MODULE_ID]
    assert health["sources"]["example_doh"]["configured"] is True
