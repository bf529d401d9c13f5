"""A consistency check of a store: what ``enrichd check`` and the crash tests run.

It reads everything in one read transaction and reports each disagreement between a record and
its indexes, so a half-applied write (which LMDB's transactions should make impossible) would
show up here rather than as a wrong answer later.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._records import ACTIVE_STATUSES, JOB_STATUSES, Batch, CacheEntry, Job, ModuleOutput
from ._store import Store, _sep, _ts_key

__all__ = ["check_store"]


def check_store(store: Store) -> list[str]:
    """Everything inconsistent in ``store``; empty when it is sound.

    Every record decodes; the time, domain and status indexes hold exactly one entry per job,
    agreeing with its record; ``active`` names exactly the queued and running jobs; every
    completed or cached module has its output, and every output belongs to a module of its
    job; cache entries and batches decode; the stored highest sequence number covers every job,
    and the stored count of jobs per status matches the records.
    """
    with store.env.begin() as txn:
        return _problems(store, txn)


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

    want_counts: dict[str, int] = {}
    for job in jobs.values():
        want_counts[job.status] = want_counts.get(job.status, 0) + 1
    for status in sorted(set(want_counts) | set(JOB_STATUSES)):
        stored = store.stored_count(txn, status)
        if stored != want_counts.get(status, 0):
            problems.append(
                f"meta counts {stored} {status} jobs, the job records {want_counts.get(status, 0)}"
            )

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
