"""Storage faults: a full disk, a read-only data directory, a map that cannot grow.

The daemon must fail only the writes (and jobs) that hit the fault, with a clear error, refuse new
jobs with 503 ``storage_unavailable`` while it lasts, keep serving reads, and catch up once a
write succeeds again. A real ENOSPC cannot be produced reliably in CI (no tiny tmpfs), so a full
disk is simulated by :class:`FaultyStore`, a real store whose ``apply`` raises what LMDB raises
(``lmdb.DiskError``). A read-only data directory is real: the environment is reopened read-only,
and LMDB itself refuses write transactions.

Every test runs on trio's MockClock (``autojump``): the writer's retry timer takes no wall time.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import lmdb
import pytest
import trio

from enrichd.daemon import Engine, JobRequest, Store, StoreError
from enrichd.daemon._records import TokenRecord
from enrichd.daemon._server import DataDirLock
from enrichd.daemon._store import (
    _DB_NAMES,
    PutCache,
    PutJob,
    PutToken,
    StorageError,
    _job_codec,
    storage_error,
)
from enrichd.daemon._writer import StoreWriter
from enrichd.plugins import load_plugins
from tests.conftest import AUTH, FakeWallClock, make_config, wait_until
from tests.daemon.test_store import make_cache, make_job

REPO = str(Path(__file__).resolve().parents[2])
API = "/api/v1/enrich"
M01, M02 = "m01_company_context", "m02_tech_stack"
DATA_DIR_MESSAGE = "cannot write to the data directory "


def disk_full() -> BaseException:
    """What LMDB raises when a commit finds no space left (ENOSPC)."""
    return lmdb.DiskError("mdb_txn_commit: No space left on device")


class FaultyStore(Store):
    """A real store that can be made to fail.

    ``fault``: while set, every write transaction raises what it returns (the full-disk seam);
    ``fault_if`` narrows that to transactions holding a matching operation.
    ``reopen(readonly=True)``: the environment is reopened read-only for real, so LMDB refuses
    every write transaction, as it does on a read-only data directory.
    """

    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.fault: Callable[[], BaseException] | None = None
        self.fault_if: Callable[[Any], bool] = lambda op: True
        self.failed_transactions = 0

    def apply(self, txn: lmdb.Transaction, op: Any) -> None:
        if self.fault is not None and self.fault_if(op):
            self.failed_transactions += 1
            raise self.fault()
        super().apply(txn, op)

    def reopen(self, *, readonly: bool) -> None:
        """Close and reopen the environment (no transaction may be open: call between awaits)."""
        size = self.map_size
        self.env.close()
        self.env = lmdb.open(
            str(self.path / "enrichd.lmdb"),
            subdir=True,
            readonly=readonly,
            map_size=size,
            max_dbs=len(_DB_NAMES) + 4,
        )
        self.dbs = {name: self.env.open_db(name.encode()) for name in _DB_NAMES}

    def stored_job(self, job_id: str) -> Any:
        """The job as LMDB has it, ignoring records held in memory."""
        with self.env.begin(db=self.dbs["jobs"]) as txn:
            raw = txn.get(job_id.encode())
            return _job_codec.decode(bytes(raw)) if raw is not None else None


# -- recognising storage faults ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "reason", "detail"),
    [
        (disk_full(), "disk_full", "disk full"),
        (OSError(errno.ENOSPC, "No space left on device"), "disk_full", "disk full"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "disk_full", "disk full"),
        (lmdb.ReadonlyError("mdb_put: Permission denied"), "read_only", "read-only"),
        (OSError(errno.EROFS, "Read-only file system"), "read_only", "read-only"),
        (OSError(errno.EIO, "Input/output error"), "io_error", "I/O error"),
        (lmdb.PanicError("mdb_txn_begin: MDB_PANIC"), "io_error", "restart enrichd"),
    ],
)
def test_storage_faults_get_a_clear_503_error(exc: BaseException, reason: str, detail: str) -> None:
    failure = storage_error(exc, Path("/var/lib/enrichd"))
    assert failure is not None
    assert failure.reason == reason
    assert failure.message.startswith(DATA_DIR_MESSAGE + "'/var/lib/enrichd': ")
    assert detail in failure.message
    # An Unavailable: wherever it escapes an API route it becomes this 503.
    assert (failure.status_code, failure.code) == (503, "storage_unavailable")
    assert failure.details["reason"] == reason
    assert isinstance(failure, StoreError)


def test_a_real_read_only_environment_is_recognised(tmp_path: Path) -> None:
    Store(tmp_path / "data").close()
    env = lmdb.open(str(tmp_path / "data" / "enrichd.lmdb"), readonly=True, max_dbs=20)
    try:
        with pytest.raises(lmdb.Error) as caught, env.begin(write=True):
            pass
    finally:
        env.close()
    failure = storage_error(caught.value, tmp_path / "data")
    assert failure is not None and failure.reason == "read_only"
    assert failure.message == f"{DATA_DIR_MESSAGE}{str(tmp_path / 'data')!r}: read-only"


def test_a_bad_record_is_not_a_storage_fault() -> None:
    # A key over LMDB's limit fails only its own write; it says nothing about the disk.
    for exc in (lmdb.BadValsizeError("mdb_put: MDB_BAD_VALSIZE"), ValueError("bad")):
        assert storage_error(exc, Path("/data")) is None


def test_write_now_reports_a_full_disk_clearly(tmp_path: Path) -> None:
    store = FaultyStore(tmp_path / "data")
    try:
        store.fault = disk_full
        with pytest.raises(StorageError, match=r"data directory .*: disk full") as caught:
            store.write_now([PutJob.of(make_job("j1"))])
        assert isinstance(caught.value.__cause__, lmdb.DiskError)
        store.fault = None
        store.write_now([PutJob.of(make_job("j1"))])
        assert store.get_job("j1") is not None
    finally:
        store.close()


# -- the writer ----------------------------------------------------------------------------------


@pytest.fixture
def faulty(tmp_path: Path) -> Any:
    """A :class:`FaultyStore` in a temporary directory."""
    store = FaultyStore(tmp_path / "data")
    yield store
    store.close()


@pytest.fixture(params=[False, True], ids=["trio-thread", "worker-thread"])
async def writer(faulty: FaultyStore, request: pytest.FixtureRequest) -> AsyncIterator[StoreWriter]:
    """A running writer over ``faulty``, committing on the Trio thread and in a worker thread
    (as the daemon does): a fault raised in the worker must be handled the same way."""
    w = StoreWriter(faulty, in_thread=request.param, retry_seconds=5.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(w.run)
        yield w
        w.close()


async def test_a_full_disk_fails_only_the_batch_that_hit_it(
    autojump: Any, faulty: FaultyStore, writer: StoreWriter
) -> None:
    await writer.write(PutJob.of(make_job("before", "before.com", seq=1)))

    def once() -> BaseException:
        faulty.fault = None  # the disk fills for one transaction, then space is freed
        return disk_full()

    faulty.fault = once
    errors: list[StorageError] = []

    async def write(i: int) -> None:
        try:
            await writer.write(PutJob.of(make_job(f"j{i}", f"d{i}.com", seq=10 + i)))
        except StorageError as exc:
            errors.append(exc)

    async with trio.open_nursery() as nursery:
        for i in range(5):
            nursery.start_soon(write, i)
    # One batch, one failed transaction: every waiter of it fails with the clear error, and the
    # writer did not retry the requests one by one against a full disk.
    assert len(errors) == 5
    assert faulty.failed_transactions == 1
    assert all(e.reason == "disk_full" and "disk full" in e.message for e in errors)
    assert all(isinstance(e.__cause__, lmdb.DiskError) for e in errors)
    assert writer.last_error is not None and writer.last_error.reason == "disk_full"
    assert [faulty.get_job(f"j{i}") for i in range(5)] == [None] * 5
    assert faulty.get_job("before") is not None

    # The writer is alive: the next batch commits, and that clears the error.
    await writer.write(PutJob.of(make_job("after", "after.com", seq=20)))
    assert faulty.get_job("after") is not None
    assert writer.last_error is None


async def test_the_writer_keeps_failing_writes_while_the_fault_lasts(
    autojump: Any, faulty: FaultyStore, writer: StoreWriter
) -> None:
    faulty.fault = disk_full
    for i in range(3):
        with pytest.raises(StorageError):
            await writer.write(PutCache.of(make_cache(f"d{i}.com", "m01_a")))
        await trio.sleep(1)
    assert writer.last_error is not None
    faulty.fault = None
    await writer.write(PutCache.of(make_cache("ok.com", "m01_a")))
    assert writer.last_error is None
    assert faulty.cache_entries("ok.com")


# Tests that wait for the writer's probe run only on the Trio thread: with the commit in a worker
# thread, MockClock's autojump leaps past polling deadlines while the thread runs (see
# docs/architecture.md), which made them flaky under load. The worker-thread fault path is
# covered by the tests above.
@pytest.mark.parametrize("writer", [False], indirect=True, ids=["trio-thread"])
async def test_a_fault_clears_without_traffic_through_the_probe(
    autojump: Any, faulty: FaultyStore, writer: StoreWriter
) -> None:
    faulty.fault = disk_full
    with pytest.raises(StorageError):
        await writer.write(PutToken("a" * 64, TokenRecord(name="x", created_at=0.0)))
    # One failed write, then a probe every 5 s; while they fail, the error stays.
    await wait_until(lambda: faulty.failed_transactions >= 3, "two probes fail")
    assert writer.last_error is not None
    faulty.fault = None
    await wait_until(lambda: writer.last_error is None, "the probe clears the error")
    with faulty.env.begin(db=faulty.dbs["meta"]) as txn:
        assert txn.get(b"write_probe") is not None


@pytest.mark.parametrize("writer", [False], indirect=True, ids=["trio-thread"])
async def test_held_records_are_read_first_and_written_on_recovery(
    autojump: Any, faulty: FaultyStore, writer: StoreWriter
) -> None:
    job = make_job("j1", "acme.com", status="running")
    await writer.write(PutJob.of(job))
    faulty.fault = disk_full
    job.status = "failed"
    job.message = "disk full"
    with pytest.raises(StorageError):
        await writer.write(PutJob.of(job))
    writer.hold(PutJob.of(job))
    # Reads see the held record; LMDB still has the old one.
    held = faulty.get_job("j1")
    assert held is not None and held.status == "failed"
    assert faulty.stored_job("j1").status == "running"
    assert faulty.list_jobs()[0][0].status == "failed"
    assert faulty.list_jobs(domain="acme.com")[0][0].status == "failed"
    assert [j.status for j in faulty.domain_jobs("acme.com")] == ["failed"]
    assert faulty.active_job_id("acme.com") is None  # it ended, even if LMDB does not know yet

    faulty.fault = None
    await wait_until(lambda: not faulty.unsaved_jobs, "the held record is written")
    assert writer.last_error is None
    assert faulty.stored_job("j1").status == "failed"
    assert faulty.active_job_id("acme.com") is None
    assert faulty.list_jobs(status="failed")[1] == 1


@pytest.mark.parametrize("writer", [False], indirect=True, ids=["trio-thread"])
async def test_a_record_held_after_recovery_is_written_at_once(
    autojump: Any, faulty: FaultyStore, writer: StoreWriter
) -> None:
    # The supervisor may hand a record over after a later write already succeeded.
    writer.hold(PutJob.of(make_job("late", "late.com", status="failed")))
    await wait_until(lambda: not faulty.unsaved_jobs, "the held record is written")
    assert faulty.stored_job("late").status == "failed"


async def test_a_map_that_cannot_grow_fails_the_batch_not_the_writer(
    autojump: Any, tmp_path: Path
) -> None:
    store = Store(tmp_path / "small", map_size=64 * 1024)

    class NoGrowth:
        """The environment, except that its map cannot grow (address space exhausted)."""

        def __init__(self, env: lmdb.Environment) -> None:
            self._env = env

        def set_mapsize(self, size: int) -> None:
            raise lmdb.MemoryError("mdb_env_set_mapsize: Cannot allocate memory")

        def __getattr__(self, name: str) -> Any:
            return getattr(self._env, name)

    real_env = store.env
    store.env = NoGrowth(real_env)  # type: ignore[assignment]
    try:
        w = StoreWriter(store, in_thread=False)
        async with trio.open_nursery() as nursery:
            await nursery.start(w.run)
            big = [PutCache.of(make_cache(f"d{i}.com", "m01_a", size=4000)) for i in range(40)]
            with pytest.raises(StorageError, match="map is full at 0 MiB and cannot grow"):
                await w.write(*big)
            assert w.last_error is not None and w.last_error.reason == "map_full"
            await w.write(PutCache.of(make_cache("small.com", "m01_a")))  # still alive
            assert w.last_error is None
            w.close()
        assert store.get_cache("small.com", "m01_a") is not None
        assert store.get_cache("d0.com", "m01_a") is None
    finally:
        store.env = real_env
        store.close()


GROW_ELSEWHERE = """
import sys
from enrichd.daemon._store import PutCache, Store
from tests.daemon.test_store import make_cache

store = Store(sys.argv[1], map_size=64 * 1024)  # the file says 64 KiB: this opens it at that
store.write_now(PutCache.of(make_cache(f"cli{i}.com", "m01_a", size=4000)) for i in range(60))
store.close()
"""


async def test_a_map_grown_by_another_process_is_adopted(autojump: Any, tmp_path: Path) -> None:
    # `enrichd case-studies import` beside a running daemon may grow the map; the daemon's next
    # write then meets MapResizedError and must adopt the new size instead of failing.
    store = Store(tmp_path / "data", map_size=64 * 1024)
    try:
        w = StoreWriter(store, in_thread=False)
        async with trio.open_nursery() as nursery:
            await nursery.start(w.run)
            await w.write(PutCache.of(make_cache("daemon.com", "m01_a")))
            env = {**os.environ, "PYTHONPATH": REPO}
            args = [sys.executable, "-c", GROW_ELSEWHERE, str(tmp_path / "data")]
            done = await trio.run_process(args, env=env, capture_stderr=True, check=False)
            assert done.returncode == 0, done.stderr
            await w.write(PutCache.of(make_cache("daemon2.com", "m01_a")))
            w.close()
        assert store.map_size > 64 * 1024
        assert store.get_cache("daemon2.com", "m01_a") is not None
        assert store.get_cache("cli59.com", "m01_a") is not None
    finally:
        store.close()


# -- jobs, through the API ------------------------------------------------------------------------


@pytest.fixture
async def engine(tmp_path: Path, wall: FakeWallClock) -> AsyncIterator[Engine]:
    """Overrides conftest's ``engine`` (so its ``client`` uses it): an engine over a
    :class:`FaultyStore`, with m02 slow enough to fail a job between its modules."""
    config = make_config(tmp_path, modules={M02: {"delay": 30}})
    registry = load_plugins(disable=config.plugins.disable, extra_modules=config.plugins.modules)
    store = FaultyStore(Path(config.storage.path))
    try:
        e = Engine(config, registry, store, clock=wall, commit_in_thread=False)
        async with e.running():
            yield e
    finally:
        store.close()


async def call(client: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One API request: (status, JSON body)."""
    kwargs = {} if body is None else {"json": body}
    resp = await client.open(path, method=method, headers=AUTH, **kwargs)
    return resp.status_code, await resp.get_json()


async def start_two_module_job(client: Any, engine: Engine, domain: str) -> str:
    """Start m01+m02 for ``domain`` and wait until m01's output is on disk (m02 still runs)."""
    status, body = await call(client, "POST", f"{API}/{domain}", {"modules": [M01, M02]})
    assert status == 202, body
    job_id: str = body["job_id"]
    await wait_until(lambda: engine.store.get_output(job_id, M01) is not None, "m01 is stored")
    job = engine.store.get_job(job_id)
    assert job is not None and job.status == "running"
    return job_id


def status_of(engine: Engine, job_id: str) -> str | None:
    """The job's status as every reader sees it (held records included)."""
    job = engine.store.get_job(job_id)
    return job.status if job is not None else None


def module_view(status_body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["module_id"]: m for w in status_body["waves"] for m in w["modules"]}


async def assert_failed_on_storage(client: Any, domain: str, job_id: str, detail: str) -> None:
    """The job reads as failed with ``storage_error`` in status, results and the job list."""
    status, body = await call(client, "GET", f"{API}/{domain}/status?job_id={job_id}")
    assert status == 200, body
    assert body["status"] == "failed"
    assert body["message"].startswith(DATA_DIR_MESSAGE) and body["message"].endswith(detail)
    modules = module_view(body)
    assert modules[M01]["status"] == "completed"  # its output reached the disk first
    assert modules[M02]["status"] == "failed"
    assert modules[M02]["error"] == "storage_error"
    assert [e["error"] for e in body["errors"]] == ["storage_error"]
    assert body["errors"][0]["module_id"] == M02
    status, results = await call(client, "GET", f"{API}/{domain}/results?job_id={job_id}")
    assert status == 200, results
    assert results["results"][M01]["module"] == M01
    status, listing = await call(client, "GET", f"{API}?domain={domain}")
    assert status == 200 and listing["jobs"][0]["status"] == "failed", listing


async def test_a_full_disk_fails_the_job_and_the_daemon_keeps_serving(
    autojump: Any, engine: Engine, client: Any
) -> None:
    store = engine.store
    assert isinstance(store, FaultyStore)
    job_id = await start_two_module_job(client, engine, "acme.com")

    store.fault = disk_full  # m02 finishes into a full disk
    await wait_until(lambda: status_of(engine, job_id) == "failed", "the job fails")
    await assert_failed_on_storage(client, "acme.com", job_id, "disk full")
    assert store.stored_job(job_id).status == "running"  # LMDB has not caught up yet

    # New work is refused with the reason while the disk is full; the domain is free again
    # (503, not 409 job_active), and reads and /healthz go on.
    status, body = await call(client, "POST", f"{API}/acme.com")
    assert status == 503, body
    assert body["error"] == "storage_unavailable"
    assert "disk full" in body["message"] and body["details"]["reason"] == "disk_full"
    status, body = await call(client, "POST", f"{API}/batch", {"domains": ["a.com", "b.com"]})
    assert (status, body["error"]) == (503, "storage_unavailable")
    status, body = await call(client, "POST", f"{API}/acme.com/retry")
    assert (status, body["error"]) == (503, "storage_unavailable")
    resp = await client.get("/healthz")
    assert resp.status_code == 200

    # Space comes back: the writer's probe succeeds, the held record reaches LMDB.
    store.fault = None
    await wait_until(lambda: engine.writer.last_error is None, "the writer recovers")
    await wait_until(lambda: not store.unsaved_jobs, "the held record is written")
    on_disk = store.stored_job(job_id)
    assert on_disk.status == "failed"
    assert on_disk.module_states[M02].error_code == "storage_error"
    await assert_failed_on_storage(client, "acme.com", job_id, "disk full")

    # And the daemon works normally again.
    status, body = await call(client, "POST", f"{API}/acme.com", {"modules": [M01]})
    assert status == 202, body
    await wait_until(lambda: status_of(engine, body["job_id"]) == "completed", "new job")


async def test_a_read_only_data_directory_fails_the_job_clearly(
    autojump: Any, engine: Engine, client: Any
) -> None:
    store = engine.store
    assert isinstance(store, FaultyStore)
    job_id = await start_two_module_job(client, engine, "acme.com")

    store.reopen(readonly=True)  # LMDB itself now refuses every write transaction
    await wait_until(lambda: status_of(engine, job_id) == "failed", "the job fails")
    await assert_failed_on_storage(client, "acme.com", job_id, "read-only")
    status, body = await call(client, "POST", f"{API}/other.com")
    assert (status, body["error"]) == (503, "storage_unavailable")
    assert body["message"].endswith("read-only; new jobs are refused until it can be written again")
    assert (await client.get("/healthz")).status_code == 200

    store.reopen(readonly=False)
    await wait_until(lambda: not store.unsaved_jobs, "the held record is written")
    assert engine.writer.last_error is None
    assert store.stored_job(job_id).status == "failed"
    status, body = await call(client, "POST", f"{API}/other.com", {"modules": [M01]})
    assert status == 202, body


async def test_a_job_that_cannot_be_created_is_refused_and_leaves_nothing(
    autojump: Any, engine: Engine, client: Any
) -> None:
    store = engine.store
    assert isinstance(store, FaultyStore)
    store.fault = disk_full
    # The first POST finds out: its job record cannot be written, so there is no job.
    status, body = await call(client, "POST", f"{API}/acme.com", {"modules": [M01]})
    assert (status, body["error"]) == (503, "storage_unavailable"), body
    assert "disk full" in body["message"]
    status, body = await call(client, "GET", f"{API}/acme.com/status")
    assert (status, body["error"]) == (404, "job_not_found")
    store.fault = None
    await wait_until(lambda: engine.writer.last_error is None, "the writer recovers")
    status, body = await call(client, "POST", f"{API}/acme.com", {"modules": [M01]})
    assert status == 202, body  # the failed start left no claim on the domain


async def test_cancel_while_the_disk_is_full(autojump: Any, engine: Engine) -> None:
    store = engine.store
    assert isinstance(store, FaultyStore)
    # One slot: a hanging job holds it, so the second job stays queued.
    engine.scheduler.max_concurrent = 1
    await engine.start_job("hold.com", JobRequest(modules=[M02]))
    queued = await engine.start_job("queued.com", JobRequest(modules=[M01]))
    store.fault = disk_full
    cancelled = await engine.cancel("queued.com", None)
    # The cancel took effect (the job left the queue); its record is held until it can be written.
    assert cancelled.status == "cancelled"
    assert status_of(engine, queued.job_id) == "cancelled"
    assert store.stored_job(queued.job_id).status == "queued"
    store.fault = None
    await wait_until(lambda: not store.unsaved_jobs, "the held record is written")
    assert store.stored_job(queued.job_id).status == "cancelled"


async def test_a_fault_while_a_job_finishes_keeps_its_outcome(
    autojump: Any, engine: Engine
) -> None:
    store = engine.store
    assert isinstance(store, FaultyStore)
    # The disk fills just as the job records that it completed: its data is already stored.
    store.fault_if = lambda op: isinstance(op, PutJob) and op.status == "completed"
    store.fault = disk_full
    job = await engine.start_job("acme.com", JobRequest(modules=[M01]))
    await wait_until(lambda: bool(store.unsaved_jobs), "the final record is held")
    assert store.get_output(job.job_id, M01) is not None
    held = engine.store.get_job(job.job_id)
    assert held is not None and held.status == "completed"  # not turned into a failure
    assert store.stored_job(job.job_id).status == "running"
    store.fault = None
    await wait_until(lambda: not store.unsaved_jobs, "the held record is written")
    assert store.stored_job(job.job_id).status == "completed"


# -- one daemon per data directory ----------------------------------------------------------------


def test_a_second_daemon_on_the_same_data_directory_is_refused(tmp_path: Path) -> None:
    # The end-to-end test (tests/e2e/test_daemon_process.py) runs two real processes; this one
    # checks the lock and its message directly.
    first = DataDirLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(StoreError, match=r"another enrichd \(pid \d+\) is already using"):
            DataDirLock(tmp_path).acquire()
    finally:
        first.release()
    again = DataDirLock(tmp_path)
    again.acquire()  # free once the first daemon is gone
    again.release()
