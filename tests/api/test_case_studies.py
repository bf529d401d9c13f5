"""``/api/v1/case-studies``: the internal case-study database through the API, every error too.

Runs like tests/api/test_api.py: the Quart test client over an engine on a real LMDB store, under
trio's MockClock; ``wall`` is the engine's wall clock (timestamps), moved by hand.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import pytest
import trio

from enrichd.api import Authenticator, create_app
from enrichd.daemon import Engine
from tests.api.test_api import Reply, call
from tests.conftest import TOKEN, FakeWallClock

JSON = {"Content-Type": "application/json"}

CS = "/api/v1/case-studies"
FULL = {
    "id": "larkspur",
    "customer": "Larkspur Home Goods",
    "vertical": "retail",
    "sub_vertical": "home furnishings",
    "use_case": "e-commerce search",
    "size_tier": "enterprise",
    "employee_count": 14500,
    "competitor_displaced": "Elasticsearch",
    "headline_result": "+18% search conversion in 90 days",
    "quote": "Shoppers find what they typed.",
    "url": "https://example.com/customers/larkspur",
}
VIEW_FIELDS = set(FULL) | {"created_at", "updated_at"}


@pytest.fixture(autouse=True)
def _autojump(mock_clock: Any) -> None:
    # Every test takes ``mock_clock`` (pytest-trio only then runs it on the clock).
    mock_clock.autojump_threshold = 0


def assert_error(reply: Reply, status: int, code: str, *mentions: str) -> None:
    """``reply`` is the API's error shape with ``status`` and ``code``, naming ``mentions``."""
    assert reply.status == status, reply
    assert reply.body["error"] == code, reply
    assert isinstance(reply.body["message"], str) and reply.body["message"], reply
    for text in mentions:
        assert text in reply.body["message"], (text, reply)


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def create(client: Any, body: Any, **kw: Any) -> dict[str, Any]:
    reply = await call(client, "POST", CS, json_body=body, **kw)
    assert reply.status == 201, reply
    return reply.body  # type: ignore[no-any-return]


async def listing(client: Any, **query: str) -> dict[str, Any]:
    reply = await call(client, "GET", CS, query=query or None)
    assert reply.status == 200, reply
    return reply.body  # type: ignore[no-any-return]


async def stored_ids(client: Any) -> list[str]:
    return [s["id"] for s in (await listing(client, limit="500"))["case_studies"]]


# -- authentication -----------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", CS),
    ("POST", CS),
    ("GET", f"{CS}/larkspur"),
    ("PUT", f"{CS}/larkspur"),
    ("DELETE", f"{CS}/larkspur"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic test-token", "Bearer"])
async def test_every_endpoint_needs_a_valid_token(
    mock_clock: Any, client: Any, engine: Engine, method: str, path: str, header: str | None
) -> None:
    reply = await call(
        client,
        method,
        path,
        auth=False,
        headers={} if header is None else {"Authorization": header},
        json_body=FULL if method in ("POST", "PUT") else ...,
    )
    assert_error(reply, 401, "unauthorized")
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert engine.store.list_case_studies() == []


# -- create -------------------------------------------------------------------------------------


async def test_create_answers_201_with_the_record_and_its_location(
    mock_clock: Any, client: Any, engine: Engine, wall: FakeWallClock
) -> None:
    reply = await call(client, "POST", CS, json_body=FULL)
    assert reply.status == 201, reply
    assert reply.headers["Location"] == f"{CS}/larkspur"
    assert reply.body == {**FULL, "created_at": iso(wall.now), "updated_at": iso(wall.now)}
    got = await call(client, "GET", f"{CS}/larkspur")
    assert got.status == 200 and got.body == reply.body
    # Module m13 reads the same store.
    (stored,) = engine.store.list_case_studies()
    assert stored.id == "larkspur" and stored.created_at == wall.now


async def test_create_without_an_id_makes_one_and_normalises(
    mock_clock: Any, client: Any, engine: Engine
) -> None:
    body = await create(
        client,
        {
            "customer": "  Tinbird Toys ",
            "vertical": "e-commerce",
            "employee_count": 45,
            "quote": "   ",
            "competitor_displaced": "none",
        },
    )
    assert re.fullmatch(r"cs_[0-9a-f]{12}", body["id"]), body
    assert body["customer"] == "Tinbird Toys"
    assert body["size_tier"] == "startup"  # derived from employee_count
    assert body["quote"] is None and body["competitor_displaced"] is None
    assert set(body) == VIEW_FIELDS
    assert (await call(client, "GET", f"{CS}/{body['id']}")).status == 200


async def test_size_tier_thresholds_come_from_the_config(
    mock_clock: Any, engine_factory: Any
) -> None:
    thresholds = {"enterprise_employees": 500, "mid_market_employees": 50, "smb_employees": 5}
    async with engine_factory(intel={"case_studies": thresholds}) as engine:
        engine.config.auth.token_sha256 = [hashlib.sha256(TOKEN.encode()).hexdigest()]
        client = create_app(engine, Authenticator(engine.config, engine.store)).test_client()
        body = await create(client, {"customer": "A", "vertical": "retail", "employee_count": 600})
        assert body["size_tier"] == "enterprise"


async def test_create_with_an_existing_id_is_409(mock_clock: Any, client: Any) -> None:
    await create(client, FULL)
    reply = await call(client, "POST", CS, json_body={**FULL, "customer": "Someone Else"})
    assert_error(reply, 409, "case_study_exists", "larkspur", "PUT")
    assert reply.body["details"] == {"id": "larkspur"}
    assert (await call(client, "GET", f"{CS}/larkspur")).body["customer"] == FULL["customer"]


async def test_concurrent_creates_of_one_id_make_one_record(mock_clock: Any, client: Any) -> None:
    statuses: list[int] = []

    async def one(customer: str) -> None:
        reply = await call(client, "POST", CS, json_body={**FULL, "customer": customer})
        statuses.append(reply.status)

    async with trio.open_nursery() as nursery:
        for i in range(5):
            nursery.start_soon(one, f"Customer {i}")
    assert sorted(statuses) == [201, 409, 409, 409, 409]
    assert await stored_ids(client) == ["larkspur"]


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"customer": "   "}, "customer", "required"),
        ({"vertical": ""}, "vertical", "required"),
        ({"customer": "x" * 201}, "customer", "at most 200"),
        ({"quote": "x" * 2001}, "quote", "at most 2000"),
        ({"url": "example.com/customers/x"}, "url", "absolute http(s) URL"),
        ({"url": "ftp://example.com/x"}, "url", "absolute http(s) URL"),
        ({"employee_count": -1}, "employee_count", "between 0 and 100000000"),
        ({"employee_count": 100_000_001}, "employee_count", "between 0 and 100000000"),
        ({"employee_count": 10**30}, "employee_count", "between 0 and 100000000"),
        ({"size_tier": "huge"}, "size_tier", "enterprise, mid-market, smb, startup"),
        ({"id": "has space"}, "id", "letters, digits"),
        ({"id": "-leading-dash"}, "id", "letters, digits"),
        ({"id": "x" * 65}, "id", "letters, digits"),
    ],
)
async def test_create_refuses_invalid_fields_with_422_naming_them(
    mock_clock: Any, client: Any, change: dict[str, Any], field: str, fragment: str
) -> None:
    reply = await call(client, "POST", CS, json_body={**FULL, **change})
    assert_error(reply, 422, "invalid_case_study", f"{field}: ", fragment)
    assert [e["field"] for e in reply.body["details"]["errors"]] == [field]
    assert await stored_ids(client) == []


async def test_every_invalid_field_is_named_at_once(mock_clock: Any, client: Any) -> None:
    body = {**FULL, "customer": "", "url": "nope", "size_tier": "big"}
    reply = await call(client, "POST", CS, json_body=body)
    assert_error(reply, 422, "invalid_case_study", "customer", "url", "size_tier")
    fields = {e["field"] for e in reply.body["details"]["errors"]}
    assert fields == {"customer", "url", "size_tier"}


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({**FULL, "employee_count": "12"}, ["$.employee_count"]),
        ({**FULL, "employee_count": 1.5}, ["$.employee_count"]),
        ({**FULL, "quote": 7}, ["$.quote"]),
        ({**FULL, "created_at": "2026-01-01T00:00:00Z"}, ["created_at"]),
        ({**FULL, "bogus": 1}, ["bogus"]),
        ({"vertical": "retail"}, ["customer"]),
        ([FULL], ["array"]),
    ],
)
async def test_wrong_types_unknown_and_missing_fields_are_422(
    mock_clock: Any, client: Any, body: Any, mentions: list[str]
) -> None:
    reply = await call(client, "POST", CS, json_body=body)
    assert_error(reply, 422, "invalid_body", *mentions)
    assert await stored_ids(client) == []


@pytest.mark.parametrize("raw", [b"{", b'{"customer": "A",', b'{"bogus": 1', b"not json"])
async def test_malformed_json_is_400(mock_clock: Any, client: Any, raw: bytes) -> None:
    assert_error(await call(client, "POST", CS, data=raw, headers=JSON), 400, "malformed_json")
    await create(client, FULL)
    assert_error(
        await call(client, "PUT", f"{CS}/larkspur", data=raw, headers=JSON), 400, "malformed_json"
    )


async def test_an_empty_body_is_422(mock_clock: Any, client: Any) -> None:
    assert_error(
        await call(client, "POST", CS, data=b"", headers=JSON), 422, "invalid_body", "customer"
    )


async def test_idempotency_key_replays_the_first_create(mock_clock: Any, client: Any) -> None:
    body = {k: v for k, v in FULL.items() if k != "id"}
    key = {"Idempotency-Key": "cs-create-1"}
    first = await call(client, "POST", CS, json_body=body, headers=key)
    assert first.status == 201
    again = await call(client, "POST", CS, json_body=body, headers=key)
    assert again.status == 201 and again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await stored_ids(client) == [first.body["id"]]
    other = await call(client, "POST", CS, json_body={**body, "quote": "x"}, headers=key)
    assert_error(other, 409, "idempotency_key_reused")
    # Without a key, the same body is a second case study.
    await create(client, body)
    assert len(await stored_ids(client)) == 2


async def test_refused_creates_are_not_remembered_by_idempotency_key(
    mock_clock: Any, client: Any
) -> None:
    key = {"Idempotency-Key": "cs-create-2"}
    bad = await call(client, "POST", CS, json_body={**FULL, "url": "nope"}, headers=key)
    assert bad.status == 422
    good = await call(client, "POST", CS, json_body=FULL, headers=key)
    assert good.status == 201


# -- read and list ------------------------------------------------------------------------------


async def test_get_unknown_is_404(mock_clock: Any, client: Any) -> None:
    for path in (f"{CS}/nope", f"{CS}/has%20space", f"{CS}/..x"):
        assert_error(await call(client, "GET", path), 404, "case_study_not_found")


async def test_list_is_sorted_by_customer_and_filters_by_vertical(
    mock_clock: Any, client: Any
) -> None:
    for i, (customer, vertical) in enumerate(
        [("zeta", "Retail"), ("Acme", "media"), ("beta", "retail"), ("acme", "retail")]
    ):
        await create(client, {"id": f"c{i}", "customer": customer, "vertical": vertical})
    body = await listing(client)
    assert [s["id"] for s in body["case_studies"]] == ["c1", "c3", "c2", "c0"]
    assert (body["total"], body["limit"], body["offset"]) == (4, 100, 0)
    assert set(body["case_studies"][0]) == VIEW_FIELDS
    retail = await listing(client, vertical=" RETAIL ")
    assert [s["id"] for s in retail["case_studies"]] == ["c3", "c2", "c0"]
    assert retail["total"] == 3
    assert (await listing(client, vertical="finance")) == {
        "case_studies": [],
        "total": 0,
        "limit": 100,
        "offset": 0,
    }


async def test_list_pages_with_limit_and_offset(mock_clock: Any, client: Any) -> None:
    for i in range(7):
        await create(client, {"id": f"c{i}", "customer": f"Customer {i}", "vertical": "retail"})
    page = await listing(client, limit="3", offset="2")
    assert [s["id"] for s in page["case_studies"]] == ["c2", "c3", "c4"]
    assert (page["total"], page["limit"], page["offset"]) == (7, 3, 2)
    assert (await listing(client, offset="7"))["case_studies"] == []
    assert len((await listing(client, limit="500"))["case_studies"]) == 7
    assert len((await listing(client, limit="1"))["case_studies"]) == 1


@pytest.mark.parametrize(
    ("query", "code", "mention"),
    [
        ({"limit": "0"}, "invalid_limit", "between 1 and 500"),
        ({"limit": "501"}, "invalid_limit", "between 1 and 500"),
        ({"limit": "ten"}, "invalid_limit", "whole number"),
        ({"offset": "-1"}, "invalid_offset", "at least 0"),
        ({"vertical": " "}, "invalid_vertical", "vertical"),
    ],
)
async def test_list_parameters_out_of_bounds_are_422(
    mock_clock: Any, client: Any, query: dict[str, str], code: str, mention: str
) -> None:
    assert_error(await call(client, "GET", CS, query=query), 422, code, mention)


# -- replace ------------------------------------------------------------------------------------


async def test_put_replaces_every_field_and_keeps_created_at(
    mock_clock: Any, client: Any, wall: FakeWallClock
) -> None:
    created = await create(client, FULL)
    wall.advance(3600)
    reply = await call(
        client,
        "PUT",
        f"{CS}/larkspur",
        json_body={"customer": "Larkspur Home", "vertical": "retail", "employee_count": 2000},
    )
    assert reply.status == 200, reply
    assert reply.body == {
        "id": "larkspur",
        "customer": "Larkspur Home",
        "vertical": "retail",
        # A full replace: what the body leaves out is gone.
        "sub_vertical": None,
        "use_case": None,
        "size_tier": "mid-market",
        "employee_count": 2000,
        "competitor_displaced": None,
        "headline_result": None,
        "quote": None,
        "url": None,
        "created_at": created["created_at"],
        "updated_at": iso(wall.now),
    }
    assert (await call(client, "GET", f"{CS}/larkspur")).body == reply.body


async def test_put_with_the_same_id_in_the_body_is_fine(mock_clock: Any, client: Any) -> None:
    await create(client, FULL)
    reply = await call(client, "PUT", f"{CS}/larkspur", json_body={**FULL, "quote": "New"})
    assert reply.status == 200 and reply.body["quote"] == "New"


async def test_put_with_another_id_in_the_body_is_422(mock_clock: Any, client: Any) -> None:
    await create(client, FULL)
    reply = await call(client, "PUT", f"{CS}/larkspur", json_body={**FULL, "id": "other"})
    assert_error(reply, 422, "id_mismatch", "id", "'other'", "'larkspur'")
    assert await stored_ids(client) == ["larkspur"]


async def test_put_unknown_is_404(mock_clock: Any, client: Any) -> None:
    reply = await call(client, "PUT", f"{CS}/nope", json_body={**FULL, "id": "nope"})
    assert_error(reply, 404, "case_study_not_found", "nope")
    assert await stored_ids(client) == []


async def test_put_invalid_fields_are_422_and_change_nothing(mock_clock: Any, client: Any) -> None:
    created = await create(client, FULL)
    reply = await call(client, "PUT", f"{CS}/larkspur", json_body={**FULL, "url": "nope"})
    assert_error(reply, 422, "invalid_case_study", "url")
    unknown = await call(client, "PUT", f"{CS}/larkspur", json_body={**FULL, "extra": 1})
    assert_error(unknown, 422, "invalid_body", "extra")
    assert (await call(client, "GET", f"{CS}/larkspur")).body == created


# -- delete -------------------------------------------------------------------------------------


async def test_delete_answers_204_then_the_record_is_gone(
    mock_clock: Any, client: Any, engine: Engine
) -> None:
    await create(client, FULL)
    await create(client, {**FULL, "id": "keep"})
    reply = await call(client, "DELETE", f"{CS}/larkspur")
    assert reply.status == 204
    assert_error(await call(client, "GET", f"{CS}/larkspur"), 404, "case_study_not_found")
    assert_error(await call(client, "DELETE", f"{CS}/larkspur"), 404, "case_study_not_found")
    assert [s.id for s in engine.store.list_case_studies()] == ["keep"]


async def test_wrong_methods_are_405(mock_clock: Any, client: Any) -> None:
    reply = await call(client, "POST", f"{CS}/larkspur", json_body=FULL)
    assert_error(reply, 405, "method_not_allowed")
    assert {"GET", "PUT", "DELETE"} <= set(reply.headers["Allow"].split(", "))
    assert_error(await call(client, "DELETE", CS), 405, "method_not_allowed")
