"""The testing kit plugin authors get (``enrichd.testing``): its helpers and its pytest fixtures.

The fixtures are tested the way a plugin author uses them: a small plugin project is written to a
temporary directory and its tests run in a pytest subprocess.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from enrichd.config import parse_config
from enrichd.testing import (
    BackgroundServer,
    CannedServer,
    EnrichdDaemon,
    HttpResponse,
    json_response,
    source_actors,
    toml_document,
)
from tests import fakeplugin

# -- the canned upstream -----------------------------------------------------------------------


def test_canned_routes_by_query_most_specific_first() -> None:
    server = CannedServer()
    server.json("GET", "/resolve", {"any": True})
    server.json("GET", "/resolve", {"mx": True}, query={"type": "MX"})
    server.json("GET", "/resolve", {"mx_acme": True}, query={"type": "MX", "name": "acme.com"})
    with BackgroundServer(server) as url, httpx.Client(base_url=url, trust_env=False) as http:
        assert http.get("/resolve", params={"type": "MX", "name": "acme.com"}).json() == {
            "mx_acme": True
        }
        assert http.get("/resolve", params={"type": "MX", "name": "b.com"}).json() == {"mx": True}
        assert http.get("/resolve", params={"type": "TXT"}).json() == {"any": True}
        missing = http.get("/other")
        assert missing.status_code == 404
        assert missing.json() == {"error": "no canned answer for GET /other"}
    assert [r.query.get("type") for r in server.calls("/resolve")] == ["MX", "MX", "TXT"]


def test_canned_answers_in_order_and_repeats_the_last() -> None:
    server = CannedServer()
    server.add("GET", "/x", json_response({"n": 1}), HttpResponse(status=503))

    async def echo(request: Any) -> HttpResponse:
        return json_response({"q": request.query})

    server.add("POST", "/echo", echo)
    with BackgroundServer(server) as url, httpx.Client(base_url=url, trust_env=False) as http:
        assert [http.get("/x").status_code for _ in range(3)] == [200, 503, 503]
        assert http.post("/echo?a=1").json() == {"q": {"a": "1"}}


def test_background_server_needs_one_handler() -> None:
    with pytest.raises(TypeError, match="needs a handler or a task"):
        BackgroundServer()


# -- config documents and the daemon harness ---------------------------------------------------


def test_toml_document_round_trips_through_the_config_parser() -> None:
    tables: dict[str, Any] = {
        "jobs": {"max_concurrent_jobs": 3, "module_timeout_seconds": 1.5},
        "plugins": {"disable": ["*"], "modules": ["tests.fakeplugin"]},
        "sources": {"fake": {"base_url": 'http://127.0.0.1:1/"quoted"\\path', "enabled": False}},
        "modules": {"acme.score": {"labels": ["a", "é"], "nested": {"deep": {"x": 1}}}},
    }
    config = parse_config(toml_document(tables))
    assert config.jobs.max_concurrent_jobs == 3 and config.jobs.module_timeout_seconds == 1.5
    assert config.plugins.disable == ["*"]
    assert config.sources == tables["sources"]
    assert config.modules == tables["modules"]


def test_a_daemon_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    daemon = EnrichdDaemon(tmp_path, {"jobs": {"max_concurent_jobs": 3}})
    with pytest.raises(RuntimeError, match="exited with status 2") as info:
        daemon.start()
    assert "unknown key 'jobs.max_concurent_jobs'" in str(info.value)
    assert not daemon.running


# -- running sources for module tests ----------------------------------------------------------


def test_a_plugin_passed_by_object_replaces_its_installed_entry_point() -> None:
    # As a plugin's own tests pass it, whether or not it is installed: no duplicate sources.
    actors = source_actors({}, plugins=[("builtin", fakeplugin)])
    assert "fake" in actors and "builtwith" not in actors


# -- the fixtures, as a plugin author uses them ------------------------------------------------

PLUGIN = """
from enrichd.plugins import ModuleResult, ModuleSpec, SourceSpec, hookimpl


async def run(ctx):
    answer = await ctx.source("kit").get("hello", params={"domain": ctx.domain})
    data = answer.json()
    return ModuleResult(data=data, data_points=len(data), source="kit")


@hookimpl
def enrichd_plugin_api_version():
    return 1


@hookimpl
def enrichd_sources():
    return [SourceSpec(name="kit", requires_api_key=False, base_url="https://kit.invalid")]


@hookimpl
def enrichd_modules():
    return [ModuleSpec(id="kit.echo", wave=4, description="echo", run=run, sources=("kit",))]
"""

TESTS = """
import httpx
import pytest


@pytest.fixture
def enrichd_config(canned_upstream):
    return {
        "plugins": {"disable": ["*"], "modules": ["kitplugin"]},
        "sources": {"kit": {"base_url": canned_upstream.url}},
    }


def test_a_job_through_the_daemon(enrichd_client, enrichd_daemon, canned_upstream):
    canned_upstream.json("GET", "/hello", {"greeting": "hi"})
    job = enrichd_client.start("acme.com", modules=["kit.echo"])
    status = enrichd_client.wait("acme.com", job.job_id, poll=0.05, timeout=30)
    assert status.status == "completed", status.errors
    assert enrichd_client.results("acme.com").results["kit.echo"] == {"greeting": "hi"}
    assert canned_upstream.calls("/hello")[0].query == {"domain": "acme.com"}
    assert enrichd_daemon.token and enrichd_daemon.url.startswith("http://127.0.0.1:")
    health = enrichd_client.health()
    assert [p["name"] for p in health["plugins"] if p["status"] == "loaded"] == ["kitplugin"]


def test_the_sandbox(enrichd_sandbox):
    assert httpx.get(enrichd_sandbox.url + "/_sandbox/health", trust_env=False).status_code == 200
    assert enrichd_sandbox.source_overrides()["similarweb"]["base_url"].startswith(
        enrichd_sandbox.url
    )
"""


def test_the_fixtures_in_a_plugin_project(tmp_path: Path) -> None:
    project = tmp_path / "kit-project"
    (project / "tests").mkdir(parents=True)
    (project / "kitplugin.py").write_text(PLUGIN)
    (project / "pytest.ini").write_text(
        "[pytest]\ntestpaths = tests\nfilterwarnings = error\naddopts = -p no:cacheprovider\n"
    )
    (project / "tests" / "conftest.py").write_text('pytest_plugins = ["enrichd.testing"]\n')
    (project / "tests" / "test_kit.py").write_text(textwrap.dedent(TESTS))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
