"""A test plugin: the spec's 15 module ids and waves with deterministic, obviously fake data.

Behaviour is steered per module through ``[modules.<id>]`` options, so the same plugin serves
in-process tests and the end-to-end daemon:

- ``delay`` (seconds, default 0.01): how long ``run`` sleeps (trio time, so MockClock skips it);
- ``fail_domains``: domains for which the module raises ``ModuleError("upstream_error")``;
- ``crash_domains``: domains for which the module raises a plain ``RuntimeError`` (a plugin bug);
- ``hang_domains``: domains for which the module sleeps forever (for cancel and timeouts).
"""

from __future__ import annotations

from collections import Counter

import trio

from enrichd.plugins import (
    PLUGIN_API_VERSION,
    Citation,
    ModuleContext,
    ModuleError,
    ModuleResult,
    ModuleSpec,
    RunFn,
    SourceSpec,
    hookimpl,
)

#: (domain, module id) -> how many times ``run`` was entered; in-process tests read it.
CALLS: Counter[tuple[str, str]] = Counter()

#: Module id -> wave, as the spec lays the 15 modules out.
WAVES = {
    "m01_company_context": 1,
    "m02_tech_stack": 1,
    "m03_traffic": 2,
    "m04_traffic_sources": 2,
    "m05_competitors": 2,
    "m06_keywords": 2,
    "m07_financials": 3,
    "m08_stock_info": 3,
    "m09_analyst_ratings": 3,
    "m10_hiring_signals": 4,
    "m11_exec_quotes": 4,
    "m12_trigger_events": 4,
    "m13_case_study_match": 4,
    "m14_icp_scoring": 4,
    "m15_displacement_angle": 4,
}
_M01 = ("m01_company_context",)
_W123 = ("m01_company_context", "m02_tech_stack", "m03_traffic")
_DEPS: dict[str, tuple[str, ...]] = {
    **{m: _M01 for m in list(WAVES)[6:12]},
    "m13_case_study_match": _W123,
    "m14_icp_scoring": (*_W123, "m07_financials"),
    "m15_displacement_angle": tuple(list(WAVES)[:14]),
}
_TTL_DAYS = {"m01_company_context": 30, "m07_financials": 1, "m08_stock_info": 1}


def _runner(mid: str) -> RunFn:
    async def run(ctx: ModuleContext) -> ModuleResult:
        CALLS[(ctx.domain, mid)] += 1
        opts = ctx.options
        if ctx.domain in opts.get("hang_domains", ()):
            await trio.sleep_forever()
        await trio.sleep(float(opts.get("delay", 0.01)))
        if ctx.domain in opts.get("fail_domains", ()):
            raise ModuleError(
                "upstream_error", f"fake upstream refused {ctx.domain}", source="fake"
            )
        if ctx.domain in opts.get("crash_domains", ()):
            raise RuntimeError("fake plugin bug")
        data: dict[str, object] = {"module": mid, "domain": ctx.domain, "fake": True}
        for dep in _DEPS.get(mid, ()):
            data[f"saw_{dep}"] = ctx.dependency(dep)["module"]
        return ModuleResult(
            data=data,
            data_points=len(data),
            citations=[Citation(url=f"https://fake.example/{mid}", title=f"Fake {mid}")],
            source="fake",
        )

    return run


@hookimpl
def enrichd_plugin_api_version() -> int:
    """The plugin API this test plugin follows."""
    return PLUGIN_API_VERSION


@hookimpl
def enrichd_sources() -> list[SourceSpec]:
    """One keyless fake source, so status can name a source."""
    return [SourceSpec(name="fake", requires_api_key=False, base_url="http://127.0.0.1:9")]


@hookimpl
def enrichd_modules() -> list[ModuleSpec]:
    """The 15 spec modules, faked."""
    return [
        ModuleSpec(
            id=mid,
            wave=wave,
            description=f"fake {mid}",
            run=_runner(mid),
            depends_on=_DEPS.get(mid, ()),
            sources=("fake",),
            ttl_seconds=_TTL_DAYS.get(mid, 7) * 86400,
        )
        for mid, wave in WAVES.items()
    ]
