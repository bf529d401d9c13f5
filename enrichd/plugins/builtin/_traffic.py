"""Wave 2: traffic, traffic sources, competitors and keywords from SimilarWeb.

SimilarWeb has no fallback (the spec: "required for traffic"), so each module either serves from
it or fails with its error. Each module calls only the endpoints it needs; several calls of one
module run concurrently, and a secondary metric that fails leaves a warning, not a failed module.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, TypeVar

import trio

from .._types import Citation, ModuleContext, ModuleError, ModuleResult, ModuleSpec, NoData, Source
from . import _similarweb as sw
from ._common import DAY, count_points

T = TypeVar("T")

WallClock = Callable[[], float]


async def gather(calls: Mapping[str, Callable[[], Awaitable[T]]]) -> dict[str, T | ModuleError]:
    """Run ``calls`` concurrently; each name maps to its value or to the ModuleError it raised.

    Errors are caught inside each task, so one failing call neither cancels its siblings nor
    reaches the supervisor as an exception group.
    """
    results: dict[str, T | ModuleError] = {}

    async def one(name: str, fn: Callable[[], Awaitable[T]]) -> None:
        try:
            results[name] = await fn()
        except ModuleError as exc:
            results[name] = exc

    async with trio.open_nursery() as nursery:
        for name, fn in calls.items():
            nursery.start_soon(one, name, fn)
    return results


def _result(
    domain: str, data: dict[str, Any], title: str, warnings: list[str] | None = None
) -> ModuleResult:
    url = sw.site_url(domain)
    return ModuleResult(
        data=data,
        data_points=count_points(data),
        citations=[Citation(url=url, title=f"SimilarWeb {title}: {domain}")],
        source=sw.NAME,
        source_url=url,
        warnings=warnings or [],
    )


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _whole(value: float | None) -> int | None:
    return None if value is None else round(value)


# -- m03_traffic -----------------------------------------------------------------------------


def _value_for(series: list[tuple[str, float]], month: str) -> float | None:
    """The value of ``month``, else the latest one (engagement data may lag visits by a month)."""
    by_month = dict(series)
    if month in by_month:
        return by_month[month]
    return series[-1][1] if series else None


async def run_traffic(ctx: ModuleContext, now: float) -> ModuleResult:
    """m03: visits of the latest full month, engagement, global rank and the monthly trend."""
    source = ctx.source(sw.NAME)
    domain = sw.api_domain(ctx.domain)
    period = sw.last_full_months(sw.options_of(source).months, now)

    def fetch(
        fn: Callable[[Source, str, sw.Period], Awaitable[list[tuple[str, float]]]],
    ) -> Callable[[], Awaitable[list[tuple[str, float]]]]:
        return lambda: fn(source, domain, period)

    results = await gather(
        {
            "visits": fetch(sw.visits),
            "bounce_rate": fetch(sw.bounce_rate),
            "pages_per_visit": fetch(sw.pages_per_visit),
            "average_visit_duration": fetch(sw.average_visit_duration),
            "global_rank": fetch(sw.global_rank),
        }
    )
    visits = results["visits"]
    if isinstance(visits, ModuleError):
        raise visits
    if not visits:
        raise NoData(f"SimilarWeb reported no visits for {domain}", source=sw.NAME)
    warnings: list[str] = []
    metrics: dict[str, list[tuple[str, float]]] = {}
    for name, outcome in results.items():
        if isinstance(outcome, ModuleError):
            warnings.append(f"{name} unavailable: {outcome.message}")
            outcome = []
        metrics[name] = outcome
    month, latest = visits[-1]
    previous = visits[-2][1] if len(visits) > 1 else None
    bounce = _value_for(metrics["bounce_rate"], month)
    data: dict[str, Any] = {
        "monthly_visits": round(latest),
        "month": month,
        # Upstream is a 0-1 fraction; our data speaks percent (45.2).
        "bounce_rate": _round(None if bounce is None else bounce * 100, 1),
        "pages_per_visit": _round(_value_for(metrics["pages_per_visit"], month), 2),
        "avg_visit_duration_seconds": _whole(_value_for(metrics["average_visit_duration"], month)),
        "global_rank": _whole(_value_for(metrics["global_rank"], month)),
        "trend": [{"month": m, "visits": round(v)} for m, v in visits],
        "visits_change": round((latest - previous) / previous, 4) if previous else None,
    }
    return _result(domain, data, "traffic and engagement", warnings)


# -- m04_traffic_sources ---------------------------------------------------------------------


async def run_traffic_sources(ctx: ModuleContext, now: float) -> ModuleResult:
    """m04: each marketing channel's share of visits, in percent, over the requested months."""
    source = ctx.source(sw.NAME)
    domain = sw.api_domain(ctx.domain)
    period = sw.last_full_months(sw.options_of(source).months, now)
    split = await sw.channel_visits(source, domain, period)
    total = sum(split.visits.values()) + sum(split.unknown.values())
    if total <= 0:
        raise NoData(f"SimilarWeb recorded no visits by channel for {domain}", source=sw.NAME)
    warnings = [
        f"SimilarWeb channel {name!r} ({visits / total:.1%} of visits) is not one of ours"
        for name, visits in sorted(split.unknown.items())
        if visits > 0
    ]
    months = split.months or [period.start, period.end]
    data: dict[str, Any] = {
        "channels": {name: round(v / total * 100, 1) for name, v in split.visits.items()},
        "period": {"start": months[0], "end": months[-1]},
    }
    return _result(domain, data, "marketing channels", warnings)


# -- m05_competitors -------------------------------------------------------------------------


async def run_competitors(ctx: ModuleContext, now: float) -> ModuleResult:
    """m05: the sites SimilarWeb finds similar, with their similarity score."""
    source = ctx.source(sw.NAME)
    domain = sw.api_domain(ctx.domain)
    sites = await sw.similar_sites(source, domain)
    competitors = [
        {"domain": site.domain, "score": _round(site.score, 3)}
        for site in sites
        if site.domain != domain
    ]
    warnings = [] if competitors else [f"SimilarWeb lists no similar sites for {domain}"]
    return _result(domain, {"competitors": competitors}, "similar sites", warnings)


# -- m06_keywords ----------------------------------------------------------------------------


KINDS = ("organic", "paid")


def _keyword_data(keyword: sw.Keyword) -> dict[str, Any]:
    return {
        "keyword": keyword.keyword,
        # Percent of the site's search visits, like the channel shares of m04.
        "share": _round(None if keyword.share is None else keyword.share * 100, 2),
        "volume": _whole(keyword.volume),
        "cpc": _round(keyword.cpc, 2),
        "position": _whole(keyword.position),
        "visits": _whole(keyword.visits),
    }


async def run_keywords(ctx: ModuleContext, now: float) -> ModuleResult:
    """m06: top organic and paid search keywords."""
    source = ctx.source(sw.NAME)
    domain = sw.api_domain(ctx.domain)
    options = sw.options_of(source)
    period = sw.last_full_months(options.months, now)
    limit = options.keyword_limit
    results = await gather(
        {kind: partial(sw.keywords, source, domain, kind, period, limit) for kind in KINDS}
    )
    organic, paid = results["organic"], results["paid"]
    if isinstance(organic, ModuleError) and isinstance(paid, ModuleError):
        raise organic
    warnings: list[str] = []
    data: dict[str, Any] = {}
    for kind, outcome in (("organic", organic), ("paid", paid)):
        if isinstance(outcome, ModuleError):
            warnings.append(f"{kind} keywords unavailable: {outcome.message}")
            outcome = []
        data[kind] = [_keyword_data(k) for k in outcome]
    return _result(domain, data, "search keywords", warnings)


# -- the module specs ------------------------------------------------------------------------

_RUNS: dict[str, tuple[str, Callable[[ModuleContext, float], Awaitable[ModuleResult]]]] = {
    "m03_traffic": ("Monthly visits, engagement", run_traffic),
    "m04_traffic_sources": ("Traffic breakdown", run_traffic_sources),
    "m05_competitors": ("Similar sites", run_competitors),
    "m06_keywords": ("Search keywords", run_keywords),
}


def build_modules(clock: WallClock = time.time) -> list[ModuleSpec]:
    """The wave-2 module specs; ``clock`` (epoch seconds) decides which months are "last full"."""

    def bind(
        run: Callable[[ModuleContext, float], Awaitable[ModuleResult]],
    ) -> Callable[[ModuleContext], Awaitable[ModuleResult]]:
        async def bound(ctx: ModuleContext) -> ModuleResult:
            return await run(ctx, clock())

        return bound

    return [
        ModuleSpec(
            id=mid,
            wave=2,
            description=description,
            run=bind(run),
            sources=(sw.NAME,),
            ttl_seconds=7 * DAY,
        )
        for mid, (description, run) in _RUNS.items()
    ]


MODULES: list[ModuleSpec] = build_modules()
