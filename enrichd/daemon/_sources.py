"""Source actors: one per data source, the only code that talks HTTP to an upstream API.

Modules never hold an HTTP client. They call ``ctx.source(name).get(...)``, which puts a request
message in the source actor's priority inbox and waits for the reply. The actor's workers take the
most urgent message first, wait for the rate limiter and the daily quota, add the credentials,
send, retry what is worth retrying, and hand back a :class:`SourceResponse` or raise a
:class:`SourceError`. Because every job goes through the same actor, limits, quotas, retries and
the ``Retry-After`` pauses are shared by the whole daemon, and identical GETs in flight at the same
time become a single upstream call.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import functools
import heapq
import http.cookiejar
import itertools
import logging
import math
import random
import ssl
import time
from collections.abc import AsyncGenerator, Callable, Hashable, Iterator, Mapping
from typing import Any, Final, Literal, cast
from urllib.parse import quote, quote_plus

import httpx
import trio

from enrichd import _logging
from enrichd.config import ResolvedSource
from enrichd.daemon._circuit import CircuitBreaker
from enrichd.daemon._metrics import SourceMetrics, error_outcome, response_outcome
from enrichd.daemon._ratelimit import DailyQuota, TokenBucket
from enrichd.plugins._types import (
    Priority,
    SourceError,
    SourceNotConfigured,
    SourceResponse,
    SourceSpec,
)

log = logging.getLogger("enrichd.sources")

__all__ = [
    "DEFAULT_MAX_WAITING",
    "DEFAULT_USER_AGENT",
    "MAX_RESPONSE_BYTES",
    "SourceActor",
    "SourceActorCrashed",
    "SourceHandle",
    "parse_retry_after",
]

DEFAULT_USER_AGENT: Final = "enrichd/0.1 (+https://github.com/enrichd)"
#: The default cap on a body (a source's spec may lower or raise it): larger bodies are refused
#: (``response_too_large``) rather than held in memory.
MAX_RESPONSE_BYTES: Final = 5 * 1024 * 1024
#: How many requests may wait in one source's inbox before callers block (back-pressure).
DEFAULT_MAX_WAITING: Final = 10_000

_BACKOFF_BASE: Final = 0.5
_BACKOFF_CAP: Final = 30.0
#: A request does not wait out a Retry-After pause longer than this; it fails ``rate_limited``
#: so the module can fall back or report, instead of hogging a worker for minutes.
_MAX_PAUSE_WAIT: Final = _BACKOFF_CAP
#: Upper bound on a Retry-After pause, so one absurd header cannot silence a source for days.
_MAX_RETRY_AFTER: Final = 3600.0
#: How many 429-with-Retry-After answers one call sits out before it gives up (``rate_limited``).
_MAX_THROTTLED_ATTEMPTS: Final = 10
_EWMA_ALPHA: Final = 0.2
_REDACTED: Final = "***"

# Lower sorts first in the heap.
_RANK: Final[Mapping[Priority, int]] = {"high": 0, "normal": 1, "low": 2}

Params = Mapping[str, str | int | float]


class SourceActorCrashed(RuntimeError):
    """The actor's own machinery failed (a bug); ``run`` raises this rather than a bare group."""


class _InboxClosed(Exception):
    """The actor has stopped; nothing will take messages from its inbox any more."""


class _Call:
    """One upstream request and everyone waiting for its answer (several, when coalesced)."""

    def __init__(
        self,
        method: str,
        path: str,
        params: Params | None,
        headers: Mapping[str, str] | None,
        json: Any,
        key: Hashable | None,
    ) -> None:
        self.method = method
        self.path = path
        self.params = dict(params) if params else None
        self.headers = dict(headers) if headers else None
        self.json = json
        self.key = key
        self.rank = _RANK["low"]
        self.state: Literal["queued", "running", "done"] = "queued"
        self.waiters = 0
        self.scope: trio.CancelScope | None = None
        # An Event rather than a reply channel: setting it never blocks, so a worker can never be
        # wedged by a caller that was cancelled and stopped listening.
        self.done = trio.Event()
        self.response: SourceResponse | None = None
        self.error: Exception | None = None

    def finish(self, response: SourceResponse | None, error: Exception | None = None) -> None:
        if self.done.is_set():
            return
        self.state = "done"
        self.response = response
        self.error = error
        self.done.set()

    def outcome(self) -> SourceResponse:
        """The response, or a raise of the error (a fresh copy per caller, when possible)."""
        if self.error is not None:
            raise _fresh(self.error)
        assert self.response is not None
        return self.response


def _fresh(error: Exception) -> Exception:
    # Raising one exception object in several tasks splices their tracebacks together; a copy per
    # coalesced caller keeps each traceback about that caller.
    if type(error) is SourceError:
        copy = SourceError(
            error.source or "", error.code, error.message, status_code=error.status_code
        )
        copy.__cause__ = error.__cause__
        return copy
    return error


class _Inbox:
    """A bounded priority queue: a heap of (rank, arrival, call) plus two parking lots.

    Callers block in :meth:`wait_for_room` while ``capacity`` calls are waiting; that is the
    back-pressure the design asks for instead of an unbounded queue.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._heap: list[tuple[int, int, _Call]] = []
        self._arrival = itertools.count()
        self._not_empty = trio.lowlevel.ParkingLot()
        self._not_full = trio.lowlevel.ParkingLot()
        self._closed = False

    def __len__(self) -> int:
        return len(self._heap)

    def calls(self) -> list[_Call]:
        return [call for _, _, call in self._heap]

    async def wait_for_room(self) -> None:
        """Block while the inbox is full (always a checkpoint); raise :class:`_InboxClosed`."""
        await trio.lowlevel.checkpoint()
        # Barging is possible (a newcomer can take a slot freed for a parked caller), which only
        # reorders callers of a saturated source; it never loses a slot.
        while len(self._heap) >= self._capacity and not self._closed:
            await self._not_full.park()
        if self._closed:
            raise _InboxClosed

    def push(self, call: _Call, rank: int) -> None:
        """Queue ``call``; synchronous, so callers can check and enqueue without a checkpoint."""
        call.rank = rank
        heapq.heappush(self._heap, (rank, next(self._arrival), call))
        self._not_empty.unpark()

    async def get(self) -> _Call:
        while not self._heap:
            if self._closed:
                raise _InboxClosed
            await self._not_empty.park()
        _, _, call = heapq.heappop(self._heap)
        self._not_full.unpark()
        return call

    def discard(self, call: _Call) -> bool:
        """Remove ``call`` if it is still waiting; a linear scan, fine for a rare cancellation."""
        for i, (_, _, queued) in enumerate(self._heap):
            if queued is call:
                self._heap[i] = self._heap[-1]
                self._heap.pop()
                heapq.heapify(self._heap)
                self._not_full.unpark()
                return True
        return False

    def promote(self, call: _Call, rank: int) -> None:
        """Move a waiting ``call`` up to ``rank``, behind the calls already waiting there."""
        if rank < call.rank and self.discard(call):
            self.push(call, rank)

    def close(self) -> list[_Call]:
        """Stop accepting calls, wake everyone blocked, and return the calls left waiting."""
        self._closed = True
        left = [call for _, _, call in sorted(self._heap)]
        self._heap.clear()
        self._not_empty.unpark_all()
        self._not_full.unpark_all()
        return left


class _Attempt:
    """Why one upstream attempt failed and whether trying again could help."""

    def __init__(
        self, error: SourceError, *, retryable: bool, retry_after: float | None = None
    ) -> None:
        self.error = error
        self.retryable = retryable
        self.retry_after = retry_after


class _TooLarge(Exception):
    pass


class _ClientSlot:
    """One HTTP client of a source and how many attempts use it; a reload may replace it."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        transport: httpx.AsyncBaseTransport,
        worker_transport: Callable[[], httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        self.client = client
        #: The client's transport: attempts send through it directly (see ``SourceActor._send``).
        self.transport = transport
        # A test's MockTransport keeps the client's exact handling: its bodies may be generators
        # of the test, which the client's stream wrapper keeps alive until after the test.
        self.direct = not isinstance(transport, httpx.MockTransport)
        # What ``client.build_request`` would merge into every request, worked out once: building
        # a request is a large share of a call's CPU when the upstream answers at once.
        base = client.base_url
        # httpx keeps the base's path ending in "/", but prints an empty path as no "/" at all.
        self.base: str | None = None if base.query or base.fragment else str(base).rstrip("/") + "/"
        self.headers = httpx.Headers(client.headers)
        self.timeout = client.timeout.as_dict()
        self._worker_transport = worker_transport
        #: Each worker's own transport, made on its first call.
        self.transports: dict[int, httpx.AsyncBaseTransport] = {}
        self.users = 0
        self.retired = False
        #: Set once the slot is retired and no attempt uses it any more: time to close it.
        self.unused = trio.Event()

    def transport_for(self, worker: int) -> httpx.AsyncBaseTransport:
        """The transport ``worker`` sends through: its own, when the actor makes them.

        A worker sends one request at a time, so a pool of one connection per worker holds as
        many connections as one shared pool would. It is much cheaper: httpcore checks every
        idle connection of a pool (a ``poll`` system call each) whenever a request starts or
        ends, which with a shared pool was an eighth of the event loop's time.
        """
        if self._worker_transport is None:
            return self.transport
        transport = self.transports.get(worker)
        if transport is None:
            transport = self.transports[worker] = self._worker_transport()
        return transport

    async def aclose(self) -> None:
        """Close the client and the workers' transports."""
        try:
            await self.client.aclose()
        finally:
            for transport in self.transports.values():
                await transport.aclose()

    def release(self) -> None:
        self.users -= 1
        self._check()

    def retire(self) -> None:
        self.retired = True
        self._check()

    def _check(self) -> None:
        if self.retired and self.users == 0:
            self.unused.set()


#: Settings that take a new HTTP client (its base URL, pool size, timeout, or a transport that a
#: source's ``wrap_transport`` builds from its options).
_CLIENT_SETTINGS: Final = frozenset({"base_url", "max_concurrency", "timeout_seconds", "options"})
#: Settings whose change gives a source whose key was refused another chance.
_CREDENTIAL_SETTINGS: Final = frozenset({"api_key", "auth", "base_url"})


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), else ``None``.

    ``now`` is the wall-clock time (epoch seconds) an HTTP-date is measured against.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 HTTP-dates are always GMT; a naive result means the zone was "-0000".
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - now)


class SourceActor:
    """Owns one data source: its HTTP client, priority inbox, rate limits, retries and stats.

    Start it in the daemon's nursery with ``await nursery.start(actor.run)``; it serves requests
    until cancelled. Requests sent before it starts wait in the inbox; requests sent after it
    stopped fail with ``source_stopped``.
    """

    def __init__(
        self,
        spec: SourceSpec,
        settings: ResolvedSource,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        rng: random.Random | None = None,
        wall_clock: Callable[[], float] = time.time,
        max_waiting: int = DEFAULT_MAX_WAITING,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.name = settings.name
        #: The transport given to the constructor (``None``: httpx's own); a reload that needs a
        #: new HTTP client wraps it again with the new settings.
        self._raw_transport = transport
        self._transport = (
            spec.wrap_transport(settings, transport) if spec.wrap_transport else transport
        )
        self.state: dict[str, Any] = {}
        """Session state that modules share through :attr:`SourceHandle.state`."""
        self.key_refused: str | None = None
        """Why the upstream refused the key, once it has: the source is then disabled."""
        self._user_agent = user_agent
        self._rng = rng if rng is not None else random.Random()
        self._wall_clock = wall_clock
        self.bucket = TokenBucket(settings.rate_per_second, settings.burst)
        self.quota = DailyQuota(settings.daily_quota, now=wall_clock)
        self.circuit = CircuitBreaker(
            settings.circuit_failure_threshold, settings.circuit_reset_seconds
        )
        self._inbox = _Inbox(max_waiting)
        self._inflight: dict[Hashable, _Call] = {}
        self._client: httpx.AsyncClient | None = None
        # The HTTP client in use (a reload may replace it), the actor's nursery, and its workers
        # by index (those waiting for a call, by their cancel scope), so a reload can resize.
        self._slot: _ClientSlot | None = None
        self._nursery: trio.Nursery | None = None
        self._workers: set[int] = set()
        self._idle_workers: dict[int, trio.CancelScope] = {}
        # Keys a reload replaced: calls sent with them may still answer, and must be redacted.
        self._retired_keys: list[str] = []
        self._forms_of: tuple[str | None, ...] | None = None
        self._forms: tuple[str, ...] = ()
        self._started = False
        self._closed = False
        self.observed_latency: float | None = None
        """EWMA (alpha 0.2) of the duration of calls that got an answer, in seconds."""
        self.requests_total = 0
        """Upstream HTTP attempts sent, retries included."""
        self.errors_total = 0
        """Upstream attempts that failed: transport error, timeout, 429, 5xx, oversized body."""
        self.in_flight = 0
        """Calls a worker is handling right now."""
        self.metrics = SourceMetrics.detached(self.name)
        """Counters of attempts and rate-limit waits; the engine swaps in its registry's."""

    # -- configuration -------------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        """Whether the source can be used: enabled, with a base URL and any key it needs, and
        the upstream has not refused that key."""
        s = self.settings
        return bool(
            s.enabled
            and (s.api_key or not self.spec.requires_api_key)
            and s.base_url
            and self.key_refused is None
        )

    def refuse_key(self, message: str) -> None:
        """The upstream refused the source's credentials: stop using it until the configuration
        changes (a restart, or a reload with new settings), instead of failing every job."""
        if self.key_refused is not None:
            return
        self.key_refused = message
        log.error(
            "source %s disabled: the upstream refused its key (%s); fix [sources.%s] api_key "
            "(or ENRICHD_%s_API_KEY) and reload (SIGHUP, systemctl reload enrichd) or restart",
            self.name,
            self._redact(message),
            self.name,
            self.name.upper(),
            extra={**_logging.bound(), "event": "source.disabled", "source": self.name},
        )

    def why_not_configured(self) -> str:
        """A sentence for the user saying what is missing; empty when :attr:`configured`."""
        s = self.settings
        if self.key_refused is not None:
            return (
                f"disabled because the upstream refused its key ({self._redact(self.key_refused)});"
                f" fix [sources.{self.name}] api_key and reload or restart enrichd"
            )
        if not s.enabled:
            return f"[sources.{self.name}] enabled is false"
        if self.spec.requires_api_key and not s.api_key:
            return f"set [sources.{self.name}] api_key or ENRICHD_{self.name.upper()}_API_KEY"
        if not s.base_url:
            return f"it has no base URL: set [sources.{self.name}] base_url"
        return ""

    @property
    def queue_depth(self) -> int:
        """Requests waiting in the inbox for a worker."""
        return len(self._inbox)

    def reconfigure(self, settings: ResolvedSource) -> list[str]:
        """Apply new settings (a configuration reload); returns the names of those that changed.

        Nothing in flight is dropped: an attempt being sent finishes on the old settings (its
        client, key and timeout), queued calls and retries use the new ones. The rate limiter
        keeps its available tokens (capped at the new burst) and any Retry-After pause, the daily
        quota keeps today's count, the circuit keeps its state unless the base URL changed. A new
        key (or base URL) re-enables a source whose key the upstream refused.
        """
        old = self.settings
        changed = [
            name for name in old.__struct_fields__ if getattr(old, name) != getattr(settings, name)
        ]
        if not changed:
            return []
        if old.api_key and old.api_key != settings.api_key:
            self._retired_keys.append(old.api_key)
        self.settings = settings
        if {"rate_per_second", "burst"} & set(changed):
            self.bucket.retune(settings.rate_per_second, settings.burst)
        self.quota.limit = settings.daily_quota
        if "base_url" in changed:
            # Failures of the old upstream say nothing about the new one.
            self.circuit = CircuitBreaker(
                settings.circuit_failure_threshold, settings.circuit_reset_seconds
            )
        self.circuit.threshold = settings.circuit_failure_threshold
        self.circuit.reset_seconds = settings.circuit_reset_seconds
        if {"base_url", "options"} & set(changed):
            # Session state (Yahoo's crumb, cached lookups) belongs to the old upstream.
            self.state.clear()
        if self.key_refused is not None and _CREDENTIAL_SETTINGS & set(changed):
            self.key_refused = None
            log.info(
                "source %s enabled again: its credentials changed",
                self.name,
                extra={"event": "source.enabled", "source": self.name},
            )
        if _CLIENT_SETTINGS & set(changed):
            self._transport = (
                self.spec.wrap_transport(settings, self._raw_transport)
                if self.spec.wrap_transport
                else self._raw_transport
            )
            if self._nursery is not None:
                self._install_client()
        if self._nursery is not None:
            self._resize_workers()
        return changed

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve requests with ``max_concurrency`` workers until cancelled."""
        if self._started:
            raise RuntimeError(f"source actor {self.name!r} can only run once")
        self._started = True
        try:
            try:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    self._install_client()
                    self._resize_workers()
                    task_status.started()
            except BaseExceptionGroup as group:
                crashed, _ = group.split(Exception)
                if crashed is None:
                    raise  # only cancellation: let the scope that cancelled us catch it
                raise SourceActorCrashed(f"source actor {self.name!r} crashed") from group
        finally:
            self._nursery = None
            self._slot = None
            self._client = None
            self._closed = True
            for call in self._inbox.close():
                call.finish(None, self._stopped_error())
            self._inflight.clear()

    def _stopped_error(self) -> SourceError:
        return SourceError(self.name, "source_stopped", f"source {self.name!r} has stopped")

    def _new_client(
        self,
    ) -> tuple[
        httpx.AsyncClient, httpx.AsyncBaseTransport, Callable[[], httpx.AsyncBaseTransport] | None
    ]:
        """A client for the current settings, the transport it sends through, and (without a
        transport given to the constructor) what makes each worker's own transport."""
        limits = httpx.Limits(
            max_connections=max(1, self.settings.max_concurrency),
            max_keepalive_connections=max(1, self.settings.max_concurrency),
        )
        transport = self._transport
        if transport is None:
            # What the client would build, with one TLS context for every source's pool: loading
            # the CA bundle takes 15 ms each.
            transport = httpx.AsyncHTTPTransport(
                verify=_tls_context(), trust_env=False, limits=limits
            )
        client = httpx.AsyncClient(
            base_url=self.settings.base_url,
            transport=transport,
            cookies=None if self.spec.keep_cookies else _no_cookies(),
            # The targets are configured, not user-supplied, but proxies from the environment
            # and redirects could still carry an API key somewhere unexpected.
            trust_env=False,
            follow_redirects=False,
            # As many pooled connections as workers: httpx's default pool of 100 would make a
            # source with more workers queue inside httpcore, where waiting gets costly.
            limits=limits,
            timeout=self.settings.timeout_seconds,
            headers={"User-Agent": self._user_agent},
        )
        if self._raw_transport is not None:
            return client, transport, None
        return client, transport, functools.partial(self._worker_transport, self.settings)

    def _worker_transport(self, settings: ResolvedSource) -> httpx.AsyncBaseTransport:
        """One worker's transport: a pool of one connection, wrapped as the source's spec says."""
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        transport = httpx.AsyncHTTPTransport(verify=_tls_context(), trust_env=False, limits=one)
        if self.spec.wrap_transport:
            return self.spec.wrap_transport(settings, transport)
        return transport

    def _install_client(self) -> None:
        """Send from now on through a new client built from the current settings.

        The previous client stays open until the attempts using it have ended, then closes.
        """
        assert self._nursery is not None, "only while the actor runs"
        slot = _ClientSlot(*self._new_client())
        previous, self._slot = self._slot, slot
        self._client = slot.client
        self._nursery.start_soon(self._keep_client, slot, name=f"source:{self.name}:client")
        if previous is not None:
            previous.retire()

    async def _keep_client(self, slot: _ClientSlot) -> None:
        """Own ``slot``'s client: close it once replaced and unused, or when the actor stops."""
        try:
            await slot.unused.wait()
        finally:
            # A transport given to the constructor is shared by every client: only the last one
            # closes it, as the actor's single client always did.
            if self._raw_transport is None or not slot.retired:
                await slot.aclose()

    @contextlib.contextmanager
    def _lease_client(self) -> Iterator[_ClientSlot]:
        """The current client's slot, kept open (even if a reload replaces it) until the block
        ends."""
        slot = self._slot
        assert slot is not None, "workers only run inside run()"
        slot.users += 1
        try:
            yield slot
        finally:
            slot.release()

    def _resize_workers(self) -> None:
        """Run ``max_concurrency`` workers: start missing ones, stop idle surplus ones.

        A surplus worker handling a call finishes it first, then stops.
        """
        assert self._nursery is not None, "only while the actor runs"
        target = max(1, self.settings.max_concurrency)
        for i in range(target):
            if i not in self._workers:
                self._workers.add(i)
                self._nursery.start_soon(self._worker, i, name=f"source:{self.name}:worker-{i}")
        for i, idle in self._idle_workers.items():
            if i >= target:
                idle.cancel(reason="fewer workers after a configuration reload")

    # -- the request API -----------------------------------------------------------------------

    def handle(
        self,
        priority: Priority = "normal",
        observer: Callable[[SourceResponse], None] | None = None,
    ) -> SourceHandle:
        """A :class:`~enrichd.plugins._types.Source` for modules, sending at ``priority``.

        ``observer`` sees every response handed back through the handle.
        """
        return SourceHandle(self, priority, observer)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        priority: Priority = "normal",
    ) -> SourceResponse:
        """Send ``method path`` through the actor and return the answer.

        Any status other than 429 and 5xx is returned, so the module decides what a 404 means.
        Raises :class:`SourceError` (``quota_exhausted``, ``rate_limited``, ``upstream_error``,
        ``timeout``, ``connection_error``, ``response_too_large``, ``invalid_request``,
        ``source_stopped``) or :class:`SourceNotConfigured`. Blocks while the inbox is full.
        """
        if not self.configured:
            raise SourceNotConfigured(self.name, self.why_not_configured())
        if self._closed:
            raise self._stopped_error()
        method = method.upper()
        rank = _RANK[priority]
        key = _coalescing_key(path, params, headers) if method == "GET" else None
        call = self._joinable(key, rank)
        if call is None:
            try:
                await self._inbox.wait_for_room()
            except _InboxClosed:
                raise self._stopped_error() from None
            # From here to the wait below there is no checkpoint: looking for an identical call
            # in flight, queueing a new one and registering it for others to join are atomic.
            call = self._joinable(key, rank)
            if call is None:
                call = _Call(method, path, params, headers, json, key)
                self._inbox.push(call, rank)
                if key is not None:
                    self._inflight[key] = call
        call.waiters += 1
        try:
            await call.done.wait()
        finally:
            call.waiters -= 1
            if call.waiters == 0 and not call.done.is_set():
                self._abandon(call)
        try:
            return call.outcome()
        except SourceError as exc:
            self._log_error(exc)
            raise

    def _log_error(self, error: SourceError) -> None:
        """One record per failed call and caller, in the caller's task: so it names the job."""
        if error.code == "source_stopped":
            return  # the daemon is stopping: not the upstream's doing
        log.warning(
            "source %s: %s (%s)",
            self.name,
            self._redact(error.message),
            error.code,
            extra={
                **_logging.bound(),
                "event": "source.error",
                "source": self.name,
                "code": error.code,
                "status_code": error.status_code,
            },
        )

    def _joinable(self, key: Hashable | None, rank: int) -> _Call | None:
        """An identical GET already queued or running, promoted to ``rank`` if need be."""
        call = self._inflight.get(key) if key is not None else None
        if call is not None and call.state == "queued":
            self._inbox.promote(call, rank)
        return call

    def _abandon(self, call: _Call) -> None:
        # Nobody wants the answer any more: drop the call if it is still queued, or stop the
        # worker handling it so the worker is free for someone who is still waiting.
        self._forget(call)
        if call.state == "queued":
            self._inbox.discard(call)
            call.state = "done"
        elif call.scope is not None:
            call.scope.cancel(reason="every caller waiting for this request was cancelled")

    def _forget(self, call: _Call) -> None:
        if call.key is not None and self._inflight.get(call.key) is call:
            del self._inflight[call.key]

    # -- the workers ---------------------------------------------------------------------------

    async def _worker(self, index: int = 0) -> None:
        try:
            await self._work(index)
        finally:
            self._workers.discard(index)

    async def _work(self, index: int) -> None:
        # The bound is read again before each call: a reload may lower it.
        while index < max(1, self.settings.max_concurrency):
            with trio.CancelScope() as idle:
                self._idle_workers[index] = idle
                try:
                    call = await self._inbox.get()
                except _InboxClosed:
                    return
                finally:
                    del self._idle_workers[index]
            if idle.cancelled_caught:
                continue  # stopped while waiting, with no call taken
            call.state = "running"
            self.in_flight += 1
            try:
                with trio.CancelScope() as call.scope:
                    try:
                        response = await self._perform(call, index)
                    except Exception as exc:
                        # Hand every failure, even a bug, to the callers: one bad request must
                        # not take down the actor and with it the daemon's root nursery.
                        call.finish(None, exc)
                    else:
                        call.finish(response)
            finally:
                self.in_flight -= 1
                self._forget(call)
                # Reached without an answer only when the actor itself is being cancelled (or
                # the call was abandoned, and then nobody is listening anyway).
                call.finish(None, self._stopped_error())

    async def _perform(self, call: _Call, worker: int = 0) -> SourceResponse:
        self._enter_circuit()
        judged = False
        try:
            attempt = 0
            throttled = 0
            while True:
                await self._admit()
                with self._lease_client() as slot:
                    result = await self._attempt(call, slot, worker)
                # A 429 that says when to come back is flow control, not a failure: it does not
                # spend the retry budget (the whole source waits), up to its own bound.
                paced = not isinstance(result, SourceResponse) and result.retry_after is not None
                if paced:
                    throttled += 1
                if isinstance(result, SourceResponse) or (
                    not result.retryable
                    or (paced and throttled > _MAX_THROTTLED_ATTEMPTS)
                    or (not paced and attempt >= self.settings.max_retries)
                ):
                    # The breaker judges whole calls, retries included: a few failed attempts
                    # among many good ones are what retries are for, not an outage.
                    self._judge(result)
                    judged = True
                    if isinstance(result, SourceResponse):
                        return result
                    raise result.error
                if result.retry_after is None:
                    # Full jitter: spreads the retries of many callers that failed together.
                    ceiling = min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt)
                    await trio.sleep(self._rng.uniform(0.0, ceiling))
                    attempt += 1
                # else: the 429 already paused the bucket, so _admit() waits out the Retry-After.
        finally:
            if not judged:
                # Cancelled, or stopped by the quota: no verdict, so the next call probes instead.
                self.circuit.release()

    def _enter_circuit(self) -> None:
        """Fail at once while the circuit is open; a half-open circuit admits one probe call."""
        now = trio.current_time()
        if not self.circuit.allow(now):
            self.metrics.request("circuit_open")
            raise SourceError(
                self.name,
                "circuit_open",
                f"source {self.name!r} is failing ({self.circuit.failures} consecutive failed "
                f"calls); calls are stopped for another {math.ceil(self.circuit.retry_in(now))}"
                " s, then one probe is sent",
            )

    def _judge(self, result: SourceResponse | _Attempt) -> None:
        """Tell the circuit breaker whether the upstream looked healthy on this call."""
        unhealthy = isinstance(result, _Attempt) and (
            result.error.code in ("timeout", "connection_error")
            or (result.error.code == "upstream_error" and (result.error.status_code or 0) >= 500)
        )
        if unhealthy:
            was = self.circuit.times_opened
            self.circuit.failure(trio.current_time())
            if self.circuit.times_opened > was:
                log.warning(
                    "source %s: circuit opened after %d consecutive failed calls; calls fail at "
                    "once for %.0f s, then one probe is sent",
                    self.name,
                    self.circuit.failures,
                    self.circuit.retry_in(trio.current_time()),
                    extra={"event": "source.circuit_opened", "source": self.name},
                )
        else:
            # Any answer, even a 4xx or a 429, shows the upstream is up.
            self.circuit.success()

    async def _admit(self) -> None:
        """Wait for the rate limiter and count the call against the daily quota."""
        started = trio.current_time()
        wait = self.bucket.paused_until - started
        if wait > _MAX_PAUSE_WAIT:
            self.metrics.request("rate_limited")
            raise SourceError(
                self.name,
                "rate_limited",
                f"source {self.name!r} is paused for another {math.ceil(wait)} s "
                "at the upstream's request (429 Retry-After)",
                status_code=429,
            )
        if self.quota.remaining == 0:
            raise self._quota_error()
        await self.bucket.acquire()
        waited = trio.current_time() - started
        if waited > 0:
            self.metrics.waited(waited)
        # Checked again: other workers may have used up the quota while this one waited.
        if not self.quota.try_take():
            raise self._quota_error()

    def _quota_error(self) -> SourceError:
        """The error of a call the daily quota stops (counted here: only raised ones are built)."""
        self.metrics.request("quota_exhausted")
        resets = dt.datetime.fromtimestamp(self.quota.resets_at(), dt.UTC)
        return SourceError(
            self.name,
            "quota_exhausted",
            f"source {self.name!r} has used its daily quota of {self.quota.limit} requests; "
            f"it resets at {resets:%Y-%m-%d %H:%M} UTC",
        )

    def _build(self, slot: _ClientSlot, call: _Call) -> httpx.Request:
        """The request for ``call``: what ``client.build_request`` makes, with the credentials.

        A path without ``//`` cannot name another host, so it is joined to the base URL as text
        and the key goes straight into the params or headers: one URL parse per request instead
        of httpx's merge, re-parse and ``copy_add_param``. Anything else takes httpx's own path,
        and the key is added only when the URL turned out to be the source's own origin.
        """
        client = slot.client
        if slot.base is None or "//" in call.path:
            return self._build_any(client, call)
        params = call.params
        headers = slot.headers
        key = self.settings.api_key
        auth = self.settings.auth
        if call.headers or (key and auth is not None and auth[0] != "query"):
            headers = httpx.Headers(headers)
            headers.update(call.headers)
        if key and auth is not None:
            where, name = auth
            if where == "header":
                headers[name] = key
            elif where == "bearer":
                headers["Authorization"] = f"Bearer {key}"
            else:
                params = {**params, name: key} if params else {name: key}
        return httpx.Request(
            call.method,
            slot.base + call.path.lstrip("/"),
            params=params,
            headers=headers,
            cookies=client.cookies or None,
            json=call.json,
            extensions={"timeout": slot.timeout},
        )

    def _build_any(self, client: httpx.AsyncClient, call: _Call) -> httpx.Request:
        request = client.build_request(
            call.method, call.path, params=call.params, headers=call.headers, json=call.json
        )
        key = self.settings.api_key
        auth = self.settings.auth
        if key and auth is not None and _same_origin(request.url, client.base_url):
            # Only to our own upstream: an absolute URL elsewhere must not receive the key.
            where, name = auth
            if where == "header":
                request.headers[name] = key
            elif where == "bearer":
                request.headers["Authorization"] = f"Bearer {key}"
            else:
                request.url = request.url.copy_add_param(name, key)
        return request

    async def _attempt(
        self, call: _Call, slot: _ClientSlot, worker: int = 0
    ) -> SourceResponse | _Attempt:
        try:
            request = self._build(slot, call)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            error = SourceError(
                self.name, "invalid_request", self._redact(f"cannot build the request: {exc}")
            )
            self.metrics.request("invalid_request")
            return _Attempt(error, retryable=False)

        def what() -> str:
            # Only a failure is described: formatting and redacting the URL costs time per call.
            return f"{call.method} {self._redact(str(request.url))}"

        self.requests_total += 1
        started = trio.current_time()
        failure: _Attempt | None = None
        # trio's deadline bounds the whole exchange, body included; httpx's own timeout only
        # bounds each network operation, so a server dripping bytes could otherwise hold a
        # worker forever (and MockTransport in the tests enforces no timeout at all).
        with trio.move_on_after(self.settings.timeout_seconds) as deadline:
            try:
                response = await self._send(slot, request, worker)
                try:
                    self._after_send(slot, request, response)
                    if response.status_code == 429 or response.status_code >= 500:
                        failure = self._status_failure(what(), response)
                    else:
                        content = await _read_capped(response, self.spec.max_response_bytes)
                finally:
                    await response.aclose()
            except httpx.TimeoutException:
                failure = self._timeout_failure(what())
            except SourceError as exc:
                # Raised by a source's own transport (e.g. the homepage's address guard): a
                # verdict about this request, which trying again cannot change.
                failure = _Attempt(exc, retryable=False)
            except httpx.InvalidURL as exc:
                # httpx prepares the next request of a 3xx even when not following redirects,
                # so a Location it cannot use (``javascript:``...) surfaces here.
                message = self._redact(f"{what()}: a URL in the answer is not a usable URL: {exc}")
                error = SourceError(self.name, "upstream_error", message)
                failure = _Attempt(error, retryable=False)
            except httpx.RemoteProtocolError as exc:
                bad_location = "location header" in str(exc).lower()
                message = self._redact(f"{what()} failed: {type(exc).__name__}: {exc}")
                code = "upstream_error" if bad_location else "connection_error"
                failure = _Attempt(
                    SourceError(self.name, code, message), retryable=not bad_location
                )
            except httpx.TransportError as exc:
                message = self._redact(f"{what()} failed: {type(exc).__name__}: {exc}")
                error = SourceError(self.name, "connection_error", message)
                failure = _Attempt(error, retryable=True)
            except httpx.DecodingError as exc:
                message = self._redact(f"{what()}: undecodable body: {exc}")
                error = SourceError(self.name, "upstream_error", message)
                failure = _Attempt(error, retryable=False)
            except _TooLarge:
                message = f"{what()}: response body exceeds {self.spec.max_response_bytes} bytes"
                error = SourceError(self.name, "response_too_large", message)
                failure = _Attempt(error, retryable=False)
        if deadline.cancelled_caught:
            failure = self._timeout_failure(what())
        if failure is not None:
            self.errors_total += 1
            self.metrics.request(error_outcome(failure.error.code, failure.error.status_code))
            return failure
        elapsed = trio.current_time() - started
        self._observe(elapsed)
        self.metrics.request(response_outcome(response.status_code))
        return SourceResponse(
            status_code=response.status_code,
            # httpx's items() already gives lower-case names (and joins repeated headers).
            headers=dict(response.headers.items()),
            content=content,
            url=self._redact(str(response.url)),
            elapsed_seconds=elapsed,
        )

    async def _send(self, slot: _ClientSlot, request: httpx.Request, worker: int) -> httpx.Response:
        """Send ``request`` through the client's transport, as ``client.send`` would.

        The client adds nothing a source uses (no auth, hooks, proxies or followed redirects),
        but it costs a tenth of a call's CPU, most of it handing every response to the cookie
        jar: the sources that keep no cookies skip that (:meth:`_after_send`). Each worker has
        its own one-connection pool (see :meth:`_ClientSlot.transport_for`).
        """
        if not slot.direct:
            return await slot.client.send(request, stream=True)
        response = await slot.transport_for(worker).handle_async_request(request)
        response.request = request
        return response

    def _after_send(
        self, slot: _ClientSlot, request: httpx.Request, response: httpx.Response
    ) -> None:
        """What ``client.send`` does with an answer that matters here: keep its cookies (for a
        source that keeps them), and refuse a redirect whose ``Location`` is not a usable URL
        (``httpx.InvalidURL`` or ``RemoteProtocolError``, as from the client)."""
        if self.spec.keep_cookies and slot.direct and "set-cookie" in response.headers:
            # Only an answer that sets a cookie: the jar reads nothing else (Set-Cookie2 is
            # obsolete, and the jar's default policy ignores it), and handing it an answer
            # costs as much as sending the request.
            slot.client.cookies.extract_cookies(response)
        if response.has_redirect_location and slot.direct:
            # The client works out the next request of every redirect, even one it does not
            # follow; that is where an unusable Location is caught. httpx is pinned (0.28).
            slot.client._build_redirect_request(request, response)

    def _timeout_failure(self, what: str) -> _Attempt:
        message = f"{what} timed out after {self.settings.timeout_seconds:g} s"
        return _Attempt(SourceError(self.name, "timeout", message), retryable=True)

    def _status_failure(self, what: str, response: httpx.Response) -> _Attempt:
        status = response.status_code
        if status != 429:
            message = f"{what} answered {status} {response.reason_phrase}".rstrip()
            error = SourceError(self.name, "upstream_error", message, status_code=status)
            return _Attempt(error, retryable=True)
        delay = parse_retry_after(response.headers.get("retry-after"), now=self._wall_clock())
        if delay is not None:
            delay = min(delay, _MAX_RETRY_AFTER)
            # The upstream's limit is per client, not per request: every worker must hold off.
            self.bucket.pause_until(trio.current_time() + delay)
        hint = f" (Retry-After {delay:g} s)" if delay is not None else ""
        message = f"{what} answered 429 Too Many Requests{hint}"
        error = SourceError(self.name, "rate_limited", message, status_code=429)
        return _Attempt(error, retryable=True, retry_after=delay)

    def _observe(self, elapsed: float) -> None:
        previous = self.observed_latency
        if previous is None:
            self.observed_latency = elapsed
        else:
            self.observed_latency = _EWMA_ALPHA * elapsed + (1 - _EWMA_ALPHA) * previous

    def redact(self, text: str) -> str:
        """``text`` with this source's API key (raw or URL-encoded) replaced."""
        return self._redact(text)

    def _redact(self, text: str) -> str:
        """``text`` with the API key (raw or URL-encoded) replaced, for messages and URLs."""
        for form in self._key_forms():
            if form in text:
                text = text.replace(form, _REDACTED)
        return text

    def _key_forms(self) -> tuple[str, ...]:
        """Every form of the current and retired keys, longest first (worked out once per key
        change: every answered call's URL is redacted)."""
        keys = (self.settings.api_key, *self._retired_keys)
        if self._forms_of != keys:
            present = [k for k in keys if k]
            forms = {f for key in present for f in (key, quote(key, safe=""), quote_plus(key))}
            self._forms = tuple(sorted(forms, key=len, reverse=True))
            self._forms_of = keys
        return self._forms


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    # aiter_bytes yields decoded bytes, so the cap also stops a small gzip bomb. aclosing() closes
    # the generator when we stop early; httpx's own nested generators below it are still left to
    # the garbage collector (encode/httpx#3686), which trio reports with a ResourceWarning.
    # (httpx annotates aiter_bytes as an AsyncIterator; it is an async generator, with aclose.)
    body_iter = cast(AsyncGenerator[bytes, None], response.aiter_bytes())
    async with contextlib.aclosing(body_iter) as body:
        async for chunk in body:
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
    return b"".join(chunks)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The TLS context of every source's pool (what httpx would make for each, made once)."""
    return httpx.create_ssl_context(trust_env=False)


def _no_cookies() -> http.cookiejar.CookieJar:
    # A policy that allows no domain: responses' Set-Cookie headers are read, never stored.
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def _same_origin(url: httpx.URL, base: httpx.URL) -> bool:
    return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)


def _coalescing_key(
    path: str, params: Params | None, headers: Mapping[str, str] | None
) -> Hashable:
    # Keyed on the params as httpx will encode them: 1 and "1" put the same bytes on the wire, so
    # they are the same request, while True ("true") and "True" are not.
    return (
        path,
        tuple(sorted(httpx.QueryParams(params or {}).multi_items())),
        tuple(sorted((k.lower(), v) for k, v in (headers or {}).items())),
    )


class SourceHandle:
    """What ``ctx.source(name)`` gives a module: the :class:`Source` protocol at one priority."""

    def __init__(
        self,
        actor: SourceActor,
        priority: Priority,
        observer: Callable[[SourceResponse], None] | None = None,
    ) -> None:
        self.name = actor.name
        self.priority: Priority = priority
        self.settings = actor.settings
        self.state = actor.state
        self._actor = actor
        self._observer = observer

    def refuse_key(self, message: str) -> None:
        """Report that the upstream refused the key: the source is disabled."""
        self._actor.refuse_key(message)

    def _seen(self, response: SourceResponse) -> SourceResponse:
        if self._observer is not None:
            self._observer(response)
        return response

    async def get(
        self,
        path: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SourceResponse:
        """GET ``path`` (relative to the source's base URL, or absolute)."""
        return self._seen(
            await self._actor.request(
                "GET", path, params=params, headers=headers, priority=self.priority
            )
        )

    async def post(
        self,
        path: str,
        *,
        json: Any = None,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SourceResponse:
        """POST ``json`` to ``path``."""
        return self._seen(
            await self._actor.request(
                "POST", path, params=params, headers=headers, json=json, priority=self.priority
            )
        )
