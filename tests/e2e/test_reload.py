"""End to end: SIGHUP reloads ``enrichd serve --sandbox``'s configuration while a batch runs.

The daemon is a real subprocess on the in-process sandbox. The test rewrites config.toml mid-batch
(SimilarWeb disabled, BuiltWith's rate changed), sends SIGHUP, and checks the log line, that the
change took effect (``/healthz``, the modules that ran after it), that the sandbox still stands in
for every upstream, and that every job of the batch finished with nothing lost. An invalid file is
refused with the key named, and the daemon runs on.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e._daemon import (
    Daemon,
    read_jobs,
    sandbox_args,
    sandbox_config,
    store_problems,
    wait_for_batch,
)
from tests.e2e.test_systemd import NotifySocket

#: Modules that only SimilarWeb serves (no fallback).
SIMILARWEB_MODULES = {"m03_traffic", "m04_traffic_sources", "m05_competitors", "m06_keywords"}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A sandbox daemon whose answers take a moment, so a batch is mid-run for a while."""
    config = tmp_path / "config.toml"
    sandbox_config(config)
    d = Daemon(config, tmp_path / "data", *sandbox_args(latency=0.2, jitter=0.05, seed=5))
    d.start()
    yield d
    d.stop(kill=True)


def _wait_for_log(d: Daemon, text: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in d.log if text in line]
        if lines:
            return lines[-1]
        time.sleep(0.05)
    raise AssertionError(f"no log line with {text!r}:\n" + "".join(d.log))


def _healthz_sources(d: Daemon) -> dict[str, Any]:
    with d.client() as c:
        r = c.get("/healthz")
        assert r.status_code == 200, r.text
        sources: dict[str, Any] = r.json()["sources"]
        return sources


def _start_batch(d: Daemon, domains: list[str]) -> tuple[str, list[str]]:
    with d.client() as c:
        r = c.post(
            "/api/v1/enrich/batch", json={"domains": domains, "waves": [1, 2], "concurrency": 8}
        )
        assert r.status_code == 202, r.text
        body = r.json()
        batch_id: str = body["batch_id"]
        # Wait until jobs are caught mid-run, so the reload lands among running modules.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            jobs = c.get(f"/api/v1/enrich/batch/{batch_id}").json()["jobs"]
            if sum(1 for j in jobs if 0 < (j["progress_percent"] or 0) < 100) >= 3:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"no job of {batch_id} was caught mid-run")
    return batch_id, [j["job_id"] for j in body["jobs"]]


def test_sighup_applies_the_new_config_and_loses_no_job(daemon: Daemon) -> None:
    d = daemon
    assert _healthz_sources(d)["similarweb"]["configured"] is True
    domains = [f"reload{i:02d}-store.com" for i in range(32)]
    batch_id, job_ids = _start_batch(d, domains)

    _edit(d.config, "[sources.similarweb]\n", "[sources.similarweb]\nenabled = false\n")
    _edit(d.config, "[sources.builtwith]\nrate_per_second = 10000\n", "[sources.builtwith]\n")
    d.send(signal.SIGHUP)
    line = _wait_for_log(d, "configuration reloaded")
    assert "sources.similarweb.enabled" in line
    assert "sources.builtwith.rate_per_second" in line
    # --bind and --data-dir still apply, and the sandbox still overrides every source's
    # base_url and key: none of them reads as changed.
    for key in ("server.bind", "storage.path", "base_url", "api_key"):
        assert key not in line
    assert not d.logged("after a restart")

    sources = _healthz_sources(d)
    assert sources["similarweb"]["configured"] is False
    assert "enabled is false" in sources["similarweb"]["why"]
    # The file has no BuiltWith key: only the sandbox's override configures it.
    assert sources["builtwith"]["configured"] is True

    with d.client() as c:
        jobs = wait_for_batch(c, batch_id, timeout=60)
    assert sorted(j["job_id"] for j in jobs) == sorted(job_ids)
    assert d.running
    assert d.stop() == 0
    assert store_problems(d.data_dir) == []

    stored = read_jobs(d.data_dir, job_ids)
    before, after = 0, 0
    for job, outputs in stored.values():
        assert job.status in ("completed", "failed"), (job.job_id, job.status)
        for mid, state in job.module_states.items():
            if state.status == "completed":
                assert mid in outputs
            if mid in SIMILARWEB_MODULES and state.status == "completed":
                before += 1
            elif mid in SIMILARWEB_MODULES:
                assert (state.status, state.error_code) == ("failed", "source_not_configured")
                after += 1
            else:
                # BuiltWith, the homepage...: untouched by the reload, served by the sandbox.
                assert state.status in ("completed", "cached"), (job.domain, mid, state)
    assert before > 0, "the reload came after every SimilarWeb module had run"
    assert after > 0, "disabling SimilarWeb took no effect"


def test_an_invalid_config_is_refused_and_the_daemon_runs_on(daemon: Daemon) -> None:
    d = daemon
    good = d.config.read_text()
    _edit(d.config, "[sources.similarweb]\n", "[sources.similarweb]\ntimeout_seconds = -1\n")
    d.send(signal.SIGHUP)
    line = _wait_for_log(d, "configuration not reloaded")
    assert "sources.similarweb.timeout_seconds" in line
    assert not d.logged("configuration reloaded")

    # Fixed, with a key that needs a restart (--bind on the command line would win over
    # server.bind, at a reload as at start-up).
    d.config.write_text(good + "[server]\nmax_body_bytes = 1000\n")
    _edit(d.config, "[sources.homepage]\n", "[sources.homepage]\nenabled = false\n")
    d.send(signal.SIGHUP)
    line = _wait_for_log(d, "configuration reloaded")
    assert "sources.homepage.enabled" in line
    warning = _wait_for_log(d, "after a restart")
    assert "server.max_body_bytes" in warning
    with d.client() as c:
        r = c.post("/api/v1/enrich/still-running.com", json={"modules": ["m02_tech_stack"]})
        assert r.status_code == 202, r.text
    assert _healthz_sources(d)["homepage"]["configured"] is False
    assert d.stop() == 0


def test_a_reload_is_announced_to_systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notify = NotifySocket(tmp_path / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify.path))
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    config = tmp_path / "config.toml"
    config.write_text('[plugins]\ndisable = ["*"]\nmodules = ["tests.fakeplugin"]\n')
    d = Daemon(config, tmp_path / "data")
    d.start()
    try:
        ready = notify.receive()
        assert ready["READY"] == "1"
        config.write_text(config.read_text() + "[jobs]\nmax_concurrent_jobs = 3\n")
        d.send(signal.SIGHUP)
        reloading = notify.receive()
        assert reloading["RELOADING"] == "1"
        # CLOCK_MONOTONIC, as Type=notify-reload wants it (Python's monotonic clock on Linux).
        assert abs(int(reloading["MONOTONIC_USEC"]) / 1e6 - time.monotonic()) < 5
        assert notify.receive() == ready  # READY=1 again, with the same status
        assert "jobs.max_concurrent_jobs" in _wait_for_log(d, "configuration reloaded")
        assert d.stop() == 0
    finally:
        d.stop(kill=True)
        notify.close()
