"""The simulated upstreams: routing, determinism, curated profiles, BuiltWith and SimilarWeb."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from enrichd.sandbox._http import HttpRequest, HttpResponse
from enrichd.sandbox._profile import profile_for
from enrichd.sandbox._upstreams import PREFIXES, Upstreams

NOW = 1_780_000_000.0  # 2026-05-28, a Thursday
BASE = "http://127.0.0.1:8900"


def request(
    target: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes = b""
) -> HttpRequest:
    """An HttpRequest as the HTTP core would build it."""
    split = urlsplit(target)
    return HttpRequest(
        method=method,
        path=split.path,
        query=dict(parse_qsl(split.query, keep_blank_values=True)),
        headers=headers or {},
        body=body,
        target=target,
    )


async def call(
    target: str, now: float = NOW, upstreams: Upstreams | None = None, **kwargs: Any
) -> HttpResponse:
    """Route ``target`` and answer it."""
    upstreams = upstreams or Upstreams(now=lambda: now)
    req = request(target, **kwargs)
    name = upstreams.route(req.path)
    assert name is not None, target
    return await upstreams.handle(name, req, BASE)


def body(response: HttpResponse) -> Any:
    return json.loads(response.body)


async def builtwith(domain: str, **params: str) -> Any:
    query = "&".join(f"{k}={v}" for k, v in {"KEY": "k", "LOOKUP": domain, **params}.items())
    response = await call(f"/builtwith/v22/api.json?{query}")
    assert response.status == 200
    return body(response)


# --- Routing and common behaviour ------------------------------------------------------------


def test_route() -> None:
    upstreams = Upstreams()
    assert upstreams.route("/builtwith/v22/api.json") == "builtwith"
    assert upstreams.route("/builtwith/free1/api.json") == "builtwith_free"
    assert upstreams.route("/similarweb/v1/website/a.com/global-rank/global-rank") == "similarweb"
    assert upstreams.route("/yahoo/fc") == "yahoo_finance"
    assert upstreams.route("/brave/res/v1/web/search") == "websearch"
    assert upstreams.route("/openai/v1/chat/completions") == "llm"
    assert upstreams.route("/homepage/costco.com/") == "homepage"
    assert upstreams.route("/_sandbox/stats") is None
    assert upstreams.route("/nowhere") is None
    assert set(PREFIXES) == {
        "builtwith",
        "similarweb",
        "yahoo_finance",
        "websearch",
        "llm",
        "homepage",
    }


@pytest.mark.parametrize(
    "target",
    [
        "/builtwith/v22/api.json?KEY=k&LOOKUP=costco.com",
        "/similarweb/v1/website/costco.com/similar-sites/similarsites?api_key=k",
        "/yahoo/fc",
        "/homepage/www.costco.com/",
        "/brave/res/v1/web/search",
    ],
)
async def test_every_answer_is_marked_simulated(target: str) -> None:
    response = await call(target)
    assert ("X-Enrichd-Simulated", "sandbox") in response.headers


_DIGEST_SCRIPT = """
import hashlib, json, trio
from enrichd.sandbox._upstreams import Upstreams
from enrichd.sandbox._http import HttpRequest
u = Upstreams(now=lambda: {now})
async def main():
    out = []
    for name, path, query in {requests!r}:
        req = HttpRequest(method="GET", path=path, query=query,
                          headers={{"x-subscription-token": "k"}}, body=b"", target=path)
        out.append(hashlib.sha256((await u.handle(name, req, "http://s")).body).hexdigest())
    print(json.dumps(out))
trio.run(main)
"""


def test_answers_are_the_same_in_every_process() -> None:
    """Python's per-process hash salt (and anything else per process) must not leak in."""
    requests = [
        ("builtwith", "/builtwith/v22/api.json", {"KEY": "k", "LOOKUP": "northwind-goods.com"}),
        (
            "similarweb",
            "/similarweb/v1/website/acme-shop.io/total-traffic-and-engagement/visits",
            {"api_key": "k"},
        ),
        ("websearch", "/brave/res/v1/news/search", {"q": "acme-shop.io news"}),
        ("homepage", "/homepage/www.acme-shop.io/", {}),
    ]
    script = _DIGEST_SCRIPT.format(now=NOW, requests=requests)
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        ).stdout
        for seed in ("1", "2")
    ]
    assert runs[0] == runs[1]
    assert len(json.loads(runs[0])) == 4


async def test_answers_are_stable_within_a_day() -> None:
    start_of_day = NOW - NOW % 86400
    for target in (
        "/builtwith/v22/api.json?KEY=k&LOOKUP=costco.com",
        "/similarweb/v1/website/costco.com/total-traffic-and-engagement/visits?api_key=k",
        "/homepage/www.costco.com/",
    ):
        early = await call(target, now=start_of_day + 60)
        late = await call(target, now=start_of_day + 86000)
        assert early.body == late.body, target


def test_profiles_are_plausible() -> None:
    for i in range(300):
        p = profile_for(f"company{i}.com")
        assert p is not None
        assert 10e3 <= p.visits <= 900e6
        assert 8 <= p.employees <= 400_000
        assert p.revenue > 0
        assert p.name == f"Company{i}"
        assert p.legal_name.startswith(p.name + " ")
        if p.ticker is not None:
            assert p.ticker.isalpha() and p.ticker.isupper() and 2 <= len(p.ticker) <= 5
        assert 0 <= p.open_positions <= 2000


def test_curated_profiles() -> None:
    costco = profile_for("www.costco.com")
    assert costco is not None
    assert (costco.name, costco.ticker, costco.exch_disp) == ("Costco Wholesale", "COST", "NASDAQ")
    assert (costco.city, costco.state, costco.founded) == ("Issaquah", "WA", 1983)
    assert costco.public and costco.vertical == "Retail"
    walmart, patagonia = profile_for("walmart.com"), profile_for("patagonia.com")
    assert walmart is not None and walmart.ticker == "WMT"
    assert patagonia is not None and not patagonia.public
    assert patagonia.commerce == "Salesforce Commerce Cloud"


# --- BuiltWith -------------------------------------------------------------------------------


async def test_builtwith_domain_api_shape() -> None:
    answer = await builtwith("costco.com")
    assert answer["Errors"] == [] and answer["Trust"] is None
    [result] = answer["Results"]
    assert set(result) == {
        "Result",
        "Meta",
        "Attributes",
        "FirstIndexed",
        "LastIndexed",
        "Lookup",
        "SalesRevenue",
    }
    assert result["Lookup"] == "costco.com"
    assert set(result["Result"]) == {"IsDB", "Spend", "SpendHistory", "Paths"}
    assert result["Result"]["IsDB"] == "True" and result["Result"]["Spend"] > 0
    assert all(set(s) == {"D", "S"} for s in result["Result"]["SpendHistory"])
    root = result["Result"]["Paths"][0]
    assert set(root) == {
        "Domain",
        "Url",
        "SubDomain",
        "FirstIndexed",
        "LastIndexed",
        "Technologies",
    }
    assert (root["Domain"], root["Url"], root["SubDomain"]) == ("costco.com", "", "")
    for tech in root["Technologies"]:
        assert {
            "Name",
            "Description",
            "Link",
            "Tag",
            "Categories",
            "IsPremium",
            "FirstDetected",
            "LastDetected",
        } <= set(tech)
        assert tech["IsPremium"] in ("yes", "no")
        assert tech["FirstDetected"] > 10**12  # epoch milliseconds
        assert tech["FirstDetected"] <= tech["LastDetected"] <= NOW * 1000
    names = {t["Name"] for t in root["Technologies"]}
    assert {"Adobe Experience Manager", "Elasticsearch", "Akamai"} <= names
    meta = result["Meta"]
    assert meta["CompanyName"] == "Costco Wholesale"
    assert (meta["City"], meta["State"], meta["Country"]) == ("Issaquah", "WA", "US")
    assert meta["Telephones"] == ["+1-425-313-8100"] and meta["Vertical"] == "Retail"
    assert {
        "Majestic",
        "Umbrella",
        "Social",
        "Emails",
        "Postcode",
        "Names",
        "ARank",
        "QRank",
    } <= set(meta)
    assert result["Attributes"]["Employees"] == 333000


async def test_builtwith_dates_are_plausible() -> None:
    """Nothing is detected before the company was founded, nor before the product existed."""
    for domain in ("gymshark.com", "allbirds.com", *(f"startup{i}.io" for i in range(40))):
        profile = profile_for(domain)
        assert profile is not None
        founded_ms = (profile.founded - 1970) * 365 * 86400 * 1000
        answer = await builtwith(domain)
        for path in answer["Results"][0]["Result"]["Paths"]:
            for tech in path["Technologies"]:
                assert tech["FirstDetected"] >= founded_ms, (domain, tech)
                if tech["Name"] == "Next.js":
                    assert tech["FirstDetected"] >= 1_451_606_400_000  # 2016


async def test_builtwith_hide_flags() -> None:
    hidden = await builtwith("costco.com", HIDETEXT="yes", NOMETA="yes", NOATTR="yes")
    tech = hidden["Results"][0]["Result"]["Paths"][0]["Technologies"][0]
    assert not {"Description", "Link", "Categories"} & set(tech)
    assert "Meta" not in hidden["Results"][0] and "Attributes" not in hidden["Results"][0]
    dl = await builtwith("costco.com", HIDEDL="")
    tech = dl["Results"][0]["Result"]["Paths"][0]["Technologies"][0]
    assert "Categories" in tech and "Description" not in tech
    assert (await builtwith("costco.com", NOPII="yes"))["Results"][0]["Meta"]["Names"] is None


async def test_builtwith_reports_retired_technologies_as_dead() -> None:
    every = await builtwith("costco.com")
    live = await builtwith("costco.com", LIVEONLY="yes")

    def names(answer: Any) -> set[str]:
        return {
            t["Name"] for p in answer["Results"][0]["Result"]["Paths"] for t in p["Technologies"]
        }

    assert "Universal Analytics" in names(every) - names(live)
    dead = next(
        t
        for t in every["Results"][0]["Result"]["Paths"][0]["Technologies"]
        if t["Name"] == "Universal Analytics"
    )
    assert dead["LastDetected"] < 1_700_000_000_000


async def test_builtwith_bad_key() -> None:
    response = await call("/builtwith/v22/api.json?KEY=bad-key&LOOKUP=costco.com")
    assert response.status == 200
    assert body(response) == {
        "Errors": [{"Lookup": "costco.com", "Message": "API Key Invalid", "Code": -1}],
        "Results": [],
    }


async def test_builtwith_unknown_domain() -> None:
    answer = await builtwith("unknown-shop.com")
    assert answer["Results"] is None
    assert answer["Errors"][0]["Code"] == -10
    assert answer["Errors"][0]["Message"].startswith("Domain not in our system")
    both = await builtwith("costco.com,unknown-shop.com")
    assert [r["Lookup"] for r in both["Results"]] == ["costco.com"]
    assert [e["Lookup"] for e in both["Errors"]] == ["unknown-shop.com"]


async def test_builtwith_versions() -> None:
    for version in ("v20", "v21", "v22"):
        response = await call(f"/builtwith/{version}/api.json?KEY=k&LOOKUP=target.com")
        assert body(response)["Results"][0]["Lookup"] == "target.com"
    assert (await call("/builtwith/api/api.json?KEY=k&LOOKUP=target.com")).status == 404


async def test_builtwith_free_api() -> None:
    answer = body(await call("/builtwith/free1/api.json?KEY=k&LOOKUP=costco.com"))
    assert set(answer) == {"domain", "first", "last", "groups"}
    assert answer["domain"] == "costco.com" and answer["last"] < 10**11  # epoch seconds
    techs = (await builtwith("costco.com"))["Results"][0]["Result"]["Paths"][0]["Technologies"]
    assert sum(g["live"] + g["dead"] for g in answer["groups"]) == len(techs)
    for group in answer["groups"]:
        assert set(group) == {"name", "live", "dead", "latest", "oldest", "categories"}
        assert group["oldest"] <= group["latest"]
        for category in group["categories"]:
            assert set(category) == {"name", "live", "dead", "latest", "oldest"}
    unknown = body(await call("/builtwith/free1/api.json?KEY=k&LOOKUP=unknown-shop.com"))
    assert unknown["Results"] is None and unknown["NextOffset"] is None
    assert unknown["Errors"][0]["Code"] == -10
    bad = body(await call("/builtwith/free1/api.json?KEY=bad&LOOKUP=costco.com"))
    assert bad["Errors"][0]["Message"] == "API Key Invalid" and bad["Results"] == []


# --- SimilarWeb ------------------------------------------------------------------------------

_SW = "/similarweb/v1/website"


async def test_similarweb_visits() -> None:
    response = await call(
        f"{_SW}/costco.com/total-traffic-and-engagement/visits?api_key=k"
        "&start_date=2025-11&end_date=2026-02&granularity=monthly"
        "&main_domain_only=false&format=json&country=world"
    )
    answer = body(response)
    request_echo = answer["meta"]["request"]
    assert request_echo["granularity"] == "Monthly"
    assert (request_echo["start_date"], request_echo["end_date"]) == ("2025-11-01", "2026-02-28")
    assert request_echo["domain"] == "costco.com" and request_echo["country"] == "world"
    assert answer["meta"]["status"] == "Success" and answer["meta"]["last_updated"] == "2026-04-30"
    assert [p["date"] for p in answer["visits"]] == [
        "2025-11-01",
        "2025-12-01",
        "2026-01-01",
        "2026-02-01",
    ]
    assert all(50e6 <= p["visits"] <= 900e6 for p in answer["visits"])
    us = body(
        await call(
            f"{_SW}/costco.com/total-traffic-and-engagement/visits?api_key=k"
            "&start_date=2025-11&end_date=2026-02&country=us"
        )
    )
    assert all(
        u["visits"] < w["visits"] for u, w in zip(us["visits"], answer["visits"], strict=True)
    )


@pytest.mark.parametrize(
    ("metric", "key"),
    [
        ("bounce-rate", "bounce_rate"),
        ("pages-per-visit", "pages_per_visit"),
        ("average-visit-duration", "average_visit_duration"),
    ],
)
async def test_similarweb_engagement(metric: str, key: str) -> None:
    answer = body(
        await call(
            f"{_SW}/wayfair.com/total-traffic-and-engagement/{metric}"
            "?api_key=k&start_date=2026-01&end_date=2026-03"
        )
    )
    assert len(answer[key]) == 3
    for point in answer[key]:
        assert set(point) == {"date", key}
        if key == "bounce_rate":
            assert 0 < point[key] < 1


async def test_similarweb_rank_channels_competitors_keywords() -> None:
    rank = body(await call(f"{_SW}/target.com/global-rank/global-rank?api_key=k"))
    assert all(
        set(p) == {"date", "global_rank"} and p["global_rank"] >= 1 for p in rank["global_rank"]
    )
    share = body(await call(f"{_SW}/target.com/traffic-sources/overview-share?api_key=k"))
    channels = share["visits"]["target.com"]
    assert {c["source_type"] for c in channels} == {
        "Direct",
        "Search",
        "Social",
        "Mail",
        "Display Ads",
        "Referrals",
    }
    assert all(set(v) == {"date", "organic", "paid"} for c in channels for v in c["visits"])
    similar = body(await call(f"{_SW}/target.com/similar-sites/similarsites?api_key=k&limit=3"))
    assert [set(s) for s in similar["similar_sites"]] == [{"url", "score"}] * 3
    assert similar["similar_sites"][0]["url"] == "walmart.com"
    for kind in ("organic-search", "paid-search"):
        keywords = body(await call(f"{_SW}/target.com/traffic-sources/{kind}?api_key=k&limit=5"))
        assert {"search", "visits", "total_visits", "meta"} == set(keywords)
        for row in keywords["search"]:
            assert set(row) == {
                "search_term",
                "share",
                "visits",
                "change",
                "volume",
                "cpc",
                "url",
                "position",
            }


async def test_similarweb_errors() -> None:
    bad = await call(f"{_SW}/costco.com/total-traffic-and-engagement/visits?api_key=bad-key")
    assert bad.status == 401
    assert body(bad) == {
        "meta": {"status": "Error", "error_code": 401, "error_message": "Invalid API key"}
    }
    unknown = await call(f"{_SW}/unknown-shop.com/total-traffic-and-engagement/visits?api_key=k")
    assert unknown.status == 404
    assert body(unknown) == {
        "meta": {"status": "Error", "error_code": 404, "error_message": "Data not found"}
    }
    dates = await call(
        f"{_SW}/costco.com/total-traffic-and-engagement/visits?api_key=k"
        "&start_date=2026-03&end_date=2026-01"
    )
    assert dates.status == 400 and body(dates)["meta"]["status"] == "Error"
