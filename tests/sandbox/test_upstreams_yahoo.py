"""The simulated Yahoo Finance: cookie and crumb, search, quoteSummary, chart."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from enrichd.sandbox._http import HttpRequest, HttpResponse
from enrichd.sandbox._profile import profile_for
from enrichd.sandbox._upstreams import Upstreams

NOW = 1_780_000_000.0
MODULES = "assetProfile,financialData,price,summaryDetail,recommendationTrend,defaultKeyStatistics"
INVALID_CRUMB = {
    "finance": {"result": None, "error": {"code": "Unauthorized", "description": "Invalid Crumb"}}
}


class Client:
    """A yfinance-like client: cookie from /fc, crumb from getcrumb, crumb on data requests."""

    def __init__(self) -> None:
        self.upstreams = Upstreams(now=lambda: NOW)
        self.cookie = ""
        self.crumb = ""

    async def get(self, path: str, **query: str) -> HttpResponse:
        target = f"/yahoo{path}?{urlencode(query)}"
        split = urlsplit(target)
        headers = {"cookie": self.cookie} if self.cookie else {}
        req = HttpRequest(
            method="GET",
            path=split.path,
            query=dict(parse_qsl(split.query)),
            headers=headers,
            body=b"",
            target=target,
        )
        return await self.upstreams.handle("yahoo_finance", req, "http://sandbox")

    async def login(self) -> None:
        response = await self.get("/fc")
        assert response.status == 404
        set_cookie = dict(response.headers)["set-cookie"]
        assert set_cookie.startswith("A3=") and "Path=/" in set_cookie
        self.cookie = set_cookie.split(";")[0]
        crumb = await self.get("/v1/test/getcrumb")
        assert crumb.status == 200
        assert dict(crumb.headers)["content-type"].startswith("text/plain")
        self.crumb = crumb.body.decode()

    async def data(self, path: str, **query: str) -> Any:
        response = await self.get(path, crumb=self.crumb, **query)
        assert response.status == 200, response.body
        return json.loads(response.body)


async def test_crumb_flow_and_rotation() -> None:
    client = Client()
    no_cookie = await client.get("/v1/test/getcrumb")
    assert no_cookie.status == 401
    missing = await client.get("/v1/finance/search", q="Costco")
    assert missing.status == 401 and json.loads(missing.body) == INVALID_CRUMB
    await client.login()
    assert len(client.crumb) == 11 and client.crumb.isalnum()
    assert (await client.data("/v1/finance/search", q="Costco"))["quotes"]
    client.upstreams.rotate_crumbs()
    stale = await client.get("/v10/finance/quoteSummary/COST", modules="price", crumb=client.crumb)
    assert stale.status == 401 and json.loads(stale.body) == INVALID_CRUMB
    await client.login()
    assert await client.data("/v10/finance/quoteSummary/COST", modules="price")


async def test_search_finds_a_public_company_by_name_domain_label_or_ticker() -> None:
    client = Client()
    await client.login()
    for q in ("Costco Wholesale", "Costco Wholesale Corporation", "costco.com", "costco", "COST"):
        answer = await client.data("/v1/finance/search", q=q, quotesCount="5", newsCount="2")
        equity = [x for x in answer["quotes"] if x.get("quoteType") == "EQUITY"]
        assert len(equity) == 1, q
        quote = equity[0]
        assert (quote["symbol"], quote["exchange"], quote["exchDisp"]) == ("COST", "NMS", "NASDAQ")
        assert quote["longname"] == quote["shortname"] == "Costco Wholesale Corporation"
        assert quote["isYahooFinance"] is True
        assert len(answer["news"]) == 2
        assert {"uuid", "title", "publisher", "link", "providerPublishTime", "type"} <= set(
            answer["news"][0]
        )
        assert set(answer) >= {"explains", "count", "quotes", "news", "nav", "lists"}


async def test_search_private_and_unknown_companies() -> None:
    client = Client()
    await client.login()
    private = await client.data("/v1/finance/search", q="Patagonia")
    assert not [x for x in private["quotes"] if x.get("quoteType") == "EQUITY"]
    assert private["quotes"] == [
        {
            "index": private["quotes"][0]["index"],
            "name": "Patagonia",
            "permalink": "patagonia",
            "isYahooFinance": False,
        }
    ]
    unknown = await client.data("/v1/finance/search", q="unknown-shop.com")
    assert unknown["quotes"] == [] and unknown["count"] == 0


async def test_generated_public_company_round_trip() -> None:
    domain = next(
        d
        for d in (f"listed{i}.com" for i in range(500))
        if (p := profile_for(d)) is not None and p.public
    )
    profile = profile_for(domain)
    assert profile is not None and profile.ticker is not None
    client = Client()
    await client.login()
    answer = await client.data("/v1/finance/search", q=profile.name)
    [quote] = [x for x in answer["quotes"] if x.get("quoteType") == "EQUITY"]
    assert quote["symbol"] == profile.ticker
    summary = await client.data(f"/v10/finance/quoteSummary/{profile.ticker}", modules="price")
    assert summary["quoteSummary"]["result"][0]["price"]["symbol"] == profile.ticker


async def test_quote_summary_formatted_values() -> None:
    client = Client()
    await client.login()
    answer = await client.data("/v10/finance/quoteSummary/COST", modules=MODULES)
    assert answer["quoteSummary"]["error"] is None
    [result] = answer["quoteSummary"]["result"]
    assert set(result) == set(MODULES.split(","))
    revenue = result["financialData"]["totalRevenue"]
    assert set(revenue) == {"raw", "fmt", "longFmt"}
    assert revenue["raw"] == 254_450_000_000 and revenue["fmt"] == "254.45B"
    assert revenue["longFmt"] == "254,450,000,000"
    margin = result["financialData"]["grossMargins"]
    assert set(margin) == {"raw", "fmt"} and margin["fmt"].endswith("%")
    assert result["financialData"]["financialCurrency"] == "USD"
    assert result["financialData"]["recommendationKey"] in (
        "strong_buy",
        "buy",
        "hold",
        "underperform",
        "sell",
    )
    price = result["price"]
    assert (price["symbol"], price["exchange"], price["exchangeName"]) == (
        "COST",
        "NMS",
        "NasdaqGS",
    )
    assert set(price["marketCap"]) == {"raw", "fmt", "longFmt"}
    profile = result["assetProfile"]
    assert (profile["city"], profile["state"], profile["phone"]) == (
        "Issaquah",
        "WA",
        "+1-425-313-8100",
    )
    assert profile["fullTimeEmployees"] == 333000 and profile["website"] == "https://www.costco.com"
    assert profile["companyOfficers"][0]["title"].startswith("CEO")
    trend = result["recommendationTrend"]["trend"]
    assert [t["period"] for t in trend] == ["0m", "-1m", "-2m", "-3m"]
    assert all(isinstance(t["strongBuy"], int) for t in trend)
    detail = result["summaryDetail"]
    assert detail["fiftyTwoWeekLow"]["raw"] <= price["regularMarketPrice"]["raw"]
    assert price["regularMarketPrice"]["raw"] <= detail["fiftyTwoWeekHigh"]["raw"]


async def test_fiscal_years_end_when_the_company_says() -> None:
    client = Client()
    await client.login()
    answer = await client.data(
        "/v10/finance/quoteSummary/COST",
        modules="defaultKeyStatistics,incomeStatementHistory,earnings",
    )
    [result] = answer["quoteSummary"]["result"]
    assert result["defaultKeyStatistics"]["lastFiscalYearEnd"]["fmt"] == "2024-09-01"
    history = result["incomeStatementHistory"]["incomeStatementHistory"]
    assert [h["endDate"]["fmt"] for h in history] == [
        "2024-09-01",
        "2023-09-01",
        "2022-09-01",
        "2021-09-01",
    ]
    assert history[0]["totalRevenue"]["raw"] == 254_450_000_000
    yearly = result["earnings"]["financialsChart"]["yearly"]
    assert [y["date"] for y in yearly] == [2021, 2022, 2023, 2024]


async def test_quote_summary_raw_values() -> None:
    client = Client()
    await client.login()
    answer = await client.data("/v10/finance/quoteSummary/COST", modules=MODULES, formatted="false")
    [result] = answer["quoteSummary"]["result"]
    assert result["financialData"]["totalRevenue"] == 254_450_000_000
    assert isinstance(result["financialData"]["grossMargins"], float)
    assert isinstance(result["price"]["marketCap"], int)
    assert isinstance(result["summaryDetail"]["fiftyTwoWeekHigh"], float)


async def test_quote_summary_errors() -> None:
    client = Client()
    await client.login()
    unknown = await client.get(
        "/v10/finance/quoteSummary/NOPE", modules="price", crumb=client.crumb
    )
    assert unknown.status == 404
    assert json.loads(unknown.body) == {
        "quoteSummary": {
            "result": None,
            "error": {"code": "Not Found", "description": "Quote not found for symbol: NOPE"},
        }
    }
    private = await client.get(
        "/v10/finance/quoteSummary/PATAGONIA", modules="price", crumb=client.crumb
    )
    assert private.status == 404
    no_modules = await client.get("/v10/finance/quoteSummary/COST", crumb=client.crumb)
    assert no_modules.status == 400


async def test_chart() -> None:
    client = Client()
    answer = await client.data("/v8/finance/chart/COST", range="1mo", interval="1d")
    [result] = answer["chart"]["result"]
    meta = result["meta"]
    assert (meta["symbol"], meta["exchangeName"], meta["fullExchangeName"]) == (
        "COST",
        "NMS",
        "NasdaqGS",
    )
    assert meta["dataGranularity"] == "1d" and meta["range"] == "1mo"
    quote = result["indicators"]["quote"][0]
    assert 20 <= len(result["timestamp"]) <= 23
    for key in ("open", "high", "low", "close", "volume"):
        assert len(quote[key]) == len(result["timestamp"])
    assert quote["close"][-1] == meta["regularMarketPrice"]
    assert result["indicators"]["adjclose"][0]["adjclose"] == quote["close"]
    await client.login()
    summary = await client.data("/v10/finance/quoteSummary/COST", modules="financialData")
    current = summary["quoteSummary"]["result"][0]["financialData"]["currentPrice"]["raw"]
    assert current == meta["regularMarketPrice"]
    weekly = await client.data("/v8/finance/chart/COST", range="3mo", interval="1wk")
    assert 12 <= len(weekly["chart"]["result"][0]["timestamp"]) <= 15
    missing = await client.get("/v8/finance/chart/NOPE")
    assert missing.status == 404 and json.loads(missing.body)["chart"]["result"] is None
    bad = await client.get("/v8/finance/chart/COST", interval="7m")
    assert bad.status == 400
