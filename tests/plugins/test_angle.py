"""m15_displacement_angle: the rule-based writer, and the model path against a canned server.

The ``llm`` source runs as a real source actor (``running_sources``) against the ``canned``
loopback server, which answers chat completions the way OpenAI does.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio

from enrichd.daemon._engine import JobRequest
from enrichd.intel import Band, IcpWeights, IncumbentProfile, IntelConfig
from enrichd.plugins import Citation, ModuleError, ModuleResult
from enrichd.plugins.builtin._angle import run_displacement_angle
from enrichd.plugins.builtin._angle_llm import SCHEMA, ModelAngle
from enrichd.plugins.builtin._angle_rules import (
    INPUT_MODULES,
    best_match,
    lift_range,
    money_label,
    visits_label,
)
from enrichd.sandbox import HttpRequest, HttpResponse, Sandbox, SandboxOptions, json_response
from enrichd.sandbox._upstreams import Upstreams
from enrichd.testing import ModuleTestContext, running_sources
from tests.canned import CannedServer
from tests.conftest import BUILTIN

M15 = "m15_displacement_angle"
DASH = "\u2013"  # ranges print with an en dash: 5\u201315%


def en(text: str) -> str:
    """``text`` with its hyphens as en dashes ("5-15%" as m15 prints it)."""
    return text.replace("-", DASH)


CHAT = "/v1/chat/completions"
DOMAIN = "walmart.com"

SW = Citation(
    url="https://www.similarweb.com/website/walmart.com/", title="SimilarWeb: walmart.com"
)
BW = Citation(url="https://builtwith.com/walmart.com", title="BuiltWith: walmart.com")
YF = Citation(url="https://finance.yahoo.com/quote/WMT", title="Yahoo Finance: WMT")
CDO_URL = "https://www.reuters.com/business/walmart-names-cdo/"
LAYOFF_URL = "https://www.cnn.com/walmart-layoffs"
QUOTE_URL = "https://www.wsj.com/walmart-ceo-interview"
ROLE_URL = "https://careers.walmart.com/jobs/123"
STUDY_URL = "https://www.algolia.com/customers/lacoste/"

COMPANY = {
    "company_name": "Walmart",
    "domain": DOMAIN,
    "industry": "Retail",
    "employees": 2_100_000,
    "country": "US",
}
TRAFFIC = {"monthly_visits": 15_000_000, "month": "2026-04", "visits_change": 0.02}
FINANCIALS = {"public": True, "ticker": "WMT", "revenue": 254_000_000_000, "currency": "USD"}
CDO_EVENT = {
    "type": "executive_change",
    "title": "Walmart names Dana Whitfield Chief Digital Officer",
    "summary": "...",
    "source_url": CDO_URL,
    "date": "2026-05-01",
    "weight": 25,
    "recency_factor": 1.0,
    "score": 25.0,
}
LAYOFF_EVENT = {
    "type": "layoffs",
    "title": "Walmart cuts 1,500 corporate jobs",
    "summary": "...",
    "source_url": LAYOFF_URL,
    "date": "2026-05-10",
    "weight": -25,
    "recency_factor": 1.0,
    "score": -25.0,
}
QUOTE = {
    "text": "We will keep investing in search and discovery across every channel",
    "speaker": "Doug McMillon",
    "title": "CEO",
    "source_url": QUOTE_URL,
    "date": "2026-04-20",
}
ROLE = {"title": "Senior Search Relevance Engineer", "url": ROLE_URL, "mentions": ["search"]}
STUDY = {
    "id": "cs-1",
    "customer": "Lacoste",
    "vertical": "Retail",
    "headline_result": "+37% search conversion",
    "url": STUDY_URL,
    "score": 85,
    "reasoning": "vertical retail; e-commerce search",
}
SECOND_STUDY = {**STUDY, "id": "cs-2", "customer": "Gymshark", "url": None, "score": 60}


def stack(provider: str | None = None, *techs: str, **more: Any) -> dict[str, Any]:
    """m02's data with ``provider`` as search_provider and ``techs`` as technologies."""
    names = [*techs, *([provider] if provider else [])]
    return {
        "technologies": [{"name": n, "category": "x", "source": "builtwith"} for n in names],
        "technology_count": len(names),
        "monthly_spend_usd": None,
        "commerce_platform": None,
        "cms": None,
        "search_provider": provider,
        **more,
    }


def full_inputs(provider: str | None = "Elasticsearch") -> dict[str, Mapping[str, Any]]:
    """Every input that m15 reads, for a large retailer on ``provider``."""
    return {
        "m01_company_context": COMPANY,
        "m02_tech_stack": stack(provider),
        "m03_traffic": TRAFFIC,
        "m07_financials": FINANCIALS,
        "m10_hiring_signals": {
            "open_roles": 120,
            "velocity": "high",
            "roles": [ROLE],
            "relevant_roles": [ROLE],
        },
        "m11_exec_quotes": {"quotes": [QUOTE]},
        "m12_trigger_events": {
            "events": [CDO_EVENT, LAYOFF_EVENT],
            "top_event": CDO_EVENT,
            "counts": {"executive_change": 1, "layoffs": 1},
        },
        "m13_case_study_match": {"primary_match": STUDY, "secondary_matches": [SECOND_STUDY]},
        "m14_icp_scoring": {"score": 85, "tier": "hot", "existing_customer": False},
    }


CITATIONS = {
    "m02_tech_stack": [BW],
    "m03_traffic": [SW],
    "m07_financials": [YF],
    "m12_trigger_events": [
        Citation(url=CDO_URL, title="Reuters"),
        Citation(url=LAYOFF_URL, title="CNN"),
    ],
}


async def angle(
    dependencies: Mapping[str, Mapping[str, Any]],
    *,
    sources: Mapping[str, Mapping[str, Any]] | None = None,
    intel: IntelConfig | None = None,
    citations: Mapping[str, list[Citation]] | None = None,
    options: Mapping[str, Any] | None = None,
) -> ModuleResult:
    """Run m15 on ``dependencies`` (the llm source unconfigured unless ``sources`` says)."""
    async with running_sources(sources or {}) as actors:
        ctx = ModuleTestContext(
            actors,
            DOMAIN,
            module_id=M15,
            dependencies=dependencies,
            citations=CITATIONS if citations is None else citations,
            intel=intel,
            options=options,
        )
        return await run_displacement_angle(ctx)


def shape(result: ModuleResult) -> None:
    """What every m15 result has, whichever writer wrote it."""
    data = result.data
    assert set(data) == {
        "angle",
        "talking_points",
        "risks",
        "current_competitor",
        "difficulty",
        "threat",
        "estimated_conversion_lift",
        "timing_signals",
        "in_their_own_words",
        "case_studies",
        "icp",
        "existing_customer",
        "inputs",
        "generated_by",
    }
    assert data["angle"].strip()
    assert 1 <= len(data["talking_points"]) <= 5
    assert len(data["risks"]) <= 4
    assert data["difficulty"] in ("low", "medium", "high")
    assert data["threat"] in ("low", "medium", "high")
    lift = data["estimated_conversion_lift"]
    assert set(lift) == {"range", "min", "max"} and lift["min"] <= lift["max"]
    assert result.data_points > 0
    msgspec.json.encode(data)  # storable


# -- the rule-based writer: incumbents --------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "competitor", "difficulty", "lift", "threat"),
    [
        (None, "none", "low", en("15-30%"), "low"),
        ("Solr", "Solr", "medium", en("10-20%"), "low"),
        ("Apache Solr", "Apache Solr", "medium", en("10-20%"), "low"),
        ("Elasticsearch", "Elasticsearch", "medium", en("5-15%"), "medium"),
        ("Elastic App Search", "Elastic App Search", "medium", en("5-15%"), "medium"),
        ("Amazon OpenSearch", "Amazon OpenSearch", "medium", en("5-15%"), "medium"),
        ("Searchspring", "Searchspring", "medium", en("5-10%"), "low"),
        ("Klevu", "Klevu", "medium", en("5-10%"), "low"),
        ("Doofinder", "Doofinder", "medium", en("5-10%"), "low"),
        ("Coveo", "Coveo", "high", en("3-8%"), "high"),
        ("Constructor.io", "Constructor.io", "high", en("3-8%"), "high"),
        ("Bloomreach Discovery", "Bloomreach Discovery", "high", en("3-8%"), "high"),
        ("Lucidworks Fusion", "Lucidworks Fusion", "high", en("3-8%"), "medium"),
        # Others: on the competitor list without a profile, or a vendor the list lacks.
        ("Yext", "Yext", "medium", en("3-8%"), "low"),
        ("Hawksearch", "Hawksearch", "medium", en("3-8%"), "low"),
    ],
)
async def test_incumbent_classes(
    autojump: Any, provider: str | None, competitor: str, difficulty: str, lift: str, threat: str
) -> None:
    result = await angle({**full_inputs(), "m02_tech_stack": stack(provider)})
    shape(result)
    data = result.data
    assert data["current_competitor"] == competitor
    assert (data["difficulty"], data["threat"]) == (difficulty, threat)
    assert data["estimated_conversion_lift"]["range"] == lift
    low, high = (int(x) for x in lift.rstrip("%").split(DASH))
    assert (data["estimated_conversion_lift"]["min"], data["estimated_conversion_lift"]["max"]) == (
        low,
        high,
    )
    assert data["generated_by"] == "rules" and result.source == "rules"
    if provider is None:
        assert "Greenfield" in data["angle"] and "Displacing" not in data["angle"]
        assert data["talking_points"][0].startswith("Greenfield")
    else:
        assert f"Displacing {competitor}" in data["angle"]
    threat_risks = [r for r in data["risks"] if "incumbent" in r]
    if threat == "high":
        assert threat_risks == [f"{competitor} is a strong incumbent (high threat)"]
    elif threat == "medium":
        assert threat_risks == [f"{competitor} is an established incumbent (medium threat)"]
    else:
        assert threat_risks == []


async def test_competitor_found_among_technologies(autojump: Any) -> None:
    # No search_provider: a technology on the competitor list is the incumbent; a commerce
    # platform whose name starts with a competitor's ("Elastic Path") is not.
    m02 = stack(None, "Elastic Path", "Google Analytics", "Coveo", commerce_platform="Elastic Path")
    result = await angle({"m02_tech_stack": m02})
    assert result.data["current_competitor"] == "Coveo"
    m02 = stack(None, "Elastic Path", commerce_platform="Elastic Path")
    result = await angle({"m02_tech_stack": m02})
    assert result.data["current_competitor"] == "none"
    assert "Greenfield" in result.data["angle"]


async def test_incumbent_names_match_case_insensitively_longest_first() -> None:
    incumbents = ["none", "Elastic", "Elasticsearch", "OpenSearch"]
    assert best_match("Elastic App Search", incumbents) == "Elastic"
    assert best_match("ELASTICSEARCH 8", incumbents) == "Elasticsearch"
    assert best_match("amazon opensearch", incumbents) == "OpenSearch"
    assert best_match("Shopify", incumbents) is None


async def test_settings_reaim_the_writer(autojump: Any) -> None:
    intel = IntelConfig(
        seller_product="Findly",
        competitors=["Acme Search"],
        incumbents={
            "none": IncumbentProfile(difficulty="low", lift=(20, 40), threat="low"),
            "Acme": IncumbentProfile(difficulty="high", lift=(2, 4), threat="high"),
        },
        default_incumbent=IncumbentProfile(difficulty="low", lift=(1, 2), threat="low"),
    )
    m02 = stack(None, "Elasticsearch", "Acme Search Pro")  # Elasticsearch is no competitor here
    result = await angle({"m02_tech_stack": m02}, intel=intel)
    data = result.data
    assert data["current_competitor"] == "Acme Search Pro"
    assert (data["difficulty"], data["threat"]) == ("high", "high")
    assert data["estimated_conversion_lift"]["range"] == en("2-4%")
    result = await angle({"m02_tech_stack": stack(None, "Elasticsearch")}, intel=intel)
    assert result.data["estimated_conversion_lift"]["range"] == en("20-40%")
    assert "Findly" in result.data["angle"]


# -- the rule-based writer: the angle's facts --------------------------------------------------


async def test_the_angle_combines_the_strongest_facts(autojump: Any) -> None:
    result = await angle(full_inputs())
    shape(result)
    data = result.data
    text = data["angle"]
    assert text.startswith("Walmart (Retail): High traffic (15.0M visits/month), ")
    assert "Enterprise ($254B revenue)" in text
    assert "Displacing Elasticsearch" in text
    assert CDO_EVENT["title"] in text  # the top event, not the (newer) layoffs
    assert "Lacoste (+37% search conversion)" in text
    assert 2 <= text.count(". ") + 1 <= 3
    assert data["talking_points"][0] == en(
        "Displacing Elasticsearch: estimated 5-15% conversion lift"
    )
    assert any(p.startswith("High traffic (15.0M visits/month)") for p in data["talking_points"])
    assert "Hiring for search roles: may be building in-house" in data["risks"]
    assert any(r.startswith("Layoffs reported (2026-05-10)") for r in data["risks"])
    assert data["icp"] == {"tier": "hot", "score": 85}
    assert data["existing_customer"] is False
    assert data["in_their_own_words"] == [
        {
            "quote": QUOTE["text"],
            "speaker": "Doug McMillon",
            "title": "CEO",
            "source_url": QUOTE_URL,
            "date": "2026-04-20",
        }
    ]
    assert data["case_studies"] == [
        {
            "customer": "Lacoste",
            "headline_result": "+37% search conversion",
            "url": STUDY_URL,
            "score": 85,
        },
        {
            "customer": "Gymshark",
            "headline_result": "+37% search conversion",
            "url": None,
            "score": 60,
        },
    ]
    # Every claim from a source is cited, with the input's own title where it has one.
    cited = {c.url: c.title for c in result.citations}
    assert cited[SW.url] == SW.title and cited[BW.url] == BW.title and cited[YF.url] == YF.title
    assert cited[CDO_URL] == "Reuters"
    assert cited[STUDY_URL] == "Case study: Lacoste"
    assert cited[QUOTE_URL] == "Doug McMillon, CEO"
    assert {ROLE_URL, LAYOFF_URL} <= set(cited)
    assert len(cited) == len(result.citations)  # no duplicates
    assert result.warnings == []


def test_number_formats() -> None:
    assert visits_label(15_000_000) == "15.0M"
    assert visits_label(1_234_000_000) == "1.2B"
    assert visits_label(850_000) == "850K"
    assert visits_label(999_960) == "1.0M"
    assert visits_label(420) == "420"
    assert money_label(254_000_000_000) == "$254B"
    assert money_label(611_289_000_000) == "$611B"
    assert money_label(12_340_000_000) == "$12.3B"
    assert money_label(5_000_000_000) == "$5B"
    assert money_label(450_000_000, "EUR") == "€450M"
    assert money_label(2_000_000, "CHF") == "CHF 2M"
    assert lift_range(5, 15) == en("5-15%")
    assert lift_range(5, 5) == "5%"
    assert lift_range(2.5, 7) == en("2.5-7%")


async def test_size_from_employees_alone_and_revenue_alone(autojump: Any) -> None:
    company = {**COMPANY, "employees": 2_400, "industry": None}
    result = await angle({"m01_company_context": company})
    assert result.data["angle"].startswith("Walmart: Mid-market (2,400 employees).")
    result = await angle({"m07_financials": {**FINANCIALS, "revenue": 40_000_000}})
    assert result.data["angle"].startswith("walmart.com: $40M revenue.")


async def test_modest_traffic_is_not_called_high(autojump: Any) -> None:
    result = await angle({"m03_traffic": {"monthly_visits": 20_000}})
    assert "traffic" not in result.data["angle"].lower()
    # The "high" threshold follows the ICP's visit bands.
    bands = [Band(min=10_000, points=30), Band(min=1_000, points=5)]
    intel = IntelConfig(icp=IcpWeights(visit_bands=bands))
    result = await angle({"m03_traffic": {"monthly_visits": 20_000}}, intel=intel)
    assert "High traffic (20K visits/month)" in result.data["angle"]


async def test_existing_customer_gets_an_expansion_angle(autojump: Any) -> None:
    inputs = full_inputs(provider=None)
    inputs["m14_icp_scoring"] = {"score": 70, "tier": "warm", "existing_customer": True}
    result = await angle(inputs)
    shape(result)
    data = result.data
    assert data["existing_customer"] is True
    assert "Expansion, not displacement" in data["angle"]
    assert "already runs Algolia" in data["angle"]
    assert "Displacing" not in data["angle"] and "Greenfield" not in data["angle"]
    assert data["talking_points"][0] == "Existing Algolia customer: an expansion opportunity"


async def test_seller_detected_in_the_stack_without_m14(autojump: Any) -> None:
    intel = IntelConfig(seller_product="Algolia", seller_product_aliases=["Algolia Recommend"])
    result = await angle({"m02_tech_stack": stack("Algolia")}, intel=intel)
    assert result.data["existing_customer"] is True
    assert result.data["current_competitor"] == "none"  # the seller is nobody's incumbent
    assert "Expansion" in result.data["angle"]


async def test_risks_from_events_and_financials(autojump: Any) -> None:
    win = {**CDO_EVENT, "type": "competitor_win", "weight": 15, "score": 15.0}
    win.update(title="Walmart selects Coveo for site search", source_url="https://x.example/w")
    inputs = full_inputs(provider="Coveo")
    inputs["m12_trigger_events"] = {"events": [LAYOFF_EVENT, win]}
    inputs["m07_financials"] = {**FINANCIALS, "revenue_growth": -0.031}
    result = await angle(inputs)
    risks = result.data["risks"]
    assert risks == [
        "Coveo is a strong incumbent (high threat)",
        "Recent competitor win: Walmart selects Coveo for site search",
        "Hiring for search roles: may be building in-house",
        "Layoffs reported (2026-05-10): budgets may be tight",
    ]  # at most four: the shrinking revenue did not make the cut
    # The layoffs are no trigger to call about, the competitor win is the top remaining event.
    assert "Walmart cuts" not in result.data["angle"]
    assert "https://x.example/w" in {c.url for c in result.citations}
    inputs["m10_hiring_signals"] = {"open_roles": 3, "velocity": "low", "relevant_roles": []}
    result = await angle(inputs)
    assert result.data["risks"][-1] == "Revenue shrinking (-3.1% year over year)"


# -- missing inputs ----------------------------------------------------------------------------


async def test_only_m01(autojump: Any) -> None:
    result = await angle({"m01_company_context": COMPANY}, citations={})
    shape(result)
    data = result.data
    assert data["angle"].startswith("Walmart (Retail): Enterprise (2,100,000 employees).")
    assert data["current_competitor"] == "unknown"
    assert "Incumbent unknown: no tech-stack data" in data["risks"]
    assert "Limited data: 1 of 14 inputs available" in data["risks"]
    assert data["existing_customer"] is None and data["icp"] is None
    assert data["timing_signals"] == [] and data["case_studies"] == []
    assert data["inputs"] == ["m01_company_context"]
    assert result.warnings == []


async def test_nothing_at_all_still_gives_an_angle(autojump: Any) -> None:
    result = await angle({}, citations={})
    shape(result)
    assert result.data["angle"].startswith("walmart.com: little is known")
    assert result.data["talking_points"] == [
        "Discovery: ask what they use today in place of Algolia"
    ]
    assert result.citations == []


async def test_an_unreadable_dependency_is_a_warning_not_a_crash(autojump: Any) -> None:
    class Broken(ModuleTestContext):
        def dependency(self, module_id: str) -> Mapping[str, Any]:
            if module_id == "m03_traffic":
                raise ModuleError("undeclared_dependency", "m15 may not read m03")
            return super().dependency(module_id)

    async with running_sources({}) as actors:
        ctx = Broken(actors, DOMAIN, module_id=M15, dependencies=full_inputs(), citations=CITATIONS)
        result = await run_displacement_angle(ctx)
    assert "High traffic" not in result.data["angle"]
    assert result.warnings == [
        "m03_traffic unreadable (undeclared_dependency): m15 may not read m03"
    ]


# -- timing signals ----------------------------------------------------------------------------


async def test_timing_signals_freshest_first(autojump: Any) -> None:
    old = {**CDO_EVENT, "title": "Walmart acquires Vizio", "type": "acquisition"}
    old.update(date="2025-09-01", source_url="https://www.ft.com/vizio", score=4.0)
    undated = {**CDO_EVENT, "title": "Walmart opens a new market", "type": "new_market"}
    undated.update(date=None, source_url="https://example.org/market", score=3.6)
    no_url = {**CDO_EVENT, "title": "Rumour", "source_url": None}
    inputs = full_inputs()
    inputs["m12_trigger_events"] = {"events": [CDO_EVENT, old, undated, LAYOFF_EVENT, no_url]}
    result = await angle(inputs)
    signals = result.data["timing_signals"]
    assert [(s["type"], s["date"]) for s in signals] == [
        ("layoffs", "2026-05-10"),
        ("executive_change", "2026-05-01"),
        ("exec_quote", "2026-04-20"),
        ("acquisition", "2025-09-01"),
        ("new_market", None),
        ("hiring", None),
    ]
    assert signals[1] == {
        "signal": CDO_EVENT["title"],
        "type": "executive_change",
        "source_url": CDO_URL,
        "date": "2026-05-01",
    }
    assert signals[2]["signal"] == f'Doug McMillon: "{QUOTE["text"]}"'
    assert signals[5] == {
        "signal": "Hiring: Senior Search Relevance Engineer",
        "type": "hiring",
        "source_url": ROLE_URL,
        "date": None,
    }
    assert all(s["source_url"] for s in signals)
    # A cap from [modules.m15_displacement_angle].
    result = await angle(inputs, options={"max_timing_signals": 2})
    assert [s["type"] for s in result.data["timing_signals"]] == ["layoffs", "executive_change"]


async def test_bad_option_is_refused(autojump: Any) -> None:
    with pytest.raises(ModuleError) as caught:
        await angle({}, options={"max_signals": 3})
    assert caught.value.code == "invalid_options"


# -- the model path ----------------------------------------------------------------------------

MODEL = "gpt-4o-mini-2024-07-18"
GOOD: dict[str, Any] = {
    "angle": "Walmart runs Elasticsearch at 15.0M visits a month. A new CDO is a reason to call "
    "now; Lacoste's +37% search conversion is the proof.",
    "talking_points": ["Elasticsearch tuning costs", "New CDO", "Lacoste +37%"],
    "risks": ["Elastic is entrenched"],
    "difficulty": "medium",
    "estimated_conversion_lift": {"min": 6, "max": 12.5},
    "cited_urls": [SW.url, CDO_URL],
}


def completion(content: str | None, model: str = MODEL) -> dict[str, Any]:
    """An OpenAI chat completion whose message is ``content``."""
    return {
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 1760000000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 812, "completion_tokens": 41, "total_tokens": 853},
    }


def answer(content: Any) -> HttpResponse:
    """A 200 completion answering ``content`` (a JSON value, or a string sent as is)."""
    text = content if isinstance(content, str) else json.dumps(content)
    return json_response(completion(text))


def llm(canned: CannedServer, **table: Any) -> dict[str, dict[str, Any]]:
    """``[sources.llm]`` on the canned server."""
    return {"llm": {"base_url": f"{canned.url}/v1", "api_key": "sk-test", **table}}


def bodies(canned: CannedServer) -> list[dict[str, Any]]:
    """The JSON bodies of the chat requests."""
    return [json.loads(r.body) for r in canned.calls(CHAT)]


async def test_model_writes_the_angle(autojump: Any, canned: CannedServer) -> None:
    canned.add("POST", CHAT, answer(GOOD))
    result = await angle(full_inputs(), sources=llm(canned))
    shape(result)
    data = result.data
    assert data["generated_by"] == f"llm:{MODEL}"  # the model the server reported
    assert result.source == "llm"
    assert data["angle"] == GOOD["angle"]
    assert data["talking_points"] == GOOD["talking_points"]
    assert data["risks"] == GOOD["risks"]
    assert data["estimated_conversion_lift"] == {"range": en("6-12.5%"), "min": 6, "max": 12.5}
    # The fields the model does not write come from the rules.
    rules = (await angle(full_inputs())).data
    for key in ("current_competitor", "threat", "timing_signals", "in_their_own_words"):
        assert data[key] == rules[key], key
    assert (data["case_studies"], data["icp"]) == (rules["case_studies"], rules["icp"])
    # Cited: what the model cited first, then the sources of the fixed fields.
    urls = [c.url for c in result.citations]
    assert urls[:2] == [SW.url, CDO_URL]
    assert {BW.url, QUOTE_URL, STUDY_URL, ROLE_URL} <= set(urls)
    assert result.warnings == []

    (body,) = bodies(canned)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "displacement_angle", "strict": True, "schema": SCHEMA},
    }
    system, user = body["messages"]
    assert system["role"] == "system" and system["content"].startswith("Target: walmart.com.")
    summary = json.loads(user["content"])
    assert summary["domain"] == DOMAIN
    assert summary["playbook"]["current_competitor"] == "Elasticsearch"
    assert summary["playbook"]["conversion_lift_percent"] == {"min": 5, "max": 15}
    assert summary["traffic"] == {
        "monthly_visits": 15_000_000,
        "visits_change": 0.02,
        "sources": [SW.url],
    }
    for url in (SW.url, BW.url, CDO_URL, QUOTE_URL, ROLE_URL, STUDY_URL):
        assert url in user["content"]


def test_schema_is_strict_mode_valid() -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object":
                assert node["additionalProperties"] is False
                assert sorted(node["required"]) == sorted(node["properties"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(SCHEMA)
    assert set(SCHEMA["properties"]) == set(ModelAngle.__struct_fields__)


@pytest.mark.parametrize(
    "bad",
    [
        "Walmart is a great prospect, call them.",  # not JSON
        {"pitch": "call them"},  # wrong shape
        {**GOOD, "difficulty": "extreme"},
        {**GOOD, "talking_points": ["a", "b", "c", "d", "e", "f"]},  # too many talking points
        {**GOOD, "risks": ["a", "b", "c", "d", "e"]},
        {**GOOD, "angle": "   "},
        {**GOOD, "estimated_conversion_lift": {"min": 20, "max": 5}},
    ],
)
async def test_malformed_answer_is_retried_once(
    autojump: Any, canned: CannedServer, bad: Any
) -> None:
    canned.add("POST", CHAT, answer(bad), answer(GOOD))
    result = await angle(full_inputs(), sources=llm(canned))
    assert result.data["generated_by"] == f"llm:{MODEL}"
    assert result.data["angle"] == GOOD["angle"]
    assert result.warnings == []
    first, second = bodies(canned)
    assert second["messages"][: len(first["messages"])] == first["messages"]
    retry = second["messages"][-1]
    assert retry["role"] == "user" and retry["content"].startswith("That answer is invalid: ")


async def test_two_malformed_answers_fall_back_to_the_rules(
    autojump: Any, canned: CannedServer
) -> None:
    canned.add("POST", CHAT, answer("not json"), answer({**GOOD, "talking_points": ["x"] * 6}))
    result = await angle(full_inputs(), sources=llm(canned))
    shape(result)
    assert result.data["generated_by"] == "rules" and result.source == "rules"
    assert result.data == (await angle(full_inputs())).data
    (warning,) = result.warnings
    assert warning.startswith("the language model's angle was not used (malformed_response: ")
    assert "two invalid answers" in warning and "rule-based writer" in warning
    assert len(bodies(canned)) == 2


async def test_urls_not_in_the_inputs_are_dropped(autojump: Any, canned: CannedServer) -> None:
    made_up = "https://www.madeup-news.example/walmart-replatforms"
    content = {
        **GOOD,
        "angle": f"Walmart is replatforming ({made_up}). Call the new CDO ({CDO_URL}).",
        # Cited as given, with a trailing slash or not: the same URL.
        "cited_urls": [made_up, CDO_URL.rstrip("/"), "https://elsewhere.example/x"],
    }
    canned.add("POST", CHAT, answer(content))
    result = await angle(full_inputs(), sources=llm(canned))
    assert result.data["generated_by"] == f"llm:{MODEL}"
    assert made_up not in result.data["angle"]
    assert CDO_URL in result.data["angle"]
    urls = [c.url for c in result.citations]
    assert made_up not in urls and "https://elsewhere.example/x" not in urls
    assert urls[0] == CDO_URL  # the input's own spelling and title
    assert result.citations[0].title == "Reuters"
    assert result.warnings == [
        "dropped 2 URL(s) the model cited that are not among the inputs' citations"
    ]


async def test_item_urls_of_m10_to_m13_may_be_cited(autojump: Any, canned: CannedServer) -> None:
    content = {**GOOD, "cited_urls": [ROLE_URL, QUOTE_URL, STUDY_URL]}
    canned.add("POST", CHAT, answer(content))
    result = await angle(full_inputs(), sources=llm(canned), citations={})
    assert result.warnings == []
    cited = {c.url: c.title for c in result.citations}
    assert cited[ROLE_URL] == "Senior Search Relevance Engineer"
    assert cited[QUOTE_URL] == "Doug McMillon, CEO"
    assert cited[STUDY_URL] == "Case study: Lacoste"


async def test_llm_not_configured_uses_the_rules(autojump: Any) -> None:
    result = await angle(full_inputs())
    assert result.data["generated_by"] == "rules" and result.source == "rules"
    assert result.warnings == []


async def test_use_llm_false_never_asks_the_model(autojump: Any, canned: CannedServer) -> None:
    canned.add("POST", CHAT, answer(GOOD))
    result = await angle(full_inputs(), sources=llm(canned), intel=IntelConfig(use_llm=False))
    assert result.data["generated_by"] == "rules"
    assert canned.requests == []
    assert result.warnings == []


@pytest.mark.parametrize(
    ("status", "code", "requests"),
    [
        (500, "upstream_error", 2),  # the actor retried once (max_retries = 1), then gave up
        (401, "auth_failed", 1),
        (404, "invalid_request", 1),
    ],
)
async def test_llm_http_errors_fall_back_to_the_rules(
    autojump: Any, canned: CannedServer, status: int, code: str, requests: int
) -> None:
    error = {"error": {"message": "nope", "type": "x", "param": None, "code": None}}
    canned.json("POST", CHAT, error, status=status)
    result = await angle(full_inputs(), sources=llm(canned, max_retries=1))
    shape(result)
    assert result.data["generated_by"] == "rules" and result.source == "rules"
    (warning,) = result.warnings
    assert warning.startswith(f"the language model's angle was not used ({code}: ")
    assert len(canned.requests) == requests
    assert "sk-test" not in warning


async def test_refusal_falls_back_without_a_retry(autojump: Any, canned: CannedServer) -> None:
    refused = copy.deepcopy(completion(None))
    refused["choices"][0]["message"]["refusal"] = "I can't help with that."
    canned.json("POST", CHAT, refused)
    result = await angle(full_inputs(), sources=llm(canned))
    assert result.data["generated_by"] == "rules"
    assert "llm_refused" in result.warnings[0]
    assert len(canned.requests) == 1


async def test_the_sandbox_model_answer_is_accepted(autojump: Any, canned: CannedServer) -> None:
    # The sandbox's fake model fills the schema from the prompt: its answer must pass our checks
    # and cite only input URLs.
    upstreams = Upstreams(now=lambda: 1_780_000_000.0)

    async def sandboxed(request: HttpRequest) -> HttpResponse:
        return await upstreams.handle("llm", request, canned.url)

    canned.add("POST", CHAT, sandboxed)
    result = await angle(full_inputs(), sources=llm(canned))
    shape(result)
    assert result.data["generated_by"].startswith("llm:")
    assert result.warnings == []
    assert len(canned.requests) == 1


# -- in a job ----------------------------------------------------------------------------------


@asynccontextmanager
async def sandbox_engine(
    engine_factory: Any, nursery: trio.Nursery, **tables: Any
) -> AsyncIterator[Any]:
    """An engine whose sources all point at a sandbox."""
    box = Sandbox(SandboxOptions())
    url = await nursery.start(box.run)
    sources = box.source_overrides(url)
    for name, table in tables.items():
        sources[name] = {**sources.get(name, {}), **table}
    async with engine_factory(**BUILTIN, sources=sources) as engine:
        yield engine


async def finished(engine: Any, job_id: str) -> Any:
    with trio.fail_after(3600):
        while True:
            job = engine.store.get_job(job_id)
            if job is not None and job.status in ("completed", "failed", "cancelled"):
                return job
            await trio.sleep(0.5)


@pytest.mark.parametrize("use_llm", [True, False])
async def test_end_to_end_on_the_sandbox(
    autojump: Any, engine_factory: Any, nursery: trio.Nursery, use_llm: bool
) -> None:
    tables = {} if use_llm else {"llm": {"enabled": False}}
    async with sandbox_engine(engine_factory, nursery, **tables) as engine:
        modules = [*INPUT_MODULES, M15]
        job = await engine.start_job("costco.com", JobRequest(modules=modules))
        done = await finished(engine, job.job_id)
        state = done.module_states[M15]
        assert state.status == "completed", (state.error_code, state.error_message)
        assert state.source == ("llm" if use_llm else "rules")
        out = engine.store.outputs(job.job_id)[M15]
        data = out.data
        assert data["generated_by"].startswith("llm:" if use_llm else "rules")
        assert data["current_competitor"] not in ("unknown", "")
        assert data["timing_signals"]
        assert out.citations
        assert "m01_company_context" in data["inputs"]
