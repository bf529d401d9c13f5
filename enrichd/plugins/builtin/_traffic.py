"""Wave 2: traffic, traffic sources, competitors and keywords from SimilarWeb."""

from __future__ import annotations

from .._types import ModuleSpec
from ._common import DAY, unavailable


def _module(mid: str, description: str) -> ModuleSpec:
    return ModuleSpec(
        id=mid,
        wave=2,
        description=description,
        run=unavailable("similarweb"),
        sources=("similarweb",),
        ttl_seconds=7 * DAY,
    )


MODULES: list[ModuleSpec] = [
    _module("m03_traffic", "Monthly visits, engagement"),
    _module("m04_traffic_sources", "Traffic breakdown"),
    _module("m05_competitors", "Similar sites"),
    _module("m06_keywords", "Search keywords"),
]
