"""Turning stored records into API responses."""

from __future__ import annotations

from collections.abc import Mapping

from .._time import iso
from ..daemon._cache import FRESHNESS_ORDER, CachePolicy, freshness, ttl_remaining
from ..daemon._records import (
    MODULE_DONE,
    Batch,
    CacheEntry,
    Job,
    JobHead,
    ModuleOutput,
    OutputHead,
)
from ..plugins._types import CaseStudy
from ._schemas import (
    BatchJobView,
    BatchResponse,
    CacheModuleView,
    CacheResponse,
    CaseStudyView,
    CitationView,
    ErrorItem,
    JobCreated,
    JobStatusResponse,
    JobSummary,
    ModuleResultStatus,
    ModuleStatusView,
    ResultsResponse,
    SkippedView,
    WaveView,
)

_OK = ("completed", "cached")


def progress(job: Job | JobHead) -> tuple[float, int, int]:
    """(percent done, modules completed or cached, modules failed)."""
    states = job.module_states.values()
    total = len(job.module_states) or 1
    done = sum(1 for s in states if s.status in MODULE_DONE)
    ok = sum(1 for s in states if s.status in _OK)
    failed = sum(1 for s in states if s.status == "failed")
    pct = 100.0 if job.status in ("completed",) else round(100.0 * done / total, 1)
    return pct, ok, failed


def job_created(job: Job) -> JobCreated:
    """The answer to a start or retry."""
    return JobCreated(
        job_id=job.job_id,
        domain=job.domain,
        status=job.status,
        modules=job.modules,
        waves=job.waves,
        priority=job.priority,
        force=job.force,
        estimated_time_seconds=job.estimated_time_seconds,
        created_at=iso(job.created_at) or "",
        requested_modules=[m for m, s in job.module_states.items() if s.requested],
        retry_of=job.retry_of,
    )


def job_status(
    job: Job, outputs: Mapping[str, ModuleOutput | OutputHead], now: float
) -> JobStatusResponse:
    """The status response: per wave, per module, and the errors."""
    waves: list[WaveView] = []
    for wave in sorted({s.wave for s in job.module_states.values()}):
        states = [s for s in job.module_states.values() if s.wave == wave]
        statuses = {s.status for s in states}
        if statuses <= MODULE_DONE:
            wave_status = (
                "failed"
                if statuses & {"failed", "skipped"}
                else ("cancelled" if "cancelled" in statuses else "completed")
            )
        elif statuses & {"running"} or statuses & MODULE_DONE:
            wave_status = "running"
        else:
            wave_status = "pending"
        starts = [s.started_at for s in states if s.started_at is not None]
        ends = [s.finished_at for s in states if s.finished_at is not None]
        waves.append(
            WaveView(
                wave_number=wave,
                status=wave_status,
                started_at=iso(min(starts)) if starts else None,
                completed_at=iso(max(ends)) if statuses <= MODULE_DONE and ends else None,
                modules=[
                    ModuleStatusView(
                        module_id=s.module_id,
                        status=s.status,
                        duration_seconds=s.duration_seconds,
                        data_points_collected=s.data_points,
                        source=s.source,
                        source_url=s.source_url,
                        cached=s.status == "cached",
                        stale=s.stale
                        or bool(outputs.get(s.module_id) and outputs[s.module_id].stale),
                        error=s.error_code,
                        message=s.error_message,
                    )
                    for s in states
                ],
            )
        )
    running = [s for s in job.module_states.values() if s.status == "running"]
    pct, ok, failed = progress(job)
    duration = None
    if job.started_at is not None:
        end = job.completed_at if job.completed_at is not None else now
        duration = round(end - job.started_at, 3)
    return JobStatusResponse(
        job_id=job.job_id,
        domain=job.domain,
        status=job.status,
        priority=job.priority,
        force=job.force,
        progress_percent=pct,
        current_wave=min(s.wave for s in running) if running else None,
        current_module=running[0].module_id if running else None,
        modules_total=len(job.module_states),
        modules_completed=ok,
        modules_failed=failed,
        waves=waves,
        errors=[
            ErrorItem(
                module_id=s.module_id,
                source=s.source,
                error=s.error_code or "failed",
                message=s.error_message or "",
            )
            for s in job.module_states.values()
            if s.status in ("failed", "skipped") and s.error_code
        ],
        created_at=iso(job.created_at) or "",
        started_at=iso(job.started_at),
        completed_at=iso(job.completed_at),
        duration_seconds=duration if job.completed_at is not None else None,
        estimated_time_seconds=job.estimated_time_seconds,
        batch_id=job.batch_id,
        retry_of=job.retry_of,
        message=job.message,
    )


def job_results(
    job: Job, outputs: dict[str, ModuleOutput], only: list[str] | None
) -> ResultsResponse:
    """The results response, optionally limited to ``only``."""
    wanted = [m for m in job.module_states if only is None or m in only]
    results = {}
    citations = {}
    statuses = {}
    for mid in wanted:
        state = job.module_states[mid]
        out = outputs.get(mid)
        if out is not None and state.status in _OK:
            results[mid] = out.data
            if out.citations:
                citations[mid] = [CitationView(url=c.url, title=c.title) for c in out.citations]
        statuses[mid] = ModuleResultStatus(
            status=state.status,
            duration_ms=int(state.duration_seconds * 1000)
            if state.duration_seconds is not None
            else None,
            cached=state.status == "cached",
            data_points=state.data_points,
            stale=state.stale or bool(out and out.stale),
            source=state.source,
            error=state.error_code,
            message=state.error_message,
            warnings=state.warnings,
        )
    return ResultsResponse(
        domain=job.domain,
        job_id=job.job_id,
        status=job.status,
        completed_at=iso(job.completed_at),
        results=results,
        module_statuses=statuses,
        cached_modules=[m for m in wanted if job.module_states[m].status == "cached"],
        failed_modules=[m for m in wanted if job.module_states[m].status == "failed"],
        source_citations=citations,
    )


def cache_view(
    domain: str,
    modules: list[str],
    entries: dict[str, CacheEntry],
    policy: CachePolicy,
    now: float,
) -> CacheResponse:
    """Freshness of every module for a domain."""
    views: list[CacheModuleView] = []
    worst: str | None = None
    last: float | None = None
    stale: list[str] = []
    for mid in modules:
        entry = entries.get(mid)
        state = freshness(entry, now)
        if entry is not None:
            if worst is None or FRESHNESS_ORDER[state] < FRESHNESS_ORDER[worst]:
                worst = state
            last = entry.fetched_at if last is None else max(last, entry.fetched_at)
            if state in ("stale", "expired"):
                stale.append(mid)
        views.append(
            CacheModuleView(
                module_id=mid,
                is_cached=entry is not None,
                cached_at=iso(entry.fetched_at) if entry else None,
                freshness=state,
                ttl_remaining_seconds=ttl_remaining(entry, now) if entry else None,
                ttl_seconds=entry.ttl_seconds if entry else policy.ttl[mid],
                expires_at=iso(entry.fetched_at + entry.ttl_seconds) if entry else None,
                source=entry.source if entry else None,
            )
        )
    return CacheResponse(
        domain=domain,
        modules=views,
        overall_freshness=worst or "missing",  # type: ignore[arg-type]
        last_enrichment=iso(last),
        stale_modules=stale,
    )


def job_summary(job: Job | JobHead) -> JobSummary:
    """A job in the list response."""
    pct, ok, failed = progress(job)
    return JobSummary(
        job_id=job.job_id,
        domain=job.domain,
        status=job.status,
        progress_percent=pct,
        modules_total=len(job.module_states),
        modules_completed=ok,
        modules_failed=failed,
        priority=job.priority,
        created_at=iso(job.created_at) or "",
        started_at=iso(job.started_at),
        completed_at=iso(job.completed_at),
        batch_id=job.batch_id,
    )


def batch_view(batch: Batch, jobs: list[Job], estimate: int, *, detailed: bool) -> BatchResponse:
    """A batch with its jobs; ``detailed`` adds progress for ``GET .../batch/{id}``."""
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.status] = counts.get(job.status, 0) + 1
    if not jobs:
        status = "completed"
    elif counts.get("running"):
        status = "running"
    elif counts.get("queued"):
        status = "queued" if len(counts) == 1 else "running"
    elif counts.get("failed"):
        status = "failed"
    elif counts.get("cancelled") == len(jobs):
        status = "cancelled"
    else:
        status = "completed"
    pct = None
    if detailed and jobs:
        pct = round(sum(progress(j)[0] for j in jobs) / len(jobs), 1)
    return BatchResponse(
        batch_id=batch.batch_id,
        status=status,
        total_domains=batch.total_domains,
        queued_count=len(batch.job_ids),
        skipped_count=len(batch.skipped),
        jobs=[
            BatchJobView(
                job_id=j.job_id,
                domain=j.domain,
                status=j.status,
                progress_percent=progress(j)[0] if detailed else None,
            )
            for j in jobs
        ],
        skipped=[
            SkippedView(domain=s.domain, reason=s.reason, message=s.message, job_id=s.job_id)
            for s in batch.skipped
        ],
        estimated_time_seconds=estimate,
        created_at=iso(batch.created_at) or "",
        concurrency=batch.concurrency,
        progress_percent=pct,
        status_counts=counts if detailed else None,
    )


def case_study_view(record: CaseStudy) -> CaseStudyView:
    """A stored case study as the API shows it (timestamps in ISO 8601)."""
    return CaseStudyView(
        id=record.id,
        customer=record.customer,
        vertical=record.vertical,
        sub_vertical=record.sub_vertical,
        use_case=record.use_case,
        size_tier=record.size_tier,
        employee_count=record.employee_count,
        competitor_displaced=record.competitor_displaced,
        headline_result=record.headline_result,
        quote=record.quote,
        url=record.url,
        created_at=iso(record.created_at) or "",
        updated_at=iso(record.updated_at) or "",
    )
