"""A Python client for the daemon's REST API: :class:`Client` (sync) and :class:`AsyncClient`.

Both run on httpx and share one core: module-level functions describe each call as a
:class:`_Request` (method, path, query, body, headers, answer type) and :func:`_decode` turns the
response into the API's own Structs (``enrichd.api._schemas``) or raises an
:class:`EnrichdError` subclass built from the JSON error body. The two classes only send.

>>> with Client("http://127.0.0.1:8080") as client:  # doctest: +SKIP
...     job = client.start("costco.com", waves=[1])
...     client.wait(job.domain, job.job_id)
...     results = client.results(job.domain, job.job_id)
"""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx
import msgspec
import trio

from . import __version__
from .api._schemas import (
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
from .plugins._types import Priority

__all__ = [
    "AsyncClient",
    "Client",
    "Conflict",
    "EnrichdError",
    "NotFound",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
    "WaitTimeout",
    "resolve_token",
]

T = TypeVar("T")

TOKEN_ENV = "ENRICHD_API_TOKEN"
TOKEN_FILE_ENV = "ENRICHD_API_TOKEN_FILE"
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
ENRICH = "/api/v1/enrich"
CASE_STUDIES = "/api/v1/case-studies"
_USER_AGENT = f"enrichd-client/{__version__}"


# --- errors -----------------------------------------------------------------------------------


class EnrichdError(Exception):
    """An error answer of the daemon (or no answer at all).

    ``status_code`` is the HTTP status (None when the daemon never answered), ``error`` the
    API's machine code (``job_not_found``, ``invalid_domain``...), ``message`` what to fix,
    ``details`` the error's extra data and ``retry_after`` the seconds to wait, when given.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error: str = "error",
        details: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error = error
        self.message = message
        self.details = details
        self.retry_after = retry_after


class Unauthorized(EnrichdError):
    """401: no token, or one the daemon does not accept."""


class NotFound(EnrichdError):
    """404: unknown job, batch, case study or domain without jobs."""


class Conflict(EnrichdError):
    """409: an active job for the domain, a finished job to cancel, a reused idempotency key..."""


class RateLimited(EnrichdError):
    """429: over the rate limit; ``retry_after`` says when to come back."""


class Unavailable(EnrichdError):
    """503 (the daemon is stopping), a proxy's 502/504, or no answer from the daemon at all."""


class WaitTimeout(EnrichdError, TimeoutError):
    """:meth:`Client.wait` gave up before the job reached a terminal state."""


_ERROR_CLASSES: dict[int, type[EnrichdError]] = {
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
    # A reverse proxy in front of a stopped daemon answers 502 or 504: the same situation.
    502: Unavailable,
    503: Unavailable,
    504: Unavailable,
}


# --- the shared core --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request(Generic[T]):
    """One API call: what to send, and the type its successful answer decodes to."""

    method: str
    path: str
    answer: type[T]
    params: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Statuses whose body is the answer (``/healthz`` answers its document with 503 too).
    ok: frozenset[int] = frozenset(range(200, 300))


def _quote(segment: str) -> str:
    """``segment`` as one path segment: "/" and every other reserved character escaped."""
    return urllib.parse.quote(segment, safe="")


def _params(**values: Any) -> dict[str, str]:
    """Query parameters without the ones left out (None)."""
    return {k: str(v) for k, v in values.items() if v is not None}


def _idempotency(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key is not None else {}


def _json(body: Any) -> bytes:
    return msgspec.json.encode(body)


def _start(
    domain: str,
    modules: Sequence[str] | None,
    waves: Sequence[int] | None,
    force: bool,
    priority: Priority,
    idempotency_key: str | None,
) -> _Request[JobCreated]:
    body = StartRequest(
        modules=list(modules) if modules is not None else None,
        waves=list(waves) if waves is not None else None,
        force=force,
        priority=priority,
    )
    return _Request(
        "POST",
        f"{ENRICH}/{_quote(domain)}",
        JobCreated,
        body=_json(body),
        headers=_idempotency(idempotency_key),
    )


def _batch(
    domains: Sequence[str],
    modules: Sequence[str] | None,
    waves: Sequence[int] | None,
    force: bool,
    priority: Priority,
    concurrency: int | None,
    idempotency_key: str | None,
) -> _Request[BatchResponse]:
    body = BatchRequest(
        domains=list(domains),
        modules=list(modules) if modules is not None else None,
        waves=list(waves) if waves is not None else None,
        force=force,
        priority=priority,
        concurrency=concurrency,
    )
    return _Request(
        "POST",
        f"{ENRICH}/batch",
        BatchResponse,
        body=_json(body),
        headers=_idempotency(idempotency_key),
    )


def _batch_status(batch_id: str) -> _Request[BatchResponse]:
    return _Request("GET", f"{ENRICH}/batch/{_quote(batch_id)}", BatchResponse)


def _status(domain: str, job_id: str | None) -> _Request[JobStatusResponse]:
    return _Request(
        "GET", f"{ENRICH}/{_quote(domain)}/status", JobStatusResponse, _params(job_id=job_id)
    )


def _results(
    domain: str, job_id: str | None, modules: Sequence[str] | None
) -> _Request[ResultsResponse]:
    only = ",".join(modules) if modules is not None else None
    return _Request(
        "GET",
        f"{ENRICH}/{_quote(domain)}/results",
        ResultsResponse,
        _params(job_id=job_id, modules=only),
    )


def _cancel(domain: str, job_id: str | None) -> _Request[CancelResponse]:
    return _Request(
        "POST", f"{ENRICH}/{_quote(domain)}/cancel", CancelResponse, _params(job_id=job_id)
    )


def _retry(
    domain: str, failed_modules_only: bool, idempotency_key: str | None
) -> _Request[JobCreated]:
    return _Request(
        "POST",
        f"{ENRICH}/{_quote(domain)}/retry",
        JobCreated,
        body=_json(RetryRequest(failed_modules_only=failed_modules_only)),
        headers=_idempotency(idempotency_key),
    )


def _cache(domain: str) -> _Request[CacheResponse]:
    return _Request("GET", f"{ENRICH}/{_quote(domain)}/cache", CacheResponse)


def _jobs(
    domain: str | None, status: str | None, limit: int, offset: int
) -> _Request[JobListResponse]:
    params = _params(domain=domain, status=status, limit=limit, offset=offset)
    return _Request("GET", ENRICH, JobListResponse, params)


def _health() -> _Request[dict[str, Any]]:
    return _Request("GET", "/healthz", dict, ok=frozenset({200, 503}))


def _list_case_studies(
    vertical: str | None, limit: int, offset: int
) -> _Request[CaseStudyListResponse]:
    params = _params(vertical=vertical, limit=limit, offset=offset)
    return _Request("GET", CASE_STUDIES, CaseStudyListResponse, params)


def _create_case_study(
    record: Mapping[str, Any], idempotency_key: str | None
) -> _Request[CaseStudyView]:
    return _Request(
        "POST",
        CASE_STUDIES,
        CaseStudyView,
        body=_json(dict(record)),
        headers=_idempotency(idempotency_key),
    )


def _get_case_study(case_study_id: str) -> _Request[CaseStudyView]:
    return _Request("GET", f"{CASE_STUDIES}/{_quote(case_study_id)}", CaseStudyView)


def _replace_case_study(case_study_id: str, record: Mapping[str, Any]) -> _Request[CaseStudyView]:
    return _Request(
        "PUT", f"{CASE_STUDIES}/{_quote(case_study_id)}", CaseStudyView, body=_json(dict(record))
    )


def _delete_case_study(case_study_id: str) -> _Request[None]:
    return _Request("DELETE", f"{CASE_STUDIES}/{_quote(case_study_id)}", type(None))


def _decode(response: httpx.Response, answer: type[T], ok: frozenset[int] | None = None) -> T:
    """The answer in ``response`` as ``answer``; an error answer raises :class:`EnrichdError`."""
    if response.status_code not in (ok if ok is not None else range(200, 300)):
        raise _error(response)
    if answer is type(None):
        return None
    try:
        return msgspec.json.decode(response.content, type=answer)
    except msgspec.DecodeError as exc:
        # A daemon of another version, or something else answering on that port.
        raise EnrichdError(
            f"unexpected answer from {response.request.method} {response.request.url}: {exc}",
            status_code=response.status_code,
            error="malformed_response",
        ) from None


def _error(response: httpx.Response) -> EnrichdError:
    """The exception for an error answer, from the API's ``{"error", "message", "details"}``."""
    status = response.status_code
    cls = _ERROR_CLASSES.get(status, EnrichdError)
    try:
        body = msgspec.json.decode(response.content, type=ErrorResponse)
    except msgspec.DecodeError:
        # Not the daemon's error shape: typically a reverse proxy's HTML page.
        text = response.text.strip()[:200]
        return cls(
            f"HTTP {status} from {response.request.method} {response.request.url}"
            + (f": {text}" if text else ""),
            status_code=status,
            error=f"http_{status}",
            retry_after=_retry_after(response, None),
        )
    return cls(
        body.message,
        status_code=status,
        error=body.error,
        details=body.details,
        retry_after=_retry_after(response, body.details),
    )


def _retry_after(response: httpx.Response, details: Any) -> float | None:
    """Seconds to wait, from ``Retry-After`` (delta-seconds) or ``details.retry_after``."""
    header = response.headers.get("Retry-After")
    if header is not None:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass  # an HTTP date: the daemon never sends one, so fall back to the body
    if isinstance(details, dict) and isinstance(details.get("retry_after"), int | float):
        return float(details["retry_after"])
    return None


def _unreachable(base_url: str, exc: httpx.TransportError) -> Unavailable:
    if isinstance(exc, httpx.TimeoutException):
        message = f"daemon at {base_url} did not answer in time ({type(exc).__name__})"
        return Unavailable(message, error="timeout")
    return Unavailable(f"daemon unreachable at {base_url}: {exc}", error="unreachable")


def resolve_token(
    token: str | None = None, *, token_file: str | os.PathLike[str] | None = None
) -> str | None:
    """The API token: ``token``, else the content of ``token_file`` (stripped), else
    ``$ENRICHD_API_TOKEN``, else ``$ENRICHD_API_TOKEN_FILE``'s content (stripped), else None
    (then only ``/healthz`` answers)."""
    if token:
        return token
    if token_file is not None:
        return _read_token_file(str(token_file), None)
    if value := os.environ.get(TOKEN_ENV, "").strip():
        return value
    path = os.environ.get(TOKEN_FILE_ENV, "").strip()
    if not path:
        return None
    return _read_token_file(path, f"${TOKEN_FILE_ENV}")


def _read_token_file(path: str, origin: str | None) -> str:
    """The stripped content of the token file ``path``; errors name ``origin`` (the variable
    that named the file), if any."""
    where = f"{path} ({origin})" if origin else path
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise EnrichdError(
            f"cannot read the API token file {where}: {exc.strerror or exc}",
            error="token_file_unreadable",
        ) from None
    if not value:
        raise EnrichdError(f"the API token file {where} is empty", error="token_file_empty")
    return value


def _client_options(base_url: str, token: str | None, timeout: float) -> dict[str, Any]:
    """The httpx client settings both clients share."""
    headers = {"User-Agent": _USER_AGENT, "Accept": "application/json"}
    if (resolved := resolve_token(token)) is not None:
        headers["Authorization"] = f"Bearer {resolved}"
    return {"base_url": base_url, "headers": headers, "timeout": httpx.Timeout(timeout)}


def _build(client: httpx.Client | httpx.AsyncClient, request: _Request[Any]) -> httpx.Request:
    headers = dict(request.headers)
    if request.body is not None:
        headers["Content-Type"] = "application/json"
    return client.build_request(
        request.method,
        request.path,
        params=request.params or None,
        content=request.body,
        headers=headers,
    )


class _Waiter:
    """When :meth:`Client.wait` polls again, shared by both clients: they bring the clock."""

    def __init__(
        self, domain: str, job_id: str, poll: float, timeout: float | None, now: float
    ) -> None:
        self.domain, self.job_id, self.poll = domain, job_id, poll
        self.deadline = None if timeout is None else now + timeout

    def next_delay(self, status: JobStatusResponse, now: float) -> float | None:
        """None once ``status`` is terminal, else how long to sleep before the next poll."""
        if status.status in TERMINAL_STATUSES:
            return None
        if self.deadline is None:
            return self.poll
        remaining = self.deadline - now
        if remaining <= 0:
            raise WaitTimeout(
                f"job {self.job_id} of {self.domain} is still {status.status} "
                f"({status.progress_percent:.0f}%)",
                error="wait_timeout",
                details={"job_id": self.job_id, "status": status.status},
            )
        return min(self.poll, remaining)


# --- the clients ------------------------------------------------------------------------------


class Client:
    """The daemon's API over a synchronous :class:`httpx.Client`.

    ``token`` defaults to ``$ENRICHD_API_TOKEN``, then to the content of the file named by
    ``$ENRICHD_API_TOKEN_FILE``. ``transport`` replaces httpx's (tests, Unix sockets). Use it as
    a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self._http = httpx.Client(transport=transport, **_client_options(base_url, token, timeout))

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def _send(self, request: _Request[T]) -> T:
        try:
            response = self._http.send(_build(self._http, request))
        except httpx.TransportError as exc:
            raise _unreachable(self.base_url, exc) from exc
        return _decode(response, request.answer, request.ok)

    def start(
        self,
        domain: str,
        *,
        modules: Sequence[str] | None = None,
        waves: Sequence[int] | None = None,
        force: bool = False,
        priority: Priority = "normal",
        idempotency_key: str | None = None,
    ) -> JobCreated:
        """Start enriching ``domain`` (every module unless ``modules``/``waves`` select some)."""
        return self._send(_start(domain, modules, waves, force, priority, idempotency_key))

    def batch(
        self,
        domains: Sequence[str],
        *,
        modules: Sequence[str] | None = None,
        waves: Sequence[int] | None = None,
        force: bool = False,
        priority: Priority = "normal",
        concurrency: int | None = None,
        idempotency_key: str | None = None,
    ) -> BatchResponse:
        """Start one job per domain; invalid or busy domains come back in ``skipped``."""
        return self._send(
            _batch(domains, modules, waves, force, priority, concurrency, idempotency_key)
        )

    def batch_status(self, batch_id: str) -> BatchResponse:
        """A batch with each job's status and progress."""
        return self._send(_batch_status(batch_id))

    def status(self, domain: str, job_id: str | None = None) -> JobStatusResponse:
        """The status of job ``job_id`` of ``domain`` (default: its latest job)."""
        return self._send(_status(domain, job_id))

    def results(
        self, domain: str, job_id: str | None = None, modules: Sequence[str] | None = None
    ) -> ResultsResponse:
        """The results of a finished job (default: the latest), optionally only ``modules``."""
        return self._send(_results(domain, job_id, modules))

    def cancel(self, domain: str, job_id: str | None = None) -> CancelResponse:
        """Cancel the active job of ``domain`` (or ``job_id``)."""
        return self._send(_cancel(domain, job_id))

    def retry(
        self, domain: str, failed_modules_only: bool = True, *, idempotency_key: str | None = None
    ) -> JobCreated:
        """Start a new job re-running the latest job's failed modules (or all of them)."""
        return self._send(_retry(domain, failed_modules_only, idempotency_key))

    def cache(self, domain: str) -> CacheResponse:
        """Each module's cache entry for ``domain`` and its freshness."""
        return self._send(_cache(domain))

    def jobs(
        self,
        domain: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> JobListResponse:
        """Jobs, newest first, optionally of one domain and/or in one status."""
        return self._send(_jobs(domain, status, limit, offset))

    def health(self) -> dict[str, Any]:
        """``GET /healthz`` (no token needed); ``status`` is ``ok``, ``starting`` or ``stopping``.

        A daemon that is starting or stopping answers 503 with this same document, which is
        returned rather than raised; only a daemon that does not answer raises
        :class:`Unavailable`.
        """
        return self._send(_health())

    def wait(
        self,
        domain: str,
        job_id: str,
        *,
        poll: float = 1.0,
        timeout: float | None = None,
        on_status: Callable[[JobStatusResponse], object] | None = None,
    ) -> JobStatusResponse:
        """Poll the job's status every ``poll`` seconds until it is completed, failed or
        cancelled, and return that status; :class:`WaitTimeout` after ``timeout`` seconds.
        ``on_status`` is called with every status polled (progress displays), the last too."""
        waiter = _Waiter(domain, job_id, poll, timeout, time.monotonic())
        while True:
            status = self.status(domain, job_id)
            if on_status is not None:
                on_status(status)
            delay = waiter.next_delay(status, time.monotonic())
            if delay is None:
                return status
            time.sleep(delay)

    def list_case_studies(
        self, vertical: str | None = None, limit: int = 100, offset: int = 0
    ) -> CaseStudyListResponse:
        """Case studies sorted by customer, optionally of one ``vertical``."""
        return self._send(_list_case_studies(vertical, limit, offset))

    def create_case_study(
        self, record: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> CaseStudyView:
        """Add a case study (``customer`` and ``vertical`` required; ``id`` optional)."""
        return self._send(_create_case_study(record, idempotency_key))

    def get_case_study(self, case_study_id: str) -> CaseStudyView:
        """One case study."""
        return self._send(_get_case_study(case_study_id))

    def replace_case_study(self, case_study_id: str, record: Mapping[str, Any]) -> CaseStudyView:
        """Replace a case study entirely: fields left out become null."""
        return self._send(_replace_case_study(case_study_id, record))

    def delete_case_study(self, case_study_id: str) -> None:
        """Delete a case study."""
        self._send(_delete_case_study(case_study_id))


class AsyncClient:
    """The daemon's API over :class:`httpx.AsyncClient`; the methods of :class:`Client`, awaited.

    ``sleep`` and ``clock`` (used by :meth:`wait` only) default to trio's; pass
    ``asyncio.sleep`` and ``loop.time`` (or anyio's) to use it under another event loop.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[object]] = trio.sleep,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self.base_url = base_url
        self._http = httpx.AsyncClient(
            transport=transport, **_client_options(base_url, token, timeout)
        )
        self._sleep = sleep
        self._clock = clock

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def _send(self, request: _Request[T]) -> T:
        try:
            response = await self._http.send(_build(self._http, request))
        except httpx.TransportError as exc:
            raise _unreachable(self.base_url, exc) from exc
        return _decode(response, request.answer, request.ok)

    async def start(
        self,
        domain: str,
        *,
        modules: Sequence[str] | None = None,
        waves: Sequence[int] | None = None,
        force: bool = False,
        priority: Priority = "normal",
        idempotency_key: str | None = None,
    ) -> JobCreated:
        """See :meth:`Client.start`."""
        return await self._send(_start(domain, modules, waves, force, priority, idempotency_key))

    async def batch(
        self,
        domains: Sequence[str],
        *,
        modules: Sequence[str] | None = None,
        waves: Sequence[int] | None = None,
        force: bool = False,
        priority: Priority = "normal",
        concurrency: int | None = None,
        idempotency_key: str | None = None,
    ) -> BatchResponse:
        """See :meth:`Client.batch`."""
        return await self._send(
            _batch(domains, modules, waves, force, priority, concurrency, idempotency_key)
        )

    async def batch_status(self, batch_id: str) -> BatchResponse:
        """See :meth:`Client.batch_status`."""
        return await self._send(_batch_status(batch_id))

    async def status(self, domain: str, job_id: str | None = None) -> JobStatusResponse:
        """See :meth:`Client.status`."""
        return await self._send(_status(domain, job_id))

    async def results(
        self, domain: str, job_id: str | None = None, modules: Sequence[str] | None = None
    ) -> ResultsResponse:
        """See :meth:`Client.results`."""
        return await self._send(_results(domain, job_id, modules))

    async def cancel(self, domain: str, job_id: str | None = None) -> CancelResponse:
        """See :meth:`Client.cancel`."""
        return await self._send(_cancel(domain, job_id))

    async def retry(
        self, domain: str, failed_modules_only: bool = True, *, idempotency_key: str | None = None
    ) -> JobCreated:
        """See :meth:`Client.retry`."""
        return await self._send(_retry(domain, failed_modules_only, idempotency_key))

    async def cache(self, domain: str) -> CacheResponse:
        """See :meth:`Client.cache`."""
        return await self._send(_cache(domain))

    async def jobs(
        self,
        domain: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> JobListResponse:
        """See :meth:`Client.jobs`."""
        return await self._send(_jobs(domain, status, limit, offset))

    async def health(self) -> dict[str, Any]:
        """See :meth:`Client.health`."""
        return await self._send(_health())

    async def wait(
        self,
        domain: str,
        job_id: str,
        *,
        poll: float = 1.0,
        # Same signature as Client.wait, and trio.fail_after would tie the client to trio.
        timeout: float | None = None,  # noqa: ASYNC109
        on_status: Callable[[JobStatusResponse], object] | None = None,
    ) -> JobStatusResponse:
        """See :meth:`Client.wait` (sleeps with the client's ``sleep``)."""
        waiter = _Waiter(domain, job_id, poll, timeout, self._clock())
        while True:
            status = await self.status(domain, job_id)
            if on_status is not None:
                on_status(status)
            delay = waiter.next_delay(status, self._clock())
            if delay is None:
                return status
            await self._sleep(delay)

    async def list_case_studies(
        self, vertical: str | None = None, limit: int = 100, offset: int = 0
    ) -> CaseStudyListResponse:
        """See :meth:`Client.list_case_studies`."""
        return await self._send(_list_case_studies(vertical, limit, offset))

    async def create_case_study(
        self, record: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> CaseStudyView:
        """See :meth:`Client.create_case_study`."""
        return await self._send(_create_case_study(record, idempotency_key))

    async def get_case_study(self, case_study_id: str) -> CaseStudyView:
        """See :meth:`Client.get_case_study`."""
        return await self._send(_get_case_study(case_study_id))

    async def replace_case_study(
        self, case_study_id: str, record: Mapping[str, Any]
    ) -> CaseStudyView:
        """See :meth:`Client.replace_case_study`."""
        return await self._send(_replace_case_study(case_study_id, record))

    async def delete_case_study(self, case_study_id: str) -> None:
        """See :meth:`Client.delete_case_study`."""
        await self._send(_delete_case_study(case_study_id))
