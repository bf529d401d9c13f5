"""The load benchmark (bench/load.py) at tiny sizes: it runs, and prints one JSON line.

No timing is asserted: CI machines vary too much. The figures are in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    # Without the diagnostics a developer may have set for their own benchmark runs.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENRICHD_BENCH_")}
    return subprocess.run(
        [sys.executable, "-m", "bench.load", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


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
