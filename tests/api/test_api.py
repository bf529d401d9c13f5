"""The Enrichment API through the Quart test client: every endpoint and rule of the contract.

See /work/shared/spec/enrichment-api.md. Everything runs under trio's MockClock with
``autojump_threshold = 0``, so module delays and waits take no wall time; ``wall`` is the engine's
wall clock (timestamps, cache freshness), moved by hand.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import urllib.parse
from collections.abc import Iterable
from typing import Any, NamedTuple

import pytest
import trio

from enrichd.api import Authenticator, create_app
from enrichd.daemon import Engine
from tests import fakeplugin
from tests.conftest import AUTH, TOKEN, FakeWallClock, wait_for_status

API = "/api/v1/enrich"
WAVES = fakeplugin.WAVES
ALL = list(WAVES)
M01, M02, M03, M05, M07 = (
    "m01_company_context",
    "m02_tech_stack",
    "m03_traffic",
    "m05_competitors",
    "m07_financials",
)
DEPENDS_ON_M03 = ["m13_case_study_match", "m14_icp_scoring", "m15_displacement_angle"]
TERMINAL = {"completed", "failed", "cancelled"}
DAY = 86400
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class Reply(NamedTuple):
    status: int
    body: Any
    headers: Any


def make_client(engine: Engine) -> Any:
    """A test client for an engine made with ``engine_factory``, accepting ``TOKEN``."""
    engine.config.auth.token_sha256 = [hashlib.sha256(TOKEN.encode()).hexdigest()]
    return create_app(engine, Authenticator(engine.config, engine.store)).test_client()


async def call(
    client: Any,
    method: str,
    path: str,
    *,
    json_body: Any = ...,
    data: bytes | None = None,
    auth: bool = True,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> Reply:
    """One request; every answer of the API must be JSON, except a 204, which must be empty."""
    kwargs: dict[str, Any] = {
        "method": method,
        "headers": {**(AUTH if auth else {}), **(headers or {})},
    }
    if json_body is not ...:
        kwargs["json"] = json_body
    if data is not None:
        kwargs["data"] = data
    if query is not None:
        kwargs["query_string"] = query
    resp = await client.open(path, **kwargs)
    raw = await resp.get_data()
    if resp.status_code == 204:
        assert raw == b"", raw
        return Reply(204, None, resp.headers)
    assert resp.content_type.startswith("application/json"), (resp.status_code, raw)
    return Reply(resp.status_code, json.loads(raw), resp.headers)


def assert_error(reply: Reply, status: int, code: str | None = None) -> None:
    """``reply`` is the API's error shape with ``status`` (and ``code``)."""
    assert reply.status == status, reply
    assert isinstance(reply.body, dict), reply
    assert isinstance(reply.body.get("error"), str) and reply.body["error"], reply
    assert isinstance(reply.body.get("message"), str) and reply.body["message"], reply
    if code is not None:
        assert reply.body["error"] == code, reply


async def start(client: Any, domain: str, body: Any = ..., **kw: Any) -> Reply:
    return await call(client, "POST", f"{API}/{domain}", json_body=body, **kw)


async def start_ok(client: Any, domain: str, body: Any = ..., **kw: Any) -> dict[str, Any]:
    reply = await start(client, domain, body, **kw)
    assert reply.status == 202, reply
    return reply.body  # type: ignore[no-any-return]


def stored_status(engine: Engine, job_id: str) -> str:
    job = engine.store.get_job(job_id)
    assert job is not None, job_id
    return job.status


async def finish(engine: Engine, job_id: str) -> Any:
    return await wait_for_status(engine, job_id, TERMINAL)


async def run_job(client: Any, engine: Engine, domain: str, body: Any = ...) -> dict[str, Any]:
    """Start a job, wait for it to end, and return its status response."""
    job_id = (await start_ok(client, domain, body))["job_id"]
    await finish(engine, job_id)
    reply = await call(client, "GET", f"{API}/{domain}/status", query={"job_id": job_id})
    assert reply.status == 200, reply
    return reply.body  # type: ignore[no-any-return]


async def job_list(client: Any, **query: str) -> dict[str, Any]:
    reply = await call(client, "GET", API, query=query or None)
    assert reply.status == 200, reply
    return reply.body  # type: ignore[no-any-return]


async def assert_nothing_stored(client: Any) -> None:
    body = await job_list(client)
    assert body["total"] == 0 and body["jobs"] == [], body


def module_statuses(status_body: dict[str, Any]) -> dict[str, str]:
    return {m["module_id"]: m["status"] for w in status_body["waves"] for m in w["modules"]}


def parse_iso(text: str) -> dt.datetime:
    assert ISO_Z.match(text), text
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso_of(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hang(module: str, *domains: str) -> dict[str, Any]:
    return {module: {"hang_domains": list(domains)}}


def enc(domain: str) -> str:
    return urllib.parse.quote(domain, safe="")


@pytest.fixture(autouse=True)
def _autojump(mock_clock: Any) -> None:
    # pytest-trio runs a test under the MockClock only when the test itself takes ``mock_clock``:
    # every test here does, and this makes module delays and waits take no wall time.
    mock_clock.autojump_threshold = 0


# ---------------------------------------------------------------------------------------------
# Authentication

ENDPOINTS = [
    ("GET", API),
    ("POST", f"{API}/costco.com"),
    ("GET", f"{API}/costco.com/status"),
    ("GET", f"{API}/costco.com/results"),
    ("POST", f"{API}/batch"),
    ("GET", f"{API}/batch/batch_20260101000000_deadbeef"),
    ("POST", f"{API}/costco.com/cancel"),
    ("POST", f"{API}/costco.com/retry"),
    ("GET", f"{API}/costco.com/cache"),
]
BAD_AUTH = [
    None,
    "",
    "Bearer wrong-token",
    f"Basic {TOKEN}",
    f"Token {TOKEN}",
    "Bearer",
    "Bearer    ",
    TOKEN,
    f"Bearer {TOKEN}x",
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("header", BAD_AUTH)
async def test_api_requires_a_valid_bearer_token(
    mock_clock: Any, client: Any, method: str, path: str, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    body: Any = {"domains": ["costco.com"]} if path.endswith("/batch") else ...
    reply = await call(client, method, path, auth=False, headers=headers, json_body=body)
    assert_error(reply, 401)
    assert reply.headers.get("WWW-Authenticate", "").startswith("Bearer"), reply.headers
    await assert_nothing_stored(client)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_valid_token_is_accepted_everywhere(
    mock_clock: Any, client: Any, method: str, path: str
) -> None:
    body: Any = {"domains": ["costco.com"]} if path.endswith("/batch") else ...
    reply = await call(client, method, path, json_body=body)
    assert reply.status != 401, reply


async def test_bearer_scheme_is_case_insensitive(mock_clock: Any, client: Any) -> None:
    reply = await call(client, "GET", API, auth=False, headers={"Authorization": f"bearer {TOKEN}"})
    assert reply.status == 200, reply


async def test_healthz_needs_no_token(mock_clock: Any, client: Any) -> None:
    reply = await call(client, "GET", "/healthz", auth=False)
    assert reply.status == 200, reply
    assert reply.body["status"] == "ok"


async def test_livez_answers_alive_even_while_stopping(
    mock_clock: Any, client: Any, engine: Engine
) -> None:
    reply = await call(client, "GET", "/livez", auth=False)
    assert (reply.status, reply.body) == (200, {"status": "alive"})
    engine.stopping = True
    assert (await call(client, "GET", "/healthz", auth=False)).status == 503
    reply = await call(client, "GET", "/livez", auth=False)
    assert (reply.status, reply.body) == (200, {"status": "alive"})


# ---------------------------------------------------------------------------------------------
# Start


async def test_start_answers_202_with_every_spec_field(
    mock_clock: Any, client: Any, engine: Engine, wall: FakeWallClock
) -> None:
    reply = await start(client, "Mercedes-Benz.com", {"waves": [1]})
    assert reply.status == 202, reply
    body = reply.body
    spec_fields = {
        "job_id",
        "domain",
        "status",
        "modules",
        "waves",
        "priority",
        "force",
        "estimated_time_seconds",
        "created_at",
    }
    assert spec_fields <= body.keys(), body
    stamp = dt.datetime.fromtimestamp(wall.now, dt.UTC).strftime("%Y%m%d%H%M%S")
    assert re.fullmatch(rf"enrich_mercedes_benz_com_{stamp}_[0-9a-f]{{8}}", body["job_id"]), body
    assert body["domain"] == "mercedes-benz.com"
    assert body["status"] == "queued"
    assert body["modules"] == [M01, M02]
    assert body["waves"] == [1]
    assert body["priority"] == "normal"
    assert body["force"] is False
    assert isinstance(body["estimated_time_seconds"], int) and body["estimated_time_seconds"] > 0
    assert parse_iso(body["created_at"]) == dt.datetime.fromtimestamp(wall.now, dt.UTC)
    # The job exists and is visible.
    assert (await job_list(client))["jobs"][0]["job_id"] == body["job_id"]


async def test_start_job_ids_are_unique(mock_clock: Any, client: Any, engine: Engine) -> None:
    first = await start_ok(client, "costco.com", {"waves": [1]})
    await finish(engine, first["job_id"])
    second = await start_ok(client, "costco.com", {"waves": [1]})
    assert first["job_id"] != second["job_id"]


async def test_start_defaults_to_every_module(mock_clock: Any, client: Any, engine: Engine) -> None:
    body = await start_ok(client, "costco.com")
    assert body["modules"] == ALL
    assert body["waves"] == [1, 2, 3, 4]
    assert body["priority"] == "normal" and body["force"] is False
    final = await finish(engine, body["job_id"])
    assert final.status == "completed"


async def test_start_reflects_force_and_priority(mock_clock: Any, client: Any) -> None:
    body = await start_ok(client, "costco.com", {"force": True, "priority": "high", "waves": [1]})
    assert body["force"] is True and body["priority"] == "high"


async def test_start_modules_and_waves_intersect(
    mock_clock: Any, client: Any, engine: Engine
) -> None:
    body = await start_ok(client, "costco.com", {"modules": [M01, M03], "waves": [1]})
    assert body["modules"] == [M01]
    await finish(engine, body["job_id"])
    assert fakeplugin.CALLS[("costco.com", M03)] == 0
    assert fakeplugin.CALLS[("costco.com", M01)] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"modules": [M01], "waves": [2]},
        {"modules": []},
        {"waves": []},
        {"modules": [M03, "m04_traffic_sources"], "waves": [1, 3]},
    ],
)
async def test_start_empty_selection_is_422(
    mock_clock: Any, client: Any, body: dict[str, Any]
) -> None:
    assert_error(await start(client, "costco.com", body), 422)
    await assert_nothing_stored(client)


async def test_start_conflicts_with_active_job(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory(modules=hang(M01, "costco.com")) as engine:
        client = make_client(engine)
        first = await start_ok(client, "costco.com")
        await wait_for_status(engine, first["job_id"], {"running"})
        for domain in ("costco.com", "COSTCO.com."):
            reply = await start(client, domain, {"waves": [1]})
            assert_error(reply, 409)
            assert reply.body["details"]["job_id"] == first["job_id"], reply
        # Also while it is still queued (a second domain that waits for a slot is not blocked).
        assert (await job_list(client))["total"] == 1
        cancel = await call(client, "POST", f"{API}/costco.com/cancel")
        assert cancel.status == 200, cancel
        # The domain is free again once its job ended.
        await start_ok(client, "costco.com", {"waves": [1]})


async def test_start_conflicts_with_queued_job(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory(
        modules=hang(M01, "a.com"), jobs={"max_concurrent_jobs": 1}
    ) as engine:
        client = make_client(engine)
        await start_ok(client, "a.com")
        queued = await start_ok(client, "b.com")
        assert stored_status(engine, queued["job_id"]) == "queued"
        reply = await start(client, "b.com")
        assert_error(reply, 409)
        assert reply.body["details"]["job_id"] == queued["job_id"]
        status = (await call(client, "GET", f"{API}/b.com/status")).body
        assert status["job_id"] == queued["job_id"] and status["status"] == "queued"
        assert status["progress_percent"] == 0 and status["started_at"] is None
        assert set(module_statuses(status).values()) == {"pending"}


async def test_idempotency_key_replays_the_first_answer(
    mock_clock: Any, client: Any, engine: Engine
) -> None:
    key = {"Idempotency-Key": "start-costco-1"}
    first = await start(client, "costco.com", {"waves": [1]}, headers=key)
    assert first.status == 202, first
    again = await start(client, "costco.com", {"waves": [1]}, headers=key)
    assert again.status == 202, again
    assert again.body == first.body
    assert (await job_list(client))["total"] == 1
    # Still the first answer once the job has finished (no second job).
    await finish(engine, first.body["job_id"])
    later = await start(client, "costco.com", {"waves": [1]}, headers=key)
    assert later.status == 202 and later.body["job_id"] == first.body["job_id"]
    assert (await job_list(client))["total"] == 1
    # A different key is a different request.
    other = await start(client, "costco.com", {"waves": [1]}, headers={"Idempotency-Key": "k2"})
    assert other.status == 202 and other.body["job_id"] != first.body["job_id"]


async def test_concurrent_starts_with_one_key_make_one_job(mock_clock: Any, client: Any) -> None:
    replies: list[Reply] = []

    async def one() -> None:
        replies.append(
            await start(client, "costco.com", {"waves": [1]}, headers={"Idempotency-Key": "c1"})
        )

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(one)
    assert [r.status for r in replies] == [202, 202, 202], replies
    assert len({r.body["job_id"] for r in replies}) == 1
    assert (await job_list(client))["total"] == 1


async def test_concurrent_starts_for_one_domain_make_one_job(mock_clock: Any, client: Any) -> None:
    replies: list[Reply] = []

    async def one(domain: str) -> None:
        replies.append(await start(client, domain, {"waves": [1]}))

    async with trio.open_nursery() as nursery:
        for domain in ("costco.com", "COSTCO.COM", "costco.com."):
            nursery.start_soon(one, domain)
    assert sorted(r.status for r in replies) == [202, 409, 409], replies
    created = next(r for r in replies if r.status == 202)
    for reply in replies:
        if reply.status == 409:
            assert reply.body["details"]["job_id"] == created.body["job_id"]
    assert (await job_list(client))["total"] == 1


async def test_idempotency_key_with_a_different_body_is_409(mock_clock: Any, client: Any) -> None:
    key = {"Idempotency-Key": "start-costco-2"}
    first = await start(client, "costco.com", {"waves": [1]}, headers=key)
    assert first.status == 202
    assert_error(await start(client, "costco.com", {"waves": [2]}, headers=key), 409)
    assert_error(await start(client, "walmart.com", {"waves": [1]}, headers=key), 409)
    assert (await job_list(client))["total"] == 1


async def test_idempotency_key_on_batch(mock_clock: Any, client: Any) -> None:
    key = {"Idempotency-Key": "batch-1"}
    body = {"domains": ["costco.com", "walmart.com"], "waves": [1]}
    first = await call(client, "POST", f"{API}/batch", json_body=body, headers=key)
    assert first.status == 202, first
    again = await call(client, "POST", f"{API}/batch", json_body=body, headers=key)
    assert again.status == 202 and again.body["batch_id"] == first.body["batch_id"]
    assert (await job_list(client))["total"] == 2
    other = {**body, "domains": ["target.com"]}
    assert_error(await call(client, "POST", f"{API}/batch", json_body=other, headers=key), 409)


# ---------------------------------------------------------------------------------------------
# Status


async def test_status_of_a_completed_job(
    mock_clock: Any, client: Any, engine: Engine, wall: FakeWallClock
) -> None:
    job_id = (await start_ok(client, "costco.com"))["job_id"]
    await finish(engine, job_id)
    reply = await call(client, "GET", f"{API}/costco.com/status")
    assert reply.status == 200, reply
    body = reply.body
    assert body["job_id"] == job_id and body["domain"] == "costco.com"
    assert body["status"] == "completed"
    assert body["progress_percent"] == 100.0
    assert body["modules_total"] == 15
    assert body["modules_completed"] == 15
    assert body["modules_failed"] == 0
    assert body["errors"] == []
    assert body["current_module"] is None and body["current_wave"] is None
    assert [w["wave_number"] for w in body["waves"]] == [1, 2, 3, 4]
    for wave in body["waves"]:
        assert wave["status"] == "completed"
        assert [m["module_id"] for m in wave["modules"]] == [
            m for m, w in WAVES.items() if w == wave["wave_number"]
        ]
        assert wave["started_at"] is not None and wave["completed_at"] is not None
        for module in wave["modules"]:
            assert module["status"] == "completed", module
            assert isinstance(module["duration_seconds"], float), module
            assert module["duration_seconds"] >= 0
            assert isinstance(module["data_points_collected"], int), module
            assert module["data_points_collected"] > 0
            assert module["source_url"] == f"https://fake.example/{module['module_id']}"
    for key in ("created_at", "started_at", "completed_at"):
        parse_iso(body[key])
    assert body["duration_seconds"] is not None


async def test_status_of_a_running_job(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory(modules={M01: {"delay": 60}}) as engine:
        client = make_client(engine)
        job_id = (await start_ok(client, "costco.com"))["job_id"]
        await wait_for_status(engine, job_id, {"running"})
        await trio.sleep(5)
        reply = await call(client, "GET", f"{API}/costco.com/status")
        body = reply.body
        assert reply.status == 200 and body["job_id"] == job_id
        assert body["status"] == "running"
        assert body["current_wave"] == 1 and body["current_module"] == M01
        assert 0 < body["progress_percent"] < 100
        # m02..m06 need nothing and are done; m01 runs; the rest waits for m01.
        assert body["modules_completed"] == 5
        assert body["completed_at"] is None and body["duration_seconds"] is None
        states = module_statuses(body)
        assert states[M01] == "running" and states[M02] == "completed"
        assert states[M07] == "pending"
        wave1 = body["waves"][0]
        assert wave1["status"] == "running" and wave1["completed_at"] is None
        m01 = next(m for m in wave1["modules"] if m["module_id"] == M01)
        assert m01["duration_seconds"] is None and m01["data_points_collected"] is None
        await finish(engine, job_id)


async def test_status_by_job_id_and_latest(mock_clock: Any, client: Any, engine: Engine) -> None:
    first = (await start_ok(client, "costco.com", {"waves": [1]}))["job_id"]
    await finish(engine, first)
    second = (await start_ok(client, "costco.com", {"waves": [2]}))["job_id"]
    await finish(engine, second)
    latest = await call(client, "GET", f"{API}/costco.com/status")
    assert latest.body["job_id"] == second
    by_id = await call(client, "GET", f"{API}/costco.com/status", query={"job_id": first})
    assert by_id.status == 200 and by_id.body["job_id"] == first
    assert [w["wave_number"] for w in by_id.body["waves"]] == [1]


async def test_status_not_found(mock_clock: Any, client: Any, engine: Engine) -> None:
    assert_error(await call(client, "GET", f"{API}/costco.com/status"), 404)
    other = (await start_ok(client, "walmart.com", {"waves": [1]}))["job_id"]
    await finish(engine, other)
    # A job of another domain is not this domain's job.
    reply = await call(client, "GET", f"{API}/costco.com/status", query={"job_id": other})
    assert_error(reply, 404)
    # Unknown job id.
    unknown = "enrich_walmart_com_20260101000000_deadbeef"
    reply = await call(client, "GET", f"{API}/walmart.com/status", query={"job_id": unknown})
    assert_error(reply, 404)
    # The domain still has no jobs.
    assert_error(await call(client, "GET", f"{API}/costco.com/status"), 404)


# ---------------------------------------------------------------------------------------------
# Results and the cache across jobs


async def test_results_of_a_completed_job(mock_clock: Any, client: Any, engine: Engine) -> None:
    job_id = (await start_ok(client, "costco.com"))["job_id"]
    await finish(engine, job_id)
    reply = await call(client, "GET", f"{API}/costco.com/results")
    assert reply.status == 200, reply
    body = reply.body
    assert body["domain"] == "costco.com" and body["job_id"] == job_id
    assert body["status"] == "completed"
    parse_iso(body["completed_at"])
    assert sorted(body["results"]) == sorted(ALL)
    assert body["results"][M01] == {"module": M01, "domain": "costco.com", "fake": True}
    assert body["results"][M07]["saw_m01_company_context"] == M01
    assert sorted(body["module_statuses"]) == sorted(ALL)
    for state in body["module_statuses"].values():
        assert state["status"] == "completed" and state["cached"] is False
        assert isinstance(state["duration_ms"], int) and state["data_points"] > 0
    assert body["cached_modules"] == [] and body["failed_modules"] == []
    assert body["source_citations"][M03] == [
        {"url": f"https://fake.example/{M03}", "title": f"Fake {M03}"}
    ]
    assert sorted(body["source_citations"]) == sorted(ALL)


async def test_results_module_filter(mock_clock: Any, client: Any, engine: Engine) -> None:
    await finish(engine, (await start_ok(client, "costco.com"))["job_id"])
    reply = await call(
        client, "GET", f"{API}/costco.com/results", query={"modules": f"{M01}, {M03}"}
    )
    assert reply.status == 200, reply
    assert sorted(reply.body["results"]) == [M01, M03]
    assert sorted(reply.body["module_statuses"]) == [M01, M03]
    assert sorted(reply.body["source_citations"]) == [M01, M03]
    for bad in (f"{M01},m99_bogus", "m99_bogus", ",", ""):
        reply = await call(client, "GET", f"{API}/costco.com/results", query={"modules": bad})
        assert_error(reply, 422)
    reply = await call(client, "GET", f"{API}/costco.com/results", query={"modules": "m99_bogus"})
    assert "m99_bogus" in reply.body["message"]
    for mid in ALL:
        assert mid in reply.body["message"]


async def test_results_default_to_latest_finished_job(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory(modules=hang(M02, "costco.com")) as engine:
        client = make_client(engine)
        # No job yet, and then only a running one: nothing finished to show.
        assert_error(await call(client, "GET", f"{API}/costco.com/results"), 404)
        first = (await start_ok(client, "costco.com", {"modules": [M01]}))["job_id"]
        await finish(engine, first)
        running = (await start_ok(client, "costco.com", {"waves": [1], "force": True}))["job_id"]
        await wait_for_status(engine, running, {"running"})
        await trio.sleep(1)
        reply = await call(client, "GET", f"{API}/costco.com/results")
        assert reply.status == 200 and reply.body["job_id"] == first
        # A job id selects that job, finished or not: its finished modules are readable.
        reply = await call(client, "GET", f"{API}/costco.com/results", query={"job_id": running})
        assert reply.status == 200 and reply.body["job_id"] == running
        assert reply.body["status"] == "running"
        assert list(reply.body["results"]) == [M01]
        reply = await call(client, "GET", f"{API}/walmart.com/results", query={"job_id": first})
        assert_error(reply, 404)
        await call(client, "POST", f"{API}/costco.com/cancel")


async def test_second_job_uses_the_cache_and_force_reruns(
    mock_clock: Any, client: Any, engine: Engine
) -> None:
    await run_job(client, engine, "costco.com")
    assert all(fakeplugin.CALLS[("costco.com", m)] == 1 for m in ALL)
    second = await run_job(client, engine, "costco.com")
    assert second["status"] == "completed"
    assert set(module_statuses(second).values()) == {"cached"}
    assert all(fakeplugin.CALLS[("costco.com", m)] == 1 for m in ALL)
    results = (await call(client, "GET", f"{API}/costco.com/results")).body
    assert results["job_id"] == second["job_id"]
    assert sorted(results["cached_modules"]) == sorted(ALL)
    assert sorted(results["results"]) == sorted(ALL)
    assert all(s["cached"] and s["status"] == "cached" for s in results["module_statuses"].values())
    forced = await run_job(client, engine, "costco.com", {"force": True})
    assert forced["status"] == "completed"
    assert set(module_statuses(forced).values()) == {"completed"}
    assert all(fakeplugin.CALLS[("costco.com", m)] == 2 for m in ALL)
    results = (await call(client, "GET", f"{API}/costco.com/results")).body
    assert results["cached_modules"] == []


async def test_cache_is_per_domain(mock_clock: Any, client: Any, engine: Engine) -> None:
    await run_job(client, engine, "costco.com", {"waves": [1]})
    other = await run_job(client, engine, "walmart.com", {"waves": [1]})
    assert set(module_statuses(other).values()) == {"completed"}
    assert fakeplugin.CALLS[("walmart.com", M01)] == 1


# ---------------------------------------------------------------------------------------------
# Dependencies


async def test_dependency_joins_the_job_without_cache(
    mock_clock: Any, client: Any, engine: Engine
) -> None:
    created = await start_ok(client, "costco.com", {"modules": [M07]})
    assert created["modules"] == [M01, M07]
    await finish(engine, created["job_id"])
    status = (await call(client, "GET", f"{API}/costco.com/status")).body
    assert status["status"] == "completed"
    assert module_statuses(status) == {M01: "completed", M07: "completed"}
    assert fakeplugin.CALLS[("costco.com", M01)] == 1
    results = (await call(client, "GET", f"{API}/costco.com/results")).body
    assert results["results"][M07]["saw_m01_company_context"] == M01


async def test_cached_dependency_does_not_join_the_job(
    mock_clock: Any, client: Any, engine: Engine
) -> None:
    await run_job(client, engine, "costco.com", {"modules": [M01]})
    created = await start_ok(client, "costco.com", {"modules": [M07]})
    assert created["modules"] == [M07]
    await finish(engine, created["job_id"])
    status = (await call(client, "GET", f"{API}/costco.com/status")).body
    assert status["status"] == "completed"
    assert module_statuses(status) == {M07: "completed"}
    assert fakeplugin.CALLS[("costco.com", M01)] == 1
    # Forcing m07 alone reruns only m07, with m01 read from the cache.
    forced = await run_job(client, engine, "costco.com", {"modules": [M07], "force": True})
    assert module_statuses(forced) == {M07: "completed"}
    assert fakeplugin.CALLS[("costco.com", M07)] == 2
    assert fakeplugin.CALLS[("costco.com", M01)] == 1


async def test_stale_dependency_is_used_and_expired_one_joins(
    mock_clock: Any, client: Any, engine: Engine, wall: FakeWallClock
) -> None:
    await run_job(client, engine, "costco.com", {"modules": [M01]})
    wall.advance(23 * DAY + 1)  # m01 (TTL 30 d) is stale: still usable
    created = await start_ok(client, "costco.com", {"modules": [M07]})
    assert created["modules"] == [M07]
    await finish(engine, created["job_id"])
    wall.advance(7 * DAY)  # m01 expired: it must be fetched again
    created = await start_ok(client, "costco.com", {"modules": [M07]})
    assert created["modules"] == [M01, M07]
    await finish(engine, created["job_id"])
    assert fakeplugin.CALLS[("costco.com", M01)] == 2


# ---------------------------------------------------------------------------------------------
# Failure isolation


async def test_failing_module_skips_its_dependents_only(
    mock_clock: Any, engine_factory: Any
) -> None:
    async with engine_factory(modules={M03: {"fail_domains": ["bad.com"]}}) as engine:
        client = make_client(engine)
        status = await run_job(client, engine, "bad.com")
        assert status["status"] == "failed"
        states = module_statuses(status)
        assert states[M03] == "failed"
        for mid in DEPENDS_ON_M03:
            assert states[mid] == "skipped", (mid, states)
        others = [m for m in ALL if m != M03 and m not in DEPENDS_ON_M03]
        assert all(states[m] == "completed" for m in others), states
        assert status["modules_failed"] == 1
        assert status["modules_completed"] == len(others)
        errors = {e["module_id"]: e for e in status["errors"]}
        assert errors[M03] == {
            "module_id": M03,
            "source": "fake",
            "error": "upstream_error",
            "message": "fake upstream refused bad.com",
        }
        for mid in DEPENDS_ON_M03:
            assert mid in errors and errors[mid]["error"]
        wave2 = next(w for w in status["waves"] if w["wave_number"] == 2)
        assert wave2["status"] == "failed"
        # The other results of the failed job stay readable.
        results = (await call(client, "GET", f"{API}/bad.com/results")).body
        assert results["status"] == "failed"
        assert results["failed_modules"] == [M03]
        assert sorted(results["results"]) == sorted(others)
        assert results["module_statuses"][M03]["status"] == "failed"
        assert results["module_statuses"][M03]["error"] == "upstream_error"
        # Another domain is not affected.
        good = await run_job(client, engine, "good.com")
        assert good["status"] == "completed"


async def test_crashing_module_is_a_plugin_error(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory(modules={M05: {"crash_domains": ["bad.com"]}}) as engine:
        client = make_client(engine)
        status = await run_job(client, engine, "bad.com")
        assert status["status"] == "failed"
        states = module_statuses(status)
        assert states[M05] == "failed"
        assert states["m15_displacement_angle"] == "skipped"
        assert all(states[m] == "completed" for m in ALL[:14] if m != M05), states
        error = next(e for e in status["errors"] if e["module_id"] == M05)
        assert error["error"] == "plugin_error"
        assert error["message"]


# ---------------------------------------------------------------------------------------------
# Cancel


async def test_cancel_running_job_keeps_completed_modules(
    mock_clock: Any, engine_factory: Any
) -> None:
    async with engine_factory(modules=hang(M01, "costco.com")) as engine:
        client = make_client(engine)
        job_id = (await start_ok(client, "costco.com"))["job_id"]
        await wait_for_status(engine, job_id, {"running"})
        await trio.sleep(1)  # m02..m06 (no dependencies) complete; m01 hangs
        t0 = trio.current_time()
        reply = await call(client, "POST", f"{API}/costco.com/cancel")
        assert trio.current_time() - t0 < 1.0
        assert reply.status == 200, reply
        body = reply.body
        assert body["job_id"] == job_id
        assert body["status"] == "cancelled"
        assert body["modules_completed"] == 5
        assert isinstance(body["message"], str) and "5" in body["message"]
        status = (await call(client, "GET", f"{API}/costco.com/status")).body
        assert status["status"] == "cancelled"
        states = module_statuses(status)
        assert states[M01] == "cancelled"
        done = [m for m in ALL[1:6]]
        assert all(states[m] == "completed" for m in done), states
        assert all(states[m] == "cancelled" for m in ALL[6:]), states
        results = (await call(client, "GET", f"{API}/costco.com/results")).body
        assert results["job_id"] == job_id and results["status"] == "cancelled"
        assert sorted(results["results"]) == sorted(done)
        # The cancelled job is not active any more.
        assert (await job_list(client))["running_count"] == 0


async def test_cancelled_job_data_serves_the_next_job(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory(modules=hang(M01, "costco.com")) as engine:
        client = make_client(engine)
        job_id = (await start_ok(client, "costco.com", {"waves": [1, 2]}))["job_id"]
        await wait_for_status(engine, job_id, {"running"})
        await trio.sleep(1)
        reply = await call(client, "POST", f"{API}/costco.com/cancel")
        assert reply.status == 200 and reply.body["modules_completed"] == 5
        engine.config.modules[M01]["hang_domains"] = []
        status = await run_job(client, engine, "costco.com", {"waves": [1, 2]})
        states = module_statuses(status)
        assert states[M01] == "completed"
        assert all(states[m] == "cached" for m in ALL[1:6]), states


async def test_cancel_waiting_batch_job(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory(modules={M01: {"delay": 20}}) as engine:
        client = make_client(engine)
        reply = await call(
            client,
            "POST",
            f"{API}/batch",
            json_body={"domains": ["a.com", "b.com", "c.com"], "modules": [M01], "concurrency": 1},
        )
        ids = [j["job_id"] for j in reply.body["jobs"]]
        await wait_for_status(engine, ids[0], {"running"})
        cancel = await call(client, "POST", f"{API}/c.com/cancel")
        assert cancel.status == 200 and cancel.body["job_id"] == ids[2]
        for job_id in ids[:2]:
            assert (await finish(engine, job_id)).status == "completed"
        assert stored_status(engine, ids[2]) == "cancelled"
        assert fakeplugin.CALLS[("c.com", M01)] == 0
        body = (await call(client, "GET", f"{API}/batch/{reply.body['batch_id']}")).body
        assert [j["status"] for j in body["jobs"]] == ["completed", "completed", "cancelled"]


async def test_cancel_by_job_id(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory(modules=hang(M01, "costco.com")) as engine:
        client = make_client(engine)
        job_id = (await start_ok(client, "costco.com"))["job_id"]
        await wait_for_status(engine, job_id, {"running"})
        reply = await call(client, "POST", f"{API}/costco.com/cancel", query={"job_id": job_id})
        assert reply.status == 200 and reply.body["job_id"] == job_id
        assert stored_status(engine, job_id) == "cancelled"


async def test_cancel_queued_job(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory(
        modules=hang(M01, "a.com"), jobs={"max_concurrent_jobs": 1}
    ) as engine:
        client = make_client(engine)
        running = (await start_ok(client, "a.com"))["job_id"]
        await wait_for_status(engine, running, {"running"})
        queued = (await start_ok(client, "b.com"))["job_id"]
        reply = await call(client, "POST", f"{API}/b.com/cancel")
        assert reply.status == 200, reply
        assert reply.body["job_id"] == queued and reply.body["status"] == "cancelled"
        assert reply.body["modules_completed"] == 0
        status = (await call(client, "GET", f"{API}/b.com/status")).body
        assert status["status"] == "cancelled"
        assert set(module_statuses(status).values()) == {"cancelled"}
        assert stored_status(engine, running) == "running"
        await trio.sleep(1)
        assert fakeplugin.CALLS[("b.com", M01)] == 0
        await call(client, "POST", f"{API}/a.com/cancel")


async def test_cancel_not_found(mock_clock: Any, client: Any, engine: Engine) -> None:
    assert_error(await call(client, "POST", f"{API}/costco.com/cancel"), 404)
    done = (await start_ok(client, "walmart.com", {"waves": [1]}))["job_id"]
    await finish(engine, done)
    reply = await call(client, "POST", f"{API}/costco.com/cancel", query={"job_id": done})
    assert_error(reply, 404)
    reply = await call(
        client,
        "POST",
        f"{API}/walmart.com/cancel",
        query={"job_id": "enrich_walmart_com_20260101000000_deadbeef"},
    )
    assert_error(reply, 404)
    # Only finished jobs: there is no queued or running job to cancel.
    assert_error(await call(client, "POST", f"{API}/walmart.com/cancel"), 404)


async def test_cancel_finished_job_is_409(mock_clock: Any, client: Any, engine: Engine) -> None:
    done = (await start_ok(client, "costco.com", {"waves": [1]}))["job_id"]
    await finish(engine, done)
    reply = await call(client, "POST", f"{API}/costco.com/cancel", query={"job_id": done})
    assert_error(reply, 409)
    assert stored_status(engine, done) == "completed"


# ---------------------------------------------------------------------------------------------
# Retry


async def test_retry_reruns_failed_and_blocked_modules(
    mock_clock: Any, engine_factory: Any
) -> None:
    async with engine_factory(modules={M03: {"fail_domains": ["bad.com"]}}) as engine:
        client = make_client(engine)
        failed = await run_job(client, engine, "bad.com")
        assert failed["status"] == "failed"
        engine.config.modules[M03]["fail_domains"] = []  # the upstream recovered
        reply = await call(client, "POST", f"{API}/bad.com/retry")
        assert reply.status == 202, reply
        body = reply.body
        assert body["modules"] == [M03, *DEPENDS_ON_M03]
        assert body["force"] is True
        assert body["domain"] == "bad.com" and body["status"] == "queued"
        assert body["job_id"] != failed["job_id"]
        assert body.get("retry_of") == failed["job_id"]
        assert isinstance(body["estimated_time_seconds"], int)
        parse_iso(body["created_at"])
        final = await finish(engine, body["job_id"])
        assert final.status == "completed"
        assert fakeplugin.CALLS[("bad.com", M03)] == 2
        assert fakeplugin.CALLS[("bad.com", DEPENDS_ON_M03[0])] == 1
        assert fakeplugin.CALLS[("bad.com", M01)] == 1  # not rerun


async def test_retry_all_modules(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory(modules={M03: {"fail_domains": ["bad.com"]}}) as engine:
        client = make_client(engine)
        await run_job(client, engine, "bad.com", {"waves": [1, 2]})
        reply = await call(
            client, "POST", f"{API}/bad.com/retry", json_body={"failed_modules_only": False}
        )
        assert reply.status == 202, reply
        assert reply.body["modules"] == ALL[:6]
        assert reply.body["force"] is True
        await finish(engine, reply.body["job_id"])
        assert all(fakeplugin.CALLS[("bad.com", m)] == 2 for m in ALL[:6])


async def test_retry_conflicts_and_not_found(mock_clock: Any, client: Any, engine: Engine) -> None:
    assert_error(await call(client, "POST", f"{API}/costco.com/retry"), 404)
    await run_job(client, engine, "costco.com", {"waves": [1]})
    assert_error(await call(client, "POST", f"{API}/costco.com/retry"), 409)
    assert (await job_list(client))["total"] == 1


async def test_retry_while_a_job_is_active_is_409(mock_clock: Any, engine_factory: Any) -> None:
    modules = {M03: {"fail_domains": ["bad.com"]}, M02: {"hang_domains": []}}
    async with engine_factory(modules=modules) as engine:
        client = make_client(engine)
        await run_job(client, engine, "bad.com", {"waves": [1, 2]})
        engine.config.modules[M02]["hang_domains"] = ["bad.com"]
        active = await start_ok(client, "bad.com", {"waves": [1], "force": True})
        await wait_for_status(engine, active["job_id"], {"running"})
        reply = await call(client, "POST", f"{API}/bad.com/retry")
        assert_error(reply, 409)
        assert (await job_list(client))["total"] == 2
        await call(client, "POST", f"{API}/bad.com/cancel")


# ---------------------------------------------------------------------------------------------
# Cache freshness

TTL = {m: 7 * DAY for m in ALL} | {M01: 30 * DAY, M07: DAY, "m08_stock_info": DAY}


def expected_freshness(mid: str, age: float) -> str:
    ttl = TTL[mid]
    window = min(7 * DAY, ttl // 2)
    if age >= ttl:
        return "expired"
    if age >= ttl - window:
        return "stale"
    return "fresh"


async def test_cache_of_an_unknown_domain_is_missing(mock_clock: Any, client: Any) -> None:
    reply = await call(client, "GET", f"{API}/costco.com/cache")
    assert reply.status == 200, reply
    body = reply.body
    assert body["domain"] == "costco.com"
    assert [m["module_id"] for m in body["modules"]] == ALL
    for module in body["modules"]:
        assert module["is_cached"] is False and module["freshness"] == "missing"
        assert module["cached_at"] is None and module["ttl_remaining_seconds"] is None
    assert body["overall_freshness"] == "missing"
    assert body["last_enrichment"] is None
    assert body["stale_modules"] == []


async def test_cache_partial_enrichment(
    mock_clock: Any, client: Any, engine: Engine, wall: FakeWallClock
) -> None:
    await run_job(client, engine, "COSTCO.com", {"waves": [1]})
    body = (await call(client, "GET", f"{API}/costco.com/cache")).body
    by_id = {m["module_id"]: m for m in body["modules"]}
    assert len(by_id) == 15
    assert by_id[M01]["is_cached"] and by_id[M01]["freshness"] == "fresh"
    assert by_id[M02]["is_cached"] and by_id[M02]["freshness"] == "fresh"
    assert all(by_id[m]["freshness"] == "missing" for m in ALL[2:])
    # Missing modules do not make the overall freshness "missing".
    assert body["overall_freshness"] == "fresh"
    assert body["last_enrichment"] == iso_of(wall.now)
    assert by_id[M01]["cached_at"] == iso_of(wall.now)


CHECKPOINTS = [
    0,
    12 * 3600 - 1,
    12 * 3600 + 1,
    DAY - 1,
    DAY,
    3.5 * DAY - 1,
    3.5 * DAY + 1,
    7 * DAY,
    23 * DAY - 1,
    23 * DAY + 1,
    30 * DAY + 1,
]


async def test_cache_freshness_over_time(
    mock_clock: Any, client: Any, engine: Engine, wall: FakeWallClock
) -> None:
    await run_job(client, engine, "costco.com")
    enriched = wall.now
    for age in CHECKPOINTS:
        wall.now = enriched + age
        body = (await call(client, "GET", f"{API}/costco.com/cache")).body
        by_id = {m["module_id"]: m for m in body["modules"]}
        expected = {m: expected_freshness(m, age) for m in ALL}
        assert {m: v["freshness"] for m, v in by_id.items()} == expected, age
        for mid, view in by_id.items():
            assert view["is_cached"] is True
            assert view["ttl_remaining_seconds"] == max(0, int(TTL[mid] - age)), (age, mid)
        order = ["expired", "stale", "fresh"]
        worst = min(expected.values(), key=order.index)
        assert body["overall_freshness"] == worst, age
        assert sorted(body["stale_modules"]) == sorted(
            m for m, f in expected.items() if f in ("stale", "expired")
        ), age
        assert body["last_enrichment"] == iso_of(enriched)


async def test_stale_cache_is_used_and_expired_is_refetched(
    mock_clock: Any, client: Any, engine: Engine, wall: FakeWallClock
) -> None:
    await run_job(client, engine, "costco.com", {"modules": [M01, M07]})
    wall.advance(12 * 3600 + 1)  # m07 stale
    stale = await run_job(client, engine, "costco.com", {"modules": [M07]})
    assert module_statuses(stale) == {M07: "cached"}
    assert fakeplugin.CALLS[("costco.com", M07)] == 1
    wall.advance(12 * 3600)  # m07 expired
    expired = await run_job(client, engine, "costco.com", {"modules": [M07]})
    assert module_statuses(expired) == {M07: "completed"}
    assert fakeplugin.CALLS[("costco.com", M07)] == 2
    body = (await call(client, "GET", f"{API}/costco.com/cache")).body
    m07 = next(m for m in body["modules"] if m["module_id"] == M07)
    assert m07["freshness"] == "fresh" and m07["ttl_remaining_seconds"] == DAY
    assert body["last_enrichment"] == iso_of(wall.now)


# ---------------------------------------------------------------------------------------------
# List


async def test_list_empty(mock_clock: Any, client: Any) -> None:
    body = await job_list(client)
    assert body["jobs"] == [] and body["total"] == 0
    assert body["running_count"] == 0 and body["queued_count"] == 0


async def test_list_newest_first_with_filters_and_pages(
    mock_clock: Any, client: Any, engine: Engine, wall: FakeWallClock
) -> None:
    ids = []
    for domain in ("a.com", "b.com", "a.com", "c.com"):
        ids.append((await start_ok(client, domain, {"waves": [1]}))["job_id"])
        await finish(engine, ids[-1])
        wall.advance(60)
    body = await job_list(client)
    assert [j["job_id"] for j in body["jobs"]] == ids[::-1]
    assert body["total"] == 4
    job = body["jobs"][0]
    for key in (
        "job_id",
        "domain",
        "status",
        "progress_percent",
        "modules_total",
        "modules_completed",
        "priority",
        "created_at",
        "started_at",
    ):
        assert key in job, key
    assert job["status"] == "completed" and job["progress_percent"] == 100.0
    assert job["modules_total"] == 2 and job["modules_completed"] == 2
    body = await job_list(client, domain="A.com")
    assert [j["job_id"] for j in body["jobs"]] == [ids[2], ids[0]] and body["total"] == 2
    body = await job_list(client, limit="2")
    assert [j["job_id"] for j in body["jobs"]] == [ids[3], ids[2]] and body["total"] == 4
    body = await job_list(client, limit="2", offset="2")
    assert [j["job_id"] for j in body["jobs"]] == [ids[1], ids[0]] and body["total"] == 4
    body = await job_list(client, offset="10")
    assert body["jobs"] == [] and body["total"] == 4
    body = await job_list(client, status="completed", limit="1", offset="1")
    assert [j["job_id"] for j in body["jobs"]] == [ids[2]] and body["total"] == 4
    body = await job_list(client, status="failed")
    assert body["jobs"] == [] and body["total"] == 0
    body = await job_list(client, domain="a.com", status="completed", limit="1")
    assert [j["job_id"] for j in body["jobs"]] == [ids[2]] and body["total"] == 2


async def test_list_orders_jobs_of_the_same_second_by_creation(
    mock_clock: Any, client: Any
) -> None:
    ids = [
        (await start_ok(client, d, {"waves": [1]}))["job_id"] for d in ("a.com", "b.com", "c.com")
    ]
    assert [j["job_id"] for j in (await job_list(client))["jobs"]] == ids[::-1]


async def test_list_default_limit_is_50(mock_clock: Any, client: Any, engine: Engine) -> None:
    domains = [f"d{i}.com" for i in range(51)]
    reply = await call(
        client,
        "POST",
        f"{API}/batch",
        json_body={"domains": domains, "modules": [M02], "concurrency": 50},
    )
    assert reply.status == 202, reply
    for job in reply.body["jobs"]:
        await finish(engine, job["job_id"])
    body = await job_list(client)
    assert len(body["jobs"]) == 50 and body["total"] == 51
    assert len((await job_list(client, limit="100"))["jobs"]) == 51
    assert len((await job_list(client, limit="100", offset="50"))["jobs"]) == 1
    assert len((await job_list(client, limit="1"))["jobs"]) == 1


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "abc"},
        {"limit": "-1"},
        {"limit": "1.5"},
        {"offset": "-1"},
        {"offset": "x"},
        {"status": "done"},
        {"domain": "localhost"},
    ],
)
async def test_list_rejects_bad_parameters(
    mock_clock: Any, client: Any, query: dict[str, str]
) -> None:
    assert_error(await call(client, "GET", API, query=query), 422)


async def test_list_counts_running_and_queued(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory(
        modules=hang(M01, "a.com", "b.com"), jobs={"max_concurrent_jobs": 1}
    ) as engine:
        client = make_client(engine)
        running = (await start_ok(client, "a.com"))["job_id"]
        await wait_for_status(engine, running, {"running"})
        queued = (await start_ok(client, "b.com"))["job_id"]
        body = await job_list(client)
        assert body["total"] == 2
        assert body["running_count"] == 1 and body["queued_count"] == 1
        assert {j["job_id"]: j["status"] for j in body["jobs"]} == {
            running: "running",
            queued: "queued",
        }
        assert [j["job_id"] for j in (await job_list(client, status="queued"))["jobs"]] == [queued]
        assert [j["job_id"] for j in (await job_list(client, status="running"))["jobs"]] == [
            running
        ]
        await call(client, "POST", f"{API}/b.com/cancel")
        await call(client, "POST", f"{API}/a.com/cancel")
        body = await job_list(client)
        assert body["running_count"] == 0 and body["queued_count"] == 0


# ---------------------------------------------------------------------------------------------
# Batch


async def test_batch_dedupes_and_skips(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory(modules=hang(M01, "active.com")) as engine:
        client = make_client(engine)
        active = (await start_ok(client, "active.com"))["job_id"]
        domains = [
            "costco.com",
            "COSTCO.com",
            "costco.com.",
            "walmart.com",
            "127.0.0.1",
            "not a domain",
            "active.com",
            "localhost",
        ]
        reply = await call(
            client, "POST", f"{API}/batch", json_body={"domains": domains, "waves": [1]}
        )
        assert reply.status == 202, reply
        body = reply.body
        assert re.fullmatch(r"batch_\d{14}_[0-9a-f]{8}", body["batch_id"]), body
        assert [j["domain"] for j in body["jobs"]] == ["costco.com", "walmart.com"]
        assert all(j["status"] == "queued" for j in body["jobs"])
        assert body["queued_count"] == 2
        skipped = {s["domain"]: s for s in body["skipped"]}
        assert set(skipped) == {"127.0.0.1", "not a domain", "active.com", "localhost"}
        assert skipped["active.com"]["reason"] == "job_active"
        assert skipped["active.com"]["job_id"] == active
        for bad in ("127.0.0.1", "not a domain", "localhost"):
            assert skipped[bad]["reason"] == "invalid_domain" and skipped[bad]["message"]
        assert body["skipped_count"] == 4
        assert body["total_domains"] == 6
        for key in ("status", "estimated_time_seconds", "created_at"):
            assert key in body
        parse_iso(body["created_at"])
        # One job per valid domain, each a real job in the batch.
        listing = await job_list(client)
        assert listing["total"] == 3
        for job in body["jobs"]:
            final = await finish(engine, job["job_id"])
            assert final.status == "completed" and final.batch_id == body["batch_id"]
            assert final.domain == job["domain"]
        await call(client, "POST", f"{API}/active.com/cancel")


async def test_batch_size_limits(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory(jobs={"max_batch_domains": 3}) as engine:
        client = make_client(engine)
        four = ["a.com", "b.com", "c.com", "d.com"]
        assert_error(await call(client, "POST", f"{API}/batch", json_body={"domains": four}), 422)
        assert_error(await call(client, "POST", f"{API}/batch", json_body={"domains": []}), 422)
        await assert_nothing_stored(client)
        reply = await call(client, "POST", f"{API}/batch", json_body={"domains": four[:3]})
        assert reply.status == 202, reply
        assert len(reply.body["jobs"]) == 3


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"domains": "costco.com"},
        {"domains": [1]},
        {"domains": ["costco.com"], "concurrency": 0},
        {"domains": ["costco.com"], "concurrency": 101},
        {"domains": ["costco.com"], "concurrency": "2"},
        {"domains": ["costco.com"], "modules": ["m99_bogus"]},
        {"domains": ["costco.com"], "waves": [5]},
        {"domains": ["costco.com"], "priority": "urgent"},
        {"domains": ["costco.com"], "modules": [M01], "waves": [2]},
        {"domains": ["costco.com"], "bogus": 1},
    ],
)
async def test_batch_rejects_bad_bodies(mock_clock: Any, client: Any, body: dict[str, Any]) -> None:
    assert_error(await call(client, "POST", f"{API}/batch", json_body=body), 422)
    await assert_nothing_stored(client)


async def _max_running_in_batch(
    client: Any, engine: Engine, concurrency: int
) -> tuple[int, dict[str, Any]]:
    domains = ["a.com", "b.com", "c.com"]
    reply = await call(
        client,
        "POST",
        f"{API}/batch",
        json_body={"domains": domains, "modules": [M01], "concurrency": concurrency},
    )
    assert reply.status == 202, reply
    assert reply.body["concurrency"] == concurrency
    ids = [j["job_id"] for j in reply.body["jobs"]]
    peak = 0
    seen_queued_while_running = False
    for _ in range(1000):
        statuses = [stored_status(engine, i) for i in ids]
        running = statuses.count("running")
        peak = max(peak, running)
        if running and "queued" in statuses:
            seen_queued_while_running = True
        if all(s in TERMINAL for s in statuses):
            break
        await trio.sleep(0.5)
    else:
        raise AssertionError("the batch never finished")
    assert all(stored_status(engine, i) == "completed" for i in ids)
    return peak, {"queued_while_running": seen_queued_while_running, "batch": reply.body}


async def test_batch_concurrency_one_runs_one_at_a_time(
    mock_clock: Any, engine_factory: Any
) -> None:
    async with engine_factory(modules={M01: {"delay": 20}}) as engine:
        client = make_client(engine)
        peak, info = await _max_running_in_batch(client, engine, 1)
        assert peak == 1
        assert info["queued_while_running"]


async def test_batch_concurrency_allows_parallel_jobs(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory(modules={M01: {"delay": 20}}) as engine:
        client = make_client(engine)
        peak, _ = await _max_running_in_batch(client, engine, 3)
        assert peak == 3


async def test_batch_concurrency_via_scheduler(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory(modules=hang(M01, "a.com", "b.com", "c.com")) as engine:
        client = make_client(engine)
        reply = await call(
            client,
            "POST",
            f"{API}/batch",
            json_body={"domains": ["a.com", "b.com", "c.com"], "modules": [M01], "concurrency": 1},
        )
        assert reply.status == 202, reply
        ids = [j["job_id"] for j in reply.body["jobs"]]
        await trio.sleep(5)
        assert engine.scheduler.running_count == 1
        assert [stored_status(engine, i) for i in ids] == ["running", "queued", "queued"]
        # Cancelling the running job lets the next one of the batch start.
        await call(client, "POST", f"{API}/a.com/cancel")
        await trio.sleep(1)
        assert [stored_status(engine, i) for i in ids] == ["cancelled", "running", "queued"]
        assert engine.scheduler.running_count == 1
        for domain in ("b.com", "c.com"):
            await call(client, "POST", f"{API}/{domain}/cancel")


async def test_get_batch_shows_progress(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory(modules={M01: {"delay": 20}}) as engine:
        client = make_client(engine)
        created = await call(
            client,
            "POST",
            f"{API}/batch",
            json_body={"domains": ["a.com", "b.com"], "waves": [1], "concurrency": 1},
        )
        assert created.status == 202, created
        batch_id = created.body["batch_id"]
        ids = [j["job_id"] for j in created.body["jobs"]]
        await wait_for_status(engine, ids[0], {"running"})
        await trio.sleep(1)
        reply = await call(client, "GET", f"{API}/batch/{batch_id}")
        assert reply.status == 200, reply
        body = reply.body
        assert body["batch_id"] == batch_id and body["status"] == "running"
        jobs = {j["job_id"]: j for j in body["jobs"]}
        assert list(jobs) == ids
        assert jobs[ids[0]]["status"] == "running"
        assert 0 < jobs[ids[0]]["progress_percent"] < 100  # m02 done, m01 running
        assert jobs[ids[1]]["status"] == "queued" and jobs[ids[1]]["progress_percent"] == 0
        for job_id in ids:
            await finish(engine, job_id)
        body = (await call(client, "GET", f"{API}/batch/{batch_id}")).body
        assert body["status"] == "completed"
        assert all(j["status"] == "completed" for j in body["jobs"])
        assert all(j["progress_percent"] == 100.0 for j in body["jobs"])


async def test_get_unknown_batch_is_404(mock_clock: Any, client: Any) -> None:
    assert_error(await call(client, "GET", f"{API}/batch/batch_20260101000000_deadbeef"), 404)


# ---------------------------------------------------------------------------------------------
# Bad input

INVALID_DOMAINS = [
    "127.0.0.1",
    "[::1]",
    "::1",
    "localhost",
    "costco",
    "costco.com:8080",
    "cost co.com",
    " costco.com",
    "costco.com ",
    "https:costco.com",
    "user@costco.com",
    "costco..com",
    "-costco.com",
    "costco.com?x=1",
    "costco.com#top",
    "costco_shop.com",
    "com",
]
# Paths and URLs contain "/": they may not even reach a route (404 JSON is fine).
SLASHED_DOMAINS = ["costco.com/about", "https://costco.com", "//costco.com", "costco.com/"]


def _domain_endpoints(domain: str) -> Iterable[tuple[str, str]]:
    path = f"{API}/{enc(domain)}"
    return [
        ("POST", path),
        ("GET", f"{path}/status"),
        ("GET", f"{path}/results"),
        ("GET", f"{path}/cache"),
        ("POST", f"{path}/cancel"),
        ("POST", f"{path}/retry"),
    ]


@pytest.mark.parametrize("domain", INVALID_DOMAINS)
async def test_invalid_domains_are_422(mock_clock: Any, client: Any, domain: str) -> None:
    for method, path in _domain_endpoints(domain):
        assert_error(await call(client, method, path), 422, "invalid_domain")
    await assert_nothing_stored(client)


@pytest.mark.parametrize("domain", SLASHED_DOMAINS)
async def test_domains_with_paths_are_refused(mock_clock: Any, client: Any, domain: str) -> None:
    for method, path in _domain_endpoints(domain):
        reply = await call(client, method, path)
        assert reply.status in (404, 422), reply
        assert_error(reply, reply.status)
    await assert_nothing_stored(client)


async def test_unknown_module_lists_valid_ids(mock_clock: Any, client: Any) -> None:
    reply = await start(client, "costco.com", {"modules": [M01, "m99_bogus"]})
    assert_error(reply, 422)
    assert "m99_bogus" in reply.body["message"]
    for mid in ALL:
        assert mid in reply.body["message"]
    await assert_nothing_stored(client)


@pytest.mark.parametrize(
    "body",
    [
        {"waves": [0]},
        {"waves": [5]},
        {"waves": [-1]},
        {"waves": [1, 5]},
        {"waves": ["1"]},
        {"waves": [1.5]},
        {"waves": [True]},
        {"waves": 1},
        {"priority": "urgent"},
        {"priority": "HIGH"},
        {"priority": 1},
        {"force": "yes"},
        {"force": 1},
        {"modules": M01},
        {"modules": [1]},
        {"modules": [None]},
        {"bogus": True},
        {"modules": [M01], "extra": 1},
        [M01],
        "costco",
        42,
    ],
)
async def test_start_rejects_bad_bodies(mock_clock: Any, client: Any, body: Any) -> None:
    assert_error(await start(client, "costco.com", body), 422)
    await assert_nothing_stored(client)


@pytest.mark.parametrize(
    "body", [{"failed_modules_only": "yes"}, {"failed_modules_only": 1}, {"bogus": 1}, []]
)
async def test_retry_rejects_bad_bodies(
    mock_clock: Any, client: Any, engine: Engine, body: Any
) -> None:
    assert_error(await call(client, "POST", f"{API}/costco.com/retry", json_body=body), 422)


@pytest.mark.parametrize("path", [f"{API}/costco.com", f"{API}/batch", f"{API}/costco.com/retry"])
@pytest.mark.parametrize("raw", [b"{bad", b'{"waves": [1]', b"\xff\xfe", b"{'waves': [1]}"])
async def test_malformed_json_is_400(mock_clock: Any, client: Any, path: str, raw: bytes) -> None:
    reply = await call(client, "POST", path, data=raw, headers={"Content-Type": "application/json"})
    assert_error(reply, 400)
    await assert_nothing_stored(client)


@pytest.mark.parametrize("path", [f"{API}/costco.com", f"{API}/batch"])
@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": "big-1"}])
async def test_body_over_one_mib_is_413(
    mock_clock: Any, client: Any, path: str, headers: dict[str, str]
) -> None:
    payload = {"domains": ["costco.com"], "pad": "x" * (1024 * 1024)}
    reply = await call(client, "POST", path, json_body=payload, headers=headers)
    assert_error(reply, 413)
    await assert_nothing_stored(client)


async def test_body_just_under_the_limit_is_read(mock_clock: Any, client: Any) -> None:
    # Whitespace is valid JSON padding; the body is decoded, not refused for its size.
    raw = b'{"waves": [1]' + b" " * (1024 * 1024 - 20) + b"}"
    assert len(raw) <= 1024 * 1024
    reply = await call(
        client, "POST", f"{API}/costco.com", data=raw, headers={"Content-Type": "application/json"}
    )
    assert reply.status == 202, reply


@pytest.mark.parametrize(
    "path", ["/nope", "/api/v1/nothing", f"{API}/costco.com/bogus", f"{API}/costco.com/status/x"]
)
async def test_unknown_routes_are_404_json(mock_clock: Any, client: Any, path: str) -> None:
    assert_error(await call(client, "GET", path), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", f"{API}/costco.com", "POST"),
        ("GET", f"{API}/costco.com", "POST"),
        ("GET", f"{API}/costco.com/cancel", "POST"),
        ("POST", f"{API}/costco.com/status", "GET"),
        ("PUT", API, "GET"),
        ("GET", f"{API}/batch", "POST"),
    ],
)
async def test_wrong_method_is_405_json(
    mock_clock: Any, client: Any, method: str, path: str, allowed: str
) -> None:
    reply = await call(client, method, path)
    assert_error(reply, 405)
    assert allowed in reply.headers.get("Allow", ""), reply.headers
    await assert_nothing_stored(client)
