"""m14_icp_scoring on fixed inputs: every rule of sales-intel-rules.md, "m14", point by point.

The module reads only its dependencies' data, so a :class:`~enrichd.testing.ModuleTestContext`
without sources runs it; a dependency left out of ``dependencies`` is one that failed
(``dependency_missing``), as in the daemon.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from enrichd.intel import Band, IcpWeights, IntelConfig, Tiers
from enrichd.plugins import Citation, ModuleResult
from enrichd.plugins.builtin._common import count_points
from enrichd.plugins.builtin._icp import (
    EXISTING_CUSTOMER_ACTION,
    band_for,
    partner_of,
    partner_table,
    run_icp_scoring,
    score_partner,
    score_spend,
    score_vertical,
    score_visits,
    size_signal,
    tier_of,
)
from enrichd.plugins.builtin._matching import (
    contains_product,
    has_phrase,
    human_number,
    prefix_words,
    same_product,
    size_tier,
)
from enrichd.testing import ModuleTestContext

M01, M02, M03, M07 = "m01_company_context", "m02_tech_stack", "m03_traffic", "m07_financials"
ICP = IcpWeights()
ALL_INPUTS = {"vertical", "monthly_visits", "tech_spend", "partner_technology"}
INTEL = IntelConfig()


def tech(*names: str, **extra: Any) -> dict[str, Any]:
    """m02 data with these technologies (and no spend unless given)."""
    data: dict[str, Any] = {
        "technologies": [{"name": n, "category": "x"} for n in names],
        "technology_count": len(names),
        "monthly_spend_usd": None,
        "commerce_platform": None,
        "cms": None,
        "search_provider": None,
    }
    data.update(extra)
    return data


def context(
    *,
    m01: Mapping[str, Any] | None = None,
    m02: Mapping[str, Any] | None = None,
    m03: Mapping[str, Any] | None = None,
    m07: Mapping[str, Any] | None = None,
    previous: Mapping[str, Any] | None = None,
    intel: IntelConfig | None = None,
) -> ModuleTestContext:
    """A context whose missing inputs raise ``dependency_missing``."""
    given = {M01: m01, M02: m02, M03: m03, M07: m07}
    deps = {mid: data for mid, data in given.items() if data is not None}
    citations = {mid: [Citation(url=f"https://{mid}.example/1", title=mid)] for mid in deps}
    # A second citation per input, which m14 does not repeat.
    for mid in deps:
        citations[mid].append(Citation(url=f"https://{mid}.example/2", title=mid))
    return ModuleTestContext(
        {},
        "acme.example",
        module_id="m14_icp_scoring",
        dependencies=deps,
        citations=citations,
        previous={"m14_icp_scoring": previous} if previous is not None else None,
        intel=intel,
    )


async def score(**kwargs: Any) -> ModuleResult:
    """Run m14 over a :func:`context` built from ``kwargs``."""
    return await run_icp_scoring(context(**kwargs))


# -- vertical ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("industry", "points"),
    [
        ("Retail", 40),
        ("retail", 40),
        ("E-commerce", 40),
        ("E-Commerce", 40),
        ("Ecommerce", 40),
        ("Commerce", 40),
        ("Online Marketplace", 40),
        ("Marketplaces", 40),
        ("Media", 30),
        ("News and Media", 30),
        ("Publishing", 30),
        ("Content", 25),
        ("Documentation", 25),
        ("Customer Support", 15),
        ("Internal Tools", 10),
        # Known verticals with no keyword: other_vertical_points.
        ("Software", 5),
        ("Shopping", 5),
        ("Healthcare", 5),
        # Whole words only: a mediation firm is not media, an international firm not internal.
        ("Mediation", 5),
        ("International Trade", 5),
        # The best-scoring keyword wins, wherever it is.
        ("Media & Retail", 40),
        ("Support Content", 25),
    ],
)
def test_vertical_keyword_classes(industry: str, points: int) -> None:
    scored = score_vertical(industry, ICP)
    assert (scored.points, scored.value, scored.present) == (points, industry, True)


@pytest.mark.parametrize("industry", [None, "", "   ", 42])
def test_vertical_unknown_is_absent(industry: Any) -> None:
    scored = score_vertical(industry, ICP)
    assert (scored.points, scored.value, scored.present) == (0, None, False)


def test_vertical_signals() -> None:
    assert score_vertical("Retail", ICP).signal == "High-value vertical (Retail)"
    assert score_vertical("Media", ICP).signal == "Relevant vertical (Media)"
    assert score_vertical("Software", ICP).signal is None


# -- monthly visits ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("visits", "points", "signal"),
    [
        (250_000_000, 30, "High traffic (≥50M visits/month)"),
        (50_000_000, 30, "High traffic (≥50M visits/month)"),
        (49_999_999, 25, "High traffic (≥10M visits/month)"),
        (10_000_000, 25, "High traffic (≥10M visits/month)"),
        (9_999_999, 15, "High traffic (≥1M visits/month)"),
        (1_000_000, 15, "High traffic (≥1M visits/month)"),
        (999_999, 10, "Moderate traffic (≥500K visits/month)"),
        (500_000, 10, "Moderate traffic (≥500K visits/month)"),
        (499_999, 5, "Moderate traffic (≥100K visits/month)"),
        (100_000, 5, "Moderate traffic (≥100K visits/month)"),
        (99_999, 0, None),
        (0, 0, None),
        (12_500_000.5, 25, "High traffic (≥10M visits/month)"),
    ],
)
def test_visit_bands(visits: float, points: int, signal: str | None) -> None:
    scored = score_visits(visits, ICP)
    assert (scored.points, scored.value, scored.present, scored.signal) == (
        points,
        visits,
        True,
        signal,
    )


@pytest.mark.parametrize("visits", [None, "12M", True])
def test_visits_missing_is_absent(visits: Any) -> None:
    assert score_visits(visits, ICP).present is False


def test_visit_signal_threshold_comes_from_the_band() -> None:
    icp = IcpWeights(visit_bands=[Band(min=2_500_000, points=40), Band(min=750_000, points=12)])
    assert score_visits(3_000_000, icp).signal == "High traffic (≥2.5M visits/month)"
    assert score_visits(750_000, icp).signal == "Moderate traffic (≥750K visits/month)"
    assert score_visits(749_999, icp).points == 0


# -- technology spend ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annual", "points"),
    [
        (100_000, 20),
        (99_999, 15),
        (50_000, 15),
        (49_999, 10),
        (25_000, 10),
        (24_999, 5),
        (10_000, 5),
        (9_999, 0),
    ],
)
def test_spend_bands_at_each_boundary(annual: int, points: int) -> None:
    band = band_for(annual, ICP.spend_bands)
    assert (band.points if band else 0) == points


@pytest.mark.parametrize(
    ("monthly", "annual", "points", "signal"),
    [
        # BuiltWith's Spend is monthly: the bands are on 12 times it.
        (8_334, 100_008, 20, "Significant tech spend (≥$100K/yr)"),
        (8_333, 99_996, 15, "Significant tech spend (≥$50K/yr)"),
        (4_167, 50_004, 15, "Significant tech spend (≥$50K/yr)"),
        (4_166, 49_992, 10, "Significant tech spend (≥$25K/yr)"),
        (2_084, 25_008, 10, "Significant tech spend (≥$25K/yr)"),
        (2_083, 24_996, 5, "Moderate tech spend (≥$10K/yr)"),
        (834, 10_008, 5, "Moderate tech spend (≥$10K/yr)"),
        (833, 9_996, 0, None),
        (0, 0, 0, None),
    ],
)
def test_spend_is_monthly_times_twelve(
    monthly: int, annual: int, points: int, signal: str | None
) -> None:
    scored = score_spend(monthly, ICP)
    assert (scored.points, scored.value, scored.present, scored.signal) == (
        points,
        annual,
        True,
        signal,
    )


def test_spend_exactly_at_annual_boundaries_from_monthly() -> None:
    # Bands whose minimums are whole months, so the monthly figure lands exactly on them.
    icp = IcpWeights(
        spend_bands=[
            Band(min=120_000, points=20),
            Band(min=60_000, points=15),
            Band(min=24_000, points=10),
        ]
    )
    assert [score_spend(m, icp).points for m in (10_000, 9_999, 5_000, 4_999, 2_000, 1_999)] == [
        20,
        15,
        15,
        10,
        10,
        0,
    ]


def test_spend_unknown_is_absent() -> None:
    assert score_spend(None, ICP).present is False


# -- partner technology --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("technologies", "points", "value"),
    [
        (["Shopify Plus"], 8, "Shopify Plus"),
        (["Shopify"], 7, "Shopify"),
        # BuiltWith lists both for a Plus store: the better one wins whatever the order.
        (["Shopify", "Shopify Plus"], 8, "Shopify Plus"),
        (["Shopify Plus", "Shopify"], 8, "Shopify Plus"),
        (["Salesforce Commerce Cloud"], 7, "Salesforce Commerce Cloud"),
        (["Salesforce"], 6, "Salesforce"),
        (["Adobe Experience Manager"], 10, "Adobe Experience Manager"),
        (["AEM"], 10, "AEM"),
        (["Adobe Commerce"], 10, "Adobe Commerce"),
        (["commercetools"], 6, "commercetools"),
        (["CommerceTools"], 6, "CommerceTools"),
        (["BigCommerce"], 5, "BigCommerce"),
        (["Magento 2 Community"], 5, "Magento 2 Community"),
        # On [intel] partners without a points entry: other_partner_points.
        (["Amplience"], 3, "Amplience"),
        (["Spryker"], 3, "Spryker"),
        # Not Adobe's: the name only ends with "Experience Manager".
        (["Bloomreach Experience Manager"], 0, None),
        (["WordPress", "jQuery"], 0, None),
        ([], 0, None),
        # Across technologies the best-scoring partner wins, not the longest name.
        (["Salesforce Commerce Cloud", "Adobe Experience Manager"], 10, "Adobe Experience Manager"),
        (["Magento", "Shopify"], 7, "Shopify"),
    ],
)
def test_partner_points(technologies: list[str], points: int, value: str | None) -> None:
    scored = score_partner(tech(*technologies), INTEL)
    assert (scored.points, scored.value, scored.present) == (points, value, True)


def test_partner_longest_name_decides_whatever_the_table_order() -> None:
    table = [
        ("Shopify", 7),
        ("Salesforce", 6),
        ("Shopify Plus", 8),
        ("Salesforce Commerce Cloud", 7),
    ]
    assert partner_of("Shopify Plus", table) == ("Shopify Plus", 8)
    assert partner_of("Salesforce Commerce Cloud", table) == ("Salesforce Commerce Cloud", 7)
    assert partner_of("Salesforce Marketing Cloud", table) == ("Salesforce", 6)
    assert partner_of("Shopware", table) is None


def test_partner_from_commerce_platform_and_cms_fields() -> None:
    assert score_partner(tech(cms="Adobe Experience Manager"), INTEL).points == 10
    assert score_partner(tech("jQuery", commerce_platform="Shopify Plus"), INTEL).points == 8


def test_partner_signal_and_absence() -> None:
    assert score_partner(tech("Shopify Plus"), INTEL).signal == "Shopify Plus partner"
    assert score_partner(tech("Magento 2"), INTEL).signal == "Magento partner"
    assert score_partner(tech(), INTEL).signal is None
    missing = score_partner(None, INTEL)
    assert (missing.points, missing.present) == (0, False)


def test_partner_table_adds_partners_without_points_once() -> None:
    intel = IntelConfig(
        partners=["Shopify", "Amplience", "amplience", "Vtex"],
        icp=IcpWeights(partner_points={"Shopify": 9}, other_partner_points=2),
    )
    assert partner_table(intel) == [("Shopify", 9), ("Amplience", 2), ("Vtex", 2)]
    assert score_partner(tech("VTEX"), intel).points == 2


# -- tiers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "tier"),
    [
        (100, "hot"),
        (80, "hot"),
        (79, "warm"),
        (60, "warm"),
        (59, "cool"),
        (40, "cool"),
        (39, "cold"),
        (0, "cold"),
    ],
)
def test_tier_boundaries(score: int, tier: str) -> None:
    assert tier_of(score, ICP) == tier


@pytest.mark.parametrize(
    ("points", "tier"),
    [(80, "hot"), (79, "warm"), (60, "warm"), (59, "cool"), (40, "cool"), (39, "cold")],
)
async def test_tier_and_action_of_a_run(points: int, tier: str) -> None:
    intel = IntelConfig(icp=IcpWeights(vertical_points={"retail": points}))
    result = await score(m01={"industry": "Retail"}, intel=intel)
    assert result.data["score"] == points
    assert result.data["tier"] == tier
    assert result.data["recommended_action"] == ICP.recommended_actions[tier]


# -- the whole result ----------------------------------------------------------------------------

M01_DATA = {"company_name": "Acme", "industry": "Retail", "employees": 316_000}
M02_DATA = tech(
    "Adobe Experience Manager",
    "Elasticsearch",
    monthly_spend_usd=9_000,
    search_provider="Elasticsearch",
)
M03_DATA = {"monthly_visits": 15_000_000, "month": "2026-05"}
M07_DATA = {"public": True, "revenue": 254_000_000_000, "currency": "USD"}


async def test_full_result() -> None:
    result = await score(m01=M01_DATA, m02=M02_DATA, m03=M03_DATA, m07=M07_DATA)
    data = result.data
    # 40 (Retail) + 25 (15M visits) + 20 ($108K/yr) + 10 (AEM).
    assert data == {
        "score": 95,
        "tier": "hot",
        "confidence": 1.0,
        "breakdown": {
            "vertical": {"points": 40, "value": "Retail", "present": True},
            "monthly_visits": {"points": 25, "value": 15_000_000, "present": True},
            "tech_spend": {"points": 20, "value": 108_000, "present": True},
            "partner_technology": {
                "points": 10,
                "value": "Adobe Experience Manager",
                "present": True,
            },
        },
        "signals": [
            "High-value vertical (Retail)",
            "High traffic (≥10M visits/month)",
            "Significant tech spend (≥$100K/yr)",
            "Adobe Experience Manager partner",
            "Enterprise ($254B revenue)",
        ],
        "recommended_action": ICP.recommended_actions["hot"],
        "previous_score": None,
        "score_change": None,
        "existing_customer": False,
        "displacement_target": True,
    }
    assert result.data_points == count_points(data)
    assert result.source == "intel"
    assert result.warnings == []
    # The first citation of each input.
    assert [c.url for c in result.citations] == [
        f"https://{mid}.example/1" for mid in (M01, M02, M03, M07)
    ]


async def test_score_is_capped_at_100() -> None:
    intel = IntelConfig(icp=IcpWeights(vertical_points={"retail": 100}))
    result = await score(m01=M01_DATA, m03=M03_DATA, intel=intel)
    assert result.data["score"] == 100


@pytest.mark.parametrize(
    ("inputs", "confidence", "absent"),
    [
        ({}, 0.0, ALL_INPUTS),
        ({"m01": M01_DATA}, 0.25, {"monthly_visits", "tech_spend", "partner_technology"}),
        ({"m01": M01_DATA, "m03": M03_DATA}, 0.5, {"tech_spend", "partner_technology"}),
        # m02 without a spend figure: partner technology present, spend absent.
        ({"m01": M01_DATA, "m03": M03_DATA, "m02": tech("WordPress")}, 0.75, {"tech_spend"}),
        ({"m01": M01_DATA, "m02": M02_DATA, "m03": M03_DATA}, 1.0, set()),
        # m07 is not one of the four inputs.
        (
            {"m07": M07_DATA},
            0.0,
            {"vertical", "monthly_visits", "tech_spend", "partner_technology"},
        ),
        # An m01 without an industry leaves the vertical unknown.
        ({"m01": {"company_name": "Acme", "industry": None}}, 0.0, None),
    ],
)
async def test_confidence_counts_present_inputs(
    inputs: dict[str, Any], confidence: float, absent: set[str] | None
) -> None:
    result = await score(**inputs)
    assert result.data["confidence"] == confidence
    breakdown = result.data["breakdown"]
    if absent is not None:
        assert {name for name, b in breakdown.items() if not b["present"]} == absent
    for b in breakdown.values():
        if not b["present"]:
            assert (b["points"], b["value"]) == (0, None)


async def test_no_input_at_all_still_completes_with_warnings() -> None:
    result = await score()
    assert (result.data["score"], result.data["tier"], result.data["confidence"]) == (0, "cold", 0)
    assert result.citations == []
    assert len(result.warnings) == 5
    assert "no traffic data (m03_traffic)" in result.warnings[1]
    assert result.warnings[-1].startswith("no input was available")


async def test_missing_inputs_are_named_in_warnings() -> None:
    result = await score(m01=M01_DATA, m02=tech("Shopify"))
    assert result.warnings == [
        "no traffic data (m03_traffic): monthly visits not scored",
        "no technology spend (m02_tech_stack): spend not scored",
    ]
    assert [c.url for c in result.citations] == [f"https://{m}.example/1" for m in (M01, M02)]


@pytest.mark.parametrize(
    ("previous", "before", "change"),
    [
        (None, None, None),
        ({"score": 50, "tier": "cool"}, 50, 15),
        ({"score": 80}, 80, -15),
        ({"score": 65}, 65, 0),
        # An earlier result without a usable score is no earlier score.
        ({"tier": "hot"}, None, None),
        ({"score": "80"}, None, None),
    ],
)
async def test_previous_score_and_change(
    previous: dict[str, Any] | None, before: int | None, change: int | None
) -> None:
    # 40 (Retail) + 25 (15M visits) = 65.
    result = await score(m01=M01_DATA, m03=M03_DATA, previous=previous)
    assert result.data["score"] == 65
    assert (result.data["previous_score"], result.data["score_change"]) == (before, change)


# -- existing customers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "m02",
    [
        tech("Algolia", "Shopify Plus"),
        tech("Algolia DocSearch"),
        tech("Shopify", search_provider="algolia"),
    ],
)
async def test_existing_customer(m02: dict[str, Any]) -> None:
    result = await score(m01=M01_DATA, m02=m02)
    data = result.data
    assert data["existing_customer"] is True
    assert data["displacement_target"] is False
    assert data["recommended_action"] == EXISTING_CUSTOMER_ACTION
    assert "existing customer" in data["recommended_action"].lower()
    assert data["signals"][0].startswith("Existing customer (")
    assert "lgolia" in data["signals"][0]
    # Still scored, so account managers can rank their accounts.
    assert data["score"] > 0


async def test_not_a_customer_when_the_seller_is_absent() -> None:
    for m02 in (tech("Elasticsearch", search_provider="Elasticsearch"), tech("Al"), None):
        result = await score(m01=M01_DATA, m02=m02)
        assert result.data["existing_customer"] is False
        assert result.data["displacement_target"] is True
        assert not any(s.startswith("Existing customer") for s in result.data["signals"])


async def test_seller_product_and_aliases_come_from_the_config() -> None:
    intel = IntelConfig(
        seller_product="Acme Search",
        seller_product_aliases=["AcmeFind"],
        icp=IcpWeights(
            recommended_actions={
                **ICP.recommended_actions,
                "existing_customer": "Account management: upsell",
            }
        ),
    )
    for m02, customer in [
        (tech("acmefind"), True),
        (tech("Acme Search Pro"), True),
        (tech("Algolia"), False),
    ]:
        result = await score(m02=m02, intel=intel)
        assert result.data["existing_customer"] is customer
    result = await score(m02=tech("AcmeFind"), intel=intel)
    assert result.data["recommended_action"] == "Account management: upsell"


# -- configuration -------------------------------------------------------------------------------


async def test_other_weights_change_the_result() -> None:
    default = await score(m01=M01_DATA, m02=M02_DATA, m03=M03_DATA)
    assert (default.data["score"], default.data["tier"]) == (95, "hot")
    intel = IntelConfig(
        partners=["Adobe Experience Manager"],
        icp=IcpWeights(
            vertical_points={"retail": 10, "software": 40},
            other_vertical_points=1,
            visit_bands=[Band(min=20_000_000, points=30), Band(min=1_000_000, points=5)],
            spend_bands=[Band(min=200_000, points=20), Band(min=100_000, points=2)],
            partner_points={"Adobe Experience Manager": 1},
            tiers=Tiers(hot=90, warm=50, cool=15),
        ),
    )
    result = await score(m01=M01_DATA, m02=M02_DATA, m03=M03_DATA, intel=intel)
    breakdown = result.data["breakdown"]
    assert [b["points"] for b in breakdown.values()] == [10, 5, 2, 1]
    assert (result.data["score"], result.data["tier"]) == (18, "cool")
    assert result.data["signals"][:2] == [
        "Relevant vertical (Retail)",
        "Moderate traffic (≥1M visits/month)",
    ]
    software = await score(m01={"industry": "Software"}, intel=intel)
    assert software.data["score"] == 40
    other = await score(m01={"industry": "Travel"}, intel=intel)
    assert other.data["score"] == 1


async def test_other_partner_points_from_the_config() -> None:
    intel = IntelConfig(icp=IcpWeights(other_partner_points=4))
    result = await score(m02=tech("Spryker"), intel=intel)
    assert result.data["breakdown"]["partner_technology"]["points"] == 4


# -- company size (a signal only) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("m01", "m07", "signal"),
    [
        (
            {"employees": 316_000},
            {"revenue": 254_000_000_000, "currency": "USD"},
            "Enterprise ($254B revenue)",
        ),
        ({"employees": 316_000}, None, "Enterprise (316,000 employees)"),
        ({"employees": 2_500}, None, "Mid-market (2,500 employees)"),
        ({"employees": 120}, {"public": False, "note": "private"}, "SMB (120 employees)"),
        (None, {"revenue": 1_500_000_000, "currency": "EUR"}, "1.5B EUR revenue"),
        (
            {"employees": 40},
            {"revenue": 3_200_000, "currency": "USD", "revenue_estimated": True},
            "Startup (~$3.2M revenue)",
        ),
        ({"employees": None}, None, None),
        (None, None, None),
    ],
)
def test_size_signal(
    m01: dict[str, Any] | None, m07: dict[str, Any] | None, signal: str | None
) -> None:
    assert size_signal(m01, m07, INTEL) == signal


async def test_size_adds_no_points() -> None:
    small = await score(m01={"industry": "Retail", "employees": 5})
    big = await score(m01={"industry": "Retail", "employees": 500_000}, m07=M07_DATA)
    assert small.data["score"] == big.data["score"] == 40
    assert small.data["confidence"] == big.data["confidence"] == 0.25


# -- the matching helpers ------------------------------------------------------------------------


def test_matching_helpers() -> None:
    assert has_phrase("News and Media", "media")
    assert has_phrase("E-Commerce", "e-commerce")
    assert not has_phrase("Mediation", "media")
    assert not has_phrase("Retail", "")
    assert prefix_words("Magento 2 Community", "magento")
    assert not prefix_words("Magentoish", "Magento")
    assert not prefix_words("Bloomreach Experience Manager", "Experience Manager")
    assert same_product("Elastic", "Elasticsearch")
    assert same_product("Apache Solr", "solr")
    assert same_product("Constructor.io", "constructorio")
    assert not same_product("Coveo", "Klevu")
    assert not same_product("", "Klevu")
    assert contains_product("Algolia DocSearch", "Algolia")
    assert not contains_product("Al", "Algolia")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (50_000_000, "50M"),
        (1_500_000, "1.5M"),
        (500_000, "500K"),
        (254_000_000_000, "254B"),
        (999_960, "1M"),
        (950, "950"),
        (2e12, "2T"),
    ],
)
def test_human_number(value: float, text: str) -> None:
    assert human_number(value) == text


@pytest.mark.parametrize(
    ("employees", "tier"),
    [
        (10_000, "enterprise"),
        (9_999, "mid-market"),
        (1_000, "mid-market"),
        (999, "smb"),
        (100, "smb"),
        (99, "startup"),
        (0, "startup"),
        (None, None),
    ],
)
def test_size_tier_thresholds(employees: int | None, tier: str | None) -> None:
    assert size_tier(employees, enterprise=10_000, mid_market=1_000, smb=100) == tier
