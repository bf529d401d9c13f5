"""End to end: third-party plugins in a real ``enrichd serve`` process, through the REST API.

The example plugin (examples/enrichd-plugin-example) must be installed, as CI does (`make venv`);
its resolver is a canned upstream on 127.0.0.1. The other tests load small plugins written to a
temporary directory: one that crashes at run time, one that fails to import, and plugins that
contradict each other.
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from enrichd.cli import main
from enrichd.testing import BackgroundServer, CannedServer, EnrichdDaemon

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = "example.mail_provider"
DOMAIN = "acme.com"
TERMINAL = {"completed", "failed", "cancelled"}

_installed = any(ep.name == "example" for ep in importlib.metadata.entry_points(group="enrichd"))
needs_example = pytest.mark.skipif(
    not _installed,
    reason="the example plugin is not installed: "
    "pip install -e examples/enrichd-plugin-example (make venv does)",
)


@pytest.fixture
def resolver() -> Iterator[CannedServer]:
    """Google's DNS JSON API, canned, answering MX and TXT queries for ``DOMAIN``."""
    server = CannedServer()
    with BackgroundServer(server) as url:
        server.url = url
        for rrtype, number, data in (
            ("MX", 15, "1 aspmx.l.google.com."),
            ("TXT", 16, "v=spf1 include:_spf.google.com include:sendgrid.net ~all"),
        ):
            answer = [{"name": f"{DOMAIN}.", "type": number, "TTL": 300, "data": data}]
            server.json(
                "GET",
                "/resolve",
                {"Status": 0, "Answer": answer},
                query={"name": DOMAIN, "type": rrtype},
            )
        yield server


def _client(daemon: EnrichdDaemon) -> httpx.Client:
    return httpx.Client(
        base_url=daemon.url,
        headers={"Authorization": f"Bearer {daemon.token}"},
        timeout=10,
        trust_env=False,
    )


def _wait(client: httpx.Client, domain: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(
            f"/api/v1/enrich/{domain}/status", params={"job_id": job_id}
        ).json()
        if body["status"] in TERMINAL:
            return body
        time.sleep(0.05)
    raise AssertionError(f"{job_id} did not finish")


@needs_example
def test_a_job_uses_the_example_plugin(
    tmp_path: Path, resolver: CannedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = {"base_url": resolver.url, "max_retries": 0}
    config = {"sources": {"example_doh": sources, "example_doh_cf": sources}}
    with EnrichdDaemon(tmp_path, config) as daemon, _client(daemon) as c:
        health = c.get("/healthz").json()
        [example] = [p for p in health["plugins"] if p["name"] == "example"]
        assert example["status"] == "loaded" and example["modules"] == [EXAMPLE]
        assert health["sources"]["example_doh"]["configured"] is True

        created = c.post(f"/api/v1/enrich/{DOMAIN}", json={"modules": [EXAMPLE]})
        assert created.status_code == 202, created.text
        job = created.json()
        assert job["modules"] == [EXAMPLE] and job["waves"] == [4]
        status = _wait(c, DOMAIN, job["job_id"])
        assert status["status"] == "completed", status["errors"]
        # Status, results, cache and the job list show it as they show a built-in module.
        [wave] = status["waves"]
        assert wave["wave_number"] == 4
        assert [m["module_id"] for m in wave["modules"]] == [EXAMPLE]
        results = c.get(f"/api/v1/enrich/{DOMAIN}/results").json()
        data = results["results"][EXAMPLE]
        assert data["mail_provider"] == "Google Workspace"
        assert data["spf_senders"] == ["Google Workspace", "SendGrid"]
        assert results["module_statuses"][EXAMPLE]["source"] == "example_doh"
        assert results["module_statuses"][EXAMPLE]["data_points"] > 0
        citations = results["source_citations"][EXAMPLE]
        assert citations[0]["url"] == f"https://dns.google/query?name={DOMAIN}&rr_type=MX"
        cache = c.get(f"/api/v1/enrich/{DOMAIN}/cache").json()
        [entry] = [m for m in cache["modules"] if m["module_id"] == EXAMPLE]
        assert entry["freshness"] == "fresh"
        listed = c.get("/api/v1/enrich", params={"domain": DOMAIN}).json()["jobs"]
        assert [j["job_id"] for j in listed] == [job["job_id"]]
        # A module that does not exist is refused, naming the known ones (the plugin's too).
        bad = c.post(f"/api/v1/enrich/{DOMAIN}", json={"modules": ["example.nope"]})
        assert bad.status_code == 422 and EXAMPLE in bad.json()["message"]

        assert main(["plugins", "--url", daemon.url]) == 0
        assert "example" in capsys.readouterr().out


CRASHING = """
from enrichd.plugins import ModuleSpec, hookimpl

async def run(ctx):
    raise KeyError("the plugin's own bug")

@hookimpl
def enrichd_plugin_api_version():
    return 1

@hookimpl
def enrichd_modules():
    return [ModuleSpec(id="crashy.mod", wave=4, description="always crashes", run=run)]
"""
FUTURE = """
from enrichd.plugins import hookimpl

@hookimpl
def enrichd_plugin_api_version():
    return 999
"""


def test_failing_plugins_are_isolated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "crashy.py").write_text(CRASHING)
    (plugins / "unimportable.py").write_text("import no_such_dependency_anywhere\n")
    (plugins / "future.py").write_text(FUTURE)
    config = {
        "plugins": {
            "disable": ["*"],
            "modules": ["tests.fakeplugin", "crashy", "unimportable", "future"],
        }
    }
    with (
        EnrichdDaemon(tmp_path / "daemon", config, pythonpath=[plugins, REPO]) as daemon,
        _client(daemon) as c,
    ):
        health = c.get("/healthz")
        assert health.status_code == 200  # failed plugins do not stop the daemon
        by_name = {p["name"]: p for p in health.json()["plugins"]}
        assert by_name["unimportable"]["status"] == "failed"
        assert "No module named 'no_such_dependency_anywhere'" in by_name["unimportable"]["error"]
        assert by_name["future"]["status"] == "failed"
        assert "plugin API version 999" in by_name["future"]["error"]
        assert by_name["crashy"]["status"] == "loaded"

        job = c.post(f"/api/v1/enrich/{DOMAIN}", json={"modules": ["crashy.mod"]}).json()
        status = _wait(c, DOMAIN, job["job_id"])
        assert status["status"] == "failed"
        [error] = status["errors"]
        assert error["module_id"] == "crashy.mod" and error["error"] == "plugin_error"
        # Other plugins' modules go on working.
        other = c.post("/api/v1/enrich/other.com", json={"modules": ["m01_company_context"]})
        assert _wait(c, "other.com", other.json()["job_id"])["status"] == "completed"

        crashy = {p["name"]: p for p in c.get("/healthz").json()["plugins"]}["crashy"]
        assert crashy["runtime_errors"] == 1
        assert crashy["last_runtime_error"] == 'crashy.mod: KeyError: "the plugin\'s own bug"'
        assert main(["plugins", "--url", daemon.url]) == 1
        out = capsys.readouterr().out
        assert "unimportable         failed" in out
        assert "run-time errors: 1" in out


def test_contradicting_plugins_stop_start_up_naming_the_plugin(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "dupe.py").write_text(CRASHING)
    (plugins / "dupe2.py").write_text(CRASHING)
    config = {"plugins": {"disable": ["*"], "modules": ["dupe", "dupe2"]}}
    daemon = EnrichdDaemon(tmp_path / "daemon", config, pythonpath=[plugins])
    with pytest.raises(RuntimeError, match="exited with status 2") as info:
        daemon.start()
    assert "module 'crashy.mod' is provided by both 'dupe' and 'dupe2'" in str(info.value)
