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
import msgspec

from enrichd.daemon import Store
from enrichd.daemon._records import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    Batch,
    CacheEntry,
    Job,
    ModuleOutput,
)
from enrichd.daemon._store import _sep, _ts_key

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
    """Everything inconsistent in a stopped daemon's store; empty when it is sound.

    Every record decodes; the time, domain and status indexes hold exactly one entry per job,
    agreeing with its record; ``active`` names exactly the queued and running jobs; every
    completed or cached module has its output, and every output belongs to a module of its
    job; cache entries and batches decode; the stored highest sequence number covers every job.
    """
    store = Store(data_dir)
    try:
        with store.env.begin() as txn:
            return _problems(store, txn)
    finally:
        store.close()


def _decode(raw: Any, typ: type[Any], what: str, problems: list[str]) -> Any:
    try:
        return msgspec.msgpack.decode(bytes(raw), type=typ)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        problems.append(f"{what} does not decode: {exc}")
        return None


def _keys(txn: Any, db: Any) -> set[bytes]:
    return {bytes(key) for key in txn.cursor(db=db).iternext(values=False)}


def _problems(store: Store, txn: Any) -> list[str]:
    dbs = store.dbs
    problems: list[str] = []
    jobs: dict[bytes, Job] = {}
    for key, raw in txn.cursor(db=dbs["jobs"]):
        job = _decode(raw, Job, f"job {bytes(key)!r}", problems)
        if job is not None:
            jobs[bytes(key)] = job
            if job.job_id.encode() != bytes(key):
                problems.append(f"job {bytes(key)!r} holds the record of {job.job_id}")

    def index(prefix: str, job: Job, key: bytes) -> bytes:
        return _sep(prefix) + b"\0" + _ts_key(job.created_at, job.seq) + key

    expected = {
        "jobs_by_time": {_ts_key(j.created_at, j.seq) + k for k, j in jobs.items()},
        "jobs_by_domain": {index(j.domain, j, k) for k, j in jobs.items()},
        "jobs_by_status": {index(j.status, j, k) for k, j in jobs.items()},
    }
    for db, keys in expected.items():
        actual = _keys(txn, dbs[db])
        for key in sorted(actual - keys):
            problems.append(f"{db} has an entry no job record agrees with: {key!r}")
        for key in sorted(keys - actual):
            problems.append(f"{db} lacks the entry of a job: {key!r}")

    active = {bytes(k): bytes(v) for k, v in txn.cursor(db=dbs["active"])}
    want_active = {j.domain.encode(): k for k, j in jobs.items() if j.status in ACTIVE_STATUSES}
    if active != want_active:
        problems.append(f"active index {active} != the queued and running jobs {want_active}")

    outputs: set[tuple[str, str]] = set()
    for key, raw in txn.cursor(db=dbs["outputs"]):
        job_id, _, module_id = bytes(key).decode().partition("\0")
        _decode(raw, ModuleOutput, f"output {job_id}/{module_id}", problems)
        outputs.add((job_id, module_id))
        job = jobs.get(job_id.encode())
        if job is None or module_id not in job.module_states:
            problems.append(f"output {job_id}/{module_id} belongs to no module of a job")
    for job in jobs.values():
        for module_id, state in job.module_states.items():
            if state.status in ("completed", "cached") and (job.job_id, module_id) not in outputs:
                problems.append(f"{job.job_id}: {module_id} is {state.status} without output")

    for key, raw in txn.cursor(db=dbs["cache"]):
        _decode(raw, CacheEntry, f"cache entry {bytes(key)!r}", problems)
    for key, raw in txn.cursor(db=dbs["batches"]):
        batch = _decode(raw, Batch, f"batch {bytes(key)!r}", problems)
        if batch is not None:
            missing = [j for j in batch.job_ids if j.encode() not in jobs]
            if missing:
                problems.append(f"batch {batch.batch_id} lists missing jobs {missing[:3]}")
    max_seq = int(bytes(txn.get(b"max_seq", db=dbs["meta"]) or b"0"))
    if jobs and max_seq < max(j.seq for j in jobs.values()):
        problems.append(f"meta max_seq {max_seq} is below a job's sequence number")
    return problems
