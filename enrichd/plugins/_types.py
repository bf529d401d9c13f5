"""The types a plugin works with: source and module specifications, the module context, errors."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import msgspec

if TYPE_CHECKING:
    import httpx

    from enrichd.config import ResolvedSource
    from enrichd.intel import IntelConfig

    from ._manager import Registry

#: Bumped when a change to these types would break an existing plugin.
PLUGIN_API_VERSION = 1

MODULE_ID_RE = re.compile(r"^(m\d{2}_[a-z0-9_]+|[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)$")

Priority = Literal["low", "normal", "high"]

#: The response header by which the sandbox marks its answers as simulated data.
SIMULATED_HEADER = "x-enrichd-simulated"

AuthPlacement = tuple[Literal["header", "query", "bearer"], str]


class Citation(msgspec.Struct, kw_only=True, frozen=True):
    """A reference to where a piece of data came from."""

    url: str
    title: str


class SourceSpec(msgspec.Struct, kw_only=True, frozen=True):
    """Declares a data source: its defaults and how it authenticates.

    A source whose ``requires_api_key`` is true is *not configured* until an ``api_key`` is given
    (in ``[sources.<name>]``, the environment or a systemd credential); modules asking for it then
    fail with ``source_not_configured``, or fall back to ``fallback``.
    """

    name: str
    description: str = ""
    base_url: str = ""
    requires_api_key: bool = True
    #: Where the API key goes: ``("header", "X-Api-Key")``, ``("query", "KEY")`` or
    #: ``("bearer", "Authorization")``.
    auth: AuthPlacement | None = None
    fallback: str | None = None
    rate_per_second: float = 5.0
    burst: int = 5
    daily_quota: int | None = None
    max_concurrency: int = 4
    timeout_seconds: float = 30.0
    max_retries: int = 3
    #: Shown as a module's ``source_url`` when the module gives none of its own.
    homepage: str = ""
    #: A msgspec Struct type for the source's own keys in ``[sources.<name>]`` (beyond the common).
    options_type: type[msgspec.Struct] | None = None
    #: Whether the source's client keeps cookies between requests (Yahoo's session needs them;
    #: the homepage source must not collect every site's cookies for the daemon's lifetime).
    keep_cookies: bool = True
    #: Bodies larger than this are refused with ``response_too_large``.
    max_response_bytes: int = 5 * 1024 * 1024
    #: Adjusts the resolved settings once the config is read (e.g. the web-search source takes its
    #: base URL and auth from the configured provider); raise ``ConfigError`` to refuse them.
    configure: Callable[[ResolvedSource, Registry], ResolvedSource] | None = None
    #: Wraps the HTTP transport of the source's client (``None`` means httpx's default), e.g. to
    #: refuse private addresses.
    wrap_transport: (
        Callable[[ResolvedSource, httpx.AsyncBaseTransport | None], httpx.AsyncBaseTransport] | None
    ) = None


SizeTier = Literal["enterprise", "mid-market", "smb", "startup"]


class CaseStudy(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One customer story in the internal case-study database (module m13 matches them)."""

    id: str
    customer: str
    vertical: str
    sub_vertical: str | None = None
    #: e.g. "e-commerce search", "content discovery", "documentation search".
    use_case: str | None = None
    #: The customer's size; derived from ``employee_count`` when only that is given.
    size_tier: SizeTier | None = None
    employee_count: int | None = None
    #: The competitor product the customer replaced, if any (e.g. "Elasticsearch").
    competitor_displaced: str | None = None
    headline_result: str | None = None
    quote: str | None = None
    url: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


class ModuleResult(msgspec.Struct, kw_only=True):
    """What a module's ``run`` returns."""

    data: dict[str, Any]
    data_points: int
    citations: list[Citation] = msgspec.field(default_factory=list)
    #: The source that actually served the data (after fallbacks); defaults to the module's first.
    source: str | None = None
    source_url: str | None = None
    warnings: list[str] = msgspec.field(default_factory=list)


class SourceResponse(msgspec.Struct, kw_only=True, frozen=True):
    """An upstream HTTP answer as a source actor hands it to a module."""

    status_code: int
    headers: dict[str, str]
    content: bytes
    url: str
    elapsed_seconds: float

    def json(self) -> Any:
        """Decode the body as JSON; raises :class:`ModuleError` (``malformed_response``)."""
        try:
            return msgspec.json.decode(self.content)
        except msgspec.DecodeError as exc:
            raise ModuleError("malformed_response", f"{self.url}: body is not JSON: {exc}") from exc

    @property
    def text(self) -> str:
        """The body decoded as UTF-8, undecodable bytes replaced."""
        return self.content.decode("utf-8", errors="replace")

    @property
    def simulated(self) -> bool:
        """Whether the answer came from the enrichd sandbox rather than the real upstream."""
        return SIMULATED_HEADER in self.headers


class Source(Protocol):
    """A module's handle on one source actor."""

    name: str
    #: The resolved settings (base URL, limits, the source's own ``options``).
    settings: ResolvedSource
    #: Scratch space shared by every module using this source for the daemon's lifetime, for
    #: session state such as Yahoo's cookie crumb.
    state: dict[str, Any]

    async def get(
        self,
        path: str,
        *,
        params: Mapping[str, str | int | float] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SourceResponse:
        """GET ``path`` (relative to the source's base URL, or absolute)."""
        ...

    async def post(
        self,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int | float] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SourceResponse:
        """POST ``json`` to ``path``."""
        ...

    def refuse_key(self, message: str) -> None:
        """Disable the source because the upstream refused its key (the daemon also does this
        when a module raises ``ModuleError("auth_failed", ..., source=name)``)."""
        ...


class ModuleContext(Protocol):
    """What a running module sees: the domain, its dependencies' data and the sources."""

    domain: str
    job_id: str
    module_id: str
    #: The module's own keys from ``[modules.<id>]``.
    options: Mapping[str, Any]

    def source(self, name: str) -> Source:
        """The actor of source ``name``; raises :class:`SourceNotConfigured` if it is unusable."""
        ...

    def source_configured(self, name: str) -> bool:
        """Whether ``source(name)`` would succeed."""
        ...

    def dependency(self, module_id: str) -> Mapping[str, Any]:
        """The data of a module this one depends on (from this job or from the cache)."""
        ...

    def citations(self, module_id: str) -> list[Citation]:
        """The citations of a dependency's data (empty when it has none or no data)."""
        ...

    def previous(self, module_id: str | None = None) -> Mapping[str, Any] | None:
        """The last data stored for this domain by ``module_id`` (default: this module), even if
        stale or invalidated, or ``None``: how a score can report its change."""
        ...

    def case_studies(self) -> list[CaseStudy]:
        """Every case study in the internal database."""
        ...

    @property
    def intel(self) -> IntelConfig:
        """The ``[intel]`` settings: the seller, competitor and partner lists, every weight."""
        ...


RunFn = Callable[[ModuleContext], Awaitable[ModuleResult]]


class ModuleSpec(msgspec.Struct, kw_only=True, frozen=True):
    """Declares a module: where it runs, what it needs and how long its data stays good."""

    id: str
    wave: int
    description: str
    run: RunFn
    depends_on: tuple[str, ...] = ()
    #: Modules whose data this one uses when they have some: it runs once they have finished,
    #: whatever their outcome, and ``ctx.dependency()`` raises ``dependency_missing`` for one
    #: that failed (a score that reports its confidence, say). ``depends_on`` modules that fail
    #: make this one ``skipped`` instead.
    optional_depends_on: tuple[str, ...] = ()
    #: The sources the module calls, primary first: used for estimates and ``source_url``.
    sources: tuple[str, ...] = ()
    ttl_seconds: int = 7 * 86400
    #: Length of the stale window at the end of the TTL; default ``min(7 days, ttl / 2)``.
    stale_window_seconds: int | None = None
    #: A msgspec Struct type for the module's own keys in ``[modules.<id>]``: the daemon checks
    #: the table against it at start-up, and ``module_options(ctx, T)`` returns it decoded.
    options_type: type[msgspec.Struct] | None = None


def all_dependencies(spec: ModuleSpec) -> tuple[str, ...]:
    """``depends_on`` then ``optional_depends_on``."""
    return (*spec.depends_on, *spec.optional_depends_on)


class ModuleError(Exception):
    """A module failed in a way it understands: ``code`` is machine-readable."""

    def __init__(self, code: str, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.source = source


class SourceNotConfigured(ModuleError):
    """The module needs a source that has no API key, is disabled or is unknown."""

    def __init__(self, source: str, why: str = "") -> None:
        reason = why or f"set [sources.{source}] api_key or ENRICHD_{source.upper()}_API_KEY"
        super().__init__(
            "source_not_configured", f"source {source!r} is not configured: {reason}", source=source
        )


class NoData(ModuleError):
    """The source answered, but has nothing for this domain; a fallback may have something."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__("no_data", message, source=source)


class SourceError(ModuleError):
    """An upstream call failed after the source actor's retries."""

    def __init__(
        self, source: str, code: str, message: str, *, status_code: int | None = None
    ) -> None:
        super().__init__(code, message, source=source)
        self.status_code = status_code


class SearchQuery(msgspec.Struct, kw_only=True, frozen=True):
    """One web-search request, independent of the provider."""

    q: str
    kind: Literal["web", "news"] = "web"
    count: int = 10
    #: ``"day"``, ``"week"``, ``"month"``, ``"year"`` or ``None`` for any time.
    freshness: Literal["day", "week", "month", "year"] | None = None


class SearchHit(msgspec.Struct, kw_only=True, frozen=True):
    """One web-search result, independent of the provider."""

    title: str
    url: str
    snippet: str = ""
    #: ISO-8601 date or datetime of the page or article, when the provider knows it.
    published: str | None = None
    #: Extra excerpts the provider gave.
    extra_snippets: tuple[str, ...] = ()


class SearchProvider(msgspec.Struct, kw_only=True, frozen=True):
    """A web-search API behind the ``websearch`` source (``[sources.websearch] provider``)."""

    name: str
    base_url: str
    auth: AuthPlacement | None
    #: Sends ``query`` through ``source`` and returns the hits; raises ``SourceError`` subclasses.
    search: Callable[[Source, SearchQuery], Awaitable[list[SearchHit]]]
    homepage: str = ""


OptionsT = TypeVar("OptionsT", bound=msgspec.Struct)


def options_error(table: str, exc: msgspec.ValidationError) -> str:
    """A msgspec error about table ``table`` (``modules.<id>``) as a message naming the key."""
    message = str(exc)
    unknown = re.match(r"Object contains unknown field `([^`]+)`", message)
    at = re.search(r" - at `\$\.?([^`]*)`", message)
    path = f"{table}.{at.group(1)}" if at and at.group(1) else table
    if unknown:
        return f"unknown key '{path}.{unknown.group(1)}'"
    return f"{path}: {message.split(' - at ')[0]}"


def module_options(ctx: ModuleContext, options_type: type[OptionsT]) -> OptionsT:
    """The module's ``[modules.<id>]`` table decoded as ``options_type`` (defaults for keys
    not set); raises ``ModuleError("invalid_options")`` naming the bad key.

    When the module's spec declares ``options_type``, the daemon already refused a bad table at
    start-up, so the error is only seen with hand-made contexts.
    """
    try:
        return msgspec.convert(dict(ctx.options), options_type)
    except msgspec.ValidationError as exc:
        raise ModuleError(
            "invalid_options", options_error(f"modules.{ctx.module_id}", exc)
        ) from None
