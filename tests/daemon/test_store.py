"""Tests for the LMDB store (real files under ``tmp_path``) and the StoreWriter actor.

The writer commits in a worker thread. Its tests take ``mock_clock`` with ``autojump_threshold =
0`` as a test argument (pytest-trio runs a test on a clock only when the test itself asks for it),
so nothing could ever wait on wall-clock time. They deliberately use no ``fail_after``: while a
thread runs every task is blocked, and the autojumping clock would leap straight to any deadline.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import lmdb
import msgspec
import pytest
import trio
from trio.testing import MockClock

from enrichd.daemon._check import check_store
from enrichd.daemon._records import (
    JOB_STATUSES,
    Batch,
    CacheEntry,
    IdempotencyRecord,
    Job,
    ModuleOutput,
    ModuleState,
    SkippedDomain,
    TokenRecord,
)
from enrichd.daemon._store import (
    _DB_NAMES,
    SCHEMA_VERSION,
    DeleteAllCaseStudies,
    DeleteCaseStudy,
    DeleteToken,
    InvalidateCache,
    Op,
    PutBatch,
    PutCache,
    PutCaseStudy,
    PutIdempotency,
    PutJob,
    PutOutput,
    PutToken,
    Store,
    StoreError,
)
from enrichd.daemon._writer import StoreWriter
from enrichd.plugins import CaseStudy, Citation

T0 = 1_780_000_000.0


def make_job(
    job_id: str,
    domain: str = "example.com",
    *,
    status: str = "queued",
    seq: int = 1,
    created_at: float | None = None,
    priority: str = "normal",
) -> Job:
    """A small but complete job record."""
    return Job(
        job_id=job_id,
        domain=domain,
        status=status,  # type: ignore[arg-type]
        priority=priority,  # type: ignore[arg-type]
        force=False,
        modules=["m01_company_context", "m07_financials"],
        waves=[1, 3],
        created_at=T0 + seq if created_at is None else created_at,
        seq=seq,
        module_states={
            "m01_company_context": ModuleState(module_id="m01_company_context", wave=1),
            "m07_financials": ModuleState(module_id="m07_financials", wave=3, requested=False),
        },
        estimated_time_seconds=12,
    )


def make_cache(domain: str, module_id: str, *, size: int = 10, job_id: str = "j") -> CacheEntry:
    """A cache entry whose data holds ``size`` bytes of text."""
    return CacheEntry(
        domain=domain,
        module_id=module_id,
        data={"blob": "x" * size, "module": module_id},
        data_points=2,
        fetched_at=T0,
        ttl_seconds=86400,
        stale_window_seconds=3600,
        job_id=job_id,
        source="builtwith",
        source_url="https://builtwith.com/",
        citations=[Citation(url="https://example.com/a", title="A")],
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store in a temporary directory."""
    s = Store(tmp_path / "data")
    yield s
    s.close()


@pytest.fixture
async def writer(store: Store, mock_clock: MockClock) -> AsyncIterator[StoreWriter]:
    """A running StoreWriter over ``store`` (tests must take ``mock_clock`` too, see above)."""
    mock_clock.autojump_threshold = 0
    w = StoreWriter(store)
    async with trio.open_nursery() as nursery:
        await nursery.start(w.run)
        yield w
        w.close()


# -- records round-trip ---------------------------------------------------------------------------


def test_job_round_trip(store: Store) -> None:
    job = make_job("j1", status="running", seq=7)
    job.module_states["m01_company_context"].status = "completed"
    job.module_states["m01_company_context"].warnings.append("slow")
    job.batch_id = "b1"
    job.started_at = T0 + 10
    store.write_now([PutJob.of(job)])
    assert store.get_job("j1") == job
    assert store.get_job("nope") is None


def test_put_job_snapshots_the_record(store: Store) -> None:
    # PutJob.of encodes at once: a later change to the live object must not leak into the op.
    job = make_job("j1")
    op = PutJob.of(job)
    job.status = "failed"
    job.message = "changed after the snapshot"
    store.write_now([op])
    stored = store.get_job("j1")
    assert stored is not None
    assert stored.status == "queued"
    assert stored.message is None


def test_outputs_round_trip(store: Store) -> None:
    out1 = ModuleOutput(
        data={"name": "Example"},
        data_points=1,
        fetched_at=T0,
        source="homepage",
        citations=[Citation(url="https://example.com/", title="Home")],
    )
    out2 = ModuleOutput(data={"rev": 12}, data_points=1, fetched_at=T0, cached=True, stale=True)
    other = ModuleOutput(data={"x": 1}, data_points=1, fetched_at=T0)
    store.write_now(
        [
            PutOutput.of("j1", "m01_company_context", out1),
            PutOutput.of("j1", "m07_financials", out2),
            # A job id that extends "j1" must not bleed into j1's outputs.
            PutOutput.of("j10", "m01_company_context", other),
        ]
    )
    assert store.get_output("j1", "m01_company_context") == out1
    assert store.get_output("j1", "m02_tech_stack") is None
    assert store.outputs("j1") == {"m01_company_context": out1, "m07_financials": out2}
    assert store.outputs("j10") == {"m01_company_context": other}
    assert store.outputs("j2") == {}


def test_cache_round_trip_and_invalidation(store: Store) -> None:
    a = make_cache("example.com", "m01_company_context")
    b = make_cache("example.com", "m13_case_study_match")
    c = make_cache("example.com.au", "m01_company_context")
    store.write_now([PutCache.of(a), PutCache.of(b), PutCache.of(c)])
    assert store.get_cache("example.com", "m01_company_context") == a
    assert store.get_cache("example.org", "m01_company_context") is None
    assert store.cache_entries("example.com") == {
        "m01_company_context": a,
        "m13_case_study_match": b,
    }

    store.write_now([InvalidateCache("example.com", ("m13_case_study_match", "m14_icp_scoring"))])
    entries = store.cache_entries("example.com")
    assert entries["m13_case_study_match"].invalidated is True
    assert entries["m01_company_context"].invalidated is False
    assert "m14_icp_scoring" not in entries  # invalidating a missing entry creates nothing
    c_after = store.get_cache("example.com.au", "m01_company_context")
    assert c_after is not None and c_after.invalidated is False


def test_batch_idempotency_and_tokens_round_trip(store: Store) -> None:
    batch = Batch(
        batch_id="batch_1",
        created_at=T0,
        concurrency=3,
        priority="low",
        job_ids=["j1", "j2"],
        skipped=[SkippedDomain(domain="bad..com", reason="invalid_domain", message="no")],
        total_domains=3,
    )
    idem = IdempotencyRecord(
        fingerprint="f" * 64, status_code=202, body=b'{"job_id":"j1"}', expires_at=T0 + 86400
    )
    sha_a = hashlib.sha256(b"token-a").hexdigest()
    sha_b = hashlib.sha256(b"token-b").hexdigest()
    tok_a = TokenRecord(name="crm", created_at=T0)
    tok_b = TokenRecord(name="scripts", created_at=T0 + 1)
    store.write_now(
        [
            PutBatch(batch),
            PutIdempotency("key-1", idem),
            PutToken(sha_a, tok_a),
            PutToken(sha_b, tok_b),
        ]
    )
    assert store.get_batch("batch_1") == batch
    assert store.get_batch("batch_2") is None
    assert store.get_idempotency("key-1") == idem
    assert store.get_idempotency("key-2") is None
    assert store.get_token(sha_a) == tok_a
    assert store.tokens() == {sha_a: tok_a, sha_b: tok_b}

    store.write_now([DeleteToken(sha_a), DeleteToken("0" * 64)])  # deleting a missing one is fine
    assert store.get_token(sha_a) is None
    assert store.tokens() == {sha_b: tok_b}


# -- job indexes ----------------------------------------------------------------------------------


def _ids(jobs: list[Job]) -> list[str]:
    return [j.job_id for j in jobs]


def test_list_jobs_newest_first_with_paging(store: Store) -> None:
    store.write_now([PutJob.of(make_job(f"j{i}", f"d{i % 3}.com", seq=i)) for i in range(1, 8)])
    jobs, total = store.list_jobs()
    assert total == 7
    assert _ids(jobs) == ["j7", "j6", "j5", "j4", "j3", "j2", "j1"]
    assert _ids(store.list_jobs(limit=2)[0]) == ["j7", "j6"]
    page, total = store.list_jobs(limit=2, offset=2)
    assert (_ids(page), total) == (["j5", "j4"], 7)
    page, total = store.list_jobs(limit=5, offset=6)
    assert (_ids(page), total) == (["j1"], 7)
    assert store.list_jobs(offset=10) == ([], 7)
    # Domain filter: d1.com holds j1, j4, j7.
    page, total = store.list_jobs(domain="d1.com")
    assert (_ids(page), total) == (["j7", "j4", "j1"], 3)
    page, total = store.list_jobs(domain="d1.com", limit=1, offset=1)
    assert (_ids(page), total) == (["j4"], 3)
    assert store.list_jobs(domain="unknown.com") == ([], 0)


def test_list_jobs_orders_by_creation_time_not_insert_order(store: Store) -> None:
    store.write_now(
        [
            PutJob.of(make_job("late", "a.com", seq=3, created_at=T0 + 30)),
            PutJob.of(make_job("early", "a.com", seq=1, created_at=T0 + 10)),
            PutJob.of(make_job("middle", "b.com", seq=2, created_at=T0 + 20)),
        ]
    )
    assert _ids(store.list_jobs()[0]) == ["late", "middle", "early"]
    assert _ids(store.list_jobs(domain="a.com")[0]) == ["late", "early"]
    assert [j.job_id for j in store.domain_jobs("a.com")] == ["late", "early"]


def test_domain_prefix_does_not_leak(store: Store) -> None:
    store.write_now(
        [
            PutJob.of(make_job("j1", "example.com", seq=1)),
            PutJob.of(make_job("j2", "example.com.au", seq=2)),
        ]
    )
    assert _ids(store.list_jobs(domain="example.com")[0]) == ["j1"]
    assert _ids(store.list_jobs(domain="example.com.au")[0]) == ["j2"]


def test_indexes_follow_status_changes(store: Store) -> None:
    a1 = make_job("a1", "a.com", seq=1)
    b1 = make_job("b1", "b.com", seq=2)
    store.write_now([PutJob.of(a1), PutJob.of(b1)])
    assert store.active_job_id("a.com") == "a1"
    assert store.active_job_id("b.com") == "b1"
    assert store.active_job_id("c.com") is None
    assert sorted(_ids(store.active_jobs())) == ["a1", "b1"]
    assert store.list_jobs(status="queued") == ([b1, a1], 2)

    a1.status = "running"
    store.write_now([PutJob.of(a1)])
    assert store.active_job_id("a.com") == "a1"
    assert _ids(store.list_jobs(status="queued")[0]) == ["b1"]
    assert store.list_jobs(status="running") == ([a1], 1)
    assert store.count_status("running") == 1
    assert store.count_status("queued") == 1

    a1.status = "completed"
    a1.completed_at = T0 + 100
    store.write_now([PutJob.of(a1)])
    assert store.active_job_id("a.com") is None
    assert _ids(store.active_jobs()) == ["b1"]
    assert store.list_jobs(status="running") == ([], 0)
    assert store.list_jobs(status="completed") == ([a1], 1)
    # A status change never duplicates the job in the time and domain indexes.
    assert store.list_jobs() == ([b1, a1], 2)
    assert store.list_jobs(domain="a.com") == ([a1], 1)
    assert store.stats()["entries"]["jobs_by_status"] == 2

    # A second job for the same domain becomes its active job; cancelling it clears it.
    a2 = make_job("a2", "a.com", seq=3)
    store.write_now([PutJob.of(a2)])
    assert store.active_job_id("a.com") == "a2"
    a2.status = "cancelled"
    store.write_now([PutJob.of(a2)])
    assert store.active_job_id("a.com") is None
    assert store.list_jobs(domain="a.com") == ([a2, a1], 2)
    assert store.list_jobs(domain="a.com", status="completed") == ([a1], 1)
    assert store.list_jobs(domain="a.com", status="cancelled") == ([a2], 1)
    assert store.count_status("completed", domain="a.com") == 1
    assert store.count_status("completed", domain="b.com") == 0


def test_terminal_update_of_an_old_job_keeps_the_newer_active_job(store: Store) -> None:
    old = make_job("old", "a.com", seq=1, status="running")
    new = make_job("new", "a.com", seq=2)
    store.write_now([PutJob.of(old), PutJob.of(new)])
    assert store.active_job_id("a.com") == "new"
    old.status = "failed"
    store.write_now([PutJob.of(old)])
    assert store.active_job_id("a.com") == "new"


def test_status_counts_follow_every_transition(store: Store) -> None:
    jobs = [make_job(f"j{i}", f"d{i}.com", seq=i) for i in range(1, 6)]
    store.write_now([PutJob.of(j) for j in jobs])
    assert store.count_status("queued") == 5
    jobs[0].status = "running"
    jobs[1].status = "running"
    store.write_now([PutJob.of(jobs[0]), PutJob.of(jobs[1])])
    jobs[0].status = "completed"
    jobs[0].completed_at = T0 + 50
    # Rewriting a record with an unchanged status (a module progressed) counts nothing twice.
    store.write_now([PutJob.of(jobs[0]), PutJob.of(jobs[1]), PutJob.of(jobs[1])])
    counts = {s: store.count_status(s) for s in JOB_STATUSES}
    assert counts == {"queued": 3, "running": 1, "completed": 1, "failed": 0, "cancelled": 0}
    assert store.list_jobs(status="queued", limit=1)[1] == 3
    assert check_store(store) == []


def test_a_store_from_before_status_counts_gains_them_at_open(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    jobs = [
        make_job(f"j{i}", f"d{i}.com", seq=i, status="failed" if i % 2 else "queued")
        for i in range(1, 6)
    ]
    store.write_now([PutJob.of(j) for j in jobs])
    # What an older enrichd left behind: the index, but no counts.
    with store.env.begin(write=True, db=store.dbs["meta"]) as txn:
        for key in [k for k, _ in txn.cursor() if bytes(k).startswith(b"jobs_with_status")]:
            txn.delete(key)
        txn.delete(b"status_counts")
    assert store.count_status("failed") == 0
    assert any("meta counts" in p for p in check_store(store))
    store.close()
    store = Store(tmp_path / "data")
    try:
        assert (store.count_status("failed"), store.count_status("queued")) == (3, 2)
        assert check_store(store) == []
    finally:
        store.close()


def test_job_heads_carry_what_a_list_shows(store: Store) -> None:
    job = make_job("j1", status="running")
    job.module_states["m01_company_context"].status = "completed"
    job.batch_id = "b1"
    store.write_now([PutJob.of(job)])
    heads, total = store.list_job_heads(status="running")
    assert total == 1
    head = heads[0]
    assert (head.job_id, head.domain, head.status, head.batch_id) == (
        "j1",
        "example.com",
        "running",
        "b1",
    )
    assert {m: s.status for m, s in head.module_states.items()} == {
        "m01_company_context": "completed",
        "m07_financials": "pending",
    }


def test_list_jobs_by_status_and_domain_with_paging(store: Store) -> None:
    jobs = [make_job(f"j{i}", "a.com" if i % 2 else "b.com", seq=i) for i in range(1, 11)]
    for j in jobs:
        if j.seq % 3 == 0:
            j.status = "failed"
    store.write_now([PutJob.of(j) for j in jobs])
    # a.com: j1 j3 j5 j7 j9; failed among them: j3 j9.
    page, total = store.list_jobs(domain="a.com", status="queued")
    assert (_ids(page), total) == (["j7", "j5", "j1"], 3)
    page, total = store.list_jobs(domain="a.com", status="queued", limit=1, offset=1)
    assert (_ids(page), total) == (["j5"], 3)
    page, total = store.list_jobs(status="failed", limit=2)
    assert (_ids(page), total) == (["j9", "j6"], 3)
    page, total = store.list_jobs(status="failed", limit=2, offset=2)
    assert (_ids(page), total) == (["j3"], 3)


def test_max_seq(store: Store) -> None:
    assert store.max_seq() == 0
    store.write_now([PutJob.of(make_job("j1", seq=4)), PutJob.of(make_job("j2", seq=9))])
    assert store.max_seq() == 9
    job = make_job("j3", seq=11)
    store.write_now([PutJob.of(job)])
    job.status = "running"
    store.write_now([PutJob.of(job)])
    assert store.max_seq() == 11


def test_max_seq_survives_a_clock_that_went_backwards(store: Store, tmp_path: Path) -> None:
    # Sequence numbers come from a counter, creation times from the wall clock: after the clock
    # is set back, the newest job has the highest seq but not the latest timestamp.
    store.write_now(
        [
            PutJob.of(make_job("j1", seq=1, created_at=T0 + 100)),
            PutJob.of(make_job("j2", seq=2, created_at=T0 + 50)),
        ]
    )
    assert store.max_seq() == 2
    store.close()
    reopened = Store(tmp_path / "data")
    try:
        assert reopened.max_seq() == 2
        # A store whose meta lacks the counter (written by an older build) is scanned instead.
        with reopened.env.begin(write=True, db=reopened.dbs["meta"]) as txn:
            assert txn.delete(b"max_seq")
        assert reopened.max_seq() == 2
        reopened.write_now([PutJob.of(make_job("j3", seq=3, created_at=T0 + 10))])
        assert reopened.max_seq() == 3
    finally:
        reopened.close()


# -- schema version --------------------------------------------------------------------------------


def test_schema_version_written_at_open(store: Store) -> None:
    with store.env.begin(db=store.dbs["meta"]) as txn:
        assert txn.get(b"schema_version") == str(SCHEMA_VERSION).encode()


def test_reopen_keeps_data(tmp_path: Path) -> None:
    s = Store(tmp_path / "data")
    s.write_now([PutJob.of(make_job("j1"))])
    s.close()
    s = Store(tmp_path / "data")
    try:
        assert s.get_job("j1") == make_job("j1")
    finally:
        s.close()


@pytest.mark.parametrize("found", [str(SCHEMA_VERSION + 1).encode(), b"0", b"banana", b"\xff"])
def test_mismatching_schema_version_is_refused(tmp_path: Path, found: bytes) -> None:
    s = Store(tmp_path / "data")
    with s.env.begin(write=True, db=s.dbs["meta"]) as txn:
        txn.put(b"schema_version", found)
    s.close()
    with pytest.raises(StoreError, match=rf"has schema version .*needs {SCHEMA_VERSION}"):
        Store(tmp_path / "data")
    # Refused, not rewritten: the next open still refuses.
    with pytest.raises(StoreError):
        Store(tmp_path / "data")


def test_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the store"):
        Store(blocker / "data")


# -- the writer ----------------------------------------------------------------------------------


async def test_writer_round_trip(store: Store, writer: StoreWriter, mock_clock: MockClock) -> None:
    await writer.write()  # nothing to do: returns at once, no commit
    assert writer.commits == 0
    job = make_job("j1")
    await writer.write(PutJob.of(job), PutCache.of(make_cache("example.com", "m01_x")))
    assert store.get_job("j1") == job
    assert store.get_cache("example.com", "m01_x") is not None
    assert writer.commits == 1
    assert writer.last_commit_time is not None


async def test_writer_batches_concurrent_writes(
    store: Store, writer: StoreWriter, mock_clock: MockClock
) -> None:
    n = 200
    returned: list[int] = []

    async def one(i: int) -> None:
        await writer.write(PutJob.of(make_job(f"j{i}", f"d{i}.com", seq=i + 1)))
        # Returning means committed: the record is readable right now.
        assert store.get_job(f"j{i}") is not None
        returned.append(i)

    async with trio.open_nursery() as nursery:
        for i in range(n):
            nursery.start_soon(one, i)
    assert sorted(returned) == list(range(n))
    assert store.list_jobs(limit=1000)[1] == n
    assert len(store.active_jobs()) == n
    assert 1 <= writer.commits <= 5, writer.commits


async def test_writer_drains_queued_writes_on_close(store: Store, mock_clock: MockClock) -> None:
    mock_clock.autojump_threshold = 0
    w = StoreWriter(store)
    async with trio.open_nursery() as nursery:
        for i in range(20):
            nursery.start_soon(w.write, PutJob.of(make_job(f"j{i}", seq=i + 1)))
        await trio.testing.wait_all_tasks_blocked()  # every write is queued
        w.close()
        await w.run()  # commits what is queued, then returns
    assert store.list_jobs(limit=100)[1] == 20


async def test_writer_grows_a_full_map(tmp_path: Path, mock_clock: MockClock) -> None:
    mock_clock.autojump_threshold = 0
    initial = 64 * 1024
    store = Store(tmp_path / "small", map_size=initial)
    try:
        assert store.map_size == initial
        w = StoreWriter(store)
        domains = [f"d{i}.com" for i in range(120)]
        async with trio.open_nursery() as nursery:
            await nursery.start(w.run)
            # One big transaction (~480 KiB) and many small ones, all larger than the map.
            await w.write(*(PutCache.of(make_cache(d, "m01_a", size=4000)) for d in domains))
            async with trio.open_nursery() as inner:
                for d in domains:
                    inner.start_soon(w.write, PutCache.of(make_cache(d, "m02_b", size=4000)))
            w.close()
        assert store.map_size >= 8 * initial
        for d in domains:
            assert set(store.cache_entries(d)) == {"m01_a", "m02_b"}
            entry = store.get_cache(d, "m02_b")
            assert entry is not None and entry.data["blob"] == "x" * 4000
    finally:
        store.close()
    # The grown map is kept on disk: a reopen with the small size still reads everything.
    reopened = Store(tmp_path / "small", map_size=initial)
    try:
        assert len(reopened.cache_entries("d119.com")) == 2
    finally:
        reopened.close()


def test_write_now_grows_a_full_map_even_for_a_generator(tmp_path: Path) -> None:
    store = Store(tmp_path / "small", map_size=64 * 1024)
    try:
        # A generator can be iterated once: the retry after growing must not lose its ops.
        store.write_now(PutCache.of(make_cache(f"d{i}.com", "m01_a", size=4000)) for i in range(60))
        assert store.map_size > 64 * 1024
        missing = [i for i in range(60) if store.get_cache(f"d{i}.com", "m01_a") is None]
        assert missing == []
    finally:
        store.close()


async def test_failing_op_fails_only_its_caller(
    store: Store, writer: StoreWriter, mock_clock: MockClock
) -> None:
    # LMDB refuses keys longer than its 511-byte limit: a natural per-op failure.
    bad = PutToken("k" * 600, TokenRecord(name="too long", created_at=T0))
    good: list[Op] = [PutJob.of(make_job(f"j{i}", f"d{i}.com", seq=i + 1)) for i in range(10)]
    errors: list[BaseException] = []

    async def write_bad() -> None:
        try:
            await writer.write(bad)
        except StoreError as exc:
            errors.append(exc)

    commits_before = writer.commits
    async with trio.open_nursery() as nursery:
        for op in good[:5]:
            nursery.start_soon(writer.write, op)
        nursery.start_soon(write_bad)
        for op in good[5:]:
            nursery.start_soon(writer.write, op)
    assert len(errors) == 1
    assert isinstance(errors[0].__cause__, lmdb.Error)
    assert "write failed" in str(errors[0])
    assert [store.get_job(f"j{i}") is not None for i in range(10)] == [True] * 10
    assert store.tokens() == {}
    # They went in as one batch (one failed commit, then retried one at a time).
    assert writer.commits - commits_before == 1

    # The writer is still alive afterwards.
    await writer.write(PutToken("a" * 64, TokenRecord(name="ok", created_at=T0)))
    assert store.get_token("a" * 64) is not None


async def test_failing_request_is_atomic(
    store: Store, writer: StoreWriter, mock_clock: MockClock
) -> None:
    # Ops of one write() share its fate: a bad op rolls back the good ones sent with it.
    bad = PutOutput("j1", "m" * 600, b"")
    with pytest.raises(StoreError):
        await writer.write(PutJob.of(make_job("j1")), bad)
    assert store.get_job("j1") is None
    assert store.active_job_id("example.com") is None


# -- case studies ----------------------------------------------------------------------------------


def make_case_study(id: str, customer: str, **fields: Any) -> CaseStudy:
    """A case study record as the API or an import would store it."""
    return CaseStudy(id=id, customer=customer, vertical="retail", created_at=T0, **fields)


def test_case_studies_round_trip_sorted_by_customer_then_id(store: Store) -> None:
    assert store.list_case_studies() == []
    records = [
        make_case_study("z1", "beta Goods", employee_count=20, size_tier="startup"),
        make_case_study("b2", "Acme"),
        make_case_study("a9", "acme"),
        make_case_study("c3", "Zeta", url="https://example.com/customers/zeta"),
    ]
    store.write_now(PutCaseStudy(r) for r in records)
    assert [s.id for s in store.list_case_studies()] == ["b2", "a9", "z1", "c3"]
    assert store.get_case_study("z1") == records[0]
    assert store.get_case_study("nope") is None


def test_put_case_study_replaces_and_delete_forgets(store: Store) -> None:
    store.write_now([PutCaseStudy(make_case_study("a", "Acme"))])
    store.write_now([PutCaseStudy(make_case_study("a", "Acme Renamed", quote="Great"))])
    assert store.get_case_study("a") == make_case_study("a", "Acme Renamed", quote="Great")
    assert len(store.list_case_studies()) == 1
    store.write_now([DeleteCaseStudy("a"), DeleteCaseStudy("never-existed")])
    assert store.get_case_study("a") is None and store.list_case_studies() == []


def test_delete_all_then_put_replaces_the_database_in_one_transaction(store: Store) -> None:
    store.write_now(PutCaseStudy(make_case_study(f"old{i}", f"Old {i}")) for i in range(5))
    store.write_now([DeleteAllCaseStudies(), PutCaseStudy(make_case_study("new", "New"))])
    assert [s.id for s in store.list_case_studies()] == ["new"]
    # The database survives being emptied: later writes and reads use it as before.
    store.write_now([DeleteAllCaseStudies()])
    assert store.list_case_studies() == []
    store.write_now([PutCaseStudy(make_case_study("again", "Again"))])
    assert store.get_case_study("again") is not None


def test_a_failing_import_transaction_writes_nothing(store: Store) -> None:
    store.write_now([PutCaseStudy(make_case_study("keep", "Keep"))])
    good = [PutCaseStudy(make_case_study(f"n{i}", f"N {i}")) for i in range(3)]
    # LMDB refuses keys over 511 bytes: one bad record fails the whole batch.
    bad = PutCaseStudy(make_case_study("k" * 600, "Too Long"))
    with pytest.raises(lmdb.Error):
        store.write_now([DeleteAllCaseStudies(), *good, bad])
    assert [s.id for s in store.list_case_studies()] == ["keep"]


async def test_case_study_ops_through_the_writer(
    store: Store, writer: StoreWriter, mock_clock: MockClock
) -> None:
    await writer.write(*(PutCaseStudy(make_case_study(f"c{i}", f"C {i}")) for i in range(3)))
    await writer.write(DeleteCaseStudy("c1"))
    assert [s.id for s in store.list_case_studies()] == ["c0", "c2"]
    await writer.write(DeleteAllCaseStudies())
    assert store.list_case_studies() == []


def test_a_store_from_before_case_studies_opens_and_gains_the_db(tmp_path: Path) -> None:
    # Lay out a store the way a version without the case_studies database did.
    path = tmp_path / "data"
    path.mkdir()
    env = lmdb.open(str(path / "enrichd.lmdb"), subdir=True, max_dbs=20)
    old_names = [n for n in _DB_NAMES if n != "case_studies"]
    dbs = {n: env.open_db(n.encode()) for n in old_names}
    with env.begin(write=True) as txn:
        txn.put(b"schema_version", str(SCHEMA_VERSION).encode(), db=dbs["meta"])
        txn.put(
            b"t" * 64,
            msgspec.msgpack.encode(TokenRecord(name="kept", created_at=T0)),
            db=dbs["tokens"],
        )
        names = [bytes(k) for k, _ in txn.cursor()]
    env.close()
    assert b"case_studies" not in names and b"tokens" in names
    s = Store(path)
    try:
        assert s.list_case_studies() == [] and s.get_case_study("x") is None
        assert s.tokens()["t" * 64].name == "kept"
        s.write_now([PutCaseStudy(make_case_study("x", "X"))])
        assert s.get_case_study("x") is not None
    finally:
        s.close()
