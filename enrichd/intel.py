"""``[intel]``: the sales-intelligence settings of modules m13-m15.

Every list, weight, band and threshold of the sales rules (``sales-intel-rules.md``) is a default
here, not a constant in code, so a team selling another product re-aims the daemon in
``config.toml``. Unknown keys and wrong types stop start-up with a message naming the key, like
the rest of the configuration.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = [
    "Band",
    "CaseStudyWeights",
    "IcpWeights",
    "IncumbentProfile",
    "IntelConfig",
    "Tiers",
]

_Points = Annotated[int, msgspec.Meta(ge=-100, le=100)]


class Band(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``points`` when a value is at least ``min``."""

    min: float
    points: _Points


class Tiers(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """ICP tier thresholds (score at least): hot, warm, cool; below cool is cold."""

    hot: int = 80
    warm: int = 60
    cool: int = 40

    def __post_init__(self) -> None:
        if not self.hot > self.warm > self.cool:
            raise ValueError(
                f"tiers must decrease: hot ({self.hot}) > warm ({self.warm}) > cool ({self.cool})"
            )


def _visit_bands() -> list[Band]:
    return [
        Band(min=50_000_000, points=30),
        Band(min=10_000_000, points=25),
        Band(min=1_000_000, points=15),
        Band(min=500_000, points=10),
        Band(min=100_000, points=5),
    ]


def _spend_bands() -> list[Band]:
    return [
        Band(min=100_000, points=20),
        Band(min=50_000, points=15),
        Band(min=25_000, points=10),
        Band(min=10_000, points=5),
    ]


def _vertical_points() -> dict[str, int]:
    return {
        "commerce": 40,
        "e-commerce": 40,
        "ecommerce": 40,
        "retail": 40,
        "marketplace": 40,
        "media": 30,
        "publishing": 30,
        "content": 25,
        "documentation": 25,
        "support": 15,
        "internal": 10,
    }


def _partner_points() -> dict[str, int]:
    # Matching is by name; the longest matching name wins ("Shopify Plus" over "Shopify").
    return {
        "Adobe Experience Manager": 10,
        "AEM": 10,
        "Experience Manager": 10,
        "Adobe Commerce": 10,
        "Shopify Plus": 8,
        "Shopify": 7,
        "Salesforce Commerce Cloud": 7,
        "commercetools": 6,
        "Salesforce": 6,
        "BigCommerce": 5,
        "Magento": 5,
    }


def _actions() -> dict[str, str]:
    return {
        "hot": "Immediate outreach: book a discovery call this week",
        "warm": "Nurture sequence with a personalised email",
        "cool": "Quarterly check-in; watch for trigger events",
        "cold": "Passive monitoring",
        "existing_customer": (
            "Existing customer: hand to account management for expansion, not displacement"
        ),
    }


class IcpWeights(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """m14: points per input (vertical, monthly visits, annual tech spend, partner technology)."""

    #: Vertical keyword -> points; a vertical containing the keyword scores (best match wins).
    vertical_points: dict[str, _Points] = msgspec.field(default_factory=_vertical_points)
    #: Points for a known vertical that matches no keyword above.
    other_vertical_points: _Points = 5
    visit_bands: list[Band] = msgspec.field(default_factory=_visit_bands)
    #: Bands on the *annual* spend (BuiltWith's monthly ``Spend`` times 12).
    spend_bands: list[Band] = msgspec.field(default_factory=_spend_bands)
    #: Partner technology name -> points (the longest matching name wins).
    partner_points: dict[str, _Points] = msgspec.field(default_factory=_partner_points)
    #: Points for a technology on the partner list that has no entry in ``partner_points``.
    other_partner_points: _Points = 3
    tiers: Tiers = msgspec.field(default_factory=Tiers)
    recommended_actions: dict[str, str] = msgspec.field(default_factory=_actions)

    def __post_init__(self) -> None:
        for name in ("visit_bands", "spend_bands"):
            bands = getattr(self, name)
            if [b.min for b in bands] != sorted((b.min for b in bands), reverse=True):
                raise ValueError(f"{name} must be ordered from the highest min to the lowest")
        missing = {"hot", "warm", "cool", "cold"} - set(self.recommended_actions)
        if missing:
            raise ValueError(f"recommended_actions lacks {', '.join(sorted(missing))}")


def _related_verticals() -> list[list[str]]:
    return [
        ["retail", "e-commerce", "ecommerce", "commerce", "marketplace"],
        ["media", "entertainment", "publishing", "news"],
        ["saas", "software", "technology"],
        ["finance", "fintech", "banking", "insurance"],
        ["healthcare", "health", "medical", "pharma"],
        ["travel", "hospitality", "tourism"],
    ]


def _use_cases() -> dict[str, str]:
    # Vertical keyword -> the use case a target in that vertical most likely has.
    return {
        "marketplace": "marketplace search",
        "retail": "e-commerce search",
        "commerce": "e-commerce search",
        "e-commerce": "e-commerce search",
        "ecommerce": "e-commerce search",
        "b2c": "e-commerce search",
        "media": "content discovery",
        "publishing": "content discovery",
        "news": "content discovery",
        "software": "documentation search",
        "saas": "documentation search",
        "technology": "documentation search",
    }


def _related_use_cases() -> list[list[str]]:
    return [
        ["e-commerce search", "marketplace search"],
        ["content discovery", "documentation search"],
    ]


class CaseStudyWeights(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """m13: how a case study's relevance to the target is scored (0-100)."""

    vertical_exact: _Points = 40
    vertical_related: _Points = 20
    related_verticals: list[list[str]] = msgspec.field(default_factory=_related_verticals)
    sub_vertical_exact: _Points = 15
    use_case_match: _Points = 20
    use_case_related: _Points = 10
    #: Vertical keyword -> inferred use case of the target.
    use_case_by_vertical: dict[str, str] = msgspec.field(default_factory=_use_cases)
    related_use_cases: list[list[str]] = msgspec.field(default_factory=_related_use_cases)
    size_tier_equal: _Points = 15
    competitor_takeout: _Points = 10
    #: Employee counts at which a company is enterprise, mid-market, smb (below: startup).
    enterprise_employees: int = 10_000
    mid_market_employees: int = 1_000
    smb_employees: int = 100
    #: How many matches follow the primary one.
    secondary_matches: Annotated[int, msgspec.Meta(ge=0, le=20)] = 3

    def size_tier(self, employees: float) -> str:
        """enterprise, mid-market, smb or startup for a company of ``employees``."""
        if employees >= self.enterprise_employees:
            return "enterprise"
        if employees >= self.mid_market_employees:
            return "mid-market"
        if employees >= self.smb_employees:
            return "smb"
        return "startup"


class IncumbentProfile(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """m15: what displacing one incumbent is like."""

    difficulty: str
    #: Estimated conversion lift range, in percent.
    lift: tuple[int, int]
    threat: str


def _incumbents() -> dict[str, IncumbentProfile]:
    low, medium, high = "low", "medium", "high"
    return {
        "none": IncumbentProfile(difficulty=low, lift=(15, 30), threat=low),
        "Solr": IncumbentProfile(difficulty=medium, lift=(10, 20), threat=low),
        "Elasticsearch": IncumbentProfile(difficulty=medium, lift=(5, 15), threat=medium),
        "Elastic": IncumbentProfile(difficulty=medium, lift=(5, 15), threat=medium),
        "OpenSearch": IncumbentProfile(difficulty=medium, lift=(5, 15), threat=medium),
        "Lucidworks": IncumbentProfile(difficulty=high, lift=(3, 8), threat=medium),
        "Searchspring": IncumbentProfile(difficulty=medium, lift=(5, 10), threat=low),
        "Klevu": IncumbentProfile(difficulty=medium, lift=(5, 10), threat=low),
        "Doofinder": IncumbentProfile(difficulty=medium, lift=(5, 10), threat=low),
        "Constructor": IncumbentProfile(difficulty=high, lift=(3, 8), threat=high),
        "Bloomreach": IncumbentProfile(difficulty=high, lift=(3, 8), threat=high),
        "Coveo": IncumbentProfile(difficulty=high, lift=(3, 8), threat=high),
    }


def _competitors() -> list[str]:
    return [
        "Elasticsearch",
        "Elastic",
        "OpenSearch",
        "Solr",
        "Coveo",
        "Searchspring",
        "Klevu",
        "Constructor",
        "Bloomreach",
        "Lucidworks",
        "Yext",
        "Swiftype",
        "Doofinder",
        "Salesforce Einstein",
        "Endeca",
    ]


def _partners() -> list[str]:
    return [
        "Adobe Experience Manager",
        "Adobe Commerce",
        "Shopify",
        "Salesforce Commerce Cloud",
        "commercetools",
        "BigCommerce",
        "Magento",
        "Amplience",
        "Spryker",
    ]


class IntelConfig(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``[intel]``: who the seller is, who it competes with and partners with, and every weight."""

    #: The product the sales team sells; seen in a target's tech stack, it marks a customer.
    seller_product: str = "Algolia"
    #: Other names the seller's product appears under in technology detection.
    seller_product_aliases: list[str] = msgspec.field(default_factory=list)
    #: Competitor products (the incumbents a deal would displace).
    competitors: list[str] = msgspec.field(default_factory=_competitors)
    #: Partner platforms (co-sell; worth ICP points).
    partners: list[str] = msgspec.field(default_factory=_partners)
    icp: IcpWeights = msgspec.field(default_factory=IcpWeights)
    case_studies: CaseStudyWeights = msgspec.field(default_factory=CaseStudyWeights)
    #: m15: incumbent name (or "none") -> difficulty, lift and threat; others use ``default``.
    incumbents: dict[str, IncumbentProfile] = msgspec.field(default_factory=_incumbents)
    default_incumbent: IncumbentProfile = msgspec.field(
        default_factory=lambda: IncumbentProfile(difficulty="medium", lift=(3, 8), threat="low")
    )
    #: m15 asks the language model (``[sources.llm]``) when it is configured; false: rules only.
    use_llm: bool = True
