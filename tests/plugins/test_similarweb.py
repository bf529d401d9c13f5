"""The SimilarWeb client and modules m03-m06 against a canned loopback upstream.

Answers are the reference document's recorded examples (upstream-apis.md section 2) where it has
them, plus every error shape. Sources are resolved from ``[sources]`` tables exactly as the engine
does and run as real source actors, so the ``api_key`` parameter, retries and Retry-After pauses
are the production ones. Modules run through a small fake :class:`ModuleContext`; one test runs
m03 through the engine.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
import trio

from enrichd.config import ConfigError
from enrichd.daemon import JobRequest
from enrichd.plugins import (
    Citation,
    ModuleError,
    ModuleResult,
    ModuleSpec,
    NoData,
    SourceNotConfigured,
)
from enrichd.plugins.builtin import _similarweb as sw
from enrichd.plugins.builtin._common import count_points
from enrichd.plugins.builtin._traffic import build_modules
from enrichd.sandbox import HttpResponse, json_response
from enrichd.testing import ModuleTestContext, running_sources, source_actors
from tests.canned import CannedServer
from tests.conftest import BUILTIN, wait_for_status

# -- a harness shared with test_yahoo ---------------------------------------------------------


# -- the reference document's examples ---------------------------------------------------------

#: 2026-05-28 UTC: the last three full months are 2026-02 .. 2026-04.
NOW = 1_780_000_000.0
MODULES: dict[str, ModuleSpec] = {spec.id: spec for spec in build_modules(clock=lambda: NOW)}

META: dict[str, Any] = {
    "request": {
        "granularity": "Monthly",
        "main_domain_only": False,
        "domain": "example.com",
        "start_date": "2016-02-01",
        "end_date": "2016-03-31",
        "country": "world",
    },
    "status": "Success",
    "last_updated": "2016-08-31",
}

#: upstream-apis.md 2.2, "Visits (Ruby spec fixture)", verbatim.
VISITS: dict[str, Any] = {
    "meta": META,
    "visits": [
        {"date": "2016-02-01", "visits": 120678.0},
        {"date": "2016-03-01", "visits": 121999.0},
    ],
}
#: The same fixture file's bounce rate, pages per visit and duration (meta as in VISITS).
BOUNCE: dict[str, Any] = {
    "meta": META,
    "bounce_rate": [{"date": "2016-02-01", "bounce_rate": 0.84267223520442835}],
}
PAGES: dict[str, Any] = {
    "meta": META,
    "pages_per_visit": [{"date": "2016-02-01", "pages_per_visit": 1.3114237889259022}],
}
DURATION: dict[str, Any] = {
    "meta": META,
    "average_visit_duration": [{"date": "2016-02-01", "average_visit_duration": 47.9424750161587}],
}
#: Constructed from the documented shape ``global_rank: [{date: "YYYY-MM", global_rank}]``.
RANK: dict[str, Any] = {
    "meta": META,
    "global_rank": [
        {"date": "2016-02", "global_rank": 1502},
        {"date": "2016-03", "global_rank": 1432},
    ],
}
#: upstream-apis.md 2.2, "Marketing channels", recorded, verbatim.
OVERVIEW_SHARE: dict[str, Any] = {
    "meta": {
        "request": {
            "main_domain_only": False,
            "domain": "example.com",
            "start_date": "2016-02-01",
            "end_date": "2016-03-31",
            "country": "world",
        },
        "status": "Success",
        "last_updated": "2016-08-31",
    },
    "visits": {
        "example.com": [
            {
                "source_type": "Search",
                "visits": [
                    {"date": "2016-02-01", "organic": 10390.544150384667, "paid": 0.0},
                    {"date": "2016-03-01", "organic": 13725.010450884669, "paid": 0.0},
                ],
            },
            {
                "source_type": "Display Ads",
                "visits": [{"date": "2016-02-01", "organic": 0.0, "paid": 0.0}],
            },
        ]
    },
}
#: upstream-apis.md 2.2, "Similar sites" (constructed there), verbatim.
SIMILAR_SITES: dict[str, Any] = {
    "meta": {
        "request": {"domain": "cnn.com", "format": "json"},
        "status": "Success",
        "last_updated": "2020-01-31",
    },
    "similar_sites": [
        {"url": "foxnews.com", "score": 0.9012942574949001},
        {"url": "nbcnews.com", "score": 0.7312487797958783},
    ],
}
#: upstream-apis.md 2.2, "Organic keywords" (constructed there), verbatim.
ORGANIC: dict[str, Any] = {
    "meta": {
        "request": {
            "domain": "acme.example",
            "country": "us",
            "start_date": "2024-01-01",
            "end_date": "2024-03-31",
            "limit": 3,
        },
        "status": "Success",
        "last_updated": "2024-04-30",
    },
    "search": [
        {
            "search_term": "acme widgets",
            "share": 0.41,
            "visits": 12034.5,
            "change": 0.12,
            "volume": 8100,
            "cpc": 1.35,
            "url": "acme.example/widgets",
            "position": 1,
        }
    ],
    "visits": 29351.2,
    "total_visits": 29351.2,
}
#: The bad-key answer (sandbox contract; the commonly reported v1 error shape).
BAD_KEY: dict[str, Any] = {
    "meta": {"status": "Error", "error_code": 401, "error_message": "Invalid API key"}
}
NOT_FOUND: dict[str, Any] = {
    "meta": {"status": "Error", "error_code": 404, "error_message": "Data not found"}
}

TTE = "total-traffic-and-engagement"


def path(domain: str, endpoint: str) -> str:
    """The canned server's path for a v1 website endpoint."""
    return f"/v1/website/{domain}/{endpoint}"


def serve_traffic(canned: CannedServer, **instead: HttpResponse) -> None:
    """Queue the five m03 answers from the reference fixtures; ``instead`` replaces some.

    Keys of ``instead`` are the data keys: visits, bounce_rate, pages_per_visit,
    average_visit_duration, global_rank.
    """
    answers = {
        "visits": (f"{TTE}/visits", VISITS),
        "bounce_rate": (f"{TTE}/bounce-rate", BOUNCE),
        "pages_per_visit": (f"{TTE}/pages-per-visit", PAGES),
        "average_visit_duration": (f"{TTE}/average-visit-duration", DURATION),
        "global_rank": ("global-rank/global-rank", RANK),
    }
    for key, (endpoint, body) in answers.items():
        canned.add("GET", path("example.com", endpoint), instead.get(key) or json_response(body))


def similarweb(canned: CannedServer, **options: Any) -> dict[str, dict[str, Any]]:
    """``[sources]`` with SimilarWeb pointed at the canned server."""
    return {"similarweb": {"base_url": canned.url, "api_key": "k", **options}}


async def run_module(
    canned: CannedServer, mid: str, domain: str = "example.com", **options: Any
) -> ModuleResult:
    async with running_sources(similarweb(canned, **options)) as actors:
        return await MODULES[mid].run(ModuleTestContext(actors, domain, module_id=mid))


async def visits_call(canned: CannedServer) -> list[tuple[str, float]]:
    """The visits endpoint alone, through a running SimilarWeb actor."""
    async with running_sources(similarweb(canned)) as actors:
        handle = actors["similarweb"].handle()
        return await sw.visits(handle, "example.com", sw.Period("2026-02", "2026-04"))


# -- dates and options -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "months", "expected"),
    [
        (NOW, 3, ("2026-02", "2026-04")),
        (NOW, 1, ("2026-04", "2026-04")),
        # 2026-01-15: the year wraps.
        (1_768_435_200.0, 3, ("2025-10", "2025-12")),
        (1_768_435_200.0, 13, ("2024-12", "2025-12")),
        # 2026-03-01 00:00:00 UTC, the first second of a month: February is already full.
        (1_772_323_200.0, 1, ("2026-02", "2026-02")),
    ],
)
def test_last_full_months(now: float, months: int, expected: tuple[str, str]) -> None:
    assert sw.last_full_months(months, now) == sw.Period(*expected)


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="similarweb"):
        source_actors({"similarweb": {"api_key": "k", "countri": "us"}})
    with pytest.raises(ConfigError, match="similarweb"):
        source_actors({"similarweb": {"api_key": "k", "months": 0}})
    options = source_actors({"similarweb": {"country": "us", "keyword_limit": 5}})["similarweb"]
    assert options.settings.options == sw.SimilarWebOptions(country="us", keyword_limit=5)


# -- m03_traffic -------------------------------------------------------------------------------


async def test_traffic_from_the_reference_fixtures(autojump: Any, canned: CannedServer) -> None:
    serve_traffic(canned)
    result = await run_module(canned, "m03_traffic")
    assert result.data == {
        "monthly_visits": 121999,
        "month": "2016-03",
        # 0.84267... upstream; the fixture has February only, so the latest month there counts.
        "bounce_rate": 84.3,
        "pages_per_visit": 1.31,
        "avg_visit_duration_seconds": 48,
        "global_rank": 1432,
        "trend": [{"month": "2016-02", "visits": 120678}, {"month": "2016-03", "visits": 121999}],
        "visits_change": 0.0109,
    }
    assert result.data_points == count_points(result.data) == 11
    assert result.source == "similarweb"
    assert result.warnings == []
    url = "https://www.similarweb.com/website/example.com/"
    assert result.source_url == url
    assert result.citations == [
        Citation(url=url, title="SimilarWeb traffic and engagement: example.com")
    ]
    # One call per endpoint, each with the v1 parameters and the key.
    assert sorted(r.path for r in canned.requests) == sorted(
        path("example.com", e)
        for e in (
            f"{TTE}/visits",
            f"{TTE}/bounce-rate",
            f"{TTE}/pages-per-visit",
            f"{TTE}/average-visit-duration",
            "global-rank/global-rank",
        )
    )
    for request in canned.requests:
        assert request.query == {
            "api_key": "k",
            "start_date": "2026-02",
            "end_date": "2026-04",
            "country": "world",
            "granularity": "monthly",
            "main_domain_only": "false",
            "format": "json",
        }


async def test_traffic_options_and_www(autojump: Any, canned: CannedServer) -> None:
    serve_traffic(canned)
    result = await run_module(canned, "m03_traffic", "www.example.com", country="us", months=6)
    assert result.data["monthly_visits"] == 121999
    visits = canned.calls(path("example.com", f"{TTE}/visits"))
    assert len(visits) == 1
    assert visits[0].query["country"] == "us"
    assert (visits[0].query["start_date"], visits[0].query["end_date"]) == ("2025-11", "2026-04")


async def test_traffic_a_failing_secondary_metric_is_a_warning(
    autojump: Any, canned: CannedServer
) -> None:
    serve_traffic(canned, global_rank=json_response(NOT_FOUND, 404))
    result = await run_module(canned, "m03_traffic")
    assert result.data["global_rank"] is None
    assert result.data["monthly_visits"] == 121999
    assert result.warnings == [
        "global_rank unavailable: SimilarWeb has no data for example.com: Data not found"
    ]


async def test_traffic_fails_with_the_visits_error(autojump: Any, canned: CannedServer) -> None:
    serve_traffic(canned, visits=json_response(BAD_KEY, 401))
    with pytest.raises(ModuleError) as info:
        await run_module(canned, "m03_traffic")
    assert info.value.code == "auth_failed"
    assert info.value.source == "similarweb"
    assert "Invalid API key" in info.value.message


async def test_traffic_without_visits_is_no_data(autojump: Any, canned: CannedServer) -> None:
    serve_traffic(canned, visits=json_response({"meta": META, "visits": []}))
    with pytest.raises(NoData):
        await run_module(canned, "m03_traffic")


async def test_not_configured_without_a_key(autojump: Any) -> None:
    async with running_sources({}) as actors:
        with pytest.raises(SourceNotConfigured):
            await MODULES["m03_traffic"].run(ModuleTestContext(actors, "example.com"))


# -- error shapes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "code", "words"),
    [
        (json_response(BAD_KEY, 401), "auth_failed", ["401", "Invalid API key"]),
        (
            json_response(
                {"meta": {"status": "Error", "error_code": 403, "error_message": "No access"}},
                403,
            ),
            "auth_failed",
            ["403", "quota", "permission", "No access"],
        ),
        (HttpResponse(status=403, body=b"Forbidden"), "auth_failed", ["403", "Forbidden"]),
        (json_response(NOT_FOUND, 404), "no_data", ["example.com", "Data not found"]),
        (
            json_response([{"message": "Invalid start_date"}], 400),
            "upstream_error",
            ["400", "Invalid start_date"],
        ),
        # An error inside a 200 is still an error, mapped by its error_code.
        (
            json_response(
                {"meta": {"status": "Error", "error_code": 400, "error_message": "Bad range"}}
            ),
            "upstream_error",
            ["Bad range"],
        ),
        (json_response({"meta": {**META, "status": "Error"}}), "upstream_error", ["Error"]),
        (json_response(BAD_KEY), "auth_failed", ["Invalid API key"]),
        (
            HttpResponse(headers=[("content-type", "application/json")], body=b'{"meta": {'),
            "malformed_response",
            ["not JSON"],
        ),
        (json_response({"meta": META, "visits": {"2016-02": 1}}), "malformed_response", ["visits"]),
        (json_response([1, 2]), "malformed_response", ["not a JSON object"]),
        (json_response({"meta": "ok", "visits": []}), "malformed_response", ["meta"]),
    ],
)
async def test_error_shapes(
    autojump: Any, canned: CannedServer, answer: HttpResponse, code: str, words: list[str]
) -> None:
    canned.add("GET", path("example.com", f"{TTE}/visits"), answer)
    with pytest.raises(ModuleError) as info:
        await visits_call(canned)
    assert info.value.code == code
    assert info.value.source == "similarweb"
    for word in words:
        assert word in info.value.message


async def test_429_with_retry_after_is_retried(autojump: Any, canned: CannedServer) -> None:
    visits = path("example.com", f"{TTE}/visits")
    canned.add(
        "GET",
        visits,
        json_response(
            {"meta": {"status": "Error", "error_code": 429}}, 429, [("retry-after", "7")]
        ),
        json_response(VISITS),
    )
    started_at = trio.current_time()
    assert await visits_call(canned) == [("2016-02", 120678.0), ("2016-03", 121999.0)]
    assert len(canned.calls(visits)) == 2
    assert trio.current_time() - started_at >= 7


async def test_5xx_is_retried(autojump: Any, canned: CannedServer) -> None:
    visits = path("example.com", f"{TTE}/visits")
    canned.add("GET", visits, HttpResponse(status=503), json_response(VISITS))
    assert (await visits_call(canned))[-1] == ("2016-03", 121999.0)
    assert len(canned.calls(visits)) == 2


async def test_null_months_are_left_out(autojump: Any, canned: CannedServer) -> None:
    body = copy.deepcopy(VISITS)
    body["visits"].append({"date": "2016-04-01", "visits": None})
    canned.json("GET", path("example.com", f"{TTE}/visits"), body)
    assert await visits_call(canned) == [("2016-02", 120678.0), ("2016-03", 121999.0)]


# -- m04_traffic_sources -----------------------------------------------------------------------


async def test_traffic_sources_from_the_reference_example(
    autojump: Any, canned: CannedServer
) -> None:
    canned.json("GET", path("example.com", "traffic-sources/overview-share"), OVERVIEW_SHARE)
    result = await run_module(canned, "m04_traffic_sources")
    assert result.data == {
        "channels": {
            "direct": 0.0,
            "organic_search": 100.0,
            "paid_search": 0.0,
            "social": 0.0,
            "referrals": 0.0,
            "mail": 0.0,
            "display": 0.0,
        },
        "period": {"start": "2016-02", "end": "2016-03"},
    }
    assert result.source == "similarweb"
    (request,) = canned.requests
    assert request.query["start_date"] == "2026-02"
    assert request.query["granularity"] == "monthly"


async def test_traffic_sources_split_every_channel(autojump: Any, canned: CannedServer) -> None:
    def channel(source_type: str, organic: float, paid: float) -> dict[str, Any]:
        return {
            "source_type": source_type,
            "visits": [
                {"date": "2026-03-01", "organic": organic / 2, "paid": paid / 2},
                {"date": "2026-04-01", "organic": organic / 2, "paid": paid / 2},
            ],
        }

    body = {
        "meta": {"status": "Success"},
        "visits": {
            # SimilarWeb's own spelling of the domain: the single key is ours.
            "Example.com": [
                channel("Direct", 400, 0),
                channel("Search", 250, 50),
                channel("Social", 60, 10),
                channel("Referrals", 80, 20),
                channel("Mail", 30, 0),
                channel("Display Ads", 0, 90),
                channel("Carrier Pigeon", 10, 0),
            ]
        },
    }
    canned.json("GET", path("example.com", "traffic-sources/overview-share"), body)
    result = await run_module(canned, "m04_traffic_sources")
    channels = result.data["channels"]
    assert channels == {
        "direct": 40.0,
        "organic_search": 25.0,
        "paid_search": 5.0,
        "social": 7.0,
        "referrals": 10.0,
        "mail": 3.0,
        "display": 9.0,
    }
    assert sum(channels.values()) == pytest.approx(99.0)
    assert result.data["period"] == {"start": "2026-03", "end": "2026-04"}
    assert result.warnings == [
        "SimilarWeb channel 'Carrier Pigeon' (1.0% of visits) is not one of ours"
    ]


async def test_traffic_sources_with_no_visits_is_no_data(
    autojump: Any, canned: CannedServer
) -> None:
    body = copy.deepcopy(OVERVIEW_SHARE)
    body["visits"]["example.com"] = body["visits"]["example.com"][1:]
    canned.json("GET", path("example.com", "traffic-sources/overview-share"), body)
    with pytest.raises(NoData):
        await run_module(canned, "m04_traffic_sources")


async def test_traffic_sources_malformed(autojump: Any, canned: CannedServer) -> None:
    body = {"meta": {"status": "Success"}, "visits": {"example.com": [{"visits": []}]}}
    canned.json("GET", path("example.com", "traffic-sources/overview-share"), body)
    with pytest.raises(ModuleError) as info:
        await run_module(canned, "m04_traffic_sources")
    assert info.value.code == "malformed_response"


# -- m05_competitors ---------------------------------------------------------------------------


async def test_competitors_from_the_reference_example(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", path("cnn.com", "similar-sites/similarsites"), SIMILAR_SITES)
    result = await run_module(canned, "m05_competitors", "cnn.com")
    assert result.data == {
        "competitors": [
            {"domain": "foxnews.com", "score": 0.901},
            {"domain": "nbcnews.com", "score": 0.731},
        ]
    }
    assert result.data_points == 4
    (request,) = canned.requests
    assert request.query == {"api_key": "k", "format": "json"}


async def test_competitors_cleaned_and_empty(autojump: Any, canned: CannedServer) -> None:
    body = {
        "meta": {"status": "Success"},
        "similar_sites": [
            {"url": "https://www.CNN.com/", "score": 1.0},
            {"url": "www.bbc.co.uk", "score": 0.5},
            {"url": "", "score": 0.4},
            {"url": "abcnews.go.com"},
        ],
    }
    canned.json("GET", path("cnn.com", "similar-sites/similarsites"), body)
    result = await run_module(canned, "m05_competitors", "cnn.com")
    assert result.data["competitors"] == [
        {"domain": "bbc.co.uk", "score": 0.5},
        {"domain": "abcnews.go.com", "score": None},
    ]

    canned.json("GET", path("quiet.com", "similar-sites/similarsites"), {"similar_sites": []})
    result = await run_module(canned, "m05_competitors", "quiet.com")
    assert result.data == {"competitors": []}
    assert result.data_points == 0
    assert result.warnings == ["SimilarWeb lists no similar sites for quiet.com"]


# -- m06_keywords ------------------------------------------------------------------------------


async def test_keywords_from_the_reference_example(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", path("acme.example", "traffic-sources/organic-search"), ORGANIC)
    paid = copy.deepcopy(ORGANIC)
    paid["search"][0].update(search_term="buy acme", share=0.123456, cpc=2.499, position=None)
    canned.json("GET", path("acme.example", "traffic-sources/paid-search"), paid)
    result = await run_module(canned, "m06_keywords", "acme.example", keyword_limit=3)
    assert result.data == {
        "organic": [
            {
                "keyword": "acme widgets",
                "share": 41.0,
                "volume": 8100,
                "cpc": 1.35,
                "position": 1,
                "visits": 12034,
            }
        ],
        "paid": [
            {
                "keyword": "buy acme",
                "share": 12.35,
                "volume": 8100,
                "cpc": 2.5,
                "position": None,
                "visits": 12034,
            }
        ],
    }
    assert result.warnings == []
    for request in canned.requests:
        assert request.query["limit"] == "3"
        assert "granularity" not in request.query
        assert request.query["start_date"] == "2026-02"


async def test_keywords_one_side_missing(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", path("acme.example", "traffic-sources/organic-search"), ORGANIC)
    canned.json("GET", path("acme.example", "traffic-sources/paid-search"), NOT_FOUND, 404)
    result = await run_module(canned, "m06_keywords", "acme.example")
    assert [k["keyword"] for k in result.data["organic"]] == ["acme widgets"]
    assert result.data["paid"] == []
    assert result.warnings == [
        "paid keywords unavailable: SimilarWeb has no data for acme.example: Data not found"
    ]
    assert canned.requests[0].query["limit"] == "10"


async def test_keywords_both_missing_is_no_data(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", path("acme.example", "traffic-sources/organic-search"), NOT_FOUND, 404)
    canned.json("GET", path("acme.example", "traffic-sources/paid-search"), NOT_FOUND, 404)
    with pytest.raises(NoData):
        await run_module(canned, "m06_keywords", "acme.example")


# -- through the engine ------------------------------------------------------------------------


async def test_m03_through_the_engine(
    autojump: Any, engine_factory: Any, canned: CannedServer
) -> None:
    serve_traffic(canned)
    async with engine_factory(**BUILTIN, sources=similarweb(canned)) as engine:
        job = await engine.start_job("example.com", JobRequest(modules=["m03_traffic"]))
        final = await wait_for_status(engine, job.job_id, {"completed", "failed"})
        outputs = engine.store.outputs(job.job_id)
    state = final.module_states["m03_traffic"]
    assert final.status == "completed", state
    assert state.source == "similarweb"
    assert state.data_points == 11
    output = outputs["m03_traffic"]
    assert output.data["monthly_visits"] == 121999
    assert output.data["bounce_rate"] == 84.3
    assert output.source_url == "https://www.similarweb.com/website/example.com/"
    expected = sw.last_full_months(3, time.time())
    query = canned.calls(path("example.com", f"{TTE}/visits"))[0].query
    assert (query["start_date"], query["end_date"]) == (expected.start, expected.end)
