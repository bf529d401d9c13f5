"""The sandbox server: simulated upstreams behind real rate limits, faults and latency.

Every request passes, in order: the control endpoints under ``/_sandbox/``; routing to an
upstream by path prefix; that upstream's rate limit (429 and a counted violation when the client
is too fast); injected faults; simulated latency; and finally the upstream simulation itself
(:class:`~enrichd.sandbox._upstreams.Upstreams`). The contract is
``notes/sandbox-contract.md``; the stats let a test or benchmark prove the daemon stayed within
every upstream's limit.
"""

from __future__ import annotations

import logging
import math
import random
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

import msgspec
import trio

from .._toml import toml_key, toml_value
from ._faults import FaultKind, FaultRule, Faults, fault_response, truncate_json
from ._http import HttpRequest, HttpResponse, Reset, json_response, serve_http
from ._limits import UPSTREAMS, Limit, RateLimiter, too_many_requests
from ._stats import Stats
from ._upstreams import Upstreams

__all__ = [
    "SANDBOX_API_KEY",
    "SANDBOX_MODEL",
    "SIMULATED_HEADER",
    "Sandbox",
    "SandboxOptions",
    "run_sandbox",
    "source_overrides",
    "sources_toml",
]

_log = logging.getLogger("enrichd.sandbox")

#: Marks every answer of a simulated upstream (the daemon labels data built from it).
SIMULATED_HEADER = "X-Enrichd-Simulated"
#: The key the daemon sends to the sandbox's keyed upstreams (any key not starting "bad" works).
SANDBOX_API_KEY = "sandbox-key"
#: The model name the daemon asks the simulated chat-completions API for.
SANDBOX_MODEL = "sandbox-model"

_CONTROL_PREFIX = "/_sandbox"

_T = TypeVar("_T")


class SandboxOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How the sandbox listens and misbehaves."""

    host: str = "127.0.0.1"
    #: 0 picks a free port (``Sandbox.url`` then says which).
    port: int = 0
    #: Seconds every upstream answer is delayed by ...
    latency: float = 0.0
    #: ... give or take up to this many seconds, uniformly at random (never below zero).
    jitter: float = 0.0
    #: Fraction (0-1) of upstream requests failed with a random kind of fault.
    fault_rate: float = 0.0
    #: Seeds latency jitter and fault draws, for reproducible runs (``None``: random).
    seed: int | None = None
    #: Per-upstream rate limits replacing the real APIs' defaults.
    limits: dict[str, Limit] = msgspec.field(default_factory=dict)
    #: How long a ``timeout`` fault hangs before answering 504.
    timeout_fault_seconds: float = 120.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0-65535: {self.port!r}")
        for name in ("latency", "jitter"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number of seconds: {value!r}")
        if not 0 <= self.fault_rate <= 1:
            raise ValueError(f"fault_rate must be between 0 and 1: {self.fault_rate!r}")
        if not self.timeout_fault_seconds > 0:
            raise ValueError(
                f"timeout_fault_seconds must be positive: {self.timeout_fault_seconds!r}"
            )
        unknown = sorted(set(self.limits) - set(UPSTREAMS))
        if unknown:
            raise ValueError(
                f"limits: unknown upstream(s) {unknown}; known: {', '.join(UPSTREAMS)}"
            )


class SimulatedUpstreams(Protocol):
    """What the server needs of :class:`~enrichd.sandbox._upstreams.Upstreams`."""

    def route(self, path: str) -> str | None: ...

    def rotate_crumbs(self) -> None: ...

    async def handle(self, upstream: str, request: HttpRequest, base_url: str) -> HttpResponse: ...


class _LimitUpdate(Limit, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /_sandbox/limits``."""

    upstream: str


class _BadRequest(Exception):
    """A control request that cannot be served; becomes a JSON error answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def source_overrides(url: str) -> dict[str, dict[str, Any]]:
    """The ``[sources.<name>]`` settings that point a daemon at the sandbox served at ``url``."""
    s = url.rstrip("/")
    return {
        "builtwith": {"base_url": f"{s}/builtwith", "api_key": SANDBOX_API_KEY},
        "builtwith_free": {"base_url": f"{s}/builtwith", "api_key": SANDBOX_API_KEY},
        "similarweb": {"base_url": f"{s}/similarweb", "api_key": SANDBOX_API_KEY},
        "yahoo_finance": {"base_url": f"{s}/yahoo", "cookie_url": f"{s}/yahoo/fc"},
        "websearch": {"base_url": f"{s}/brave", "api_key": SANDBOX_API_KEY, "provider": "brave"},
        "llm": {"base_url": f"{s}/openai/v1", "api_key": SANDBOX_API_KEY, "model": SANDBOX_MODEL},
        # The sandbox listens on loopback, which the homepage fetcher refuses unless allowed.
        "homepage": {"url_template": f"{s}/homepage/{{domain}}/", "allow_private_addresses": True},
    }


def sources_toml(overrides: Mapping[str, Mapping[str, object]]) -> str:
    """``overrides`` as ``[sources.<name>]`` TOML tables (flat: strings, numbers, bools)."""
    blocks = []
    for name, table in overrides.items():
        lines = [f"[sources.{toml_key(name)}]"]
        lines += [
            f"{toml_key(k)} = {toml_value(v, f'sources.{name}.{k}')}" for k, v in table.items()
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _error(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    return json_response({"error": message}, status, headers)


def _mark(response: HttpResponse) -> HttpResponse:
    """``response`` with the simulated-data header (a copy: simulations may reuse answers)."""
    if any(k.lower() == SIMULATED_HEADER.lower() for k, _ in response.headers):
        return response
    headers = [*response.headers, (SIMULATED_HEADER, "sandbox")]
    return msgspec.structs.replace(response, headers=headers)


def _decode_body(request: HttpRequest, type_: type[_T]) -> _T:
    """The JSON body as ``type_``: 400 if it is not JSON, 422 if it does not fit ``type_``."""
    if not request.body.strip():
        raise _BadRequest(400, "request body must be a JSON object")
    try:
        return msgspec.json.decode(request.body, type=type_)
    except msgspec.ValidationError as exc:
        raise _BadRequest(422, f"invalid request body: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise _BadRequest(400, f"request body is not valid JSON: {exc}") from exc


def _known_upstream(name: str, *, wildcard: bool) -> None:
    if name in UPSTREAMS or (wildcard and name == "*"):
        return
    known = ", ".join([*UPSTREAMS, *(['"*"'] if wildcard else [])])
    raise _BadRequest(422, f"unknown upstream {name!r}; known: {known}")


_Control = Callable[[HttpRequest], Awaitable[HttpResponse]]


class Sandbox:
    """The sandbox server. ``url = await nursery.start(sandbox.run)`` starts it.

    ``now`` is the wall clock the simulations date things by (news ages, chart ranges);
    ``upstreams`` replaces the simulations themselves (tests).
    """

    def __init__(
        self,
        options: SandboxOptions | None = None,
        *,
        now: Callable[[], float] = time.time,
        upstreams: SimulatedUpstreams | None = None,
    ) -> None:
        self.options = options or SandboxOptions()
        self._upstreams: SimulatedUpstreams = upstreams or Upstreams(now=now)
        self._rng = random.Random(self.options.seed)
        self._limiter = RateLimiter(self.options.limits)
        self._faults = Faults(self._rng, self.options.fault_rate)
        self._stats = Stats(UPSTREAMS)
        self._url: str | None = None
        self._control: dict[str, dict[str, _Control]] = {
            "/_sandbox/health": {"GET": self._health},
            "/_sandbox/stats": {"GET": self._get_stats},
            "/_sandbox/faults": {
                "GET": self._list_faults,
                "POST": self._add_fault,
                "DELETE": self._clear_faults,
            },
            "/_sandbox/limits": {"GET": self._list_limits, "POST": self._set_limit},
            "/_sandbox/yahoo/rotate-crumb": {"POST": self._rotate_crumb},
            "/_sandbox/reset": {"POST": self._reset},
        }

    @property
    def url(self) -> str:
        """The base URL the sandbox serves on (only once :meth:`run` has started)."""
        if self._url is None:
            raise RuntimeError("the sandbox is not running yet")
        return self._url

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; reports the base URL once listening."""
        async with trio.open_nursery() as nursery:
            self._url = await nursery.start(
                serve_http, self.handle, self.options.host, self.options.port
            )
            task_status.started(self._url)

    def stats(self) -> dict[str, Any]:
        """The counters, as served at ``GET /_sandbox/stats``."""
        return self._stats.snapshot()

    def source_overrides(self, url: str | None = None) -> dict[str, dict[str, Any]]:
        """The ``[sources.<name>]`` settings pointing a daemon here (``url``: default own URL)."""
        return source_overrides(url or self.url)

    async def handle(self, request: HttpRequest) -> HttpResponse | Reset:
        """Answer one request (the HTTP handler)."""
        if request.path == _CONTROL_PREFIX or request.path.startswith(_CONTROL_PREFIX + "/"):
            return await self._serve_control(request)
        upstream = self._upstreams.route(request.path)
        if upstream is None:
            self._stats.unrouted += 1
            return _mark(_error(404, f"no simulated upstream serves {request.path}"))
        self._stats.request(upstream)
        answer = await self._serve_upstream(upstream, request)
        if isinstance(answer, HttpResponse):
            answer = _mark(answer)
            self._stats.response(upstream, answer.status)
        return answer

    async def _serve_upstream(self, upstream: str, request: HttpRequest) -> HttpResponse | Reset:
        retry_after = self._limiter.check(upstream)
        if retry_after is not None:
            self._stats.violation(upstream)
            _log.debug("%s: rate limit exceeded, retry after %ss", upstream, retry_after)
            return too_many_requests(upstream, retry_after)
        kind = self._faults.pick(upstream)
        if kind is not None:
            self._stats.fault(upstream, kind)
            _log.debug("%s: injecting fault %s into %s", upstream, kind, request.path)
            if kind != "malformed_json":
                return await self._inject(upstream, kind)
        await self._delay()
        response = await self._simulate(upstream, request)
        return truncate_json(response) if kind == "malformed_json" else response

    async def _simulate(self, upstream: str, request: HttpRequest) -> HttpResponse:
        try:
            return await self._upstreams.handle(upstream, request, self.url)
        except Exception:
            # A bug in one simulation must not take the whole server (or the daemon hosting it)
            # down; the client sees what a real upstream's bug looks like, a 500.
            _log.exception("%s: the simulation failed on %s", upstream, request.target)
            return fault_response(500)

    async def _inject(self, upstream: str, kind: FaultKind) -> HttpResponse | Reset:
        if kind == "reset":
            return Reset()
        if kind == "429":
            # Unlike a violation, the client did nothing wrong: it should simply retry soon.
            return too_many_requests(upstream, 1)
        if kind == "timeout":
            # The HTTP core cancels this sleep as soon as the client gives up and disconnects.
            await trio.sleep(self.options.timeout_fault_seconds)
            return fault_response(504)
        return fault_response(int(kind))

    async def _delay(self) -> None:
        delay = self.options.latency
        if self.options.jitter > 0:
            delay = max(0.0, delay + self._rng.uniform(-self.options.jitter, self.options.jitter))
        if delay > 0:
            await trio.sleep(delay)

    async def _serve_control(self, request: HttpRequest) -> HttpResponse:
        methods = self._control.get(request.path.rstrip("/") or request.path)
        if methods is None:
            return _error(404, f"unknown sandbox control endpoint {request.path}")
        handler = methods.get(request.method)
        if handler is None:
            allowed = ", ".join(methods)
            return _error(
                405, f"{request.path} allows {allowed}, not {request.method}", [("allow", allowed)]
            )
        try:
            return await handler(request)
        except _BadRequest as exc:
            return _error(exc.status, str(exc))

    async def _health(self, request: HttpRequest) -> HttpResponse:
        return json_response({"status": "ok"})

    async def _get_stats(self, request: HttpRequest) -> HttpResponse:
        return json_response(self.stats())

    def _faults_document(self) -> dict[str, Any]:
        return {"fault_rate": self._faults.fault_rate, "faults": self._faults.rules()}

    async def _list_faults(self, request: HttpRequest) -> HttpResponse:
        return json_response(self._faults_document())

    async def _add_fault(self, request: HttpRequest) -> HttpResponse:
        rule = _decode_body(request, FaultRule)
        _known_upstream(rule.upstream, wildcard=True)
        self._faults.add(rule)
        return json_response(self._faults_document())

    async def _clear_faults(self, request: HttpRequest) -> HttpResponse:
        self._faults.clear()
        return json_response(self._faults_document())

    async def _list_limits(self, request: HttpRequest) -> HttpResponse:
        return json_response({"limits": self._limiter.limits()})

    async def _set_limit(self, request: HttpRequest) -> HttpResponse:
        update = _decode_body(request, _LimitUpdate)
        _known_upstream(update.upstream, wildcard=False)
        self._limiter.set(
            update.upstream, Limit(rate_per_second=update.rate_per_second, burst=update.burst)
        )
        return json_response({"limits": self._limiter.limits()})

    async def _rotate_crumb(self, request: HttpRequest) -> HttpResponse:
        self._upstreams.rotate_crumbs()
        return json_response({"status": "ok"})

    async def _reset(self, request: HttpRequest) -> HttpResponse:
        # Buckets refill too: a reset marks a fresh start, and a client that was throttled
        # before it should not see violations carried over into the next run.
        self._stats.clear()
        self._faults.clear()
        self._limiter.refill()
        return json_response({"status": "ok"})


async def run_sandbox(options: SandboxOptions) -> None:
    """Serve the sandbox until cancelled, printing the config that points a daemon at it."""
    sandbox = Sandbox(options)
    async with trio.open_nursery() as nursery:
        url = await nursery.start(sandbox.run)
        _log.info("enrichd sandbox listening on %s", url)
        sys.stdout.write(
            "# Paste into config.toml to point enrichd at this sandbox (simulated data):\n"
            + sources_toml(sandbox.source_overrides())
        )
        sys.stdout.flush()
