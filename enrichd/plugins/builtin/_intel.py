"""Wave 4: case-study match, ICP score and displacement angle (issue 4 implements them)."""

from __future__ import annotations

from .._types import ModuleSpec
from ._common import DAY, unavailable

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
        run=unavailable("m13_case_study_match"),
        depends_on=_W123,
        sources=("case_studies",),
        ttl_seconds=7 * DAY,
    ),
    ModuleSpec(
        id="m14_icp_scoring",
        wave=4,
        description="Score calculation",
        run=unavailable("m14_icp_scoring"),
        depends_on=(*_W123, "m07_financials"),
        sources=("intel",),
        ttl_seconds=7 * DAY,
    ),
    # m15 writes the angle from everything else, so it depends on every other module.
    ModuleSpec(
        id="m15_displacement_angle",
        wave=4,
        description="Sales angle generation",
        run=unavailable("m15_displacement_angle"),
        depends_on=_ALL_BEFORE,
        sources=("llm",),
        ttl_seconds=7 * DAY,
    ),
]
