"""A tiny plugin whose modules use optional dependencies (loaded by dotted path in tests)."""

from __future__ import annotations

from enrichd.plugins import (
    PLUGIN_API_VERSION,
    ModuleContext,
    ModuleError,
    ModuleResult,
    ModuleSpec,
    hookimpl,
)


async def _fails(ctx: ModuleContext) -> ModuleResult:
    raise ModuleError("upstream_error", "always fails")


async def _works(ctx: ModuleContext) -> ModuleResult:
    return ModuleResult(data={"value": 1}, data_points=1)


async def _reads_what_is_there(ctx: ModuleContext) -> ModuleResult:
    seen = {}
    for mid in ("opt.fails", "opt.works"):
        try:
            seen[mid] = dict(ctx.dependency(mid))
        except ModuleError as exc:
            seen[mid] = {"missing": exc.code}
    return ModuleResult(data={"seen": seen}, data_points=1)


async def _needs(ctx: ModuleContext) -> ModuleResult:
    return ModuleResult(data={}, data_points=0)


MODULES = [
    ModuleSpec(id="opt.fails", wave=1, description="fails", run=_fails),
    ModuleSpec(id="opt.works", wave=1, description="works", run=_works),
    ModuleSpec(
        id="opt.optional",
        wave=2,
        description="uses what is there",
        run=_reads_what_is_there,
        optional_depends_on=("opt.fails", "opt.works"),
    ),
    ModuleSpec(
        id="opt.required",
        wave=2,
        description="needs opt.fails",
        run=_needs,
        depends_on=("opt.fails",),
    ),
]


@hookimpl
def enrichd_plugin_api_version() -> int:
    """Current API."""
    return PLUGIN_API_VERSION


@hookimpl
def enrichd_modules() -> list[ModuleSpec]:
    """The modules above."""
    return MODULES
