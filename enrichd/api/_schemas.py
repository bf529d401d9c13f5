"""Request and response types of the REST API.

The API decodes requests with these types (unknown fields and wrong types become 422 for free) and
encodes responses with them, so an OpenAPI document generated from them cannot drift from the code.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from ..casestudies import CaseStudyInput
from ..plugins._types import Priority, SizeTier

#: Body of ``POST /api/v1/case-studies`` and ``PUT /api/v1/case-studies/{id}``: defined with the
#: case-study rules (``enrichd/casestudies.py``), which the import files share.
CaseStudyRequest = CaseStudyInput


class StartRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/enrich/{domain}``."""

    modules: list[str] | None = None
    waves: list[int] | None = None
    force: bool = False
    priority: Priority = "normal"


class BatchRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/enrich/batch``."""

    domains: list[str]
    modules: list[str] | None = None
    waves: list[int] | None = None
    force: bool = False
    priority: Priority = "normal"
    concurrency: int | None = None


class RetryRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/enrich/{domain}/retry``."""

    failed_modules_only: bool = True


class ErrorResponse(msgspec.Struct, kw_only=True):
    """Every error: a machine code, a message saying what to fix, and optional details."""

    error: str
    message: str
    details: Any = None


class JobCreated(msgspec.Struct, kw_only=True):
    """A job that was just started (or retried)."""

    job_id: str
    domain: str
    status: str
    modules: list[str]
    waves: list[int]
    priority: Priority
    force: bool
    estimated_time_seconds: int
    created_at: str
    requested_modules: list[str]
    retry_of: str | None = None


class ModuleStatusView(msgspec.Struct, kw_only=True):
    """One module inside a wave of the status response."""

    module_id: str
    status: str
    duration_seconds: float | None
    data_points_collected: int | None
    source: str | None = None
    source_url: str | None = None
    cached: bool = False
    stale: bool = False
    error: str | None = None
    message: str | None = None


class WaveView(msgspec.Struct, kw_only=True):
    """One wave of the status response."""

    wave_number: int
    status: str
    modules: list[ModuleStatusView]
    started_at: str | None
    completed_at: str | None


class ErrorItem(msgspec.Struct, kw_only=True):
    """A failed module in the status response."""

    module_id: str
    source: str | None
    error: str
    message: str


class JobStatusResponse(msgspec.Struct, kw_only=True):
    """``GET /api/v1/enrich/{domain}/status``."""

    job_id: str
    domain: str
    status: str
    priority: Priority
    force: bool
    progress_percent: float
    current_wave: int | None
    current_module: str | None
    modules_total: int
    modules_completed: int
    modules_failed: int
    waves: list[WaveView]
    errors: list[ErrorItem]
    created_at: str
    started_at: str | None
    completed_at: str | None
    duration_seconds: float | None
    estimated_time_seconds: int
    batch_id: str | None = None
    retry_of: str | None = None
    message: str | None = None


class ModuleResultStatus(msgspec.Struct, kw_only=True):
    """One module in ``module_statuses`` of the results response."""

    status: str
    duration_ms: int | None
    cached: bool
    data_points: int | None
    stale: bool = False
    source: str | None = None
    error: str | None = None
    message: str | None = None
    warnings: list[str] = msgspec.field(default_factory=list)


class CitationView(msgspec.Struct, kw_only=True):
    """A source citation."""

    url: str
    title: str


class ResultsResponse(msgspec.Struct, kw_only=True):
    """``GET /api/v1/enrich/{domain}/results``."""

    domain: str
    job_id: str
    status: str
    completed_at: str | None
    results: dict[str, dict[str, Any]]
    module_statuses: dict[str, ModuleResultStatus]
    cached_modules: list[str]
    failed_modules: list[str]
    source_citations: dict[str, list[CitationView]]


class BatchJobView(msgspec.Struct, kw_only=True):
    """A job in a batch response."""

    job_id: str
    domain: str
    status: str
    progress_percent: float | None = None


class SkippedView(msgspec.Struct, kw_only=True):
    """A domain a batch did not start, and why."""

    domain: str
    reason: str
    message: str
    job_id: str | None = None


class BatchResponse(msgspec.Struct, kw_only=True):
    """``POST /api/v1/enrich/batch`` and ``GET /api/v1/enrich/batch/{batch_id}``."""

    batch_id: str
    status: str
    total_domains: int
    queued_count: int
    skipped_count: int
    jobs: list[BatchJobView]
    skipped: list[SkippedView]
    estimated_time_seconds: int
    created_at: str
    concurrency: int
    progress_percent: float | None = None
    status_counts: dict[str, int] | None = None


class CancelResponse(msgspec.Struct, kw_only=True):
    """``POST /api/v1/enrich/{domain}/cancel``."""

    job_id: str
    status: str
    message: str
    modules_completed: int


class CacheModuleView(msgspec.Struct, kw_only=True):
    """One module's cache state."""

    module_id: str
    is_cached: bool
    cached_at: str | None
    freshness: Literal["fresh", "stale", "expired", "missing"]
    ttl_remaining_seconds: int | None
    ttl_seconds: int
    expires_at: str | None = None
    source: str | None = None


class CacheResponse(msgspec.Struct, kw_only=True):
    """``GET /api/v1/enrich/{domain}/cache``."""

    domain: str
    modules: list[CacheModuleView]
    overall_freshness: Literal["fresh", "stale", "expired", "missing"]
    last_enrichment: str | None
    stale_modules: list[str]


class JobSummary(msgspec.Struct, kw_only=True):
    """A job in the list response."""

    job_id: str
    domain: str
    status: str
    progress_percent: float
    modules_total: int
    modules_completed: int
    modules_failed: int
    priority: Priority
    created_at: str
    started_at: str | None
    completed_at: str | None
    batch_id: str | None = None


class JobListResponse(msgspec.Struct, kw_only=True):
    """``GET /api/v1/enrich``."""

    jobs: list[JobSummary]
    total: int
    running_count: int
    queued_count: int
    limit: int
    offset: int


class CaseStudyView(msgspec.Struct, kw_only=True):
    """A case study of the internal database."""

    id: str
    customer: str
    vertical: str
    sub_vertical: str | None
    use_case: str | None
    size_tier: SizeTier | None
    employee_count: int | None
    competitor_displaced: str | None
    headline_result: str | None
    quote: str | None
    url: str | None
    created_at: str
    updated_at: str


class CaseStudyListResponse(msgspec.Struct, kw_only=True):
    """``GET /api/v1/case-studies``."""

    case_studies: list[CaseStudyView]
    total: int
    limit: int
    offset: int
