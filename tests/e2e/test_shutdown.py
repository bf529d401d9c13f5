"""End to end: how ``enrichd serve`` stops on SIGTERM and SIGINT, as a real subprocess.

The first signal stops gracefully: new jobs get 503 ``shutting_down``, HTTP requests that
arrived before it finish normally, running jobs are written back as queued (completed modules
keep their outputs) and the process exits 0; a restart resumes the jobs. A second signal stops
at once with exit status 130, losing nothing that was committed. The last tests run the same
stop path in process.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from enrichd.daemon import Engine, Job, JobRequest, Store, Unavailable
from enrichd.daemon._engine import REQUEST_ARRIVED
from tests.conftest import wait_until
from tests.e2e._daemon import (
    AUTH,
    Daemon,
    read_jobs,
    sandbox_args,
    sandbox_config,
    store_problems,
    wait_for_batch,
)

#: Modules of the fake plugin sleep this long, so jobs are running when a signal comes.
FAKE_DELAY = 0.3


def _fake_config(path: Path, *, graceful: float = 5.0) -> None:
    slow = "".join(
        f"[modules.{mid}]\ndelay = {FAKE_DELAY}\n"
        for mid in ("m01_company_context", "m02_tech_stack", "m15_displacement_angle")
    )
    path.write_text(
        '[plugins]\ndisable = ["*"]\nmodules = ["tests.fakeplugin"]\n'
        '[logging]\nlevel = "info"\n'
        f"[server]\ngraceful_timeout_seconds = {graceful}\n" + slow
    )


@pytest.fixture
def fake_daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A daemon on the fake plugin whose modules take a moment; killed if a test leaves it."""
    config = tmp_path / "config.toml"
    _fake_config(config)
    d = Daemon(config, tmp_path / "data")
    d.start()
    yield d
    d.stop(kill=True)


class SlowRequest:
    """An HTTP request sent over a raw socket in two parts, so it is in flight for as long as
    the test likes: the headers and half the body first, the rest on :meth:`finish`."""

    def __init__(self, url: str, method: str, path: str, body: dict[str, Any]) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=15)
        raw = json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: {AUTH['Authorization']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\n\r\n"
        ).encode()
        self.rest = raw[len(raw) // 2 :]
        self.sock.sendall(head + raw[: len(raw) // 2])

    def finish(self) -> tuple[int, dict[str, Any]]:
        """Send the rest of the body; the response's status and JSON body."""
        self.sock.sendall(self.rest)
        data = b""
        while b"\r\n\r\n" not in data:
            data += self._recv()
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
        length = int(headers["content-length"])
        while len(body) < length:
            body += self._recv()
        self.sock.close()
        return int(lines[0].split()[1]), json.loads(body)

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        assert chunk, "the daemon closed the connection before answering"
        return chunk

    def close(self) -> None:
        """Drop the connection."""
        self.sock.close()


def _batch(d: Daemon, domains: list[str], **body: Any) -> tuple[str, list[str]]:
    with d.client() as c:
        r = c.post("/api/v1/enrich/batch", json={"domains": domains, **body})
        assert r.status_code == 202, r.text
        answer = r.json()
    return answer["batch_id"], [j["job_id"] for j in answer["jobs"]]


def _completed(data_dir: Path, job_ids: list[str]) -> dict[tuple[str, str], tuple[float, Any]]:
    """(job, module) -> (output fetched_at, recorded duration) of every completed module."""
    done = {}
    for job_id, (job, outputs) in read_jobs(data_dir, job_ids).items():
        for mid, state in job.module_states.items():
            if state.status == "completed":
                done[(job_id, mid)] = (outputs[mid].fetched_at, state.duration_seconds)
    return done


def test_sigterm_writes_running_jobs_back_as_queued_and_a_restart_finishes_them(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    sandbox_config(config)
    d = Daemon(config, tmp_path / "data", *sandbox_args(latency=0.2, jitter=0.05, seed=11))
    d.start()
    try:
        domains = [f"shutdown{i:02d}-store.com" for i in range(40)]
        batch_id, job_ids = _batch(d, domains, waves=[1, 2], concurrency=20)
        # Wait until jobs are caught mid-run: some modules done, others not yet.
        deadline = time.monotonic() + 30
        with d.client() as c:
            while time.monotonic() < deadline:
                jobs = c.get(f"/api/v1/enrich/batch/{batch_id}").json()["jobs"]
                mid_run = [j for j in jobs if 0 < (j["progress_percent"] or 0) < 100]
                if len(mid_run) >= 3:
                    break
                time.sleep(0.05)
        assert len(mid_run) >= 3, jobs
        d.send(signal.SIGTERM)
        t0 = time.monotonic()
        assert d.wait(timeout=15) == 0
        assert time.monotonic() - t0 < 10
        assert d.logged("written back as queued")

        assert store_problems(d.data_dir) == []
        stored = read_jobs(d.data_dir, job_ids)
        statuses = {job.status for job, _ in stored.values()}
        assert "running" not in statuses
        assert "queued" in statuses
        modules = [s for job, _ in stored.values() for s in job.module_states.values()]
        assert not [s for s in modules if s.status == "running"]
        # Jobs interrupted mid-run are queued with their completed modules' outputs on disk.
        resumable = [
            job
            for job, outputs in stored.values()
            if job.status == "queued"
            and any(s.status == "completed" for s in job.module_states.values())
        ]
        assert resumable
        before = _completed(d.data_dir, job_ids)

        d.start()
        with d.client() as c:
            final = wait_for_batch(c, batch_id)
        assert {j["status"] for j in final} == {"completed"}
        assert d.stop() == 0
        after = _completed(d.data_dir, job_ids)
        # Nothing completed before the stop ran again: same fetch time, same duration.
        for key, value in before.items():
            assert after[key] == value, key
        assert store_problems(d.data_dir) == []
    finally:
        d.stop(kill=True)


def test_sigterm_lets_a_request_in_flight_finish_and_refuses_new_jobs(
    fake_daemon: Daemon,
) -> None:
    d = fake_daemon
    slow = SlowRequest(d.url, "POST", "/api/v1/enrich/slow-upload.com", {"waves": [1, 2]})
    try:
        time.sleep(0.3)  # the daemon has the headers: the request is in flight
        d.send(signal.SIGTERM)
        t0 = time.monotonic()
        time.sleep(0.5)
        assert d.running  # waiting for our request
        with d.client() as c:
            # Still listening while it drains: new work is refused with a clear error...
            r = c.post("/api/v1/enrich/late.com", json={"waves": [1]})
            assert r.status_code == 503
            assert r.json()["error"] == "shutting_down"
            assert c.get("/healthz").status_code == 503
            # ...and reads still work.
            assert c.get("/api/v1/enrich").status_code == 200
        # The request that arrived before the signal is served as if it had not come.
        status, body = slow.finish()
    finally:
        slow.close()
    assert status == 202, body
    job_id = body["job_id"]
    assert d.wait(timeout=15) == 0
    assert time.monotonic() - t0 < 10

    # Answered 202, so on disk: queued, and resumed by the next start.
    ((job, _),) = read_jobs(d.data_dir, [job_id]).values()
    assert job.status == "queued"
    assert store_problems(d.data_dir) == []
    d.start()
    with d.client() as c:
        deadline = time.monotonic() + 30
        while c.get("/api/v1/enrich/slow-upload.com/status").json()["status"] != "completed":
            assert time.monotonic() < deadline, "the resumed job did not complete"
            time.sleep(0.05)
        r = c.get("/api/v1/enrich/late.com/status")
        assert r.status_code == 404  # the refused request left nothing behind
    assert d.stop() == 0


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_stops_at_once(tmp_path: Path, second: signal.Signals) -> None:
    config = tmp_path / "config.toml"
    # A long graceful timeout, so only the second signal can explain a prompt exit.
    _fake_config(config, graceful=60)
    d = Daemon(config, tmp_path / "data")
    d.start()
    try:
        batch_id, job_ids = _batch(d, [f"forced{i}.com" for i in range(6)])
        slow = SlowRequest(d.url, "POST", "/api/v1/enrich/slow-upload.com", {"waves": [1]})
        try:
            time.sleep(0.5)  # jobs running, the slow request in flight
            d.send(signal.SIGTERM)
            time.sleep(0.5)
            assert d.running  # the graceful stop waits for the slow request
            d.send(second)
            t0 = time.monotonic()
            assert d.wait(timeout=10) == 130
            assert time.monotonic() - t0 < 2
        finally:
            slow.close()
        assert d.logged("stopping at once")

        # Nothing committed was lost: the store is sound, and a restart finishes every job
        # without running its completed modules again.
        assert store_problems(d.data_dir) == []
        before = _completed(d.data_dir, job_ids)
        d.start()
        with d.client() as c:
            assert {j["status"] for j in wait_for_batch(c, batch_id)} == {"completed"}
        assert d.stop() == 0
        after = _completed(d.data_dir, job_ids)
        for key, value in before.items():
            assert after[key] == value, key
    finally:
        d.stop(kill=True)


def test_sigint_alone_stops_gracefully(fake_daemon: Daemon) -> None:
    fake_daemon.send(signal.SIGINT)
    assert fake_daemon.wait(timeout=15) == 0


# -- the same stop path in process, on trio's MockClock ----------------------------------------

HANG = {"modules": {"m15_displacement_angle": {"hang_domains": ["stuck.com"]}}}


async def _running_m15(engine: Engine) -> Job:
    """Start a job on stuck.com and wait until only its hanging m15 is left, running."""
    job = await engine.start_job("stuck.com", JobRequest())

    def m15_running() -> bool:
        stored = engine.store.get_job(job.job_id)
        assert stored is not None
        return stored.module_states["m15_displacement_angle"].status == "running"

    await wait_until(m15_running)
    return job


async def test_leaving_the_engine_writes_running_jobs_back_as_queued(
    autojump: Any, engine_factory: Any
) -> None:
    async with engine_factory(**HANG) as engine:
        job = await _running_m15(engine)
    stored = Store(engine.config.storage.path)
    try:
        final = stored.get_job(job.job_id)
        outputs = stored.outputs(job.job_id)
    finally:
        stored.close()
    assert final is not None
    assert final.status == "queued"
    states = final.module_states
    assert states["m15_displacement_angle"].status == "pending"
    assert states["m15_displacement_angle"].started_at is None
    done = {m for m, s in states.items() if s.status == "completed"}
    assert len(done) == 14
    assert done == set(outputs)
    assert store_problems(Path(engine.config.storage.path)) == []


async def test_a_users_cancel_before_the_stop_stays_a_cancel(
    autojump: Any, engine_factory: Any
) -> None:
    async with engine_factory(**HANG) as engine:
        job = await _running_m15(engine)
        # What the cancel endpoint does first; the stop comes before the job has noticed.
        done = engine.scheduler.cancel_running(job.job_id)
        assert done is not None
        await engine.stop_jobs()
        assert done.is_set()
        final = engine.store.get_job(job.job_id)
        assert final is not None
        assert final.status == "cancelled"


async def test_only_requests_from_before_the_stop_may_start_jobs(
    autojump: Any, engine_factory: Any
) -> None:
    async with engine_factory() as engine:
        arrived = trio.current_time()
        await trio.sleep(1)
        await engine.stop_jobs()
        with pytest.raises(Unavailable) as refused:
            await engine.start_job("new.com", JobRequest(waves=[1]))
        assert refused.value.code == "shutting_down"
        token = REQUEST_ARRIVED.set(arrived)
        try:
            assert not engine.stopping
            job = await engine.start_job("early.com", JobRequest(waves=[1]))
        finally:
            REQUEST_ARRIVED.reset(token)
        assert engine.stopping
        await trio.sleep(5)
        # Accepted, durable, and left queued for the next start: no job starts while stopping.
        stored = engine.store.get_job(job.job_id)
        assert stored is not None
        assert stored.status == "queued"
