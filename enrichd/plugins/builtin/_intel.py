"""Wave 4: case-study match (m13), ICP score (m14) and displacement angle (m15).

They read other modules' data rather than an upstream, and use what is there: their inputs are
``optional_depends_on``, so a target without SimilarWeb data still gets a score (with a lower
confidence) and an angle, instead of being skipped.
"""

from __future__ import annotations

from .._types import ModuleSpec
from ._angle import run_displacement_angle
from ._casematch import run_case_study_match
from ._common import DAY
from ._icp import run_icp_scoring

_W123 = ("m01_company_context", "m02_tech_stack", "m03_traffic")
_ALL_BEFORE = (
    "m01_company_context",
    "m02_tech_stack",
    "m03_traffic",
    "m04_traffic_sources",
    "m05_competitors",
    "m06_keywords",
    "m07_financials",
    "m08_stock_info",
    "m09_analyst_ratings",
    "m10_hiring_signals",
    "m11_exec_quotes",
    "m12_trigger_events",
    "m13_case_study_match",
    "m14_icp_scoring",
)

MODULES: list[ModuleSpec] = [
    ModuleSpec(
        id="m13_case_study_match",
        wave=4,
        description="Relevant case studies",
        run=run_case_study_match,
        optional_depends_on=_W123,
        sources=("case_studies",),
        ttl_seconds=7 * DAY,
    ),
    ModuleSpec(
        id="m14_icp_scoring",
        wave=4,
        description="Score calculation",
        run=run_icp_scoring,
        optional_depends_on=(*_W123, "m07_financials"),
        sources=("intel",),
        ttl_seconds=7 * DAY,
    ),
    # m15 writes the angle from everything else, so it waits for every other module.
    ModuleSpec(
        id="m15_displacement_angle",
        wave=4,
        description="Sales angle generation",
        run=run_displacement_angle,
        optional_depends_on=_ALL_BEFORE,
        sources=("llm",),
        ttl_seconds=7 * DAY,
    ),
]
