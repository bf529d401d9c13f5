"""enrichd.client: the sync client against canned answers (httpx.MockTransport), the async one
against the real API application (httpx.ASGITransport) under trio.

Both clients share the request building and the decoding, so the sync tests cover the core
(paths, queries, bodies, every error class) and the async tests prove it against the real routes.
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from enrichd.api import Authenticator, create_app
from enrichd.api._schemas import (
    BatchResponse,
    CacheResponse,
    CancelResponse,
    CaseStudyListResponse,
    CaseStudyView,
    JobCreated,
    JobListResponse,
    JobStatusResponse,
    ResultsResponse,
)
from enrichd.client import (
    AsyncClient,
    Client,
    Conflict,
    EnrichdError,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
    WaitTimeout,
)
from enrichd.daemon import Engine
from tests.conftest import TOKEN

BASE = "http://enrichd.test"
JOB_ID = "enrich_costco_com_20260226103500_0a1b2c3d"
BATCH_ID = "batch_20260226103500_0a1b2c3d"
WHEN = "2026-02-26T10:35:00Z"

# --- recorded-shape answers -----------------------------------------------------------------

JOB_CREATED = {
    "job_id": JOB_ID,
    "domain": "costco.com",
    "status": "queued",
    "modules": ["m01_company_context"],
    "waves": [1],
    "priority": "normal",
    "force": False,
    "estimated_time_seconds": 4,
    "created_at": WHEN,
    "requested_modules": ["m01_company_context"],
    "retry_of": None,
}


def job_status(status: str = "completed") -> dict[str, Any]:
    """A status answer with one wave of one module."""
    done = status == "completed"
    return {
        "job_id": JOB_ID,
        "domain": "costco.com",
        "status": status,
        "priority": "normal",
        "force": False,
        "progress_percent": 100.0 if done else 0.0,
        "current_wave": None if done else 1,
        "current_module": None if done else "m01_company_context",
        "modules_total": 1,
        "modules_completed": 1 if done else 0,
        "modules_failed": 0,
        "waves": [
            {
                "wave_number": 1,
                "status": status,
                "modules": [
                    {
                        "module_id": "m01_company_context",
                        "status": status,
                        "duration_seconds": 1.5 if done else None,
                        "data_points_collected": 12 if done else None,
                        "source": "fake",
                        "source_url": "https://fake.example/m01",
                        "cached": False,
                        "stale": False,
                        "error": None,
                        "message": None,
                    }
                ],
                "started_at": WHEN,
                "completed_at": WHEN if done else None,
            }
        ],
        "errors": [],
        "created_at": WHEN,
        "started_at": WHEN,
        "completed_at": WHEN if done else None,
        "duration_seconds": 1.5 if done else None,
        "estimated_time_seconds": 0 if done else 4,
        "batch_id": None,
        "retry_of": None,
    }


RESULTS = {
    "domain": "costco.com",
    "job_id": JOB_ID,
    "status": "completed",
    "completed_at": WHEN,
    "results": {"m01_company_context": {"name": "Costco"}},
    "module_statuses": {
        "m01_company_context": {
            "status": "completed",
            "duration_ms": 1500,
            "cached": False,
            "data_points": 12,
            "stale": False,
            "source": "fake",
            "error": None,
            "message": None,
            "warnings": ["one warning"],
        }
    },
    "cached_modules": [],
    "failed_modules": [],
    "source_citations": {"m01_company_context": [{"url": "https://x.example", "title": "X"}]},
}
BATCH = {
    "batch_id": BATCH_ID,
    "status": "queued",
    "total_domains": 2,
    "queued_count": 1,
    "skipped_count": 1,
    "jobs": [{"job_id": JOB_ID, "domain": "costco.com", "status": "queued"}],
    "skipped": [{"domain": "nope", "reason": "invalid_domain", "message": "not a domain"}],
    "estimated_time_seconds": 4,
    "created_at": WHEN,
    "concurrency": 5,
}
CANCELLED = {
    "job_id": JOB_ID,
    "status": "cancelled",
    "message": "Job cancelled.",
    "modules_completed": 0,
}
CACHE = {
    "domain": "costco.com",
    "modules": [
        {
            "module_id": "m01_company_context",
            "is_cached": True,
            "cached_at": WHEN,
            "freshness": "fresh",
            "ttl_remaining_seconds": 100,
            "ttl_seconds": 200,
            "expires_at": WHEN,
            "source": "fake",
        }
    ],
    "overall_freshness": "fresh",
    "last_enrichment": WHEN,
    "stale_modules": [],
}
JOB_LIST = {
    "jobs": [
        {
            "job_id": JOB_ID,
            "domain": "costco.com",
            "status": "completed",
            "progress_percent": 100.0,
            "modules_total": 1,
            "modules_completed": 1,
            "modules_failed": 0,
            "priority": "high",
            "created_at": WHEN,
            "started_at": WHEN,
            "completed_at": WHEN,
            "batch_id": None,
        }
    ],
    "total": 1,
    "running_count": 0,
    "queued_count": 0,
    "limit": 10,
    "offset": 5,
}
CASE_STUDY = {
    "id": "cs-larkspur",
    "customer": "Larkspur Home Goods",
    "vertical": "retail",
    "sub_vertical": None,
    "use_case": None,
    "size_tier": None,
    "employee_count": 800,
    "competitor_displaced": None,
    "headline_result": None,
    "quote": None,
    "url": None,
    "created_at": WHEN,
    "updated_at": WHEN,
}
HEALTH = {"status": "ok", "queued": 0, "running": 0, "plugins": [], "sources": {}}


class Canned:
    """A MockTransport handler: answers queued per (method, path), requests recorded."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], httpx.Response] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, status: int = 200, body: Any = None, **kw: Any) -> None:
        """Answer ``method path`` (the raw, still-quoted path) with ``body`` as JSON."""
        content = b"" if body is None else json.dumps(body).encode()
        self.answers[method, path] = httpx.Response(status, content=content, **kw)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers[request.method, request.url.raw_path.split(b"?")[0].decode()]

    @property
    def last(self) -> httpx.Request:
        """The last request sent."""
        return self.requests[-1]


@pytest.fixture
def canned_api() -> Canned:
    """A fresh handler."""
    return Canned()


@pytest.fixture
def sync(canned_api: Canned) -> Iterator[Client]:
    """A sync client with token ``TOKEN`` answering from ``canned_api``."""
    with Client(BASE, TOKEN, transport=httpx.MockTransport(canned_api)) as client:
        yield client


# --- sync client: requests and decoding ---------------------------------------------------------


def test_start_sends_the_body_and_decodes_job_created(sync: Client, canned_api: Canned) -> None:
    canned_api.on("POST", "/api/v1/enrich/costco.com", 202, JOB_CREATED)
    job = sync.start("costco.com", waves=[1], priority="high", idempotency_key="k1")
    assert isinstance(job, JobCreated)
    assert job.job_id == JOB_ID and job.modules == ["m01_company_context"]
    request = canned_api.last
    assert json.loads(request.content) == {
        "modules": None,
        "waves": [1],
        "force": False,
        "priority": "high",
    }
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Idempotency-Key"] == "k1"
    assert request.headers["Content-Type"] == "application/json"


def test_domains_and_ids_are_quoted_in_paths(sync: Client, canned_api: Canned) -> None:
    canned_api.on("GET", "/api/v1/enrich/b%C3%BCcher.de/status", 200, job_status())
    canned_api.on("GET", "/api/v1/case-studies/a%2Fb%3Fc", 200, CASE_STUDY)
    sync.status("bücher.de")
    sync.get_case_study("a/b?c")
    assert [r.url.raw_path for r in canned_api.requests] == [
        b"/api/v1/enrich/b%C3%BCcher.de/status",
        b"/api/v1/case-studies/a%2Fb%3Fc",
    ]


def test_base_url_path_prefix_is_kept(canned_api: Canned) -> None:
    canned_api.on("GET", "/enrichd/api/v1/enrich/costco.com/cache", 200, CACHE)
    transport = httpx.MockTransport(canned_api)
    with Client(f"{BASE}/enrichd", TOKEN, transport=transport) as client:
        assert client.cache("costco.com").domain == "costco.com"


def test_batch_and_batch_status(sync: Client, canned_api: Canned) -> None:
    canned_api.on("POST", "/api/v1/enrich/batch", 202, BATCH)
    canned_api.on(
        "GET", f"/api/v1/enrich/batch/{BATCH_ID}", 200, {**BATCH, "progress_percent": 50.0}
    )
    batch = sync.batch(["costco.com", "nope"], modules=["m01_company_context"], concurrency=5)
    assert isinstance(batch, BatchResponse)
    assert batch.skipped[0].reason == "invalid_domain"
    assert json.loads(canned_api.last.content) == {
        "domains": ["costco.com", "nope"],
        "modules": ["m01_company_context"],
        "waves": None,
        "force": False,
        "priority": "normal",
        "concurrency": 5,
    }
    assert sync.batch_status(BATCH_ID).progress_percent == 50.0


def test_status_results_cancel_and_retry(sync: Client, canned_api: Canned) -> None:
    path = "/api/v1/enrich/costco.com"
    canned_api.on("GET", f"{path}/status", 200, job_status())
    canned_api.on("GET", f"{path}/results", 200, RESULTS)
    canned_api.on("POST", f"{path}/cancel", 200, CANCELLED)
    canned_api.on("POST", f"{path}/retry", 202, {**JOB_CREATED, "retry_of": JOB_ID})

    status = sync.status("costco.com", JOB_ID)
    assert isinstance(status, JobStatusResponse)
    assert status.waves[0].modules[0].data_points_collected == 12
    assert canned_api.last.url.params["job_id"] == JOB_ID

    results = sync.results("costco.com", modules=["m01_company_context", "m02_tech_stack"])
    assert isinstance(results, ResultsResponse)
    assert results.module_statuses["m01_company_context"].warnings == ["one warning"]
    assert results.source_citations["m01_company_context"][0].title == "X"
    assert dict(canned_api.last.url.params) == {"modules": "m01_company_context,m02_tech_stack"}

    cancelled = sync.cancel("costco.com")
    assert isinstance(cancelled, CancelResponse) and cancelled.status == "cancelled"
    assert not canned_api.last.url.params

    retried = sync.retry("costco.com", failed_modules_only=False)
    assert retried.retry_of == JOB_ID
    assert json.loads(canned_api.last.content) == {"failed_modules_only": False}


def test_cache_jobs_and_health(sync: Client, canned_api: Canned) -> None:
    canned_api.on("GET", "/api/v1/enrich/costco.com/cache", 200, CACHE)
    canned_api.on("GET", "/api/v1/enrich", 200, JOB_LIST)
    canned_api.on("GET", "/healthz", 200, HEALTH)
    cache = sync.cache("costco.com")
    assert isinstance(cache, CacheResponse) and cache.modules[0].freshness == "fresh"
    jobs = sync.jobs(status="completed", limit=10, offset=5)
    assert isinstance(jobs, JobListResponse) and jobs.jobs[0].priority == "high"
    assert dict(canned_api.last.url.params) == {"status": "completed", "limit": "10", "offset": "5"}
    assert sync.health() == HEALTH


def test_health_returns_the_503_document_of_a_starting_daemon(
    sync: Client, canned_api: Canned
) -> None:
    canned_api.on("GET", "/healthz", 503, {**HEALTH, "status": "starting"})
    assert sync.health()["status"] == "starting"


def test_case_study_calls(sync: Client, canned_api: Canned) -> None:
    path = "/api/v1/case-studies"
    canned_api.on(
        "GET", path, 200, {"case_studies": [CASE_STUDY], "total": 1, "limit": 100, "offset": 0}
    )
    canned_api.on("POST", path, 201, CASE_STUDY)
    canned_api.on("PUT", f"{path}/cs-larkspur", 200, {**CASE_STUDY, "quote": "q"})
    canned_api.on("DELETE", f"{path}/cs-larkspur", 204)

    listed = sync.list_case_studies(vertical="retail")
    assert isinstance(listed, CaseStudyListResponse) and listed.case_studies[0].id == "cs-larkspur"
    assert dict(canned_api.last.url.params) == {"vertical": "retail", "limit": "100", "offset": "0"}
    record = {"customer": "Larkspur Home Goods", "vertical": "retail"}
    created = sync.create_case_study(record, idempotency_key="k")
    assert isinstance(created, CaseStudyView) and created.employee_count == 800
    assert json.loads(canned_api.last.content) == record
    assert sync.replace_case_study("cs-larkspur", {**record, "quote": "q"}).quote == "q"
    sync.delete_case_study("cs-larkspur")
    assert (canned_api.last.method, canned_api.last.url.path) == (
        "DELETE",
        "/api/v1/case-studies/cs-larkspur",
    )


# --- sync client: errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (401, "unauthorized", Unauthorized),
        (404, "job_not_found", NotFound),
        (409, "job_active", Conflict),
        (429, "rate_limited", RateLimited),
        (503, "shutting_down", Unavailable),
        (422, "invalid_domain", EnrichdError),
        (400, "malformed_json", EnrichdError),
    ],
)
def test_error_bodies_raise_their_class(
    sync: Client, canned_api: Canned, status: int, code: str, cls: type[EnrichdError]
) -> None:
    details = {"job_id": JOB_ID}
    canned_api.on(
        "GET",
        "/api/v1/enrich/costco.com/status",
        status,
        {"error": code, "message": "m", "details": details},
    )
    with pytest.raises(cls) as info:
        sync.status("costco.com")
    assert type(info.value) is cls
    error = info.value
    assert (error.status_code, error.error, error.message, error.details) == (
        status,
        code,
        "m",
        details,
    )
    assert str(error) == "m"
    assert error.retry_after is None


def test_rate_limited_carries_retry_after(sync: Client, canned_api: Canned) -> None:
    body = {"error": "rate_limited", "message": "too many requests", "details": {"retry_after": 2}}
    canned_api.on("GET", "/api/v1/enrich", 429, body, headers={"Retry-After": "3"})
    with pytest.raises(RateLimited) as info:
        sync.jobs()
    assert info.value.retry_after == 3.0  # the header wins over the body


def test_retry_after_falls_back_to_the_body(sync: Client, canned_api: Canned) -> None:
    body = {"error": "rate_limited", "message": "too many requests", "details": {"retry_after": 2}}
    canned_api.on("GET", "/api/v1/enrich", 429, body)
    with pytest.raises(RateLimited) as info:
        sync.jobs()
    assert info.value.retry_after == 2.0


def test_non_json_error_from_a_proxy(sync: Client, canned_api: Canned) -> None:
    canned_api.answers["GET", "/api/v1/enrich"] = httpx.Response(
        502, text="<html>Bad Gateway</html>"
    )
    with pytest.raises(Unavailable) as info:
        sync.jobs()
    assert info.value.error == "http_502"
    assert "Bad Gateway" in info.value.message


def test_malformed_success_body(sync: Client, canned_api: Canned) -> None:
    canned_api.on("GET", "/api/v1/enrich/costco.com/cache", 200, {"domain": "costco.com"})
    with pytest.raises(EnrichdError) as info:
        sync.cache("costco.com")
    assert info.value.error == "malformed_response"


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unreachable_daemon_is_unavailable() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with Client(url, TOKEN) as client, pytest.raises(Unavailable) as info:
        client.health()
    assert info.value.status_code is None
    assert info.value.error == "unreachable"
    assert f"daemon unreachable at {url}" in info.value.message


def test_timeout_is_unavailable() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with (
        Client(BASE, transport=httpx.MockTransport(hang)) as client,
        pytest.raises(Unavailable) as info,
    ):
        client.health()
    assert info.value.error == "timeout"


# --- token --------------------------------------------------------------------------------------


@pytest.fixture
def no_token_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Neither token variable set."""
    monkeypatch.delenv("ENRICHD_API_TOKEN", raising=False)
    monkeypatch.delenv("ENRICHD_API_TOKEN_FILE", raising=False)
    return monkeypatch


def sent_token(token: str | None = None) -> str | None:
    """The Authorization header a client made with ``token`` sends."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=HEALTH)

    with Client(BASE, token, transport=httpx.MockTransport(handler)) as client:
        client.health()
    header: str | None = seen[0].headers.get("Authorization")
    return header


def test_token_from_argument_env_and_file(no_token_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert sent_token() is None
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    no_token_env.setenv("ENRICHD_API_TOKEN_FILE", str(token_file))
    assert sent_token() == "Bearer from-file"
    no_token_env.setenv("ENRICHD_API_TOKEN", "from-env")
    assert sent_token() == "Bearer from-env"
    assert sent_token("from-arg") == "Bearer from-arg"


def test_unreadable_token_file(no_token_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_token_env.setenv("ENRICHD_API_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(EnrichdError, match="cannot read the API token file"):
        Client(BASE)


# --- wait ---------------------------------------------------------------------------------------


def sequence_handler(statuses: list[str]) -> Callable[[httpx.Request], httpx.Response]:
    """Answers status requests with ``statuses`` in turn, then the last one forever."""
    answers = iter(statuses)
    last = statuses[-1]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=job_status(next(answers, last)))

    return handler


def test_wait_polls_until_a_terminal_state(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("enrichd.client.time.sleep", slept.append)
    transport = httpx.MockTransport(sequence_handler(["queued", "running", "completed"]))
    with Client(BASE, TOKEN, transport=transport) as client:
        status = client.wait("costco.com", JOB_ID, poll=0.5)
    assert status.status == "completed"
    assert slept == [0.5, 0.5]


def test_wait_times_out() -> None:
    transport = httpx.MockTransport(sequence_handler(["running"]))
    with Client(BASE, TOKEN, transport=transport) as client, pytest.raises(WaitTimeout) as info:
        client.wait("costco.com", JOB_ID, poll=0.01, timeout=0.05)
    assert isinstance(info.value, TimeoutError)
    assert info.value.details == {"job_id": JOB_ID, "status": "running"}


# --- async client against the real application ---------------------------------------------------


def asgi_client(engine: Engine, token: str | None = TOKEN) -> AsyncClient:
    """An AsyncClient calling the API application of ``engine`` in-process."""
    engine.config.auth.token_sha256 = [hashlib.sha256(TOKEN.encode()).hexdigest()]
    # QuartTrio's __call__ is typed with its own ASGI types, which httpx's alias does not match.
    app: Any = create_app(engine, Authenticator(engine.config, engine.store))
    return AsyncClient(BASE, token, transport=httpx.ASGITransport(app=app))


@pytest.fixture
async def api(engine: Engine) -> AsyncIterator[AsyncClient]:
    """An AsyncClient on the default engine's application."""
    async with asgi_client(engine) as client:
        yield client


async def test_async_job_lifecycle(autojump: Any, api: AsyncClient) -> None:
    job = await api.start("Costco.com", waves=[1])
    assert job.domain == "costco.com" and job.status == "queued"
    done = await api.wait(job.domain, job.job_id, poll=0.5, timeout=600)
    assert done.status == "completed" and done.modules_failed == 0

    results = await api.results("costco.com", job.job_id)
    assert set(results.results) == set(job.modules)
    assert (await api.results("costco.com", modules=["m01_company_context"])).results.keys() == {
        "m01_company_context"
    }
    assert (await api.cache("costco.com")).modules[0].is_cached
    listed = await api.jobs(domain="costco.com")
    assert [j.job_id for j in listed.jobs] == [job.job_id]
    assert (await api.health())["status"] == "ok"

    with pytest.raises(Conflict) as cancel:
        await api.cancel("costco.com", job.job_id)
    assert cancel.value.error == "job_finished"
    with pytest.raises(Conflict) as retry:
        await api.retry("costco.com")
    assert retry.value.error == "nothing_to_retry"


async def test_async_cancel_and_batch(autojump: Any, api: AsyncClient) -> None:
    batch = await api.batch(["walmart.com", "not a domain"], waves=[1], concurrency=1)
    assert batch.queued_count == 1 and batch.skipped[0].domain == "not a domain"
    cancelled = await api.cancel("walmart.com", batch.jobs[0].job_id)
    assert cancelled.status == "cancelled"
    status = await api.batch_status(batch.batch_id)
    assert status.jobs[0].status == "cancelled"


async def test_async_errors_from_the_real_app(autojump: Any, engine: Engine) -> None:
    async with asgi_client(engine) as client:
        with pytest.raises(NotFound) as missing:
            await client.status("costco.com")
        assert missing.value.status_code == 404
        with pytest.raises(EnrichdError) as invalid:
            await client.start("localhost")
        assert (invalid.value.status_code, invalid.value.error) == (422, "invalid_domain")
        with pytest.raises(NotFound):
            await client.batch_status("batch_nope")
    async with asgi_client(engine, token="wrong") as client:
        with pytest.raises(Unauthorized):
            await client.jobs()


async def test_async_rate_limit_from_the_real_app(autojump: Any, engine_factory: Any) -> None:
    limits = {"rate_limit_per_second": 0.5, "rate_limit_burst": 1}
    async with engine_factory(server=limits) as engine, asgi_client(engine) as client:
        await client.jobs()
        with pytest.raises(RateLimited) as info:
            await client.jobs()
    assert info.value.retry_after == 2.0
    assert info.value.details == {"retry_after": 2}


async def test_async_case_studies(autojump: Any, api: AsyncClient) -> None:
    record = {"id": "cs-larkspur", "customer": "Larkspur Home Goods", "vertical": "retail"}
    created = await api.create_case_study(record)
    assert created.customer == "Larkspur Home Goods"
    with pytest.raises(Conflict) as exists:
        await api.create_case_study(record)
    assert exists.value.details == {"id": "cs-larkspur"}
    replaced = await api.replace_case_study("cs-larkspur", {**record, "employee_count": 800})
    assert replaced.employee_count == 800
    assert (await api.get_case_study("cs-larkspur")).employee_count == 800
    assert (await api.list_case_studies(vertical="Retail")).total == 1
    await api.delete_case_study("cs-larkspur")
    with pytest.raises(NotFound):
        await api.get_case_study("cs-larkspur")


async def test_async_wait_uses_the_injected_sleep(autojump: Any, engine: Engine) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await trio.sleep(seconds)

    async with asgi_client(engine) as client:
        client._sleep = sleep
        job = await client.start("costco.com", waves=[1])
        assert (await client.wait(job.domain, job.job_id, poll=0.001)).status == "completed"
    assert slept and set(slept) == {0.001}


async def test_async_wait_times_out(autojump: Any) -> None:
    transport = httpx.MockTransport(sequence_handler(["running"]))
    async with AsyncClient(BASE, TOKEN, transport=transport) as client:
        with pytest.raises(WaitTimeout):
            await client.wait("costco.com", JOB_ID, poll=1.0, timeout=5.0)


async def test_async_unreachable_daemon_is_unavailable() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with AsyncClient(url, TOKEN) as client:
        with pytest.raises(Unavailable, match=f"daemon unreachable at {url}"):
            await client.jobs()
