"""The OpenAPI 3.1 document, generated from the msgspec types the API decodes and encodes with.

The schemas come from ``msgspec.json.schema_components`` over the very request and response
Structs of ``_schemas.py``, so the document cannot drift from the code; this module only adds
what types cannot say: the paths, their parameters, and which statuses each one answers.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from .. import __version__
from ..casestudies import URL_PATTERN, CaseStudyInput
from ._schemas import (
    BatchRequest,
    BatchResponse,
    CacheResponse,
    CancelResponse,
    CaseStudyListResponse,
    CaseStudyView,
    ErrorResponse,
    JobCreated,
    JobListResponse,
    JobStatusResponse,
    ResultsResponse,
    RetryRequest,
    StartRequest,
)

__all__ = ["openapi_document"]

_REF: Final = "#/components/schemas/{name}"

_ERRORS: Final = {
    "400": "Malformed request: the body is not JSON, or a header is invalid",
    "401": "No token, or an unknown one",
    "404": "No such domain job, batch or case study",
    "405": "Method not allowed",
    "409": "Conflict with the current state (an active job, a used id, a reused idempotency key)",
    "413": "Request body too large",
    "422": "A well-formed request with invalid values; the message names the field",
    "429": "Too many requests from this client; retry after Retry-After seconds",
    "503": "The daemon is starting, stopping, or cannot write to its store",
}

_JOB_STATUSES: Final = ["queued", "running", "completed", "failed", "cancelled"]


def _param(
    name: str, where: str, schema: dict[str, Any], description: str, *, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": description,
        "schema": schema,
    }


#: A host name of letter-digit-hyphen labels under an alphabetic top-level label. Which names
#: are registrable (under a public suffix, not a suffix alone) JSON Schema cannot say: such a
#: name is answered 422 ``invalid_domain``.
DOMAIN_PATTERN: Final = (
    r"^(?=.{4,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_DOMAIN_SCHEMA: Final = {"type": "string", "pattern": DOMAIN_PATTERN}
_NOT_BLANK: Final = {"type": "string", "pattern": r"\S", "maxLength": 200}

_DOMAIN = _param(
    "domain",
    "path",
    _DOMAIN_SCHEMA,
    "A company domain such as costco.com (upper case and a trailing dot are normalised)",
)
_JOB_ID = _param(
    "job_id", "query", {"type": "string", "minLength": 1}, "A specific job (default: the latest)"
)
_IDEMPOTENCY = _param(
    "Idempotency-Key",
    "header",
    {"type": "string", "minLength": 1, "maxLength": 255},
    "Repeat a POST with the same key to get the first answer again instead of a second job",
)
_CASE_STUDY_ID = _param(
    "case_study_id",
    "path",
    {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"},
    "The case study's id",
)


def _limit(default: int, high: int) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": 1, "maximum": high, "default": default}
    return _param("limit", "query", schema, "Most items to return")


_OFFSET = _param(
    "offset", "query", {"type": "integer", "minimum": 0, "default": 0}, "Items to skip"
)


def _json(type_name: str | None) -> dict[str, Any]:
    schema: dict[str, Any] = (
        {"$ref": _REF.format(name=type_name)} if type_name else {"type": "object"}
    )
    return {"content": {"application/json": {"schema": schema}}}


def _operation(
    summary: str,
    ok: tuple[str, str | None],
    errors: tuple[str, ...],
    *,
    params: list[dict[str, Any]] | None = None,
    body: str | None = None,
    body_required: bool = True,
    secured: bool = True,
) -> dict[str, Any]:
    status, type_name = ok
    responses: dict[str, Any] = {
        status: {"description": "Success", **(_json(type_name) if type_name else {})}
    }
    for code in errors:
        responses[code] = {"description": _ERRORS[code], **_json("ErrorResponse")}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": body_required, **_json(body)}
    if not secured:
        op["security"] = []
    return op


# Every authenticated operation can answer these.
_COMMON = ("401", "429", "503")


def _metrics_operation() -> dict[str, Any]:
    """``GET /metrics``: Prometheus's text format rather than JSON, behind the same token."""
    op = _operation(
        "Prometheus metrics: jobs, modules, sources, cache, store (docs/operations.md)",
        ("200", None),
        ("401", "429"),
    )
    op["responses"]["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    return op


def _paths() -> dict[str, Any]:
    enrich = "/api/v1/enrich"
    cases = "/api/v1/case-studies"
    status_enum = {"type": "string", "enum": _JOB_STATUSES}
    return {
        "/livez": {
            "get": _operation(
                "Liveness: the process answers HTTP (no readiness, no auth)",
                ("200", None),
                (),
                secured=False,
            )
        },
        "/healthz": {
            "get": _operation(
                "Readiness, queue depth, plugins and sources",
                ("200", None),
                ("503",),
                secured=False,
            )
        },
        "/metrics": {"get": _metrics_operation()},
        enrich: {
            "get": _operation(
                "List jobs, newest first",
                ("200", "JobListResponse"),
                ("422", *_COMMON),
                params=[
                    _param("domain", "query", _DOMAIN_SCHEMA, "Only jobs for this domain"),
                    _param("status", "query", status_enum, "Only jobs in this status"),
                    _limit(50, 100),
                    _OFFSET,
                ],
            )
        },
        f"{enrich}/batch": {
            "post": _operation(
                "Start jobs for many domains",
                ("202", "BatchResponse"),
                ("400", "409", "413", "422", *_COMMON),
                params=[_IDEMPOTENCY],
                body="BatchRequest",
            )
        },
        f"{enrich}/batch/{{batch_id}}": {
            "get": _operation(
                "A batch and its jobs' progress",
                ("200", "BatchResponse"),
                ("404", *_COMMON),
                params=[_param("batch_id", "path", {"type": "string"}, "The batch id")],
            )
        },
        f"{enrich}/{{domain}}": {
            "post": _operation(
                "Start an enrichment job for one domain",
                ("202", "JobCreated"),
                ("400", "409", "413", "422", *_COMMON),
                params=[_DOMAIN, _IDEMPOTENCY],
                body="StartRequest",
                body_required=False,
            )
        },
        f"{enrich}/{{domain}}/status": {
            "get": _operation(
                "A job's progress, wave by wave",
                ("200", "JobStatusResponse"),
                ("404", "422", *_COMMON),
                params=[_DOMAIN, _JOB_ID],
            )
        },
        f"{enrich}/{{domain}}/results": {
            "get": _operation(
                "A finished job's results, module statuses and citations",
                ("200", "ResultsResponse"),
                ("404", "422", *_COMMON),
                params=[
                    _DOMAIN,
                    _JOB_ID,
                    _param(
                        "modules", "query", {"type": "string"}, "Comma-separated module ids only"
                    ),
                ],
            )
        },
        f"{enrich}/{{domain}}/cancel": {
            "post": _operation(
                "Cancel a queued or running job",
                ("200", "CancelResponse"),
                ("404", "409", "422", *_COMMON),
                params=[_DOMAIN, _JOB_ID],
            )
        },
        f"{enrich}/{{domain}}/retry": {
            "post": _operation(
                "Retry a finished job's failed modules (or all)",
                ("202", "JobCreated"),
                ("400", "404", "409", "413", "422", *_COMMON),
                params=[_DOMAIN, _IDEMPOTENCY],
                body="RetryRequest",
                body_required=False,
            )
        },
        f"{enrich}/{{domain}}/cache": {
            "get": _operation(
                "How fresh each module's cached data is",
                ("200", "CacheResponse"),
                ("422", *_COMMON),
                params=[_DOMAIN],
            )
        },
        cases: {
            "get": _operation(
                "List case studies",
                ("200", "CaseStudyListResponse"),
                ("422", *_COMMON),
                params=[
                    _param(
                        "vertical",
                        "query",
                        {"type": "string", "pattern": r"\S"},
                        "Only this vertical",
                    ),
                    _limit(100, 500),
                    _OFFSET,
                ],
            ),
            "post": _operation(
                "Add a case study",
                ("201", "CaseStudyView"),
                ("400", "409", "413", "422", *_COMMON),
                params=[_IDEMPOTENCY],
                body="CaseStudyInput",
            ),
        },
        f"{cases}/{{case_study_id}}": {
            "get": _operation(
                "One case study",
                ("200", "CaseStudyView"),
                ("404", *_COMMON),
                params=[_CASE_STUDY_ID],
            ),
            "put": _operation(
                "Replace a case study (its id cannot change: leave `id` out of the body)",
                ("200", "CaseStudyView"),
                ("400", "404", "413", "422", *_COMMON),
                params=[_CASE_STUDY_ID],
                body="CaseStudyReplacement",
            ),
            "delete": _operation(
                "Delete a case study", ("204", None), ("404", *_COMMON), params=[_CASE_STUDY_ID]
            ),
        },
    }


_TYPES: Final = (
    StartRequest,
    BatchRequest,
    RetryRequest,
    CaseStudyInput,
    ErrorResponse,
    JobCreated,
    JobStatusResponse,
    ResultsResponse,
    BatchResponse,
    CancelResponse,
    CacheResponse,
    JobListResponse,
    CaseStudyView,
    CaseStudyListResponse,
)


def _refine(components: dict[str, Any], module_ids: list[str], waves: list[int]) -> None:
    """Add the rules the types leave to validation code, where JSON Schema can state them."""
    modules = {"type": "array", "items": {"type": "string", "enum": module_ids}, "minItems": 1}
    wave_list = {"type": "array", "items": {"type": "integer", "enum": waves}, "minItems": 1}
    for name in ("StartRequest", "BatchRequest"):
        props = components[name]["properties"]
        props["modules"] = {"anyOf": [modules, {"type": "null"}]}
        props["waves"] = {"anyOf": [wave_list, {"type": "null"}]}
    batch = components["BatchRequest"]["properties"]
    batch["domains"] = {"type": "array", "items": {"type": "string"}, "minItems": 1}
    batch["concurrency"] = {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]}
    case = components["CaseStudyInput"]
    for field in ("customer", "vertical"):
        case["properties"][field] = dict(_NOT_BLANK)

    def optional(schema: dict[str, Any]) -> dict[str, Any]:
        return {"anyOf": [schema, {"type": "null"}]}

    text = {"type": "string", "maxLength": 2000}
    for field in ("sub_vertical", "use_case", "competitor_displaced", "headline_result", "quote"):
        case["properties"][field] = optional(text)
    url = {"type": "string", "pattern": URL_PATTERN}
    case["properties"]["url"] = optional({**url, "maxLength": 2000})
    case["properties"]["employee_count"] = optional(
        {"type": "integer", "minimum": 0, "maximum": 100_000_000}
    )
    tiers = {"type": "string", "enum": ["enterprise", "mid-market", "smb", "startup"]}
    case["properties"]["size_tier"] = {"anyOf": [tiers, {"type": "null"}]}
    case["properties"]["id"] = {
        "anyOf": [
            {"type": "string", "pattern": _CASE_STUDY_ID["schema"]["pattern"]},
            {"type": "null"},
        ]
    }
    replacement = {
        **case,
        "title": "CaseStudyReplacement",
        "properties": {k: v for k, v in case["properties"].items() if k != "id"},
    }
    components["CaseStudyReplacement"] = replacement


def openapi_document(
    module_ids: list[str] | None = None, waves: list[int] | None = None
) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document of the API, for the installed modules and waves."""
    _, components = msgspec.json.schema_components(_TYPES, ref_template=_REF)
    _refine(components, module_ids or [], waves or [1, 2, 3, 4])
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "enrichd Enrichment API",
            "version": __version__,
            "description": "Enrich company domains with data from many sources, in waves of "
            "modules; every error is JSON {error, message, details}.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": _paths(),
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `enrichd token create NAME`",
                }
            },
        },
    }
