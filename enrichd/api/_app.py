"""The Quart-Trio application: the Enrichment API's routes over the engine."""

from __future__ import annotations

import hashlib
import importlib.resources
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
import trio
from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ..casestudies import CaseStudyInvalid, validate
from ..daemon._engine import Engine, JobRequest
from ..daemon._errors import Conflict, EngineError, Invalid, NotFound, Unavailable
from ..daemon._metrics import CONTENT_TYPE_LATEST
from ..daemon._records import IdempotencyRecord, Job
from ..daemon._store import DeleteCaseStudy, PutCaseStudy, PutIdempotency
from ..domains import InvalidDomain, normalize_domain
from ..plugins._types import CaseStudy
from ._asgi import LeanHTTPConnection
from ._auth import Authenticator, hash_token
from ._openapi import openapi_document
from ._ratelimit import ClientRateLimiter, retry_after_header
from ._schemas import (
    BatchRequest,
    CancelResponse,
    CaseStudyListResponse,
    CaseStudyRequest,
    ErrorResponse,
    JobListResponse,
    RetryRequest,
    StartRequest,
)
from ._views import (
    batch_view,
    cache_view,
    case_study_view,
    job_created,
    job_results,
    job_status,
    job_summary,
)

log = logging.getLogger("enrichd.api")

T = TypeVar("T")

#: Wraps a POST's answer so that a repeated ``Idempotency-Key`` replays it (see ``create_app``).
Idempotent = Callable[[str, Callable[[], Awaitable[Response]]], Awaitable[Response]]
CASE_STUDIES = "/api/v1/case-studies"

_JOB_STATUSES = ("queued", "running", "completed", "failed", "cancelled")
_encoder = msgspec.json.Encoder()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``body`` (a Struct, dict or list) as a JSON response."""
    return Response(
        _encoder.encode(body), status=status, headers=headers, content_type="application/json"
    )


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> Response:
    """The one error shape: ``{"error": code, "message": text, "details": ...}``."""
    return json_response(
        ErrorResponse(error=code, message=message, details=details), status, headers
    )


async def _body(typ: type[T]) -> T:
    """Decode the request body as ``typ``; an empty body means all defaults."""
    raw = await request.get_data(cache=False)
    if not raw or not raw.strip():
        raw = b"{}"
    try:
        document = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        # A syntax error anywhere in the body is 400, whatever else is wrong with it.
        raise _malformed(exc) from None
    try:
        return msgspec.convert(_integral_floats_as_ints(document), typ)
    except msgspec.ValidationError as exc:
        raise Invalid("invalid_body", f"request body: {exc}") from None


def _integral_floats_as_ints(value: Any) -> Any:
    # JSON has one number type: 5.0 is the integer 5 to JSON Schema (and to the OpenAPI
    # document), so a client that writes it must not be refused; 5.5 still is, and "5" too.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    return value


def _malformed(exc: msgspec.DecodeError) -> EngineError:
    return EngineError("malformed_json", f"request body is not valid JSON: {exc}")


def _domain(raw: str) -> str:
    try:
        return normalize_domain(raw)
    except InvalidDomain as exc:
        raise Invalid("invalid_domain", str(exc)) from None


def _job_id_param() -> str | None:
    value = request.args.get("job_id")
    if value is None:
        return None
    if not value.strip():
        raise Invalid("invalid_job_id", "job_id must not be empty")
    return value


def _int_param(name: str, default: int, low: int, high: int | None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"invalid_{name}", f"{name} must be a whole number, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise Invalid(f"invalid_{name}", f"{name} must be {bound}, got {value}")
    return value


OPENAPI_PATH = "/api/v1/openapi.json"
#: Prometheus metrics: outside /api/v1 where scrapers look, but behind the token like the API.
METRICS_PATH = "/metrics"
DOCS_PATH = "/docs"
#: Paths that need no token and spend no rate-limit budget.
_PUBLIC = frozenset({"/healthz", "/livez", OPENAPI_PATH, DOCS_PATH})
_LIVE = b'{"status":"alive"}'
#: The docs page may load nothing but itself and the OpenAPI document: it must work offline.
_DOCS_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'"
)


def _has_body() -> bool:
    """Whether the current request comes with a body (declared length or chunked)."""
    length = request.headers.get("Content-Length", "0").strip()
    return (length.isdigit() and int(length) > 0) or "Transfer-Encoding" in request.headers


def _client_key(authorization: str | None) -> str:
    """Whose rate-limit bucket a request uses: its (valid) token's hash, else its peer address.

    The token is keyed by its SHA-256, as everywhere else, so no token is held in memory.
    IPv6 peers count per /64, the block one subscriber usually gets: otherwise a single client
    could rotate through its addresses to get a fresh bucket per request.
    """
    if authorization is not None:
        return "token:" + hash_token(authorization.partition(" ")[2].strip())
    # The test client (and some ASGI servers on Unix sockets) give no peer address.
    peer = request.scope.get("client")
    host = str(peer[0]) if peer else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"peer:{host}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"peer:{address.ipv4_mapped}"
        return f"peer:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"peer:{address}"


def _rate_limited(wait: float) -> Response:
    """429 for a client over its rate, with when to come back."""
    seconds = retry_after_header(wait)
    return error_response(
        429,
        "rate_limited",
        f"too many requests; retry in {seconds} s (server.rate_limit_per_second)",
        details={"retry_after": seconds},
        headers={"Retry-After": str(seconds)},
    )


def create_app(engine: Engine, auth: Authenticator) -> QuartTrio:
    """The API application bound to ``engine``."""
    app = QuartTrio("enrichd")
    app.asgi_http_class = LeanHTTPConnection
    app.config["MAX_CONTENT_LENGTH"] = engine.config.server.max_body_bytes
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = True
    # No redirects: "/enrich//costco.com" would otherwise get a 308 (an HTML body) to another
    # resource instead of the API's JSON 404.
    app.url_map.merge_slashes = False
    # In-flight idempotent requests, so a concurrent repeat waits for the first answer.
    inflight: dict[str, trio.Event] = {}

    server = engine.config.server
    limiter = (
        ClientRateLimiter(server.rate_limit_per_second, server.rate_limit_burst)
        if server.rate_limit_per_second > 0
        else None
    )

    @app.before_request
    async def _authenticate() -> Response | None:
        if request.path in _PUBLIC:
            # Monitoring must see the daemon's state even while a client floods the API, and
            # the API's description holds nothing secret.
            return None
        api = request.path.startswith("/api/") or request.path == METRICS_PATH
        header = request.headers.get("Authorization")
        authenticated = api and auth.check(header) is not None
        refusal: Response | None = None
        if limiter is not None:
            # Checked after authentication, so a valid token gets its own bucket; but before
            # answering 401, so token guessing is limited too (by the peer's bucket).
            wait = limiter.check(_client_key(header if authenticated else None))
            if wait is not None:
                refusal = _rate_limited(wait)
        if refusal is None and api and not authenticated:
            refusal = error_response(
                401,
                "unauthorized",
                "send a valid API token as 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": 'Bearer realm="enrichd"'},
            )
        return refusal

    @app.after_request
    async def _close_unread_bodies(response: Response) -> Response:
        # An error answered before the body was read (401, 429, a bad domain in the path)
        # leaves that body on the connection, and the server would wait for it to be consumed
        # before reading the next request: the client must open a new connection instead.
        if response.status_code >= 400 and _has_body():
            response.headers["Connection"] = "close"
        return response

    @app.errorhandler(EngineError)
    async def _engine_error(exc: EngineError) -> Response:
        return error_response(exc.status_code, exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    async def _http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        names = {
            404: ("not_found", f"no such endpoint: {request.method} {request.path}"),
            405: ("method_not_allowed", f"{request.method} is not allowed on {request.path}"),
            413: (
                "body_too_large",
                f"request body exceeds {engine.config.server.max_body_bytes} bytes",
            ),
        }
        name, message = names.get(code, (exc.name.lower().replace(" ", "_"), exc.description or ""))
        headers = None
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            # RFC 9110: a 405 must say which methods the resource supports.
            headers = {"Allow": ", ".join(sorted(exc.valid_methods))}
        return error_response(code, name, message, headers=headers)

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error; see the daemon's log")

    async def idempotent(kind: str, produce: Callable[[], Awaitable[Response]]) -> Response:
        """Replay the first answer for a repeated ``Idempotency-Key``."""
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return await produce()
        if not key or len(key) > 255:
            raise Invalid("invalid_idempotency_key", "Idempotency-Key must be 1-255 characters")
        body = await request.get_data(cache=True, as_text=False)
        assert isinstance(body, bytes)
        fingerprint = hashlib.sha256(f"{kind}\0{request.path}\0".encode() + body).hexdigest()
        store_key = hashlib.sha256(key.encode()).hexdigest()
        while store_key in inflight:
            await inflight[store_key].wait()
        now = engine.clock()
        record = engine.store.get_idempotency(store_key)
        if record is not None and record.expires_at > now:
            if record.fingerprint != fingerprint:
                # 409: the request conflicts with the one already stored under this key.
                raise Conflict(
                    "idempotency_key_reused",
                    "this Idempotency-Key was already used for a different request",
                )
            return Response(
                record.body,
                status=record.status_code,
                content_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        event = inflight[store_key] = trio.Event()
        try:
            response = await produce()
            # Only successes are remembered: a refused request changed nothing, and the client
            # may fix it and send it again under the same key.
            if response.status_code < 300:
                await engine.writer.write(
                    PutIdempotency(
                        store_key,
                        IdempotencyRecord(
                            fingerprint=fingerprint,
                            status_code=response.status_code,
                            body=await response.get_data(as_text=False),
                            expires_at=now + engine.config.jobs.idempotency_ttl_seconds,
                        ),
                    )
                )
            return response
        finally:
            del inflight[store_key]
            event.set()

    async def _engine_response(make: Callable[[], Awaitable[Response]]) -> Response:
        try:
            return await make()
        except EngineError as exc:
            return error_response(exc.status_code, exc.code, exc.message, exc.details)

    openapi = _encoder.encode(
        openapi_document(list(engine.registry.modules), list(engine.registry.waves))
    )

    @app.get(OPENAPI_PATH)
    async def openapi_json() -> Response:
        return Response(openapi, content_type="application/json")

    docs_page = importlib.resources.files("enrichd.api").joinpath("docs.html").read_bytes()

    @app.get(DOCS_PATH)
    async def docs() -> Response:
        """A human-readable rendering of the OpenAPI document (no external resources)."""
        return Response(
            docs_page,
            content_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": _DOCS_CSP},
        )

    @app.get("/livez")
    async def livez() -> Response:
        # Liveness only: the process serves HTTP. Nothing is read, so a probe (or a benchmark's
        # reference request) costs the framework's minimum; /healthz says whether it is ready.
        return Response(_LIVE, content_type="application/json")

    @app.get(METRICS_PATH)
    async def metrics() -> Response:
        """Prometheus metrics in the text exposition format."""
        return Response(engine.metrics.render(), content_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    async def healthz() -> Response:
        # A failed plugin is reported here, not fatal: the daemon serves the other plugins, and
        # a module's unexpected exceptions (plugin_error) are counted against its plugin.
        plugins = [
            {
                "name": p.name,
                "status": p.status,
                "error": p.error,
                "modules": p.modules,
                "runtime_errors": p.runtime_errors,
                "last_runtime_error": p.last_runtime_error,
            }
            for p in engine.registry.plugins
        ]
        return json_response(
            {
                "status": (
                    "stopping" if engine.stopping else "ok" if engine.ready.is_set() else "starting"
                ),
                "queued": engine.scheduler.queue_depth,
                "running": engine.scheduler.running_count,
                "plugins": plugins,
                "sources": {
                    name: {
                        "configured": actor.configured,
                        # Why a source is unusable (no key, disabled, key refused upstream).
                        "why": actor.why_not_configured() or None,
                        "circuit": actor.circuit.state(trio.current_time()),
                    }
                    for name, actor in engine.sources.items()
                },
            },
            200 if engine.ready.is_set() and not engine.stopping else 503,
        )

    @app.get("/api/v1/enrich")
    async def list_jobs() -> Response:
        domain_raw = request.args.get("domain")
        domain = _domain(domain_raw) if domain_raw is not None else None
        status = request.args.get("status")
        if status is not None and status not in _JOB_STATUSES:
            raise Invalid(
                "invalid_status",
                f"status must be one of {', '.join(_JOB_STATUSES)}, got {status!r}",
            )
        limit = _int_param("limit", 50, 1, 100)
        offset = _int_param("offset", 0, 0, None)
        jobs, total = engine.store.list_job_heads(
            domain=domain, status=status, limit=limit, offset=offset
        )
        return json_response(
            JobListResponse(
                jobs=[job_summary(j) for j in jobs],
                total=total,
                running_count=engine.store.count_status("running", domain=domain),
                queued_count=engine.store.count_status("queued", domain=domain),
                limit=limit,
                offset=offset,
            )
        )

    @app.post("/api/v1/enrich/batch")
    async def start_batch() -> Response:
        async def produce() -> Response:
            async def make() -> Response:
                body = await _body(BatchRequest)
                limit = engine.config.jobs.max_batch_domains
                if not body.domains:
                    raise Invalid("empty_batch", "domains must list at least one domain")
                if len(body.domains) > limit:
                    raise Invalid(
                        "batch_too_large",
                        f"a batch holds at most {limit} domains (jobs.max_batch_domains); "
                        f"got {len(body.domains)}: split it",
                    )
                concurrency = (
                    body.concurrency
                    if body.concurrency is not None
                    else engine.config.jobs.default_batch_concurrency
                )
                cap = engine.config.jobs.max_batch_concurrency
                if not 1 <= concurrency <= cap:
                    raise Invalid("invalid_concurrency", f"concurrency must be between 1 and {cap}")
                entries: list[tuple[str, str | None, str | None]] = []
                for raw in body.domains:
                    try:
                        entries.append((raw, normalize_domain(raw), None))
                    except InvalidDomain as exc:
                        entries.append((raw, None, str(exc)))
                request_ = JobRequest(
                    modules=body.modules,
                    waves=body.waves,
                    force=body.force,
                    priority=body.priority,
                )
                batch, jobs = await engine.start_batch(entries, request_, concurrency)
                estimate = engine.batch_estimate_seconds(jobs, concurrency, body.priority)
                return json_response(batch_view(batch, jobs, estimate, detailed=False), 202)

            return await _engine_response(make)

        return await idempotent("batch", produce)

    @app.get("/api/v1/enrich/batch/<batch_id>")
    async def get_batch(batch_id: str) -> Response:
        batch = engine.store.get_batch(batch_id)
        if batch is None:
            raise NotFound("batch_not_found", f"no batch {batch_id!r}")
        jobs = [j for j in (engine.store.get_job(i) for i in batch.job_ids) if j is not None]
        remaining = [j for j in jobs if j.status in ("queued", "running")]
        estimate = engine.batch_estimate_seconds(remaining, batch.concurrency, batch.priority)
        return json_response(batch_view(batch, jobs, estimate, detailed=True))

    @app.post("/api/v1/enrich/<domain>")
    async def start(domain: str) -> Response:
        async def produce() -> Response:
            async def make() -> Response:
                name = _domain(domain)
                body = await _body(StartRequest)
                job = await engine.start_job(
                    name,
                    JobRequest(
                        modules=body.modules,
                        waves=body.waves,
                        force=body.force,
                        priority=body.priority,
                    ),
                )
                return json_response(job_created(job), 202)

            return await _engine_response(make)

        return await idempotent("start", produce)

    def _find(domain: str, *, finished_only: bool = False) -> Job:
        return engine.find_job(_domain(domain), _job_id_param(), finished_only=finished_only)

    @app.get("/api/v1/enrich/<domain>/status")
    async def status(domain: str) -> Response:
        job = _find(domain)
        return json_response(job_status(job, engine.store.output_heads(job.job_id), engine.clock()))

    @app.get("/api/v1/enrich/<domain>/results")
    async def results(domain: str) -> Response:
        job = _find(domain, finished_only=True)
        only = None
        raw = request.args.get("modules")
        if raw is not None:
            only = [m.strip() for m in raw.split(",") if m.strip()]
            unknown = [m for m in only if m not in engine.registry.modules]
            if unknown or not only:
                raise Invalid(
                    "unknown_module",
                    f"unknown module id(s): {', '.join(unknown) or '(none given)'}; valid ids: "
                    + ", ".join(engine.registry.modules),
                )
        return json_response(job_results(job, engine.store.outputs(job.job_id), only))

    @app.post("/api/v1/enrich/<domain>/cancel")
    async def cancel(domain: str) -> Response:
        name = _domain(domain)
        job = await engine.cancel(name, _job_id_param())
        done = sum(1 for s in job.module_states.values() if s.status in ("completed", "cached"))
        return json_response(
            CancelResponse(
                job_id=job.job_id,
                status=job.status,
                message=job.message or f"Job cancelled. {done} modules were already completed.",
                modules_completed=done,
            )
        )

    @app.post("/api/v1/enrich/<domain>/retry")
    async def retry(domain: str) -> Response:
        async def produce() -> Response:
            async def make() -> Response:
                name = _domain(domain)
                body = await _body(RetryRequest)
                job = await engine.retry(name, body.failed_modules_only)
                return json_response(job_created(job), 202)

            return await _engine_response(make)

        return await idempotent("retry", produce)

    @app.get("/api/v1/enrich/<domain>/cache")
    async def cache(domain: str) -> Response:
        name = _domain(domain)
        return json_response(
            cache_view(
                name,
                list(engine.registry.modules),
                engine.store.cache_entries(name),
                engine.cache_policy,
                engine.clock(),
            )
        )

    _case_study_routes(app, engine, idempotent, _engine_response)
    return app


def _case_study_routes(
    app: QuartTrio,
    engine: Engine,
    idempotent: Idempotent,
    engine_response: Callable[[Callable[[], Awaitable[Response]]], Awaitable[Response]],
) -> None:
    """``/api/v1/case-studies``: the internal case-study database that module m13 matches."""
    # One lock for every case-study write, so "does this id exist?" and the write depending on
    # the answer (409 on create, 404 on replace or delete) see no other API write in between.
    lock = trio.Lock()

    def check_accepting() -> None:
        if engine.stopping:
            raise Unavailable("shutting_down", "the daemon is shutting down; retry shortly")

    def find(case_study_id: str) -> CaseStudy:
        record = engine.store.get_case_study(case_study_id)
        if record is None:
            raise NotFound("case_study_not_found", f"no case study {case_study_id!r}")
        return record

    def validated(body: CaseStudyRequest, existing: CaseStudy | None = None) -> CaseStudy:
        try:
            return validate(
                body,
                intel=engine.config.intel,
                now=engine.clock(),
                existing_id=existing.id if existing else None,
                created_at=existing.created_at if existing else None,
            )
        except CaseStudyInvalid as exc:
            raise Invalid(
                "invalid_case_study",
                f"invalid case study: {exc}",
                details={"errors": [{"field": e.field, "message": e.message} for e in exc.errors]},
            ) from None

    @app.get(CASE_STUDIES)
    async def list_case_studies() -> Response:
        vertical = request.args.get("vertical")
        if vertical is not None and not vertical.strip():
            raise Invalid("invalid_vertical", "vertical must not be empty")
        limit = _int_param("limit", 100, 1, 500)
        offset = _int_param("offset", 0, 0, None)
        records = engine.store.list_case_studies()
        if vertical is not None:
            wanted = vertical.strip().casefold()
            records = [r for r in records if r.vertical.casefold() == wanted]
        return json_response(
            CaseStudyListResponse(
                case_studies=[case_study_view(r) for r in records[offset : offset + limit]],
                total=len(records),
                limit=limit,
                offset=offset,
            )
        )

    @app.post(CASE_STUDIES)
    async def create_case_study() -> Response:
        async def produce() -> Response:
            async def make() -> Response:
                check_accepting()
                record = validated(await _body(CaseStudyRequest))
                async with lock:
                    if engine.store.get_case_study(record.id) is not None:
                        raise Conflict(
                            "case_study_exists",
                            f"a case study with id {record.id!r} exists; replace it with "
                            f"PUT {CASE_STUDIES}/{record.id}",
                            details={"id": record.id},
                        )
                    await engine.writer.write(PutCaseStudy(record))
                return json_response(
                    case_study_view(record),
                    201,
                    headers={"Location": f"{CASE_STUDIES}/{record.id}"},
                )

            return await engine_response(make)

        return await idempotent("case_study", produce)

    @app.get(f"{CASE_STUDIES}/<case_study_id>")
    async def get_case_study(case_study_id: str) -> Response:
        return json_response(case_study_view(find(case_study_id)))

    @app.put(f"{CASE_STUDIES}/<case_study_id>")
    async def replace_case_study(case_study_id: str) -> Response:
        check_accepting()
        find(case_study_id)
        body = await _body(CaseStudyRequest)
        if body.id is not None and body.id.strip() != case_study_id:
            raise Invalid(
                "id_mismatch",
                f"id: the body's id {body.id!r} differs from the path's {case_study_id!r} "
                "(leave it out, or send the same id; ids cannot be changed)",
                details={"field": "id"},
            )
        async with lock:
            record = validated(body, find(case_study_id))
            await engine.writer.write(PutCaseStudy(record))
        return json_response(case_study_view(record))

    @app.delete(f"{CASE_STUDIES}/<case_study_id>")
    async def delete_case_study(case_study_id: str) -> Response:
        check_accepting()
        async with lock:
            find(case_study_id)
            await engine.writer.write(DeleteCaseStudy(case_study_id))
        return Response(b"", status=204)
