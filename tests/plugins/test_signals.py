"""m10_hiring_signals, m11_exec_quotes and m12_trigger_events.

The parsing is tested on fixed snippets; each module's ``run`` is called with a small fake
:class:`~enrichd.plugins.ModuleContext` whose ``websearch`` source is a real, running source
actor (resolved from ``[sources.websearch]`` with the Brave provider, as the engine does) talking
to a canned loopback Brave.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from enrichd.daemon._sources import SourceActor
from enrichd.plugins import (
    ModuleError,
    ModuleResult,
    RunFn,
    SearchHit,
    SourceError,
    SourceNotConfigured,
)
from enrichd.plugins.builtin import _signals
from enrichd.plugins.builtin._common import DAY, count_points
from enrichd.plugins.builtin._signals import (
    EVENT_WEIGHTS,
    Company,
    EventOptions,
    HiringOptions,
    QuoteOptions,
    analyse_hiring,
    build_events,
    classify,
    collect_quotes,
    event_type,
    extract_quotes,
    is_posting,
    open_roles_figure,
    recency_factor,
    role_mentions,
    role_title,
    run_exec_quotes,
    run_hiring_signals,
    run_trigger_events,
    signal_strength,
    split_title,
    velocity,
)
from enrichd.testing import ModuleTestContext
from tests.canned import CannedServer
from tests.plugins.test_brave import TOKEN_INVALID, websearch_actor

WEB = "/brave/res/v1/web/search"
NEWS = "/brave/res/v1/news/search"
M01 = "m01_company_context"
COSTCO = Company(name="Costco Wholesale", domain="costco.com", label="costco")
NOW = dt.datetime(2026, 9, 10, 12, 0, tzinfo=dt.UTC).timestamp()


def days_ago(days: float) -> str:
    """An ISO datetime ``days`` before :data:`NOW`."""
    return dt.datetime.fromtimestamp(NOW - days * DAY, dt.UTC).isoformat()


def hit(
    title: str = "", url: str = "https://example.com/", snippet: str = "", **kw: Any
) -> SearchHit:
    return SearchHit(title=title, url=url, snippet=snippet, **kw)


# -- the fake module context ---------------------------------------------------------------------


def FakeContext(
    *,
    domain: str = "costco.com",
    module_id: str = "m10_hiring_signals",
    sources: Mapping[str, SourceActor] | None = None,
    dependencies: Mapping[str, Mapping[str, Any]] | None = None,
    options: Mapping[str, Any] | None = None,
) -> ModuleTestContext:
    """The engine's context over the given actors and dependency data."""
    return ModuleTestContext(
        sources or {}, domain, module_id=module_id, dependencies=dependencies, options=options
    )


@asynccontextmanager
async def running(actor: SourceActor) -> AsyncIterator[SourceActor]:
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run)
            yield actor
            nursery.cancel_scope.cancel(reason="test finished")
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1 and isinstance(group.exceptions[0], Exception):
            raise group.exceptions[0] from None
        raise


async def run_module(
    canned: CannedServer,
    run: RunFn,
    *,
    name: str | None = "Costco Wholesale",
    **ctx: Any,
) -> ModuleResult:
    """Run ``run`` with a fake context whose websearch is the canned Brave."""
    dependencies = {M01: {"company_name": name}} if name is not None else {}
    async with running(websearch_actor(f"{canned.url}/brave")) as actor:
        context = FakeContext(sources={"websearch": actor}, dependencies=dependencies, **ctx)
        return await run(context)


def brave_web(*results: dict[str, Any], news: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """A Brave web-search answer."""
    body: dict[str, Any] = {"type": "search", "query": {"original": "q"}}
    body["web"] = {"type": "search", "results": list(results)}
    if news:
        body["news"] = {"type": "news", "results": list(news)}
    return body


def result(title: str, url: str, description: str = "", **kw: Any) -> dict[str, Any]:
    """One Brave search result."""
    return {"title": title, "url": url, "description": description, "type": "search_result", **kw}


# -- common --------------------------------------------------------------------------------------


def test_module_specs_are_unchanged() -> None:
    specs = {m.id: m for m in _signals.MODULES}
    assert list(specs) == ["m10_hiring_signals", "m11_exec_quotes", "m12_trigger_events"]
    for spec in specs.values():
        assert spec.wave == 4
        assert spec.depends_on == (M01,)
        assert spec.sources == ("websearch",)
    assert specs["m10_hiring_signals"].ttl_seconds == 3 * DAY
    assert specs["m11_exec_quotes"].ttl_seconds == 30 * DAY
    assert specs["m12_trigger_events"].ttl_seconds == 3 * DAY


@pytest.mark.parametrize("run", [run_hiring_signals, run_exec_quotes, run_trigger_events])
async def test_websearch_not_configured(
    autojump: Any, monkeypatch: pytest.MonkeyPatch, run: RunFn
) -> None:
    monkeypatch.delenv("ENRICHD_WEBSEARCH_API_KEY", raising=False)
    actor = websearch_actor("http://127.0.0.1:9/brave", api_key=None)
    context = FakeContext(sources={"websearch": actor}, dependencies={M01: {}})
    with pytest.raises(SourceNotConfigured) as caught:
        await run(context)
    assert caught.value.code == "source_not_configured"
    assert caught.value.source == "websearch"
    assert "ENRICHD_WEBSEARCH_API_KEY" in caught.value.message
    assert "[sources.websearch] api_key" in caught.value.message


@pytest.mark.parametrize(
    ("company", "text", "same"),
    [
        (COSTCO, "Costco Wholesale Corporation", True),
        (COSTCO, "COSTCO", True),  # the domain label
        (COSTCO, "Algolia", False),
        (COSTCO, "Wholesale Partners Inc.", False),
        (Company("American Eagle Outfitters", "ae.com", "ae"), "American Express", False),
        (Company("American Eagle Outfitters", "ae.com", "ae"), "American Eagle Outfitters", True),
        (Company("The Home Depot", "homedepot.com", "homedepot"), "Home Depot", True),
    ],
)
def test_mentions_company(company: Company, text: str, same: bool) -> None:
    assert _signals.mentions_company(text, company) is same


async def test_brave_errors_fail_the_module(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", WEB, TOKEN_INVALID, status=422)
    with pytest.raises(SourceError) as caught:
        await run_module(canned, run_hiring_signals)
    assert caught.value.code == "auth_failed"


async def test_company_name_falls_back_to_the_domain_label(
    autojump: Any, canned: CannedServer
) -> None:
    canned.json("GET", WEB, brave_web())
    await run_module(canned, run_hiring_signals, name=None, domain="shop.acme-widgets.co.uk")
    (request,) = canned.requests
    assert request.query["q"] == '"acme-widgets" acme-widgets.co.uk jobs hiring careers'


async def test_blank_company_name_falls_back_too(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", WEB, brave_web())
    await run_module(canned, run_hiring_signals, name="  ")
    assert canned.requests[0].query["q"] == '"costco" costco.com jobs hiring careers'


async def test_quotes_in_the_name_do_not_break_the_phrase(
    autojump: Any, canned: CannedServer
) -> None:
    canned.json("GET", WEB, brave_web())
    await run_module(canned, run_hiring_signals, name='The "Best" Shop')
    assert canned.requests[0].query["q"] == '"The Best Shop" costco.com jobs hiring careers'


# -- m10_hiring_signals --------------------------------------------------------------------------

CAREERS = result(
    "Careers at Costco Wholesale",
    "https://careers.costco.com/",
    "Explore <strong>1,234 open positions</strong> at Costco Wholesale warehouses and offices.",
)
POSTINGS = [
    result(
        "Senior Search Relevance Engineer - Costco Wholesale",
        "https://boards.greenhouse.io/costco/jobs/4001",
        "Improve ranking for millions of members.",
    ),
    result(
        "E-commerce Product Manager - Costco Wholesale",
        "https://jobs.lever.co/costco/3f1c-22",
        "Own the checkout funnel.",
    ),
    result(
        "Personalization Data Scientist | Costco Careers",
        "https://careers.costco.com/jobs/5555",
        "Build models. Search jobs at Costco.",
    ),
    result(
        "Warehouse Associate - Costco Wholesale",
        "https://careers.costco.com/jobs/5556",
        "Search all jobs in your area.",
    ),
    result(
        "Job Application for Recommendations Engineer at Costco Wholesale",
        "https://boards.greenhouse.io/costco/jobs/4002",
        "",
    ),
]
OTHER = result("Costco - Wikipedia", "https://en.wikipedia.org/wiki/Costco", "American retailer")
LAYOFF_NEWS = result("Costco cuts 300 jobs", "https://news.example/costco-cuts", "Costco said...")


async def test_m10_end_to_end(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", WEB, brave_web(CAREERS, *POSTINGS, OTHER, news=(LAYOFF_NEWS,)))
    outcome = await run_module(canned, run_hiring_signals)

    (request,) = canned.requests
    assert request.path == WEB
    assert request.query == {
        "q": '"Costco Wholesale" costco.com jobs hiring careers',
        "count": "20",
        "freshness": "pm",
    }
    data = outcome.data
    assert data["open_roles"] == 1234
    assert data["open_roles_basis"] == "careers_page"
    assert data["careers_url"] == "https://careers.costco.com/"
    assert [r["title"] for r in data["roles"]] == [
        "Senior Search Relevance Engineer",
        "E-commerce Product Manager",
        "Personalization Data Scientist",
        "Warehouse Associate",
        "Recommendations Engineer",
    ]
    assert [r["mentions"] for r in data["relevant_roles"]] == [
        ["search", "relevance"],
        ["e-commerce"],
        ["personalisation"],
        ["recommendation"],
    ]
    assert data["relevant_role_count"] == 4
    assert data["velocity"] == "high"
    assert data["hiring_signal_strength"] == "strong"
    assert data["summary"].startswith("Costco Wholesale: 1,234 open roles (high hiring velocity)")
    assert "4 of 5 postings" in data["summary"]
    assert outcome.source == "websearch"
    assert outcome.source_url == "https://careers.costco.com/"
    assert [c.url for c in outcome.citations] == [
        "https://careers.costco.com/",
        *(p["url"] for p in POSTINGS),
    ]
    assert outcome.citations[0].title == "Careers at Costco Wholesale"
    assert outcome.data_points == count_points(data) > 0
    assert outcome.warnings == []


async def test_m10_no_results(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", WEB, brave_web())
    outcome = await run_module(canned, run_hiring_signals)
    assert outcome.data_points == 0
    assert outcome.data["roles"] == []
    assert outcome.data["relevant_roles"] == []
    assert outcome.data["open_roles"] is None
    assert outcome.citations == []
    assert outcome.warnings == [
        "no careers page or job posting for Costco Wholesale in 0 search results"
    ]


def test_m10_results_without_hiring_content_are_no_data() -> None:
    data, used = analyse_hiring(
        [hit("Costco - Wikipedia", "https://en.wikipedia.org/wiki/Costco")], COSTCO
    )
    assert count_points(data) == 0
    assert used == []


def test_m10_without_a_figure_counts_postings() -> None:
    hits = [hit(p["title"], p["url"], p["description"]) for p in POSTINGS[:3]]
    data, _ = analyse_hiring(hits, COSTCO)
    assert data["open_roles"] == 3
    assert data["open_roles_basis"] == "postings"
    assert data["careers_url"] is None
    assert data["velocity"] == "low"


def test_m10_a_stale_figure_never_undercounts_visible_postings() -> None:
    hits = [hit("Careers", "https://careers.costco.com/", "2 open positions")]
    hits += [hit(p["title"], p["url"]) for p in POSTINGS]
    data, _ = analyse_hiring(hits, COSTCO)
    assert data["open_roles"] == 5
    assert data["open_roles_basis"] == "postings"


def test_m10_zero_open_positions_is_data() -> None:
    data, _ = analyse_hiring(
        [hit("Careers", "https://acme.example/careers", "0 open positions")], COSTCO
    )
    assert data["open_roles"] == 0
    assert data["velocity"] == "low"
    assert data["hiring_signal_strength"] == "weak"
    assert count_points(data) > 0


@pytest.mark.parametrize(
    ("text", "figure"),
    [
        ("Explore 1,234 open positions at Costco", 1234),
        ("We have 45 open jobs and 12 open roles", 45),
        ("2,000+ open roles worldwide", 2000),
        ("Browse 87 job openings", 87),
        ("12 available positions in Seattle", 12),
        ("Costco cuts 300 jobs", None),
        ("Founded in 1983, 300 stores", None),
    ],
)
def test_open_roles_figure(text: str, figure: int | None) -> None:
    found = open_roles_figure([hit("Careers", "https://acme.example/careers", text)])
    assert (found[0] if found else None) == figure


def test_open_roles_figure_takes_the_largest_across_hits() -> None:
    hits = [
        hit("a", "https://a.example/", "120 open positions"),
        hit("b", "https://b.example/", "1,500 open positions"),
        hit("c", "https://c.example/", "90 open positions"),
    ]
    found = open_roles_figure(hits)
    assert found is not None
    assert (found[0], found[1].url) == (1500, "https://b.example/")


@pytest.mark.parametrize(
    ("open_roles", "pace"),
    [(0, "low"), (19, "low"), (20, "medium"), (49, "medium"), (50, "high"), (2000, "high")],
)
def test_velocity_thresholds(open_roles: int, pace: str) -> None:
    assert velocity(open_roles) == pace
    data, _ = analyse_hiring(
        [hit("Careers", "https://acme.example/careers", f"{open_roles} open positions")], COSTCO
    )
    assert data["velocity"] == pace


def test_velocity_thresholds_are_options() -> None:
    options = HiringOptions(velocity_high=10, velocity_medium=5)
    assert [velocity(n, options) for n in (4, 5, 9, 10)] == ["low", "medium", "medium", "high"]


@pytest.mark.parametrize(
    ("pace", "relevant", "strength"),
    [
        ("low", 0, "weak"),
        ("medium", 0, "moderate"),
        ("high", 0, "moderate"),
        ("low", 1, "moderate"),
        ("high", 1, "strong"),
        ("low", 3, "strong"),
    ],
)
def test_signal_strength(pace: str, relevant: int, strength: str) -> None:
    assert signal_strength(pace, relevant) == strength


@pytest.mark.parametrize(
    ("url", "title", "posting"),
    [
        ("https://boards.greenhouse.io/costco/jobs/4001", "Engineer", True),
        ("https://boards.greenhouse.io/costco", "Jobs at Costco", False),
        ("https://jobs.lever.co/costco/3f1c-22", "Engineer", True),
        ("https://costco.wd5.myworkdayjobs.com/en-US/External/job/Seattle/Engineer_R1", "x", True),
        ("https://www.costco.com/careers/engineer-123", "Engineer", True),
        ("https://www.costco.com/careers", "Careers", False),
        ("https://www.costco.com/jobs/", "Jobs", False),
        ("https://careers.costco.com/benefits-team-lead", "Team Lead", True),
        ("https://www.linkedin.com/jobs/view/123", "Engineer", True),
        ("https://www.indeed.com/viewjob?jk=1", "Cashier job - Costco", True),
        ("https://news.example/costco-cuts", "Costco cuts 300 jobs", False),
    ],
)
def test_is_posting(url: str, title: str, posting: bool) -> None:
    assert is_posting(hit(title, url)) is posting


def test_a_page_counting_openings_is_not_a_posting() -> None:
    assert not is_posting(hit("Careers", "https://careers.costco.com/jobs/all", "812 open jobs"))


@pytest.mark.parametrize(
    ("title", "clean"),
    [
        ("Senior Search Relevance Engineer - Costco Wholesale", "Senior Search Relevance Engineer"),
        ("Job Application for Data Scientist at Costco Wholesale", "Data Scientist"),
        ("Engineer, Search - Platform | Costco Careers", "Engineer, Search - Platform"),
        ("Buyer – Costco – LinkedIn", "Buyer"),  # noqa: RUF001 (en dashes)
        ("Pharmacist at Costco Wholesale", "Pharmacist"),
        ("Head of E-commerce", "Head of E-commerce"),
    ],
)
def test_role_title(title: str, clean: str) -> None:
    assert role_title(title, COSTCO) == clean


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("Senior Search Relevance Engineer", ["search", "relevance"]),
        ("Ecommerce Manager", ["e-commerce"]),
        ("eCommerce and digital commerce lead", ["e-commerce"]),
        ("Personalisation Lead", ["personalisation"]),
        ("Personalization Scientist", ["personalisation"]),
        ("Recommender Systems Engineer", ["recommendation"]),
        ("Product Discovery PM", ["discovery"]),
        ("Warehouse Associate. Search jobs near you. Job search tips.", []),
        ("Researcher", []),
        ("Relevant experience required", []),
    ],
)
def test_role_mentions(text: str, mentions: list[str]) -> None:
    assert role_mentions(text) == mentions


def test_extra_keywords_from_options() -> None:
    assert role_mentions("Merchandising Analyst", ["merchandising"]) == ["merchandising"]


async def test_m10_options_are_validated(autojump: Any, canned: CannedServer) -> None:
    with pytest.raises(ModuleError) as caught:
        await run_module(canned, run_hiring_signals, options={"velocity_hi": 3})
    assert caught.value.code == "invalid_options"
    assert "velocity_hi" in caught.value.message
    assert canned.requests == []


# -- m11_exec_quotes -----------------------------------------------------------------------------

CURLY = (
    "“We are investing in search and personalization so members find what they need faster,” "
    "said Ron Vachris, Chief Executive Officer of Costco Wholesale."
)
STRAIGHT = (
    '"Our e-commerce sales grew faster than any other channel in the quarter," '
    "Gary Millerchip, Chief Financial Officer, said on the call."
)


@pytest.mark.parametrize(
    ("snippet", "text", "speaker", "title"),
    [
        (
            CURLY,
            "We are investing in search and personalization so members find what they need faster",
            "Ron Vachris",
            "Chief Executive Officer",
        ),
        (
            STRAIGHT,
            "Our e-commerce sales grew faster than any other channel in the quarter",
            "Gary Millerchip",
            "Chief Financial Officer",
        ),
        (
            'According to Jane Smith, Head of Digital of Costco Wholesale, "site search is the '
            'most used feature on our website today."',
            "site search is the most used feature on our website today.",
            "Jane Smith",
            "Head of Digital",
        ),
        (
            '"Members want a faster and simpler way to shop online with us," according to '
            "Claudine Adamo, Executive Vice President of Merchandising.",
            "Members want a faster and simpler way to shop online with us",
            "Claudine Adamo",
            "Executive Vice President of Merchandising",
        ),
        (
            'Jane Roe, VP of E-commerce at Costco, said: "we will roll out a new app experience '
            'across every region next spring."',
            "we will roll out a new app experience across every region next spring.",
            "Jane Roe",
            "VP of E-commerce",
        ),
        (
            '"Digital is now a core part of how our members shop every single week," says '
            "Ana María de la Cruz, Co-Founder.",
            "Digital is now a core part of how our members shop every single week",
            "Ana María de la Cruz",
            "Co-Founder",
        ),
        (
            '"We are opening more warehouses than in any year of our history so far," said '
            "Costco CEO Ron Vachris.",
            "We are opening more warehouses than in any year of our history so far",
            "Ron Vachris",
            "CEO",
        ),
        (
            '"We are opening more warehouses than in any year of our history so far," Chief '
            "Financial Officer Gary Millerchip said.",
            "We are opening more warehouses than in any year of our history so far",
            "Gary Millerchip",
            "Chief Financial Officer",
        ),
    ],
)
def test_quote_patterns(snippet: str, text: str, speaker: str, title: str) -> None:
    published = "2026-09-04T11:02:00+00:00"
    quotes = extract_quotes(
        hit("t", "https://news.example/a", snippet, published=published), COSTCO
    )
    assert quotes == [
        {
            "text": text,
            "speaker": speaker,
            "title": title,
            "source_url": "https://news.example/a",
            "date": "2026-09-04",
        }
    ]


@pytest.mark.parametrize(
    "snippet",
    [
        # Not an executive.
        '"I come here every week because the prices are simply the best around," said Mary Major, '
        "a shopper from Seattle.",
        # Another company's executive, in an article about Costco.
        '"Costco is one of the most demanding retailers we have ever worked with," said John Doe, '
        "CEO of Algolia.",
        # The same, title first.
        '"Costco is one of the most demanding retailers we have ever worked with," said '
        "Algolia CEO John Doe.",
        # Too short to be a statement.
        '"Great quarter," said Ron Vachris, CEO of Costco Wholesale.',
        # No attribution at all.
        '"We are investing in search and personalization for our members everywhere," '
        "the memo read.",
    ],
)
def test_quotes_that_are_dropped(snippet: str) -> None:
    assert extract_quotes(hit("t", "https://news.example/a", snippet), COSTCO) == []


def test_quotes_from_extra_snippets_and_unknown_dates() -> None:
    quotes = extract_quotes(
        hit("t", "https://news.example/a", "No quote here.", extra_snippets=(STRAIGHT,)), COSTCO
    )
    assert [q["speaker"] for q in quotes] == ["Gary Millerchip"]
    assert quotes[0]["date"] is None


@pytest.mark.parametrize(
    ("raw", "title", "org"),
    [
        (
            "Chief Executive Officer of Costco Wholesale",
            "Chief Executive Officer",
            "Costco Wholesale",
        ),
        ("Head of Digital of Costco", "Head of Digital", "Costco"),
        ("Vice President of E-commerce at Costco", "Vice President of E-commerce", "Costco"),
        ("CEO of Bank of America", "CEO", "Bank of America"),
        ("SVP at Algolia", "SVP", "Algolia"),
        ("Vice President of Global Sales", "Vice President of Global Sales", None),
        ("Head of Digital of Algolia", "Head of Digital", "Algolia"),
        ("Head of Digital", "Head of Digital", None),
        ("Chief Financial Officer", "Chief Financial Officer", None),
    ],
)
def test_split_title(raw: str, title: str, org: str | None) -> None:
    assert split_title(raw, COSTCO) == (title, org)


def test_quotes_are_deduplicated_sorted_and_capped() -> None:
    def quote(i: int) -> str:
        return (
            f'"Statement number {i} about our plans for the next fiscal year," '
            "said Ron Vachris, CEO of Costco Wholesale."
        )

    hits = [
        hit("t", f"https://news.example/{i}", quote(i), published=days_ago(i)) for i in range(12)
    ]
    # The same statement syndicated elsewhere, in the other quote style and another case.
    hits.append(
        hit("t", "https://other.example/0", quote(0).replace('"', "“", 1), published=days_ago(0))
    )
    hits.append(hit("t", "https://undated.example/", quote(99)))
    quotes, used = collect_quotes(hits, COSTCO)
    assert len(quotes) == 10
    assert [q["source_url"] for q in quotes] == [f"https://news.example/{i}" for i in range(10)]
    assert [h.url for h in used] == [q["source_url"] for q in quotes]
    quotes, _ = collect_quotes(hits, COSTCO, QuoteOptions(max_quotes=20))
    assert len(quotes) == 13
    assert quotes[-1]["source_url"] == "https://undated.example/"  # undated ones last


async def test_m11_end_to_end(autojump: Any, canned: CannedServer) -> None:
    web = result(
        "Costco CEO interview", "https://news.example/ceo", CURLY, page_age="2026-08-01T10:00:00"
    )
    news = result(
        "Costco earnings call", "https://news.example/call", STRAIGHT, age="September 4, 2026"
    )
    canned.json("GET", WEB, brave_web(web, OTHER, news=(news,)))
    outcome = await run_module(canned, run_exec_quotes, module_id="m11_exec_quotes")

    (request,) = canned.requests
    assert request.query == {
        "q": '"Costco Wholesale" costco.com CEO said interview',
        "count": "20",
        "freshness": "py",
    }
    quotes = outcome.data["quotes"]
    assert [(q["speaker"], q["date"]) for q in quotes] == [
        ("Gary Millerchip", "2026-09-04"),
        ("Ron Vachris", "2026-08-01"),
    ]
    assert [c.url for c in outcome.citations] == [
        "https://news.example/call",
        "https://news.example/ceo",
    ]
    assert outcome.source_url == "https://news.example/call"
    assert outcome.data_points == 10


async def test_m11_no_results(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", WEB, brave_web(OTHER))
    outcome = await run_module(canned, run_exec_quotes, module_id="m11_exec_quotes")
    assert outcome.data == {"quotes": []}
    assert outcome.data_points == 0
    assert outcome.warnings == ["no executive quote for Costco Wholesale in 1 search results"]


# -- m12_trigger_events --------------------------------------------------------------------------

HEADLINES = {
    "digital_initiative": "Costco launches digital transformation of its member experience",
    "technology_refresh": "Costco replatforms its e-commerce site onto a new platform",
    "executive_change": "Costco names Jane Doe as new Chief Digital Officer",
    "acquisition": "Costco acquires Innovel Solutions for $1 billion",
    "new_market": "Costco expands into Spain and Sweden",
    "competitor_win": "Costco selects Algolia to power site search",
    "funding": "Costco raises $40M Series C",
    "layoffs": "Costco cuts 300 jobs at headquarters",
    "other": "Costco reports monthly sales results",
}


@pytest.mark.parametrize(("kind", "headline"), list(HEADLINES.items()))
def test_event_typing(kind: str, headline: str) -> None:
    assert event_type(hit(headline, "https://news.example/x")) == kind


@pytest.mark.parametrize(
    ("headline", "kind"),
    [
        ("Costco lays off 120 corporate staff", "layoffs"),
        ("Retailer announces layoffs", "layoffs"),
        ("Costco secures $500M credit facility", "funding"),
        ("Costco to buy regional grocer", "acquisition"),
        ("Costco CFO steps down", "executive_change"),
        ("Costco appoints Mark Smith as President of Operations", "executive_change"),
        ("Costco partners with Coveo for product discovery", "competitor_win"),
        ("Costco chooses a new search vendor for its website", "competitor_win"),
        ("Costco migrates to headless commerce", "technology_refresh"),
        ("Costco moves its online store to Shopify Plus", "technology_refresh"),
        ("Costco switches its storefront to commercetools", "technology_refresh"),
        ("Costco is moving to a composable architecture", "technology_refresh"),
        ("Costco modernizes its supply chain systems", "technology_refresh"),
        ("Costco opens first warehouse in New Zealand", "new_market"),
        ("Costco enters the Indian market", "new_market"),
        ("Costco launches new mobile app", "digital_initiative"),
        ("Costco bets on AI for member services", "digital_initiative"),
        ("Costco's customer acquisition costs fall", None),
    ],
)
def test_classify_wordings(headline: str, kind: str | None) -> None:
    assert classify(headline) == kind


def test_snippet_types_an_untyped_headline() -> None:
    story = hit(
        "Costco: the week in review", "https://n.example/", "The retailer acquires Innovel."
    )
    assert event_type(story) == "acquisition"


def test_competitors_from_options() -> None:
    assert classify("Costco rolls out Acme Search") is None
    assert classify("Costco rolls out Acme Search", ["Acme Search"]) == "competitor_win"


@pytest.mark.parametrize(
    ("age_days", "factor"),
    [
        (-1, 1.0),  # a clock a little behind the publisher's
        (0, 1.0),
        (7, 1.0),
        (7 + 1 / DAY, 0.8),
        (30, 0.8),
        (30 + 1 / DAY, 0.6),
        (90, 0.6),
        (90 + 1 / DAY, 0.4),
        (180, 0.4),
        (180 + 1 / DAY, 0.2),
        (365, 0.2),
        (365 + 1 / DAY, 0.1),
        (2000, 0.1),
    ],
)
def test_recency_factor_boundaries(age_days: float, factor: float) -> None:
    assert recency_factor(days_ago(age_days), NOW) == factor


@pytest.mark.parametrize("published", [None, "", "last week"])
def test_unknown_date_factor(published: str | None) -> None:
    assert recency_factor(published, NOW) == 0.2


def test_date_only_and_naive_datetimes_are_utc() -> None:
    assert recency_factor("2026-09-04", NOW) == 1.0  # midnight UTC: 6.5 days
    assert recency_factor("2026-09-03", NOW) == 0.8  # 7.5 days
    assert recency_factor("2026-09-03T12:00:00", NOW) == 1.0
    assert recency_factor("2026-09-03T11:59:59", NOW) == 0.8


def test_events_are_scored_sorted_and_deduplicated() -> None:
    hits = [
        hit(HEADLINES["layoffs"], "https://n.example/1", "Cuts.", published=days_ago(2)),
        hit(HEADLINES["funding"], "https://n.example/2", "Money.", published=days_ago(100)),
        hit(HEADLINES["acquisition"], "https://n.example/3", "Buys.", published=days_ago(3)),
        hit(HEADLINES["acquisition"], "https://syndicated.example/3", "Same story."),
        hit(HEADLINES["other"], "https://n.example/4", "x" * 400),
    ]
    events, used = build_events(hits, NOW)
    assert [(e["type"], e["weight"], e["recency_factor"], e["score"]) for e in events] == [
        ("acquisition", 20, 1.0, 20.0),
        ("funding", 30, 0.4, 12.0),
        ("other", 10, 0.2, 2.0),
        ("layoffs", -25, 1.0, -25.0),
    ]
    assert [h.url for h in used] == [e["source_url"] for e in events]
    assert events[0] == {
        "type": "acquisition",
        "title": HEADLINES["acquisition"],
        "summary": "Buys.",
        "source_url": "https://n.example/3",
        "date": days_ago(3)[:10],
        "weight": 20,
        "recency_factor": 1.0,
        "score": 20.0,
    }
    assert events[2]["date"] is None
    assert len(events[2]["summary"]) <= 281
    assert events[2]["summary"].endswith("…")


def test_weights_from_options() -> None:
    hits = [hit(HEADLINES["layoffs"], "https://n.example/1", published=days_ago(1))]
    events, _ = build_events(hits, NOW, EventOptions(weights={"layoffs": -5}))
    assert events[0]["score"] == -5.0


async def test_m12_end_to_end(autojump: Any, canned: CannedServer) -> None:
    ages = dict(zip(HEADLINES, (1, 10, 40, 100, 200, 300, 400, 5, 20), strict=True))
    results = [
        {
            "title": headline,
            "url": f"https://news.example/{kind}",
            "description": f"About {kind}.",
            "page_age": days_ago(ages[kind]),
            "age": "some days ago",
            "meta_url": {"hostname": "news.example"},
        }
        for kind, headline in HEADLINES.items()
    ]
    canned.json("GET", NEWS, {"type": "news", "query": {"original": "q"}, "results": results})
    outcome = await run_module(
        canned,
        lambda ctx: run_trigger_events(ctx, clock=lambda: NOW),
        module_id="m12_trigger_events",
    )

    (request,) = canned.requests
    assert request.path == NEWS
    assert request.query == {
        "q": '"Costco Wholesale" costco.com news',
        "count": "20",
        "freshness": "py",
    }
    data = outcome.data
    expected = {
        "digital_initiative": 30 * 1.0,
        "technology_refresh": 28 * 0.8,
        "executive_change": 25 * 0.6,
        "acquisition": 20 * 0.4,
        "new_market": 18 * 0.2,
        "competitor_win": 15 * 0.2,
        "funding": 30 * 0.1,
        "layoffs": -25 * 1.0,
        "other": 10 * 0.8,
    }
    assert {e["type"]: e["score"] for e in data["events"]} == pytest.approx(expected)
    scores = [e["score"] for e in data["events"]]
    assert scores == sorted(scores, reverse=True)
    assert data["top_event"]["type"] == "digital_initiative"
    assert data["counts"] == dict.fromkeys(HEADLINES, 1)
    assert set(EVENT_WEIGHTS) == set(HEADLINES)
    assert outcome.source_url == "https://news.example/digital_initiative"
    assert len(outcome.citations) == 9
    assert outcome.data_points == count_points(data)


async def test_m12_no_results(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", NEWS, {"type": "news", "query": {"original": "q"}, "results": []})
    outcome = await run_module(canned, run_trigger_events, module_id="m12_trigger_events")
    assert outcome.data == {"events": [], "top_event": None, "counts": {}}
    assert outcome.data_points == 0
    assert outcome.warnings == ["no news about Costco Wholesale in the last year"]


async def test_m12_unknown_weight_type(autojump: Any, canned: CannedServer) -> None:
    with pytest.raises(ModuleError) as caught:
        await run_module(
            canned,
            run_trigger_events,
            module_id="m12_trigger_events",
            options={"weights": {"ipo": 40}},
        )
    assert caught.value.code == "invalid_options"
    assert "ipo" in caught.value.message
