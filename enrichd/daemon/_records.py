"""The records kept in LMDB. They are the truth: the API reads these, never an actor's memory."""

from __future__ import annotations

from typing import Any, Literal, get_args

import msgspec

from ..plugins._types import Citation, Priority

JobStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
ModuleStatus = Literal[
    "pending", "running", "completed", "cached", "failed", "skipped", "cancelled"
]

#: Every job status, in lifecycle order.
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)
ACTIVE_STATUSES: frozenset[str] = frozenset({"queued", "running"})
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
#: Module states after which the module will not change again within its job.
MODULE_DONE: frozenset[str] = frozenset({"completed", "cached", "failed", "skipped", "cancelled"})
PRIORITY_RANK: dict[str, int] = {"high": 0, "normal": 1, "low": 2}


class ModuleState(msgspec.Struct, kw_only=True):
    """One module's progress inside one job."""

    module_id: str
    wave: int
    status: ModuleStatus = "pending"
    #: False when the module joined the job only because a requested module depends on it.
    requested: bool = True
    started_at: float | None = None
    finished_at: float | None = None
    duration_seconds: float | None = None
    data_points: int | None = None
    source: str | None = None
    source_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    #: The served data is an expired cache entry (a refetch failed).
    stale: bool = False
    warnings: list[str] = msgspec.field(default_factory=list)


class Job(msgspec.Struct, kw_only=True):
    """An enrichment job for one domain."""

    job_id: str
    domain: str
    status: JobStatus
    priority: Priority
    force: bool
    #: Every module the job runs, in wave order (requested ones plus dependencies that joined).
    modules: list[str]
    waves: list[int]
    created_at: float
    #: Admission order within a priority; survives restarts.
    seq: int
    module_states: dict[str, ModuleState]
    estimated_time_seconds: int = 0
    started_at: float | None = None
    completed_at: float | None = None
    batch_id: str | None = None
    retry_of: str | None = None
    message: str | None = None


class ModuleHead(msgspec.Struct, kw_only=True):
    """The part of a :class:`ModuleState` a job list shows: just its status."""

    status: ModuleStatus = "pending"


class JobHead(msgspec.Struct, kw_only=True):
    """The fields of a stored :class:`Job` that a job list shows.

    Decoding a stored job into this type skips every other field, module details included,
    so listing 100 jobs costs a fraction of decoding them whole.
    """

    job_id: str
    domain: str
    status: JobStatus
    priority: Priority
    created_at: float
    module_states: dict[str, ModuleHead]
    started_at: float | None = None
    completed_at: float | None = None
    batch_id: str | None = None


def mark_cancelled(job: Job, now: float) -> None:
    """Turn ``job`` into a cancelled record: unfinished modules cancelled, finished ones kept."""
    for state in job.module_states.values():
        if state.status in ("pending", "running"):
            state.status = "cancelled"
            state.finished_at = now
    job.status = "cancelled"
    job.completed_at = now
    done = sum(1 for s in job.module_states.values() if s.status in ("completed", "cached"))
    job.message = f"Job cancelled. {done} modules were already completed."


class CacheEntry(msgspec.Struct, kw_only=True):
    """One cached module result for one domain."""

    domain: str
    module_id: str
    data: dict[str, Any]
    data_points: int
    fetched_at: float
    ttl_seconds: int
    stale_window_seconds: int
    job_id: str
    source: str | None = None
    source_url: str | None = None
    citations: list[Citation] = msgspec.field(default_factory=list)
    #: Set when a module this one is derived from got new data after this entry was written.
    invalidated: bool = False


class CacheHead(msgspec.Struct, kw_only=True):
    """The part of a stored :class:`CacheEntry` that decides its freshness (no data)."""

    fetched_at: float
    ttl_seconds: int
    stale_window_seconds: int
    invalidated: bool = False


class ModuleOutput(msgspec.Struct, kw_only=True):
    """A module's data as one job produced or took it: results stay stable per job."""

    data: dict[str, Any]
    data_points: int
    fetched_at: float
    cached: bool = False
    stale: bool = False
    source: str | None = None
    source_url: str | None = None
    citations: list[Citation] = msgspec.field(default_factory=list)


class OutputHead(msgspec.Struct, kw_only=True):
    """The part of a stored :class:`ModuleOutput` a status read shows: whether it is stale."""

    stale: bool = False


class SkippedDomain(msgspec.Struct, kw_only=True, frozen=True):
    """A batch entry that did not become a job, and why."""

    domain: str
    reason: str
    message: str
    job_id: str | None = None


class Batch(msgspec.Struct, kw_only=True):
    """A batch of jobs started together."""

    batch_id: str
    created_at: float
    concurrency: int
    priority: Priority
    job_ids: list[str]
    skipped: list[SkippedDomain]
    total_domains: int


class IdempotencyRecord(msgspec.Struct, kw_only=True):
    """The first answer to a request carrying an ``Idempotency-Key``."""

    fingerprint: str
    status_code: int
    body: bytes
    expires_at: float


class TokenRecord(msgspec.Struct, kw_only=True):
    """An API token, known only by its SHA-256."""

    name: str
    created_at: float
