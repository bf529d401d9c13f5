"""Wave 4: hiring signals, executive quotes and trigger events from web search."""

from __future__ import annotations

from .._types import ModuleSpec
from ._common import DAY, unavailable

_M01 = ("m01_company_context",)


def _module(mid: str, description: str, ttl_days: int) -> ModuleSpec:
    return ModuleSpec(
        id=mid,
        wave=4,
        description=description,
        run=unavailable("websearch"),
        depends_on=_M01,
        sources=("websearch",),
        ttl_seconds=ttl_days * DAY,
    )


MODULES: list[ModuleSpec] = [
    _module("m10_hiring_signals", "Job postings analysis", 3),
    _module("m11_exec_quotes", "Executive statements", 30),
    _module("m12_trigger_events", "Business events", 3),
]
