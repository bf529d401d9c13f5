"""End to end: ``enrichd serve`` as a real subprocess on a free port, driven over real HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e._daemon import AUTH, REPO, TOKEN, Daemon

__all__ = ["AUTH", "TOKEN", "Daemon"]  # other e2e tests import the harness from here too


def _write_config(path: Path, modules: str = "") -> None:
    path.write_text(
        '[plugins]\ndisable = ["*"]\nmodules = ["tests.fakeplugin"]\n'
        '[logging]\nlevel = "info"\n' + modules
    )


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    config = tmp_path / "config.toml"
    _write_config(
        config,
        '[modules.m15_displacement_angle]\ndelay = 1.5\nhang_domains = ["hang.com"]\n'
        '[modules.m03_traffic]\nfail_domains = ["broken.com"]\n',
    )
    d = Daemon(config, tmp_path / "data")
    d.start()
    yield d
    d.stop(kill=True)


def _wait(client: httpx.Client, domain: str, job_id: str, statuses: set[str]) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = client.get(f"/api/v1/enrich/{domain}/status", params={"job_id": job_id})
        body = r.json()
        if body.get("status") in statuses:
            return body
        time.sleep(0.05)
    raise AssertionError(f"{job_id} did not reach {statuses}")


def test_job_over_http(daemon: Daemon) -> None:
    with daemon.client() as c:
        assert c.get("/healthz").json()["status"] == "ok"
        assert httpx.get(daemon.url + "/api/v1/enrich", trust_env=False).status_code == 401
        r = c.post("/api/v1/enrich/costco.com", json={"waves": [1, 2], "priority": "high"})
        assert r.status_code == 202, r.text
        job = r.json()
        assert re.fullmatch(r"enrich_costco_com_\d{14}_[0-9a-f]{8}", job["job_id"])
        status = _wait(c, "costco.com", job["job_id"], {"completed", "failed"})
        assert status["status"] == "completed"
        assert [w["wave_number"] for w in status["waves"]] == [1, 2]
        results = c.get("/api/v1/enrich/costco.com/results").json()
        assert set(results["results"]) == {
            "m01_company_context",
            "m02_tech_stack",
            "m03_traffic",
            "m04_traffic_sources",
            "m05_competitors",
            "m06_keywords",
        }
        assert results["results"]["m01_company_context"]["fake"] is True
        cache = c.get("/api/v1/enrich/costco.com/cache").json()
        assert cache["overall_freshness"] == "fresh"
        r = c.post("/api/v1/enrich/broken.com", json={"modules": ["m03_traffic"]})
        failed = _wait(c, "broken.com", r.json()["job_id"], {"completed", "failed"})
        assert failed["status"] == "failed"
        assert failed["errors"][0]["error"] == "upstream_error"
        assert c.post("/api/v1/enrich/127.0.0.1").status_code == 422
    assert daemon.stop() == 0


def test_kill_and_restart_resumes_without_redoing_modules(daemon: Daemon) -> None:
    with daemon.client() as c:
        job_id = c.post("/api/v1/enrich/walmart.com").json()["job_id"]
        # Wait until everything but the slow m15 is done, then kill the process hard.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = c.get("/api/v1/enrich/walmart.com/status").json()
            if status["modules_completed"] >= 14:
                break
            time.sleep(0.05)
        before = {
            m["module_id"]: m
            for w in status["waves"]
            for m in w["modules"]
            if m["status"] == "completed"
        }
        assert len(before) >= 14
        queued = c.post("/api/v1/enrich/target.com").json()["job_id"]
    daemon.stop(kill=True)

    daemon.start()
    with daemon.client() as c:
        final = _wait(c, "walmart.com", job_id, {"completed", "failed"})
        assert final["status"] == "completed"
        after = {m["module_id"]: m for w in final["waves"] for m in w["modules"]}
        for mid, m in before.items():
            # Same duration recorded: the module was not run again.
            assert after[mid]["status"] == "completed"
            assert after[mid]["duration_seconds"] == m["duration_seconds"]
        assert _wait(c, "target.com", queued, {"completed", "failed"})["status"] == "completed"


def test_second_daemon_on_same_data_dir_is_refused(daemon: Daemon) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "enrichd",
            "serve",
            "--config",
            str(daemon.config),
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            str(daemon.data_dir),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "already using" in proc.stderr


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[jobs]\nmax_concurent_jobs = 3\n")
    proc = subprocess.run(
        [sys.executable, "-m", "enrichd", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "jobs.max_concurent_jobs" in proc.stderr


def test_serve_sandbox_enriches_with_simulated_upstreams(tmp_path: Path) -> None:
    """The quickstart's path: the built-in plugin against the in-process sandbox, over HTTP."""
    config = tmp_path / "config.toml"
    config.write_text('[logging]\nlevel = "info"\n')
    d = Daemon(config, tmp_path / "data", "--sandbox")
    d.start()
    try:
        assert any("sandbox mode" in line for line in d.log)
        with d.client() as c:
            r = c.post("/api/v1/enrich/target.com", json={"waves": [1, 2, 3]})
            assert r.status_code == 202, r.text
            status = _wait(c, "target.com", r.json()["job_id"], {"completed", "failed"})
            assert status["status"] == "completed", status
            results = c.get("/api/v1/enrich/target.com/results").json()
            assert results["results"]["m01_company_context"]["company_name"] == "Target"
            assert results["results"]["m08_stock_info"]["ticker"] == "TGT"
            titles = [c["title"] for cs in results["source_citations"].values() for c in cs]
            assert titles
            assert all(t.startswith("[sandbox: simulated]") for t in titles)
        assert d.stop() == 0
    finally:
        d.stop(kill=True)
