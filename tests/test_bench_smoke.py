"""Each benchmark (bench/*.py) at tiny sizes: it runs, and prints one JSON line of figures.

No timing is asserted: CI machines vary too much. The figures are in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIGURES = {
    "benchmark",
    "jobs",
    "clients",
    "duration",
    "latency",
    "requests",
    "errors",
    "errors_by_kind",
    "rps",
    "status_ms",
    "list_ms",
    "target",
    "cpu_seconds",
    "queueing",
    "jobs_at_end",
    "daemon",
    "machine",
}
PERCENTILES = {"count", "p50", "p95", "p99", "max"}


def _run(
    *args: str, module: str = "bench.load", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    # Without the diagnostics a developer may have set for their own benchmark runs.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENRICHD_BENCH_")}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _figures(module: str) -> dict[str, Any]:
    """The one JSON line a smoke run of ``module`` prints."""
    proc = _run("--smoke", module=module, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    figures: dict[str, Any] = json.loads(lines[0])
    assert figures["benchmark"] == module.removeprefix("bench.")
    assert figures["machine"]["cpus"] >= 1
    return figures


def test_smoke_run_prints_one_json_line_of_figures() -> None:
    proc = _run("--smoke")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    figures = json.loads(lines[0])
    assert figures.keys() >= FIGURES
    assert (figures["benchmark"], figures["jobs"], figures["clients"]) == ("load", 20, 4)
    # The bar besides latency: no errors at all (non-2xx answers or exceptions).
    assert figures["errors"] == 0, figures["errors_by_kind"]
    assert figures["requests"] > 0
    for kind in ("status_ms", "list_ms"):
        assert figures[kind].keys() == PERCENTILES
    assert figures["status_ms"]["count"] > 0
    assert figures["jobs_at_end"]["queued"] + figures["jobs_at_end"]["running"] > 0
    assert figures["daemon"]["exit_code"] == 0
    assert figures["machine"]["cpus"] >= 1


def test_a_daemon_that_does_not_start_fails_the_run_with_its_log() -> None:
    proc = _run("--smoke", "--concurrent-jobs", "0")
    assert proc.returncode == 2
    assert proc.stdout == ""
    # The daemon's own message, from its log.
    assert "jobs.max_concurrent_jobs" in proc.stderr


def test_makespan_smoke_run_compares_each_run_with_its_lower_bound() -> None:
    figures = _figures("bench.makespan")
    sizes = [(size["domains"], size["repeats"]) for size in figures["runs"]]
    assert sizes == [(1, 2), (3, 1)]
    for size in figures["runs"]:
        assert size["lower_bound_s"] > 0 and size["ratio"] > 0
        assert size["chain"]["round_trips"] >= 2  # m01, then the modules that need it
        assert size["sources"]["similarweb"]["calls"] > 0
        assert len(size["runs"]) == size["repeats"]
        for run in size["runs"]:
            assert run["modules"] == {"completed": 15 * size["domains"]}, run["module_errors"]
            # The daemon's limits match the sandbox's: it never went over one.
            assert run["violations"] == 0
    assert "met" in figures["target"]


def test_overhead_smoke_run_replays_the_same_calls_with_a_bare_loop() -> None:
    figures = _figures("bench.overhead")
    (run,) = figures["runs"]
    assert run["jobs"] == run["jobs_completed"] == 20
    assert run["module_runs"] == 20 * 15
    assert run["upstream_calls"] == sum(run["calls_by_upstream"].values()) > 20
    # The replay made the very calls the daemon made, and got the same answers.
    assert run["bare"]["statuses"] == run["daemon_statuses"]
    assert run["daemon"]["module_runs_per_s"] > 0 and run["bare"]["module_runs_per_s"] > 0
    assert run["ratio"] > 0


def test_scale_smoke_run_restarts_on_the_queued_store() -> None:
    figures = _figures("bench.scale")
    assert figures["jobs"] == 300
    assert figures["queueing"]["batches"] == 3
    assert figures["startup"]["first_exit_code"] == figures["startup"]["second_exit_code"] == 0
    assert 0 < figures["startup"]["ready_s"] <= figures["startup"]["healthy_s"]
    assert figures["memory"]["restarted_settled"]["rss_mb"] > 0
    at_end = figures["queries_ms"].pop("jobs_at_end")
    assert at_end["total"] == 300 and at_end["queued"] + at_end["running"] > 0
    for name, latency in figures["queries_ms"].items():
        assert latency.keys() == PERCENTILES and latency["count"] == 3, name


def test_cachehit_smoke_run_serves_every_module_from_the_cache() -> None:
    figures = _figures("bench.cachehit")
    assert figures["warm_up"]["modules"] == {"completed": 15}
    assert figures["jobs"] == {"completed": 5}
    assert figures["modules"] == {"cached": 5 * 15}
    assert figures["end_to_end_ms"]["count"] == 5
    assert figures["end_to_end_ms"]["p50"] >= figures["post_ms"]["p50"] > 0
