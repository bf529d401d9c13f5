"""The built-in plugin: the spec's 15 modules in 4 waves and the sources they call.

It is registered through the ``enrichd`` entry point exactly as a third-party plugin would be.
"""

from __future__ import annotations

from ._types import (
    PLUGIN_API_VERSION,
    ModuleContext,
    ModuleResult,
    ModuleSpec,
    RunFn,
    SourceNotConfigured,
    SourceSpec,
)
from .hookspecs import hookimpl

DAY = 86400

SOURCES: list[SourceSpec] = [
    SourceSpec(
        name="builtwith",
        description="BuiltWith Domain API (paid)",
        base_url="https://api.builtwith.com",
        auth=("query", "KEY"),
        fallback="builtwith_free",
        rate_per_second=2.0,
        burst=2,
        max_concurrency=4,
        homepage="https://builtwith.com",
    ),
    SourceSpec(
        name="builtwith_free",
        description="BuiltWith Free API",
        base_url="https://api.builtwith.com",
        auth=("query", "KEY"),
        fallback="homepage",
        rate_per_second=1.0,
        burst=1,
        max_concurrency=1,
        homepage="https://builtwith.com",
    ),
    SourceSpec(
        name="homepage",
        description="The domain's own homepage",
        requires_api_key=False,
        rate_per_second=10.0,
        burst=10,
        max_concurrency=8,
        timeout_seconds=10.0,
        homepage="",
    ),
    SourceSpec(
        name="similarweb",
        description="SimilarWeb website API",
        base_url="https://api.similarweb.com",
        auth=("query", "api_key"),
        rate_per_second=10.0,
        burst=10,
        homepage="https://similarweb.com",
    ),
    SourceSpec(
        name="yahoo_finance",
        description="Yahoo Finance (cookie and crumb)",
        base_url="https://query2.finance.yahoo.com",
        requires_api_key=False,
        fallback="websearch",
        rate_per_second=5.0,
        burst=5,
        homepage="https://finance.yahoo.com",
    ),
    SourceSpec(
        name="websearch",
        description="Web search API (Brave by default)",
        base_url="https://api.search.brave.com",
        auth=("header", "X-Subscription-Token"),
        rate_per_second=5.0,
        burst=5,
        homepage="https://search.brave.com",
    ),
    SourceSpec(
        name="llm",
        description="OpenAI-compatible chat completions",
        base_url="https://api.openai.com/v1",
        auth=("bearer", "Authorization"),
        rate_per_second=2.0,
        burst=2,
        timeout_seconds=60.0,
        homepage="",
    ),
]


def _unavailable(primary: str) -> RunFn:
    """A run function for a module whose upstream client this version does not ship yet.

    It reports the truth — the source is not usable — instead of inventing data.
    """

    async def run(ctx: ModuleContext) -> ModuleResult:
        if not ctx.source_configured(primary):
            ctx.source(primary)  # raises SourceNotConfigured with the reason
        raise SourceNotConfigured(
            primary, why=f"this enrichd version has no client for the {primary!r} source yet"
        )

    return run


def _module(
    mid: str,
    wave: int,
    description: str,
    sources: tuple[str, ...],
    ttl_days: int,
    depends_on: tuple[str, ...] = (),
) -> ModuleSpec:
    return ModuleSpec(
        id=mid,
        wave=wave,
        description=description,
        run=_unavailable(sources[0]),
        depends_on=depends_on,
        sources=sources,
        ttl_seconds=ttl_days * DAY,
    )


_M01 = ("m01_company_context",)
_W123 = ("m01_company_context", "m02_tech_stack", "m03_traffic")

MODULES: list[ModuleSpec] = [
    _module("m01_company_context", 1, "Basic company info", ("builtwith", "homepage"), 30),
    _module("m02_tech_stack", 1, "Technology detection", ("builtwith", "homepage"), 7),
    _module("m03_traffic", 2, "Monthly visits, engagement", ("similarweb",), 7),
    _module("m04_traffic_sources", 2, "Traffic breakdown", ("similarweb",), 7),
    _module("m05_competitors", 2, "Similar sites", ("similarweb",), 7),
    _module("m06_keywords", 2, "Search keywords", ("similarweb",), 7),
    _module("m07_financials", 3, "Revenue, margins", ("yahoo_finance", "websearch"), 1, _M01),
    _module("m08_stock_info", 3, "Stock price, market cap", ("yahoo_finance",), 1, _M01),
    _module("m09_analyst_ratings", 3, "Buy/sell recommendations", ("yahoo_finance",), 1, _M01),
    _module("m10_hiring_signals", 4, "Job postings analysis", ("websearch",), 3, _M01),
    _module("m11_exec_quotes", 4, "Executive statements", ("websearch",), 30, _M01),
    _module("m12_trigger_events", 4, "Business events", ("websearch",), 3, _M01),
    _module("m13_case_study_match", 4, "Relevant case studies", ("case_studies",), 7, _W123),
    _module("m14_icp_scoring", 4, "Score calculation", ("intel",), 7, (*_W123, "m07_financials")),
]

# m15 writes the angle from everything else, so it depends on every other module.
MODULES.append(
    _module(
        "m15_displacement_angle",
        4,
        "Sales angle generation",
        ("llm",),
        7,
        tuple(m.id for m in MODULES),
    )
)


@hookimpl
def enrichd_plugin_api_version() -> int:
    """This plugin follows the current plugin API."""
    return PLUGIN_API_VERSION


@hookimpl
def enrichd_sources() -> list[SourceSpec]:
    """The built-in data sources."""
    return SOURCES


@hookimpl
def enrichd_modules() -> list[ModuleSpec]:
    """The spec's 15 modules."""
    return MODULES
