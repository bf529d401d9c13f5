"""The sandbox server: control endpoints, rate limits, faults, latency and stats, over sockets.

The upstream simulations are replaced by a fake that answers a fixed JSON body, so these tests
check only what the server adds around them (statuses, headers, counters).
"""

from __future__ import annotations

import contextlib
import logging
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import msgspec
import pytest
import trio

from enrichd.sandbox import (
    SANDBOX_API_KEY,
    UPSTREAMS,
    HttpRequest,
    HttpResponse,
    Limit,
    Sandbox,
    SandboxOptions,
    json_response,
    run_sandbox,
    source_overrides,
    sources_toml,
)

_PREFIXES = {
    "builtwith": "builtwith",
    "similarweb": "similarweb",
    "yahoo": "yahoo_finance",
    "brave": "websearch",
    "openai": "llm",
    "homepage": "homepage",
}

#: One request path per upstream.
PATHS = {
    "builtwith": "/builtwith/v22/api.json?KEY=k&LOOKUP=acme.example",
    "builtwith_free": "/builtwith/free1/api.json?KEY=k&LOOKUP=acme.example",
    "similarweb": "/similarweb/v1/website/acme.example/global-rank/global-rank",
    "yahoo_finance": "/yahoo/v8/finance/chart/ACME",
    "websearch": "/brave/res/v1/web/search?q=acme.example",
    "llm": "/openai/v1/chat/completions",
    "homepage": "/homepage/acme.example/",
}


class FakeUpstreams:
    """Routes like the real simulations; answers every request with a small JSON document."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, HttpRequest, str]] = []
        self.rotations = 0

    def route(self, path: str) -> str | None:
        first = path.lstrip("/").split("/", 1)[0]
        if path.startswith("/builtwith/free1/"):
            return "builtwith_free"
        return _PREFIXES.get(first)

    def rotate_crumbs(self) -> None:
        self.rotations += 1

    async def handle(self, upstream: str, request: HttpRequest, base_url: str) -> HttpResponse:
        self.calls.append((upstream, request, base_url))
        return json_response({"upstream": upstream, "results": [{"id": 1, "name": "Acme"}]})


@asynccontextmanager
async def serving(
    fake: FakeUpstreams | None = None, **options: Any
) -> AsyncIterator[tuple[Sandbox, FakeUpstreams, httpx.AsyncClient]]:
    """A running sandbox on the fake upstreams, and a client pointed at it."""
    fake = fake or FakeUpstreams()
    sandbox = Sandbox(SandboxOptions(**options), upstreams=fake)
    async with trio.open_nursery() as nursery:
        url = await nursery.start(sandbox.run)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield sandbox, fake, client
        nursery.cancel_scope.cancel()


def counts(sandbox: Sandbox, upstream: str) -> dict[str, Any]:
    """One upstream's stats."""
    result: dict[str, Any] = sandbox.stats()["upstreams"][upstream]
    return result


async def add_fault(client: httpx.AsyncClient, **rule: Any) -> None:
    """Install a fault rule, failing the test if the sandbox refuses it."""
    response = await client.post("/_sandbox/faults", json=rule)
    assert response.status_code == 200, response.text


# --- routing and the simulated header ---


async def test_upstream_request_reaches_the_simulation_marked_as_simulated(autojump: Any) -> None:
    async with serving() as (sandbox, fake, client):
        response = await client.get(PATHS["builtwith"])
        assert response.status_code == 200
        assert response.headers["x-enrichd-simulated"] == "sandbox"
        [(upstream, request, base_url)] = fake.calls
        assert upstream == "builtwith"
        assert request.query == {"KEY": "k", "LOOKUP": "acme.example"}
        assert base_url == sandbox.url
        stats = counts(sandbox, "builtwith")
        assert stats["requests"] == 1
        assert stats["responses"] == {"200": 1}


async def test_every_upstream_answer_carries_the_simulated_header(autojump: Any) -> None:
    async with serving() as (_, fake, client):
        for upstream, path in PATHS.items():
            response = await client.get(path)
            assert response.headers["x-enrichd-simulated"] == "sandbox", upstream
        assert [c[0] for c in fake.calls] == list(PATHS)


async def test_unknown_prefix_is_a_json_404_that_reaches_no_upstream(autojump: Any) -> None:
    async with serving() as (sandbox, fake, client):
        response = await client.get("/nowhere/v1/thing")
        assert response.status_code == 404
        assert "/nowhere/v1/thing" in response.json()["error"]
        assert fake.calls == []
        stats = sandbox.stats()
        assert stats["unrouted_requests"] == 1
        assert stats["totals"]["requests"] == 0


async def test_default_sandbox_uses_the_real_simulations(autojump: Any) -> None:
    sandbox = Sandbox(SandboxOptions())
    async with trio.open_nursery() as nursery:
        url = await nursery.start(sandbox.run)
        async with httpx.AsyncClient(base_url=url) as client:
            response = await client.get(PATHS["builtwith"])
        assert response.headers["x-enrichd-simulated"] == "sandbox"
        assert counts(sandbox, "builtwith")["requests"] == 1
        nursery.cancel_scope.cancel()


class SharedAnswer(FakeUpstreams):
    """Answers every request with the same response object, as a cache might."""

    answer = json_response({"ok": True})

    async def handle(self, upstream: str, request: HttpRequest, base_url: str) -> HttpResponse:
        return self.answer


async def test_the_header_does_not_pile_up_on_reused_answers(autojump: Any) -> None:
    async with serving(SharedAnswer()) as (_, _, client):
        for _ in range(3):
            response = await client.get(PATHS["homepage"])
            assert response.headers.get_list("x-enrichd-simulated") == ["sandbox"]
        assert SharedAnswer.answer.headers == [("content-type", "application/json; charset=utf-8")]


class Broken(FakeUpstreams):
    """A simulation with a bug."""

    async def handle(self, upstream: str, request: HttpRequest, base_url: str) -> HttpResponse:
        raise KeyError("oops")


async def test_a_failing_simulation_is_a_500_not_a_crash(
    autojump: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(Broken()) as (sandbox, _, client):
        for _ in range(2):
            response = await client.get(PATHS["similarweb"])
            assert response.status_code == 500
        assert counts(sandbox, "similarweb")["responses"] == {"500": 2}
    assert any("the simulation failed" in r.getMessage() for r in caplog.records)


def test_url_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = Sandbox(SandboxOptions(), upstreams=FakeUpstreams()).url


# --- rate limits ---


async def test_over_the_limit_is_a_counted_violation_with_retry_after(autojump: Any) -> None:
    async with serving() as (sandbox, fake, client):
        # builtwith_free allows 1/s with burst 1; one extra token of tolerance admits a second.
        first = await client.get(PATHS["builtwith_free"])
        second = await client.get(PATHS["builtwith_free"])
        third = await client.get(PATHS["builtwith_free"])
        assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
        assert third.headers["retry-after"] == "1"
        assert third.headers["x-enrichd-simulated"] == "sandbox"
        assert third.json()["error"]["status"] == 429
        assert len(fake.calls) == 2  # the refused request never reached the simulation
        stats = counts(sandbox, "builtwith_free")
        assert stats["violations"] == 1
        assert stats["responses"] == {"200": 2, "429": 1}
        assert stats["faults"]["429"] == 0

        await trio.sleep(1)
        assert (await client.get(PATHS["builtwith_free"])).status_code == 200


async def test_tolerance_is_exactly_one_token_above_burst(autojump: Any) -> None:
    async with serving() as (sandbox, _, client):
        statuses = [(await client.get(PATHS["builtwith"])).status_code for _ in range(12)]
        assert statuses == [200] * 11 + [429]  # burst 10 + 1
        assert counts(sandbox, "builtwith")["violations"] == 1


async def test_steady_rate_at_the_limit_never_violates(autojump: Any) -> None:
    async with serving() as (sandbox, _, client):
        for _ in range(30):
            assert (await client.get(PATHS["builtwith_free"])).status_code == 200
            await trio.sleep(1.0)
        assert counts(sandbox, "builtwith_free")["violations"] == 0


async def test_retry_after_is_whole_seconds_until_a_token_frees(autojump: Any) -> None:
    limits = {"similarweb": Limit(rate_per_second=0.1, burst=1)}
    async with serving(limits=limits) as (_, _, client):
        for _ in range(2):
            assert (await client.get(PATHS["similarweb"])).status_code == 200
        refused = await client.get(PATHS["similarweb"])
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "10"
        assert refused.json()["meta"]["error_code"] == 429
        await trio.sleep(10)
        assert (await client.get(PATHS["similarweb"])).status_code == 200


@pytest.mark.parametrize(
    ("upstream", "check"),
    [
        ("websearch", lambda r: r.json()["error"]["code"] == "RATE_LIMITED"),
        ("llm", lambda r: r.json()["error"]["code"] == "rate_limit_exceeded"),
        ("homepage", lambda r: r.json()["error"]["status"] == 429),
    ],
)
async def test_429_bodies_follow_the_upstream(autojump: Any, upstream: str, check: Any) -> None:
    async with serving(limits={upstream: Limit(rate_per_second=1, burst=1)}) as (_, _, client):
        responses = [await client.get(PATHS[upstream]) for _ in range(3)]
        assert responses[-1].status_code == 429
        assert check(responses[-1])


async def test_yahoo_429_is_plain_text(autojump: Any) -> None:
    async with serving() as (_, _, client):
        body = {"upstream": "yahoo_finance", "rate_per_second": 1, "burst": 1}
        assert (await client.post("/_sandbox/limits", json=body)).status_code == 200
        responses = [await client.get(PATHS["yahoo_finance"]) for _ in range(3)]
        assert [r.status_code for r in responses] == [200, 200, 429]
        assert responses[-1].text == "Too Many Requests"
        assert responses[-1].headers["content-type"].startswith("text/plain")


async def test_limits_endpoint_lists_and_changes_limits(autojump: Any) -> None:
    async with serving() as (sandbox, _, client):
        listed = (await client.get("/_sandbox/limits")).json()["limits"]
        assert set(listed) == set(UPSTREAMS)
        assert listed["builtwith_free"] == {"rate_per_second": 1, "burst": 1}
        assert listed["homepage"] == {"rate_per_second": 20, "burst": 20}

        body = {"upstream": "builtwith_free", "rate_per_second": None}
        changed = await client.post("/_sandbox/limits", json=body)
        assert changed.status_code == 200
        assert changed.json()["limits"]["builtwith_free"]["rate_per_second"] is None
        for _ in range(50):
            assert (await client.get(PATHS["builtwith_free"])).status_code == 200
        assert counts(sandbox, "builtwith_free")["violations"] == 0

        fractional = {"upstream": "llm", "rate_per_second": 2.5}
        limits = (await client.post("/_sandbox/limits", json=fractional)).json()["limits"]
        assert limits["llm"] == {"rate_per_second": 2.5, "burst": 3}  # burst: 1 s of requests


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"", 400, "JSON object"),
        (b"{not json", 400, "not valid JSON"),
        (b'{"upstream": "llm"}', 422, "rate_per_second"),
        (b'{"upstream": "llm", "rate_per_second": 0}', 422, "rate_per_second"),
        (b'{"upstream": "llm", "rate_per_second": 1, "burst": 0}', 422, "burst"),
        (b'{"upstream": "nope", "rate_per_second": 1}', 422, "unknown upstream 'nope'"),
        (b'{"upstream": "*", "rate_per_second": 1}', 422, "unknown upstream"),
        (b'{"upstream": "llm", "rate_per_second": 1, "extra": 1}', 422, "extra"),
        (b"[1, 2]", 422, "Expected `object`"),
    ],
)
async def test_limits_endpoint_validates(
    autojump: Any, body: bytes, status: int, fragment: str
) -> None:
    async with serving() as (_, _, client):
        response = await client.post("/_sandbox/limits", content=body)
        assert response.status_code == status
        assert fragment in response.json()["error"]


# --- faults ---


@pytest.mark.parametrize("kind", ["500", "503"])
async def test_server_error_faults(autojump: Any, kind: str) -> None:
    async with serving() as (sandbox, fake, client):
        await add_fault(client, upstream="llm", kind=kind)
        response = await client.post(PATHS["llm"], json={"model": "m", "messages": []})
        assert response.status_code == int(kind)
        assert response.headers["x-enrichd-simulated"] == "sandbox"
        assert fake.calls == []
        stats = counts(sandbox, "llm")
        assert stats["faults"][kind] == 1
        assert stats["responses"] == {kind: 1}


async def test_injected_429_is_a_fault_not_a_violation(autojump: Any) -> None:
    async with serving() as (sandbox, _, client):
        await add_fault(client, upstream="yahoo_finance", kind="429")
        response = await client.get(PATHS["yahoo_finance"])
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"
        assert response.text == "Too Many Requests"
        stats = counts(sandbox, "yahoo_finance")
        assert stats["faults"]["429"] == 1
        assert stats["violations"] == 0


async def test_reset_fault_drops_the_connection(autojump: Any) -> None:
    async with serving() as (sandbox, fake, client):
        await add_fault(client, upstream="homepage", kind="reset", count=1)
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError)):
            await client.get(PATHS["homepage"])
        stats = counts(sandbox, "homepage")
        assert stats["faults"]["reset"] == 1
        assert stats["responses"] == {}
        assert fake.calls == []
        # The sandbox itself is fine afterwards.
        assert (await client.get(PATHS["homepage"])).status_code == 200


async def test_timeout_fault_hangs_until_the_client_gives_up(autojump: Any) -> None:
    async with serving() as (sandbox, fake, client):
        await add_fault(client, upstream="websearch", kind="timeout")
        start = trio.current_time()
        with pytest.raises(httpx.TimeoutException):
            await client.get(PATHS["websearch"], timeout=5)
        assert trio.current_time() - start == pytest.approx(5, abs=0.1)
        # The client's hang-up cancelled the hung handler: long after the fault's 120 s nothing
        # was answered.
        await trio.sleep(300)
        stats = counts(sandbox, "websearch")
        assert stats["faults"]["timeout"] == 1
        assert stats["responses"] == {}
        assert fake.calls == []


async def test_timeout_fault_answers_504_after_its_hang(autojump: Any) -> None:
    async with serving(timeout_fault_seconds=3) as (sandbox, _, client):
        await add_fault(client, upstream="websearch", kind="timeout")
        start = trio.current_time()
        response = await client.get(PATHS["websearch"], timeout=10)
        assert response.status_code == 504
        assert trio.current_time() - start == pytest.approx(3, abs=0.1)
        assert counts(sandbox, "websearch")["responses"] == {"504": 1}


async def test_malformed_json_fault_truncates_the_body(autojump: Any) -> None:
    async with serving() as (sandbox, fake, client):
        await add_fault(client, upstream="similarweb", kind="malformed_json")
        response = await client.get(PATHS["similarweb"])
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert response.content
        with pytest.raises(msgspec.DecodeError):
            msgspec.json.decode(response.content)
        assert len(fake.calls) == 1  # the real answer was fetched, then cut
        assert counts(sandbox, "similarweb")["faults"]["malformed_json"] == 1


async def test_per_upstream_fault_leaves_other_upstreams_alone(autojump: Any) -> None:
    async with serving() as (sandbox, _, client):
        await add_fault(client, upstream="similarweb", kind="500")
        assert (await client.get(PATHS["similarweb"])).status_code == 500
        assert (await client.get(PATHS["builtwith"])).status_code == 200
        assert counts(sandbox, "builtwith")["faults"]["500"] == 0


async def test_wildcard_fault_hits_every_upstream(autojump: Any) -> None:
    async with serving() as (sandbox, fake, client):
        await add_fault(client, upstream="*", kind="503")
        for upstream, path in PATHS.items():
            assert (await client.get(path)).status_code == 503, upstream
        assert fake.calls == []
        assert sandbox.stats()["totals"]["faults"]["503"] == len(PATHS)


async def test_fault_count_injects_only_that_many(autojump: Any) -> None:
    async with serving() as (sandbox, _, client):
        await add_fault(client, upstream="builtwith", kind="500", count=2)
        assert (await client.get(PATHS["builtwith"])).status_code == 500
        [rule] = (await client.get("/_sandbox/faults")).json()["faults"]
        assert rule == {"upstream": "builtwith", "kind": "500", "rate": 1.0, "count": 1}
        assert (await client.get(PATHS["builtwith"])).status_code == 500
        assert (await client.get(PATHS["builtwith"])).status_code == 200
        assert (await client.get("/_sandbox/faults")).json()["faults"] == []
        assert counts(sandbox, "builtwith")["faults"]["500"] == 2


async def test_fault_rate_fails_that_fraction_reproducibly(autojump: Any) -> None:
    async def run() -> list[int]:
        unlimited = {"homepage": Limit(rate_per_second=None)}
        async with serving(seed=42, limits=unlimited) as (_, _, client):
            await add_fault(client, upstream="homepage", kind="503", rate=0.3)
            return [(await client.get(PATHS["homepage"])).status_code for _ in range(100)]

    first = await run()
    assert 15 <= first.count(503) <= 45
    assert set(first) == {200, 503}
    assert await run() == first


async def test_global_fault_rate_mixes_every_kind(autojump: Any) -> None:
    async with serving(fault_rate=1.0, seed=7, timeout_fault_seconds=1) as (sandbox, fake, client):
        for _ in range(60):
            with contextlib.suppress(httpx.TransportError):  # the resets
                await client.get(PATHS["builtwith"], timeout=5)
            await trio.sleep(0.2)  # stay under the rate limit
        totals = sandbox.stats()["totals"]
        assert sum(totals["faults"].values()) == 60
        assert all(n > 0 for n in totals["faults"].values()), totals["faults"]
        assert len(fake.calls) == totals["faults"]["malformed_json"]
        listed = (await client.get("/_sandbox/faults")).json()
        assert listed == {"fault_rate": 1.0, "faults": []}


async def test_delete_faults_and_reset(autojump: Any) -> None:
    async with serving() as (sandbox, _, client):
        await add_fault(client, upstream="llm", kind="500")
        await add_fault(client, upstream="*", kind="reset", rate=0.0)
        assert len((await client.get("/_sandbox/faults")).json()["faults"]) == 2
        cleared = await client.delete("/_sandbox/faults")
        assert cleared.json()["faults"] == []
        assert (await client.post(PATHS["llm"])).status_code == 200

        await add_fault(client, upstream="llm", kind="500")
        assert (await client.post(PATHS["llm"])).status_code == 500
        reset = await client.post("/_sandbox/reset")
        assert reset.json() == {"status": "ok"}
        assert (await client.get("/_sandbox/faults")).json()["faults"] == []
        assert sandbox.stats()["totals"]["requests"] == 0
        assert (await client.post(PATHS["llm"])).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"", 400, "JSON object"),
        (b"{", 400, "not valid JSON"),
        (b'{"upstream": "llm", "kind": "418"}', 422, "kind"),
        (b'{"upstream": "llm", "kind": "500", "rate": 1.5}', 422, "rate"),
        (b'{"upstream": "llm", "kind": "500", "rate": -0.1}', 422, "rate"),
        (b'{"upstream": "llm", "kind": "500", "count": 0}', 422, "count"),
        (b'{"upstream": "llm", "kind": "500", "count": 1.5}', 422, "count"),
        (b'{"kind": "500"}', 422, "upstream"),
        (b'{"upstream": "yahoo", "kind": "500"}', 422, "unknown upstream 'yahoo'"),
        (b'{"upstream": "llm", "kind": "500", "ratio": 1}', 422, "ratio"),
    ],
)
async def test_faults_endpoint_validates(
    autojump: Any, body: bytes, status: int, fragment: str
) -> None:
    async with serving() as (_, _, client):
        response = await client.post("/_sandbox/faults", content=body)
        assert response.status_code == status
        assert fragment in response.json()["error"]
        assert (await client.get("/_sandbox/faults")).json()["faults"] == []


# --- latency ---


async def test_latency_and_jitter_delay_answers_in_trio_time(autojump: Any) -> None:
    async with serving(latency=0.5, jitter=0.25, seed=3) as (_, _, client):
        elapsed = []
        for _ in range(10):
            start = trio.current_time()
            assert (await client.get(PATHS["homepage"])).status_code == 200
            elapsed.append(trio.current_time() - start)
        assert all(0.25 <= e <= 0.76 for e in elapsed), elapsed
        assert min(elapsed) < 0.5 < max(elapsed)  # jitter goes both ways
        assert max(elapsed) - min(elapsed) > 0.01  # the jitter varies


async def test_latency_without_jitter_is_exact(autojump: Any) -> None:
    async with serving(latency=2.0) as (_, _, client):
        start = trio.current_time()
        assert (await client.get(PATHS["llm"])).status_code == 200
        assert trio.current_time() - start == pytest.approx(2.0, abs=0.01)


async def test_control_endpoints_are_not_delayed(autojump: Any) -> None:
    async with serving(latency=5) as (_, _, client):
        start = trio.current_time()
        assert (await client.get("/_sandbox/health")).json() == {"status": "ok"}
        assert trio.current_time() - start < 0.1


# --- control endpoints and stats ---


async def test_stats_endpoint_matches_stats(autojump: Any) -> None:
    async with serving() as (sandbox, _, client):
        await add_fault(client, upstream="llm", kind="503", count=1)
        await client.post(PATHS["llm"])
        await client.post(PATHS["llm"])
        for _ in range(3):
            await client.get(PATHS["builtwith_free"])
        served = (await client.get("/_sandbox/stats")).json()
        assert served == sandbox.stats()
        assert set(served["upstreams"]) == set(UPSTREAMS)
        assert served["upstreams"]["llm"] == {
            "requests": 2,
            "responses": {"200": 1, "503": 1},
            "violations": 0,
            "faults": {
                "500": 0,
                "503": 1,
                "429": 0,
                "timeout": 0,
                "malformed_json": 0,
                "reset": 0,
            },
        }
        totals = served["totals"]
        assert totals["requests"] == 5
        assert totals["responses"] == {"200": 3, "429": 1, "503": 1}
        assert totals["violations"] == 1
        assert served["unrouted_requests"] == 0


async def test_rotate_crumb_reaches_the_simulation(autojump: Any) -> None:
    async with serving() as (_, fake, client):
        response = await client.post("/_sandbox/yahoo/rotate-crumb")
        assert response.status_code == 200
        assert fake.rotations == 1


async def test_unknown_control_path_and_wrong_method(autojump: Any) -> None:
    async with serving() as (sandbox, _, client):
        missing = await client.get("/_sandbox/nope")
        assert missing.status_code == 404
        assert "/_sandbox/nope" in missing.json()["error"]
        wrong = await client.post("/_sandbox/stats")
        assert wrong.status_code == 405
        assert wrong.headers["allow"] == "GET"
        assert (await client.get("/_sandbox/health/")).status_code == 200
        assert sandbox.stats()["totals"]["requests"] == 0


# --- options, overrides, the CLI entry point ---


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="fault_rate"):
        SandboxOptions(fault_rate=1.5)
    with pytest.raises(ValueError, match="latency"):
        SandboxOptions(latency=-1)
    with pytest.raises(ValueError, match="unknown upstream"):
        SandboxOptions(limits={"nope": Limit(rate_per_second=1)})
    with pytest.raises(msgspec.ValidationError, match="jitter"):
        msgspec.convert({"jitter": -0.5}, SandboxOptions)
    options = msgspec.convert(
        {"limits": {"llm": {"rate_per_second": 2, "burst": 4}}, "seed": 1}, SandboxOptions
    )
    assert options.limits["llm"] == Limit(rate_per_second=2, burst=4)


def test_source_overrides_point_every_source_at_the_sandbox() -> None:
    s = "http://127.0.0.1:8900"
    overrides = source_overrides(s + "/")
    assert overrides == {
        "builtwith": {"base_url": f"{s}/builtwith", "api_key": SANDBOX_API_KEY},
        "builtwith_free": {"base_url": f"{s}/builtwith", "api_key": SANDBOX_API_KEY},
        "similarweb": {"base_url": f"{s}/similarweb", "api_key": SANDBOX_API_KEY},
        "yahoo_finance": {"base_url": f"{s}/yahoo", "cookie_url": f"{s}/yahoo/fc"},
        "websearch": {"base_url": f"{s}/brave", "api_key": "sandbox-key", "provider": "brave"},
        "llm": {"base_url": f"{s}/openai/v1", "api_key": "sandbox-key", "model": "sandbox-model"},
        "homepage": {"url_template": f"{s}/homepage/{{domain}}/", "allow_private_addresses": True},
    }
    assert set(overrides) == set(UPSTREAMS)


async def test_sandbox_source_overrides_default_to_its_own_url(autojump: Any) -> None:
    async with serving() as (sandbox, _, _):
        overrides = sandbox.source_overrides()
        assert overrides["llm"]["base_url"] == f"{sandbox.url}/openai/v1"


def test_sources_toml_round_trips() -> None:
    overrides = source_overrides("http://127.0.0.1:8900")
    assert tomllib.loads(sources_toml(overrides)) == {"sources": overrides}
    odd: dict[str, dict[str, object]] = {
        "my source": {"s": 'a "quoted"\\ line\n\ttab\x01', "n": 3, "f": 0.5, "b": False}
    }
    assert tomllib.loads(sources_toml(odd)) == {"sources": odd}


async def test_run_sandbox_logs_and_prints_the_config(
    autojump: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="enrichd.sandbox")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_sandbox, SandboxOptions(port=0))
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    [record] = [r for r in caplog.records if r.name == "enrichd.sandbox"]
    message = record.getMessage()
    assert message.startswith("enrichd sandbox listening on http://127.0.0.1:")
    url = message.rsplit(" ", 1)[1]
    printed = tomllib.loads(capsys.readouterr().out)
    assert printed == {"sources": source_overrides(url)}
