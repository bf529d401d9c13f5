"""m14_icp_scoring: how well a company fits the ideal customer profile, 0-100.

Four inputs (sales-intel-rules.md, "m14"), every keyword, band, point and tier from
``[intel.icp]``:

- vertical: m01's ``industry`` against ``vertical_points`` (the best-scoring keyword found in it
  as whole words); a known industry with none of them scores ``other_vertical_points``;
- monthly visits: m03's ``monthly_visits`` in ``visit_bands``;
- technology spend: m02's monthly ``monthly_spend_usd`` times 12 in ``spend_bands``;
- partner technology: m02's technologies against ``partner_points`` and ``[intel] partners``.

An input whose module failed (or has no value) is *absent*: it scores nothing and lowers the
``confidence``, the share of inputs present. The company is an existing customer when the seller's
product is in its stack: still scored, but not a displacement target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from enrichd.intel import Band, IcpWeights, IntelConfig

from .._types import Citation, ModuleContext, ModuleResult
from ._common import count_points
from ._matching import (
    TIER_LABELS,
    compact,
    contains_product,
    has_phrase,
    human_number,
    number,
    optional_dependency,
    prefix_words,
    size_tier,
    technology_names,
    text,
)

M01: Final = "m01_company_context"
M02: Final = "m02_tech_stack"
M03: Final = "m03_traffic"
M07: Final = "m07_financials"

INPUTS: Final = ("vertical", "monthly_visits", "tech_spend", "partner_technology")

#: Said for an existing customer unless ``[intel.icp.recommended_actions] existing_customer``
#: says otherwise.
EXISTING_CUSTOMER_ACTION: Final = (
    "Existing customer: hand to account management for expansion, not displacement"
)


@dataclass(frozen=True, slots=True)
class Scored:
    """One input's points, the value they came from, and whether the input was present."""

    points: int
    value: Any
    present: bool
    signal: str | None = None

    def breakdown(self) -> dict[str, Any]:
        """The input as it appears in ``breakdown``."""
        return {"points": self.points, "value": self.value, "present": self.present}


ABSENT: Final = Scored(points=0, value=None, present=False)


def band_for(value: float, bands: Sequence[Band]) -> Band | None:
    """The first band (highest ``min`` first) whose ``min`` the value reaches."""
    for band in bands:
        if value >= band.min:
            return band
    return None


def _strong(points: int, bands: Sequence[Band]) -> bool:
    # "High"/"significant" for the upper half of the point range the bands span.
    top = max((b.points for b in bands), default=0)
    return top > 0 and points * 2 >= top


def score_vertical(industry: Any, icp: IcpWeights) -> Scored:
    """Points of m01's ``industry``: the best keyword of ``vertical_points`` it contains."""
    name = text(industry)
    if name is None:
        return ABSENT
    matched = [
        points for keyword, points in icp.vertical_points.items() if has_phrase(name, keyword)
    ]
    if not matched:
        return Scored(points=icp.other_vertical_points, value=name, present=True)
    points = max(matched)
    if points >= max(icp.vertical_points.values()):
        signal = f"High-value vertical ({name})"
    elif points > icp.other_vertical_points:
        signal = f"Relevant vertical ({name})"
    else:
        signal = None
    return Scored(points=points, value=name, present=True, signal=signal)


def score_visits(visits: Any, icp: IcpWeights) -> Scored:
    """Points of m03's ``monthly_visits`` in ``visit_bands``."""
    value = number(visits)
    if value is None:
        return ABSENT
    band = band_for(value, icp.visit_bands)
    if band is None or band.points <= 0:
        return Scored(points=band.points if band else 0, value=visits, present=True)
    level = "High" if _strong(band.points, icp.visit_bands) else "Moderate"
    signal = f"{level} traffic (≥{human_number(band.min)} visits/month)"
    return Scored(points=band.points, value=visits, present=True, signal=signal)


def score_spend(monthly: Any, icp: IcpWeights) -> Scored:
    """Points of the annual technology spend (m02's monthly ``monthly_spend_usd`` times 12)."""
    value = number(monthly)
    if value is None:
        return ABSENT
    annual = monthly * 12
    band = band_for(annual, icp.spend_bands)
    if band is None or band.points <= 0:
        return Scored(points=band.points if band else 0, value=annual, present=True)
    level = "Significant" if _strong(band.points, icp.spend_bands) else "Moderate"
    signal = f"{level} tech spend (≥${human_number(band.min)}/yr)"
    return Scored(points=band.points, value=annual, present=True, signal=signal)


def partner_table(intel: IntelConfig) -> list[tuple[str, int]]:
    """Every partner name with its points: ``partner_points``, then ``partners`` without an entry
    there (worth ``other_partner_points``)."""
    icp = intel.icp
    table = list(icp.partner_points.items())
    known = {compact(name) for name in icp.partner_points}
    for name in intel.partners:
        if compact(name) not in known:
            known.add(compact(name))
            table.append((name, icp.other_partner_points))
    return table


def partner_of(technology: str, table: Sequence[tuple[str, int]]) -> tuple[str, int] | None:
    """The partner a technology is: the *longest* listed name it starts with, so "Shopify Plus"
    is Shopify Plus (not Shopify) and "Salesforce Commerce Cloud" is not plain Salesforce."""
    matches = [(name, points) for name, points in table if prefix_words(technology, name)]
    if not matches:
        return None
    return max(matches, key=lambda match: len(match[0]))


def score_partner(m02: Mapping[str, Any] | None, intel: IntelConfig) -> Scored:
    """Points of the best partner technology in m02's stack (each technology recognised by its
    longest listed name; the best-scoring technology wins); none scores 0."""
    if m02 is None:
        return ABSENT
    table = partner_table(intel)
    best: tuple[str, str, int] | None = None
    for technology in technology_names(m02):
        found = partner_of(technology, table)
        if found is not None and (best is None or found[1] > best[2]):
            best = (technology, found[0], found[1])
    if best is None:
        return Scored(points=0, value=None, present=True)
    technology, partner, points = best
    signal = f"{partner} partner" if points > 0 else None
    return Scored(points=points, value=technology, present=True, signal=signal)


def seller_detected(m02: Mapping[str, Any] | None, intel: IntelConfig) -> str | None:
    """The technology of m02 (or its site-search vendor) that is the seller's own product."""
    if m02 is None:
        return None
    products = [intel.seller_product, *intel.seller_product_aliases]
    names = technology_names(m02)
    search = text(m02.get("search_provider"))
    if search is not None:
        names.insert(0, search)
    for name in names:
        if any(contains_product(name, product) for product in products if product.strip()):
            return name
    return None


def tier_of(score: int, icp: IcpWeights) -> str:
    """hot, warm, cool or cold by the ``tiers`` thresholds."""
    tiers = icp.tiers
    if score >= tiers.hot:
        return "hot"
    if score >= tiers.warm:
        return "warm"
    if score >= tiers.cool:
        return "cool"
    return "cold"


def _money(amount: float, currency: Any) -> str:
    code = text(currency)
    if code is None or code.upper() == "USD":
        return f"${human_number(amount)}"
    return f"{human_number(amount)} {code.upper()}"


def size_signal(
    m01: Mapping[str, Any] | None, m07: Mapping[str, Any] | None, intel: IntelConfig
) -> str | None:
    """ "Enterprise ($254B revenue)": the size tier by m01's employees and m07's revenue.

    A signal only (no points): the sales rules score no size.
    """
    weights = intel.case_studies
    employees = number(m01.get("employees")) if m01 is not None else None
    tier = size_tier(
        employees,
        enterprise=weights.enterprise_employees,
        mid_market=weights.mid_market_employees,
        smb=weights.smb_employees,
    )
    revenue = number(m07.get("revenue")) if m07 is not None else None
    detail: str | None = None
    if m07 is not None and revenue is not None and revenue > 0:
        approx = "~" if m07.get("revenue_estimated") is True else ""
        detail = f"{approx}{_money(revenue, m07.get('currency'))} revenue"
    elif employees is not None:
        detail = f"{int(employees):,} employees"
    if tier is None:
        return detail[0].upper() + detail[1:] if detail else None
    label = TIER_LABELS[tier]
    label = label[0].upper() + label[1:]
    return f"{label} ({detail})" if detail else label


def previous_score(ctx: ModuleContext) -> int | None:
    """The score of this domain's last stored ICP result, if there is one."""
    previous = ctx.previous()
    if previous is None:
        return None
    score = previous.get("score")
    return score if isinstance(score, int) and not isinstance(score, bool) else None


def _citations(ctx: ModuleContext, present: Sequence[str]) -> list[Citation]:
    # The first citation of each input module, once per URL.
    out: list[Citation] = []
    for module_id in present:
        cited = ctx.citations(module_id)
        if cited and all(c.url != cited[0].url for c in out):
            out.append(cited[0])
    return out


def _warnings(scored: Mapping[str, Scored]) -> list[str]:
    why = {
        "vertical": f"no industry ({M01}): vertical not scored",
        "monthly_visits": f"no traffic data ({M03}): monthly visits not scored",
        "tech_spend": f"no technology spend ({M02}): spend not scored",
        "partner_technology": f"no technology data ({M02}): partner technology not scored",
    }
    warnings = [why[name] for name in INPUTS if not scored[name].present]
    if len(warnings) == len(INPUTS):
        warnings.append("no input was available: the score says nothing about the company")
    return warnings


async def run_icp_scoring(ctx: ModuleContext) -> ModuleResult:
    """m14: the ICP score, tier, confidence, breakdown, signals and the action to take."""
    intel = ctx.intel
    icp = intel.icp
    deps = {mid: optional_dependency(ctx, mid) for mid in (M01, M02, M03, M07)}
    m01, m02, m03, m07 = deps[M01], deps[M02], deps[M03], deps[M07]
    scored = {
        "vertical": score_vertical(m01.get("industry") if m01 else None, icp),
        "monthly_visits": score_visits(m03.get("monthly_visits") if m03 else None, icp),
        "tech_spend": score_spend(m02.get("monthly_spend_usd") if m02 else None, icp),
        "partner_technology": score_partner(m02, intel),
    }
    # The rules' score is 0-100; configured points may add up beyond either end.
    score = max(0, min(100, sum(s.points for s in scored.values())))
    tier = tier_of(score, icp)
    customer = seller_detected(m02, intel)
    signals = [s.signal for s in scored.values() if s.signal]
    size = size_signal(m01, m07, intel)
    if size:
        signals.append(size)
    action = icp.recommended_actions[tier]
    if customer is not None:
        signals.insert(0, f"Existing customer ({customer} detected)")
        action = icp.recommended_actions.get("existing_customer", EXISTING_CUSTOMER_ACTION)
    before = previous_score(ctx)
    present = sum(1 for s in scored.values() if s.present)
    data: dict[str, Any] = {
        "score": score,
        "tier": tier,
        "confidence": round(present / len(INPUTS), 2),
        "breakdown": {name: scored[name].breakdown() for name in INPUTS},
        "signals": signals,
        "recommended_action": action,
        "previous_score": before,
        "score_change": score - before if before is not None else None,
        "existing_customer": customer is not None,
        "displacement_target": customer is None,
    }
    return ModuleResult(
        data=data,
        data_points=count_points(data),
        citations=_citations(ctx, [mid for mid, dep in deps.items() if dep is not None]),
        source="intel",
        warnings=_warnings(scored),
    )
