"""m13_case_study_match: the internal case studies most like the target.

Each case study scores against the target (sales-intel-rules.md, "m13"; every weight, group and
threshold from ``[intel.case_studies]``):

- vertical: the same (compared lower-case, letters and digits only: "E-commerce" is
  "ecommerce") or in the same ``related_verticals`` group (a vertical is in a group when it has
  one of the group's words: "News and Media" is with "publishing");
- sub-vertical: the same (the target's comes from a ``sub_vertical`` field of m01 when there is
  one);
- use case: the same as the target's, inferred from its vertical by ``use_case_by_vertical``
  (the first keyword, in the configured order, found in the vertical), or in the same
  ``related_use_cases`` group;
- size tier: the same (the target's from m01's employees; the case study's ``size_tier`` or its
  ``employee_count``);
- competitor takeout: the case study displaced the competitor the target runs (m02's site-search
  vendor, else a technology on the ``[intel] competitors`` list).

Case studies scoring above zero are kept, best first (ties by customer name); the best is the
``primary_match`` and the next ``secondary_matches`` follow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from enrichd.intel import CaseStudyWeights, IntelConfig

from .._types import CaseStudy, Citation, ModuleContext, ModuleResult
from ._common import count_points
from ._matching import (
    TIER_LABELS,
    compact,
    contains_product,
    has_phrase,
    number,
    optional_dependency,
    same_product,
    size_tier,
    technology_names,
    text,
)

M01: Final = "m01_company_context"
M02: Final = "m02_tech_stack"

EMPTY_DB_WARNING: Final = (
    "the case-study database is empty: import some with `enrichd case-studies import`"
)


@dataclass(frozen=True, slots=True)
class Target:
    """What the target is, as far as m01 and m02 tell."""

    vertical: str | None = None
    sub_vertical: str | None = None
    use_case: str | None = None
    size_tier: str | None = None
    competitor: str | None = None

    def as_data(self) -> dict[str, Any]:
        """``data.target``."""
        return {
            "vertical": self.vertical,
            "sub_vertical": self.sub_vertical,
            "use_case": self.use_case,
            "size_tier": self.size_tier,
            "competitor": self.competitor,
        }


@dataclass(frozen=True, slots=True)
class Match:
    """A case study's score and what earned it."""

    study: CaseStudy
    score: int
    reasons: tuple[str, ...]

    @property
    def reasoning(self) -> str:
        """One line naming what matched: "Same vertical (retail); enterprise like the target"."""
        line = "; ".join(self.reasons)
        return line[:1].upper() + line[1:]

    def as_data(self) -> dict[str, Any]:
        """One entry of ``primary_match`` / ``secondary_matches``."""
        s = self.study
        return {
            "case_study_id": s.id,
            "customer": s.customer,
            "vertical": s.vertical,
            "use_case": s.use_case,
            "competitor_displaced": s.competitor_displaced,
            "headline_result": s.headline_result,
            "quote": s.quote,
            "url": s.url,
            "score": self.score,
            "reasoning": self.reasoning,
        }


# -- the target -------------------------------------------------------------------------------


def infer_use_case(vertical: str | None, weights: CaseStudyWeights) -> str | None:
    """The target's likely use case: that of the first ``use_case_by_vertical`` keyword (in the
    configured order) its vertical contains as whole words."""
    if vertical is None:
        return None
    for keyword, use_case in weights.use_case_by_vertical.items():
        if has_phrase(vertical, keyword):
            return use_case
    return None


def _tier(employees: Any, weights: CaseStudyWeights) -> str | None:
    return size_tier(
        number(employees),
        enterprise=weights.enterprise_employees,
        mid_market=weights.mid_market_employees,
        smb=weights.smb_employees,
    )


def current_competitor(m02: Mapping[str, Any] | None, intel: IntelConfig) -> str | None:
    """The competitor product the target runs: m02's site-search vendor, else the first of its
    technologies on the ``competitors`` list; never the seller's own product."""
    if m02 is None:
        return None
    sellers = [p for p in (intel.seller_product, *intel.seller_product_aliases) if p.strip()]

    def is_seller(name: str) -> bool:
        return any(contains_product(name, seller) for seller in sellers)

    search = text(m02.get("search_provider"))
    if search is not None and not is_seller(search):
        return search
    # The commerce platform and CMS are not search vendors, whatever their name ("Elastic Path").
    roles = {compact(v) for v in (text(m02.get("commerce_platform")), text(m02.get("cms"))) if v}
    for name in technology_names(m02):
        if compact(name) in roles or is_seller(name):
            continue
        if any(same_product(name, competitor) for competitor in intel.competitors):
            return name
    return None


def target_of(
    m01: Mapping[str, Any] | None, m02: Mapping[str, Any] | None, intel: IntelConfig
) -> Target:
    """The target's vertical, sub-vertical, use case, size tier and competitor."""
    weights = intel.case_studies
    vertical = text(m01.get("industry")) if m01 else None
    return Target(
        vertical=vertical,
        sub_vertical=text(m01.get("sub_vertical")) if m01 else None,
        use_case=infer_use_case(vertical, weights),
        size_tier=_tier(m01.get("employees"), weights) if m01 else None,
        competitor=current_competitor(m02, intel),
    )


# -- scoring one case study -------------------------------------------------------------------

Part = tuple[int, str] | None


def _in_same_group(a: str, b: str, groups: Sequence[Sequence[str]]) -> bool:
    return any(
        any(has_phrase(a, word) for word in group) and any(has_phrase(b, word) for word in group)
        for group in groups
    )


def _vertical(study: CaseStudy, target: Target, intel: IntelConfig) -> Part:
    w = intel.case_studies
    if target.vertical is None or not study.vertical.strip():
        return None
    if compact(study.vertical) == compact(target.vertical):
        return w.vertical_exact, f"same vertical ({study.vertical})"
    if _in_same_group(study.vertical, target.vertical, w.related_verticals):
        return w.vertical_related, (
            f"related vertical ({study.vertical}, near the target's {target.vertical})"
        )
    return None


def _sub_vertical(study: CaseStudy, target: Target, intel: IntelConfig) -> Part:
    w = intel.case_studies
    if target.sub_vertical is None or text(study.sub_vertical) is None:
        return None
    if compact(study.sub_vertical or "") == compact(target.sub_vertical):
        return w.sub_vertical_exact, f"same sub-vertical ({study.sub_vertical})"
    return None


def _use_case(study: CaseStudy, target: Target, intel: IntelConfig) -> Part:
    w = intel.case_studies
    theirs = text(study.use_case)
    if target.use_case is None or theirs is None:
        return None
    if compact(theirs) == compact(target.use_case):
        return w.use_case_match, f"same use case ({theirs})"
    if _in_same_group(theirs, target.use_case, w.related_use_cases):
        return w.use_case_related, f"related use case ({theirs}, near {target.use_case})"
    return None


def study_tier(study: CaseStudy, w: CaseStudyWeights) -> str | None:
    """The case study's size tier: its own, else by its employee count."""
    return study.size_tier or _tier(study.employee_count, w)


def _size(study: CaseStudy, target: Target, intel: IntelConfig) -> Part:
    w = intel.case_studies
    tier = study_tier(study, w)
    if target.size_tier is None or tier != target.size_tier:
        return None
    return w.size_tier_equal, f"{TIER_LABELS.get(tier, tier)} like the target"


def same_competitor(a: str, b: str, competitors: Sequence[str]) -> bool:
    """Whether two competitor names are one vendor: they match each other ("Elastic" ~
    "Elasticsearch"), or both match one entry of the ``competitors`` list ("Elastic Site Search"
    and "Elasticsearch" are both Elastic)."""
    if same_product(a, b):
        return True
    return any(same_product(a, c) and same_product(b, c) for c in competitors)


def _competitor(study: CaseStudy, target: Target, intel: IntelConfig) -> Part:
    w = intel.case_studies
    displaced = text(study.competitor_displaced)
    if target.competitor is None or displaced is None:
        return None
    if not same_competitor(displaced, target.competitor, intel.competitors):
        return None
    runs = "which the target runs"
    if compact(displaced) != compact(target.competitor):
        runs = f"which the target runs ({target.competitor})"
    return w.competitor_takeout, f"displaced {displaced}, {runs}"


_COMPONENTS: Final = (_vertical, _sub_vertical, _use_case, _size, _competitor)


def score_study(study: CaseStudy, target: Target, intel: IntelConfig) -> Match:
    """The case study's relevance to the target and the reasons for it."""
    parts = [part for fn in _COMPONENTS if (part := fn(study, target, intel)) is not None]
    return Match(
        study=study,
        score=sum(points for points, _ in parts),
        reasons=tuple(reason for _, reason in parts),
    )


def rank(studies: Sequence[CaseStudy], target: Target, intel: IntelConfig) -> list[Match]:
    """The case studies scoring above zero, best first; ties by customer name, then id."""
    matches = [score_study(study, target, intel) for study in studies]
    kept = [m for m in matches if m.score > 0]
    return sorted(kept, key=lambda m: (-m.score, m.study.customer.casefold(), m.study.id))


# -- the module -------------------------------------------------------------------------------


def _citations(matches: Sequence[Match]) -> list[Citation]:
    out: list[Citation] = []
    for match in matches:
        url = text(match.study.url)
        if url is not None and all(c.url != url for c in out):
            out.append(Citation(url=url, title=f"Case study: {match.study.customer}"))
    return out


def _warnings(
    m01: Mapping[str, Any] | None, m02: Mapping[str, Any] | None, target: Target
) -> list[str]:
    warnings: list[str] = []
    if m01 is None:
        warnings.append(f"no company data ({M01}): vertical and size unknown")
    elif target.vertical is None:
        warnings.append(f"{M01} has no industry: vertical and use case unknown")
    if m02 is None:
        warnings.append(f"no technology data ({M02}): competitor unknown")
    return warnings


async def run_case_study_match(ctx: ModuleContext) -> ModuleResult:
    """m13: the best case study for the target and the next few."""
    studies = ctx.case_studies()
    if not studies:
        empty: dict[str, Any] = {"primary_match": None, "secondary_matches": []}
        return ModuleResult(
            data=empty,
            data_points=count_points(empty),
            source="case_studies",
            warnings=[EMPTY_DB_WARNING],
        )
    weights = ctx.intel.case_studies
    m01, m02 = optional_dependency(ctx, M01), optional_dependency(ctx, M02)
    target = target_of(m01, m02, ctx.intel)
    ranked = rank(studies, target, ctx.intel)
    shown = ranked[: 1 + weights.secondary_matches]
    data: dict[str, Any] = {
        "primary_match": shown[0].as_data() if shown else None,
        "secondary_matches": [m.as_data() for m in shown[1:]],
        "target": target.as_data(),
        "matches_considered": len(studies),
        "matches_found": len(ranked),
    }
    warnings = _warnings(m01, m02, target)
    if not ranked:
        warnings.append(f"none of the {len(studies)} case studies matches the target")
    return ModuleResult(
        data=data,
        data_points=count_points(data),
        citations=_citations(shown),
        source="case_studies",
        warnings=warnings,
    )
