"""m13_case_study_match on fixed case studies: each scoring rule of sales-intel-rules.md, "m13".

Case studies are built directly; the target's data is given as m01/m02 dependency data of a
:class:`~enrichd.testing.ModuleTestContext` (a dependency left out is one that failed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from enrichd.intel import CaseStudyWeights, IntelConfig
from enrichd.plugins import CaseStudy, ModuleResult
from enrichd.plugins.builtin._casematch import (
    EMPTY_DB_WARNING,
    Target,
    current_competitor,
    infer_use_case,
    run_case_study_match,
    same_competitor,
    score_study,
    study_tier,
    target_of,
)
from enrichd.plugins.builtin._common import count_points
from enrichd.testing import ModuleTestContext

M01, M02 = "m01_company_context", "m02_tech_stack"
INTEL = IntelConfig()
WEIGHTS = INTEL.case_studies


def study(customer: str = "Acme", vertical: str = "travel", **fields: Any) -> CaseStudy:
    """A case study matching nothing of the default target unless ``fields`` say so."""
    slug = customer.lower().replace(" ", "-")
    fields.setdefault("url", f"https://seller.example/customers/{slug}")
    return CaseStudy(id=f"cs-{slug}", customer=customer, vertical=vertical, **fields)


def m02(*names: str, **roles: Any) -> dict[str, Any]:
    """m02 data with these technologies."""
    data: dict[str, Any] = {
        "technologies": [{"name": n, "category": "x"} for n in names],
        "commerce_platform": None,
        "cms": None,
        "search_provider": None,
    }
    data.update(roles)
    return data


def context(
    studies: Sequence[CaseStudy],
    *,
    m01: Mapping[str, Any] | None = None,
    m02: Mapping[str, Any] | None = None,
    intel: IntelConfig | None = None,
) -> ModuleTestContext:
    """A context with these case studies and target data."""
    deps = {mid: data for mid, data in ((M01, m01), (M02, m02)) if data is not None}
    return ModuleTestContext(
        {},
        "target.example",
        module_id="m13_case_study_match",
        dependencies=deps,
        case_studies=studies,
        intel=intel,
    )


async def match(studies: Sequence[CaseStudy], **kwargs: Any) -> ModuleResult:
    """Run m13 over a :func:`context`."""
    return await run_case_study_match(context(studies, **kwargs))


def scored(one: CaseStudy, target: Target, intel: IntelConfig = INTEL) -> tuple[int, str]:
    """A case study's score and reasoning against ``target``."""
    result = score_study(one, target, intel)
    return result.score, result.reasoning


# -- each component alone ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "theirs", "points", "reasoning"),
    [
        ("Retail", "retail", 40, "Same vertical (retail)"),
        ("retail", "Retail", 40, "Same vertical (Retail)"),
        # Compared lower-case, letters and digits only.
        ("E-commerce", "ecommerce", 40, "Same vertical (ecommerce)"),
        ("E-commerce", "retail", 20, "Related vertical (retail, near the target's E-commerce)"),
        ("Retail", "marketplace", 20, "Related vertical (marketplace, near the target's Retail)"),
        ("News and Media", "publishing", 20, None),
        ("Entertainment", "news", 20, None),
        ("SaaS", "software", 20, None),
        ("Fintech", "insurance", 20, None),
        ("Pharma", "healthcare", 20, None),
        ("Hospitality", "travel", 20, None),
        ("Retail", "media", 0, ""),
        ("Software", "banking", 0, ""),
        ("Shopping", "retail", 0, ""),
    ],
)
def test_vertical_exact_and_related(
    target: str, theirs: str, points: int, reasoning: str | None
) -> None:
    # No use case on the case study: only the vertical can score.
    score, why = scored(study(vertical=theirs), Target(vertical=target))
    assert score == points
    if reasoning is not None:
        assert why == reasoning


def test_related_vertical_groups_come_from_the_config() -> None:
    intel = IntelConfig(case_studies=CaseStudyWeights(related_verticals=[["gaming", "media"]]))
    assert scored(study(vertical="gaming"), Target(vertical="Media"), intel)[0] == 20
    assert scored(study(vertical="publishing"), Target(vertical="Media"), intel)[0] == 0


def test_sub_vertical_alone() -> None:
    one = study(sub_vertical="Fashion")
    assert scored(one, Target(sub_vertical="fashion")) == (15, "Same sub-vertical (Fashion)")
    assert scored(one, Target(sub_vertical="Grocery"))[0] == 0
    # The target has none (m01 gives none today): nothing to compare.
    assert scored(one, Target())[0] == 0
    assert scored(study(), Target(sub_vertical="fashion"))[0] == 0


@pytest.mark.parametrize(
    ("theirs", "points", "reasoning"),
    [
        ("e-commerce search", 20, "Same use case (e-commerce search)"),
        ("E-Commerce Search", 20, "Same use case (E-Commerce Search)"),
        (
            "marketplace search",
            10,
            "Related use case (marketplace search, near e-commerce search)",
        ),
        ("documentation search", 0, ""),
        (None, 0, ""),
    ],
)
def test_use_case_alone(theirs: str | None, points: int, reasoning: str) -> None:
    # A travel case study against a retail target: only the use case can match.
    target = Target(vertical="Retail", use_case="e-commerce search")
    assert scored(study(use_case=theirs), target) == (points, reasoning)


def test_related_use_cases() -> None:
    target = Target(use_case="content discovery")
    assert scored(study(use_case="documentation search"), target)[0] == 10
    assert scored(study(use_case="marketplace search"), target)[0] == 0


@pytest.mark.parametrize(
    ("vertical", "use_case"),
    [
        ("Retail", "e-commerce search"),
        ("E-commerce", "e-commerce search"),
        ("eCommerce", "e-commerce search"),
        ("Commerce", "e-commerce search"),
        ("B2C", "e-commerce search"),
        ("Online Marketplace", "marketplace search"),
        # The first keyword in the configured order wins: marketplace before commerce.
        ("E-commerce Marketplace", "marketplace search"),
        ("Media", "content discovery"),
        ("News and Media", "content discovery"),
        ("Publishing", "content discovery"),
        ("Software", "documentation search"),
        ("SaaS", "documentation search"),
        ("Healthcare", None),
        ("Mediation", None),
        (None, None),
    ],
)
def test_use_case_inference(vertical: str | None, use_case: str | None) -> None:
    assert infer_use_case(vertical, WEIGHTS) == use_case


def test_use_case_inference_follows_the_config() -> None:
    weights = CaseStudyWeights(use_case_by_vertical={"commerce": "checkout", "retail": "stores"})
    assert infer_use_case("Retail Commerce", weights) == "checkout"
    assert infer_use_case("Retail", weights) == "stores"
    assert infer_use_case("Media", weights) is None


@pytest.mark.parametrize(
    ("employees", "tier"),
    [
        (10_000, "enterprise"),
        (9_999, "mid-market"),
        (1_000, "mid-market"),
        (999, "smb"),
        (100, "smb"),
        (99, "startup"),
        (None, None),
    ],
)
def test_size_tiers_at_the_thresholds(employees: int | None, tier: str | None) -> None:
    target = target_of({"employees": employees}, None, INTEL)
    assert target.size_tier == tier
    assert study_tier(study(employee_count=employees), WEIGHTS) == tier


def test_size_tier_alone() -> None:
    target = Target(size_tier="enterprise")
    assert scored(study(size_tier="enterprise"), target) == (15, "Enterprise like the target")
    assert scored(study(employee_count=50_000), target)[0] == 15
    assert scored(study(employee_count=9_999), target)[0] == 0
    assert scored(study(size_tier="mid-market"), target)[0] == 0
    # A stated tier beats the employee count.
    assert scored(study(size_tier="smb", employee_count=50_000), target)[0] == 0
    assert scored(study(size_tier="smb"), Target(size_tier="smb")) == (15, "SMB like the target")
    assert scored(study(size_tier="enterprise"), Target())[0] == 0


def test_size_thresholds_come_from_the_config() -> None:
    intel = IntelConfig(case_studies=CaseStudyWeights(enterprise_employees=5_000))
    assert target_of({"employees": 5_000}, None, intel).size_tier == "enterprise"
    assert scored(study(employee_count=6_000), Target(size_tier="enterprise"), intel)[0] == 15


@pytest.mark.parametrize(
    ("theirs", "competitor", "points", "reasoning"),
    [
        ("Elasticsearch", "Elasticsearch", 10, "Displaced Elasticsearch, which the target runs"),
        ("elasticsearch", "Elasticsearch", 10, None),
        (
            "Elastic",
            "Elasticsearch",
            10,
            "Displaced Elastic, which the target runs (Elasticsearch)",
        ),
        ("Elasticsearch", "Elastic", 10, None),
        # Both are Elastic on the competitors list.
        ("Elasticsearch", "Elastic Site Search", 10, None),
        ("Solr", "Apache Solr", 10, None),
        ("OpenSearch", "Amazon OpenSearch", 10, None),
        ("Coveo", "Elasticsearch", 0, ""),
        (None, "Elasticsearch", 0, ""),
        ("Elasticsearch", None, 0, ""),
    ],
)
def test_competitor_takeout_alone(
    theirs: str | None, competitor: str | None, points: int, reasoning: str | None
) -> None:
    score, why = scored(study(competitor_displaced=theirs), Target(competitor=competitor))
    assert score == points
    if reasoning is not None:
        assert why == reasoning


def test_same_competitor() -> None:
    competitors = INTEL.competitors
    assert same_competitor("Elastic App Search", "Elasticsearch", competitors)
    assert not same_competitor("Elastic App Search", "Elasticsearch", [])
    assert not same_competitor("Klevu", "Searchspring", competitors)


@pytest.mark.parametrize(
    ("data", "competitor"),
    [
        (m02("Elasticsearch", search_provider="Elasticsearch"), "Elasticsearch"),
        # m02's site-search vendor first, whatever else is detected.
        (m02("Solr", search_provider="Coveo"), "Coveo"),
        # Without one, a technology on the competitors list.
        (m02("jQuery", "Bloomreach"), "Bloomreach"),
        (m02("jQuery", "Apache Solr"), "Apache Solr"),
        # The seller's own product is no competitor (the target is a customer).
        (m02("Algolia", search_provider="Algolia"), None),
        (m02("Klevu", search_provider="Algolia"), "Klevu"),
        # A commerce platform named like a competitor is not a search vendor.
        (m02("Elastic Path", commerce_platform="Elastic Path"), None),
        (m02("jQuery", "WordPress"), None),
        (None, None),
    ],
)
def test_current_competitor(data: dict[str, Any] | None, competitor: str | None) -> None:
    assert current_competitor(data, INTEL) == competitor


def test_competitors_come_from_the_config() -> None:
    intel = IntelConfig(competitors=["Hawksearch"])
    assert current_competitor(m02("Hawksearch", "Coveo"), intel) == "Hawksearch"
    assert current_competitor(m02("Coveo"), intel) is None


# -- the target ----------------------------------------------------------------------------------


def test_target_from_m01_and_m02() -> None:
    target = target_of(
        {"industry": "Retail", "employees": 316_000, "sub_vertical": "Warehouse clubs"},
        m02("Elasticsearch", search_provider="Elasticsearch"),
        INTEL,
    )
    assert target == Target(
        vertical="Retail",
        sub_vertical="Warehouse clubs",
        use_case="e-commerce search",
        size_tier="enterprise",
        competitor="Elasticsearch",
    )
    assert target_of(None, None, INTEL) == Target()


# -- the whole result ----------------------------------------------------------------------------

TARGET_M01 = {"company_name": "Costco", "industry": "Retail", "employees": 316_000}
TARGET_M02 = m02("Adobe Experience Manager", "Elasticsearch", search_provider="Elasticsearch")

BEST = study(
    "Bigbox",
    "retail",
    sub_vertical="Warehouse clubs",
    use_case="e-commerce search",
    size_tier="enterprise",
    competitor_displaced="Elasticsearch",
    headline_result="+12% search conversion",
    quote="Search finally works.",
)


async def test_full_result_and_reasoning() -> None:
    studies = [
        study("Newsy", "media", use_case="content discovery"),  # nothing in common: dropped
        BEST,
        study("Shopmart", "e-commerce", use_case="marketplace search", employee_count=20_000),
    ]
    result = await match(studies, m01=TARGET_M01, m02=TARGET_M02)
    data = result.data
    assert data["primary_match"] == {
        "case_study_id": "cs-bigbox",
        "customer": "Bigbox",
        "vertical": "retail",
        "use_case": "e-commerce search",
        "competitor_displaced": "Elasticsearch",
        "headline_result": "+12% search conversion",
        "quote": "Search finally works.",
        "url": "https://seller.example/customers/bigbox",
        # No sub-vertical on the target (m01 has none): 40 + 20 + 15 + 10.
        "score": 85,
        "reasoning": "Same vertical (retail); same use case (e-commerce search); "
        "enterprise like the target; displaced Elasticsearch, which the target runs",
    }
    [second] = data["secondary_matches"]
    assert (second["customer"], second["score"]) == ("Shopmart", 45)
    assert second["reasoning"] == (
        "Related vertical (e-commerce, near the target's Retail); "
        "related use case (marketplace search, near e-commerce search); enterprise like the target"
    )
    assert data["target"] == {
        "vertical": "Retail",
        "sub_vertical": None,
        "use_case": "e-commerce search",
        "size_tier": "enterprise",
        "competitor": "Elasticsearch",
    }
    assert (data["matches_considered"], data["matches_found"]) == (3, 2)
    assert result.source == "case_studies"
    assert result.data_points == count_points(data)
    assert result.warnings == []
    assert [(c.url, c.title) for c in result.citations] == [
        ("https://seller.example/customers/bigbox", "Case study: Bigbox"),
        ("https://seller.example/customers/shopmart", "Case study: Shopmart"),
    ]


async def test_every_component_adds_up_to_100() -> None:
    m01 = {**TARGET_M01, "sub_vertical": "warehouse clubs"}
    result = await match([BEST], m01=m01, m02=TARGET_M02)
    assert result.data["primary_match"]["score"] == 100
    assert "same sub-vertical (Warehouse clubs)" in result.data["primary_match"]["reasoning"]


async def test_ordering_ties_and_secondary_count() -> None:
    studies = [
        study("delta", "retail"),  # 40 (the retail target's use case is not on it)
        study("Alpha", "retail"),  # 40
        study("Charlie", "ecommerce", use_case="e-commerce search"),  # 20 + 20
        study("bravo", "marketplace"),  # 20
        study("Echo", "retail", use_case="e-commerce search"),  # 60
        study("Foxtrot", "commerce"),  # 20
        study("Golf", "banking"),  # 0
    ]
    result = await match(studies, m01={"industry": "Retail"})
    data = result.data
    ranked = [data["primary_match"], *data["secondary_matches"]]
    assert [(m["customer"], m["score"]) for m in ranked] == [
        ("Echo", 60),
        # Equal scores by customer name, case-insensitively.
        ("Alpha", 40),
        ("Charlie", 40),
        ("delta", 40),
    ]
    assert (data["matches_considered"], data["matches_found"]) == (7, 6)
    # Only the returned matches are cited.
    assert [c.title for c in result.citations] == [
        "Case study: Echo",
        "Case study: Alpha",
        "Case study: Charlie",
        "Case study: delta",
    ]

    for count, customers in [(0, []), (1, ["Alpha"]), (5, ["Alpha", "Charlie", "delta", "bravo"])]:
        intel = IntelConfig(case_studies=CaseStudyWeights(secondary_matches=count))
        result = await match(studies, m01={"industry": "Retail"}, intel=intel)
        assert [m["customer"] for m in result.data["secondary_matches"]][:4] == customers
    assert len(result.data["secondary_matches"]) == 5


async def test_weights_come_from_the_config() -> None:
    intel = IntelConfig(
        case_studies=CaseStudyWeights(
            vertical_exact=50, use_case_match=5, size_tier_equal=1, competitor_takeout=30
        )
    )
    result = await match([BEST], m01=TARGET_M01, m02=TARGET_M02, intel=intel)
    assert result.data["primary_match"]["score"] == 86


async def test_study_without_url_is_not_cited() -> None:
    result = await match([study("Plain", "retail", url=None)], m01={"industry": "Retail"})
    assert result.data["primary_match"]["url"] is None
    assert result.citations == []


async def test_empty_database() -> None:
    result = await match([], m01=TARGET_M01, m02=TARGET_M02)
    assert result.data_points == 0
    assert result.warnings == [EMPTY_DB_WARNING]
    assert "enrichd case-studies import" in result.warnings[0]
    assert result.citations == []
    assert result.data == {"primary_match": None, "secondary_matches": []}
    assert result.source == "case_studies"


async def test_nothing_matches() -> None:
    result = await match([study("Golf", "banking")], m01=TARGET_M01, m02=TARGET_M02)
    assert result.data["primary_match"] is None
    assert result.data["secondary_matches"] == []
    assert result.data["matches_considered"] == 1
    assert result.warnings == ["none of the 1 case studies matches the target"]


async def test_missing_inputs_warn_and_score_what_is_known() -> None:
    studies = [study("Takeout", "banking", competitor_displaced="Elastic")]
    result = await match(studies, m02=TARGET_M02)
    assert result.data["primary_match"]["score"] == 10
    assert result.data["target"]["vertical"] is None
    assert result.warnings == [f"no company data ({M01}): vertical and size unknown"]

    result = await match(studies, m01={"company_name": "X", "industry": None})
    assert result.data["primary_match"] is None
    assert result.warnings == [
        f"{M01} has no industry: vertical and use case unknown",
        f"no technology data ({M02}): competitor unknown",
        "none of the 1 case studies matches the target",
    ]
