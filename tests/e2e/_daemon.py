"""The end-to-end harness: ``enrichd serve`` as a real subprocess, and checks on its store.

Used by every test that drives the daemon as a process: start it on a free port, talk to it
over HTTP, signal or kill it, restart it on the same data directory, and read its store once it
has stopped.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from enrichd.daemon import Store
from enrichd.daemon._check import check_store
from enrichd.daemon._records import (
    TERMINAL_STATUSES,
    Job,
    ModuleOutput,
)

REPO = Path(__file__).resolve().parents[2]
TOKEN = "e2e-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: Every upstream the sandbox simulates, for ``--limit NAME=none``.
UPSTREAMS = (
    "builtwith",
    "builtwith_free",
    "similarweb",
    "homepage",
    "yahoo_finance",
    "websearch",
    "llm",
)


class Daemon:
    """A running ``enrichd serve`` process and the URL it bound."""

    def __init__(self, config: Path, data_dir: Path, *extra_args: str) -> None:
        self.config = config
        self.data_dir = data_dir
        self.extra_args = extra_args
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.log: list[str] = []
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        """Start the process and wait until it listens (its log names the URL)."""
        env = {**os.environ, "ENRICHD_API_TOKEN": TOKEN, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "enrichd",
                "serve",
                "--config",
                str(self.config),
                "--bind",
                "127.0.0.1:0",
                "--data-dir",
                str(self.data_dir),
                *self.extra_args,
            ],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            m = re.search(r"enrichd listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
                # Keep draining the log so a chatty daemon never blocks on a full pipe.
                self._reader = threading.Thread(target=self._drain, daemon=True)
                self._reader.start()
                return
        self.stop(kill=True)
        raise AssertionError("daemon did not start:\n" + "".join(self.log))

    def _drain(self) -> None:
        proc = self.proc
        if proc is not None and proc.stderr is not None:
            try:
                for line in proc.stderr:
                    self.log.append(line)
            except ValueError:
                pass  # closed by wait()

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def send(self, sig: signal.Signals) -> None:
        """Send ``sig`` without waiting for anything."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 15) -> int:
        """Wait for the process to exit; its exit status."""
        assert self.proc is not None
        code = self.proc.wait(timeout=timeout)
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None
        return code

    def stop(self, *, kill: bool = False) -> int | None:
        """SIGTERM (or SIGKILL) the process and wait for it; None if it was not running."""
        if self.proc is None:
            return None
        self.send(signal.SIGKILL if kill else signal.SIGTERM)
        return self.wait()

    def client(self) -> httpx.Client:
        """An authenticated client of this daemon's API."""
        return httpx.Client(base_url=self.url, headers=AUTH, timeout=10, trust_env=False)

    def logged(self, text: str) -> bool:
        """Whether any log line so far contains ``text``."""
        return any(text in line for line in self.log)


def sandbox_config(path: Path, *, extra: str = "") -> None:
    """A config for sandbox runs: no source throttles a batch (the sandbox's own limits are
    lifted with :func:`sandbox_args`), so a test's time goes into the simulated latency."""
    sources = "".join(
        f"[sources.{name}]\nrate_per_second = 10000\nburst = 1000\nmax_concurrency = 40\n"
        for name in UPSTREAMS
    )
    path.write_text(
        '[logging]\nlevel = "info"\n'
        # Only the built-in plugin: another installed one (the example) is not simulated.
        '[plugins]\ndisable = ["*"]\nmodules = ["enrichd.plugins.builtin"]\n'
        "[jobs]\nmax_concurrent_jobs = 100\nmax_batch_concurrency = 300\n" + sources + extra
    )


def sandbox_args(*, latency: float, jitter: float, seed: int) -> tuple[str, ...]:
    """``enrichd serve`` arguments for the in-process sandbox with latency and no rate limits."""
    limits = [arg for name in UPSTREAMS for arg in ("--limit", f"{name}=none")]
    return (
        "--sandbox",
        "--latency",
        str(latency),
        "--jitter",
        str(jitter),
        "--seed",
        str(seed),
        *limits,
    )


def wait_for_batch(
    client: httpx.Client, batch_id: str, timeout: float = 60
) -> list[dict[str, Any]]:
    """Poll the batch until every job is terminal; its jobs as the API lists them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs: list[dict[str, Any]] = client.get(f"/api/v1/enrich/batch/{batch_id}").json()["jobs"]
        if all(j["status"] in TERMINAL_STATUSES for j in jobs):
            return jobs
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not finish within {timeout}s")


def read_jobs(
    data_dir: Path, job_ids: Iterable[str]
) -> dict[str, tuple[Job, dict[str, ModuleOutput]]]:
    """Each job's record and outputs, read from a stopped daemon's store."""
    store = Store(data_dir)
    try:
        result = {}
        for job_id in job_ids:
            job = store.get_job(job_id)
            assert job is not None, f"job {job_id} is not in the store"
            result[job_id] = (job, store.outputs(job_id))
        return result
    finally:
        store.close()


def store_problems(data_dir: Path) -> list[str]:
    """Everything inconsistent in a stopped daemon's store (``enrichd check``); empty if sound."""
    store = Store(data_dir)
    try:
        return check_store(store)
    finally:
        store.close()
