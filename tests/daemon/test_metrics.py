"""``GET /metrics``: what real jobs do to the counters, the scrape-time gauges, and the endpoint.

Jobs run the built-in SimilarWeb module m05 against the canned loopback server, so every counter
is moved by the code paths production takes (source actor, supervisor, cache).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import msgspec
import trio
from prometheus_client.parser import text_string_to_metric_families

from enrichd import __version__
from enrichd.config import Config
from enrichd.daemon import Engine
from enrichd.daemon._engine import JobRequest
from enrichd.daemon._metrics import CONTENT_TYPE_LATEST, Metrics
from enrichd.daemon._server import serve
from enrichd.sandbox import HttpResponse
from tests.api.test_api import make_client
from tests.canned import CannedServer
from tests.conftest import AUTH, BUILTIN, TOKEN, make_config, wait_for_status

M05 = "m05_competitors"
TERMINAL = {"completed", "failed", "cancelled"}
SITES: dict[str, Any] = {
    "meta": {"status": "Success"},
    "similar_sites": [{"url": "foxnews.com", "score": 0.9}],
}


def similar_sites(domain: str) -> str:
    return f"/v1/website/{domain}/similar-sites/similarsites"


def similarweb(canned: CannedServer, **settings: Any) -> dict[str, dict[str, Any]]:
    return {"similarweb": {"base_url": canned.url, "api_key": "sw-key", **settings}}


def samples(engine: Engine) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, by (name, labels)."""
    text = engine.metrics.render().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(engine: Engine, name: str, **labels: str) -> float | None:
    """One sample's value, or None if the scrape has no such sample."""
    return samples(engine).get((name, frozenset(labels.items())))


async def run_job(engine: Engine, domain: str, **request: Any) -> Any:
    job = await engine.start_job(domain, JobRequest(modules=[M05], **request))
    return await wait_for_status(engine, job.job_id, TERMINAL)


async def test_a_job_then_a_cache_hit(
    autojump: Any, engine_factory: Any, canned: CannedServer
) -> None:
    canned.json("GET", similar_sites("cnn.com"), SITES)
    async with engine_factory(**BUILTIN, sources=similarweb(canned)) as engine:
        assert value(engine, "enrichd_cache_misses_total", module=M05) is None
        first = await run_job(engine, "cnn.com")
        assert first.status == "completed"
        assert value(engine, "enrichd_cache_misses_total", module=M05) == 1
        assert value(engine, "enrichd_cache_hits_total", module=M05) is None
        ok = {"source": "similarweb", "outcome": "ok"}
        assert value(engine, "enrichd_source_requests_total", **ok) == 1
        served = {"module": M05, "source": "similarweb"}
        assert value(engine, "enrichd_module_duration_seconds_count", **served) == 1

        second = await run_job(engine, "cnn.com")
        assert second.module_states[M05].status == "cached"
        assert value(engine, "enrichd_cache_hits_total", module=M05) == 1
        assert value(engine, "enrichd_cache_misses_total", module=M05) == 1
        # The cache answered: no upstream call, no module run.
        assert value(engine, "enrichd_source_requests_total", **ok) == 1
        assert value(engine, "enrichd_module_duration_seconds_count", **served) == 1

        # A forced refresh runs without looking in the cache: neither a hit nor a miss.
        await run_job(engine, "cnn.com", force=True)
        assert value(engine, "enrichd_cache_misses_total", module=M05) == 1
        assert value(engine, "enrichd_module_duration_seconds_count", **served) == 2
        assert value(engine, "enrichd_jobs", status="completed") == 3
        assert value(engine, "enrichd_jobs", status="failed") == 0
        assert len(canned.calls(similar_sites("cnn.com"))) == 2


async def test_source_errors_by_outcome_and_the_circuit(
    autojump: Any, engine_factory: Any, canned: CannedServer
) -> None:
    canned.add("GET", similar_sites("down.com"), HttpResponse(status=503))
    canned.json("GET", similar_sites("gone.com"), {"meta": {"status": "Error"}}, 404)
    sources = similarweb(canned, max_retries=0, circuit_failure_threshold=2)
    async with engine_factory(**BUILTIN, sources=sources) as engine:
        state = {"source": "similarweb"}
        assert value(engine, "enrichd_source_circuit_state", **state, state="closed") == 1

        assert (await run_job(engine, "gone.com")).status == "failed"  # no data, no outage
        assert value(engine, "enrichd_source_requests_total", **state, outcome="4xx") == 1
        assert (await run_job(engine, "down.com")).status == "failed"
        assert value(engine, "enrichd_source_requests_total", **state, outcome="5xx") == 1
        assert value(engine, "enrichd_source_circuit_state", **state, state="closed") == 1

        await run_job(engine, "down.com", force=True)  # the second failure in a row opens it
        assert value(engine, "enrichd_source_requests_total", **state, outcome="5xx") == 2
        assert value(engine, "enrichd_source_circuit_state", **state, state="open") == 1
        assert value(engine, "enrichd_source_circuit_state", **state, state="closed") == 0

        await run_job(engine, "down.com", force=True)  # refused at once, nothing sent
        assert value(engine, "enrichd_source_requests_total", **state, outcome="circuit_open") == 1
        assert len(canned.calls(similar_sites("down.com"))) == 2

        for code, count in (("no_data", 1), ("upstream_error", 2), ("circuit_open", 1)):
            assert value(engine, "enrichd_module_failures_total", module=M05, code=code) == count
        assert value(engine, "enrichd_jobs", status="failed") == 4
        # Failed runs are timed too.
        served = {"module": M05, "source": "similarweb"}
        assert value(engine, "enrichd_module_duration_seconds_count", **served) == 4


async def test_timeouts_are_counted(
    autojump: Any, engine_factory: Any, canned: CannedServer
) -> None:
    async def slow(_: Any) -> HttpResponse:
        await trio.sleep(60)
        return HttpResponse(status=200)

    canned.add("GET", similar_sites("slow.com"), slow)
    sources = similarweb(canned, max_retries=0, timeout_seconds=5)
    async with engine_factory(**BUILTIN, sources=sources) as engine:
        assert (await run_job(engine, "slow.com")).status == "failed"
        outcome = {"source": "similarweb", "outcome": "timeout"}
        assert value(engine, "enrichd_source_requests_total", **outcome) == 1
        assert value(engine, "enrichd_module_failures_total", module=M05, code="timeout") == 1


async def test_quota_and_rate_limit_waits(
    autojump: Any, engine_factory: Any, canned: CannedServer
) -> None:
    for domain in ("a.com", "b.com", "c.com"):
        canned.json("GET", similar_sites(domain), SITES)
    sources = similarweb(canned, daily_quota=2, rate_per_second=0.5, burst=1)
    async with engine_factory(**BUILTIN, sources=sources) as engine:
        source = {"source": "similarweb"}
        assert value(engine, "enrichd_source_quota_limit", **source) == 2
        assert value(engine, "enrichd_source_quota_remaining", **source) == 2
        assert value(engine, "enrichd_source_rate_limit_waits_total", **source) == 0

        # Two jobs at once: the second call waits 2 s for the rate limit (0.5/s, burst 1).
        jobs = [await engine.start_job(d, JobRequest(modules=[M05])) for d in ("a.com", "b.com")]
        for job in jobs:
            assert (await wait_for_status(engine, job.job_id, TERMINAL)).status == "completed"
        assert value(engine, "enrichd_source_rate_limit_waits_total", **source) == 1
        waited = value(engine, "enrichd_source_rate_limit_wait_seconds_total", **source)
        assert waited is not None and abs(waited - 2.0) < 0.01
        assert value(engine, "enrichd_source_quota_remaining", **source) == 0

        assert (await run_job(engine, "c.com")).status == "failed"
        refused = {**source, "outcome": "quota_exhausted"}
        assert value(engine, "enrichd_source_requests_total", **refused) == 1
        assert len(canned.calls(similar_sites("c.com"))) == 0


async def test_scrape_time_gauges(autojump: Any, engine_factory: Any) -> None:
    async with engine_factory(
        jobs={"max_concurrent_jobs": 1},
        modules={M05: {"hang_domains": ["hang.com"]}},
    ) as engine:
        running = await engine.start_job("hang.com", JobRequest(modules=[M05]))
        await wait_for_status(engine, running.job_id, {"running"})
        await engine.start_job("next.com", JobRequest(modules=[M05]))
        assert value(engine, "enrichd_jobs", status="running") == 1
        assert value(engine, "enrichd_jobs", status="queued") == 1
        assert value(engine, "enrichd_queue_depth") == 1
        assert value(engine, "enrichd_job_slots") == 1
        assert value(engine, "enrichd_build_info", version=__version__) == 1
        # The fake plugin's source is keyless and unlimited: configured, and no quota series.
        assert value(engine, "enrichd_source_configured", source="fake") == 1
        assert value(engine, "enrichd_source_quota_remaining", source="fake") is None
        assert value(engine, "enrichd_source_queue_depth", source="fake") == 0
        map_size = value(engine, "enrichd_store_map_size_bytes")
        used = value(engine, "enrichd_store_used_bytes")
        on_disk = value(engine, "enrichd_store_file_bytes")
        assert map_size == engine.store.map_size
        assert used is not None and on_disk is not None and 0 < used <= on_disk
        assert value(engine, "enrichd_store_writable") == 1
        assert value(engine, "enrichd_store_unsaved_jobs") == 0
        await engine.cancel("hang.com", running.job_id)


async def test_engines_have_registries_of_their_own(
    autojump: Any, engine_factory: Any, canned: CannedServer
) -> None:
    canned.json("GET", similar_sites("cnn.com"), SITES)
    async with engine_factory(**BUILTIN, sources=similarweb(canned)) as engine:
        await run_job(engine, "cnn.com")
        other = Metrics(engine)  # a second registry: no clash over names
        assert b"enrichd_source_requests_total{" not in other.render()
        assert b"enrichd_source_requests_total{" in engine.metrics.render()


async def test_metrics_route(autojump: Any, engine_factory: Any) -> None:
    async with engine_factory() as engine:
        client = make_client(engine)
        refused = await client.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="enrichd"'
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        answer = await client.get("/metrics", headers=AUTH)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == CONTENT_TYPE_LATEST
        assert b'enrichd_jobs{status="queued"} 0.0' in await answer.get_data()


async def test_metrics_over_a_socket(tmp_path: Path) -> None:
    """The daemon as it runs: hypercorn on a real socket, real clock."""
    config: Config = make_config(tmp_path, server={"bind": "127.0.0.1:0"})
    config.auth.token_sha256 = [hashlib.sha256(TOKEN.encode()).hexdigest()]
    config = msgspec.convert(msgspec.to_builtins(config), Config)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            binds: list[str] = await nursery.start(serve, config)
            async with httpx.AsyncClient(base_url=binds[0], trust_env=False) as http:
                anonymous = await http.get("/metrics")
                scraped = await http.get("/metrics", headers=AUTH)
            nursery.cancel_scope.cancel()
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "unauthorized"
    assert scraped.status_code == 200
    assert scraped.headers["content-type"] == CONTENT_TYPE_LATEST
    names = {family.name for family in text_string_to_metric_families(scraped.text)}
    assert {
        "enrichd_jobs",
        "enrichd_queue_depth",
        "enrichd_source_circuit_state",
        "enrichd_store_file_bytes",
        "enrichd_store_map_size_bytes",
        "process_resident_memory_bytes",
    } <= names
