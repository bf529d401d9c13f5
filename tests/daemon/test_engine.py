"""The engine: scheduling order, the supervisor's graph, cache use, cancel, resume."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from enrichd.daemon import Conflict, Engine, Invalid, JobRequest
from tests import fakeplugin
from tests.conftest import FakeWallClock, wait_for_status, wait_until

DAY = 86400


async def test_start_job_is_on_disk_before_returning(autojump: Any, engine: Engine) -> None:
    job = await engine.start_job("costco.com", JobRequest(waves=[1]))
    stored = engine.store.get_job(job.job_id)
    assert stored is not None and stored.status in ("queued", "running")
    assert engine.store.active_job_id("costco.com") == job.job_id


async def test_priority_order_and_fifo(autojump: Any, engine_factory: Any) -> None:
    async with engine_factory(
        jobs={"max_concurrent_jobs": 1},
        modules={"m01_company_context": {"hang_domains": ["first.com"]}},
    ) as engine:
        # first.com holds the only slot until every other job is queued.
        first = await engine.start_job("first.com", JobRequest(modules=["m01_company_context"]))
        ids = {}
        for domain, priority in [
            ("low1.com", "low"),
            ("norm1.com", "normal"),
            ("high1.com", "high"),
            ("norm2.com", "normal"),
            ("high2.com", "high"),
        ]:
            job = await engine.start_job(
                domain, JobRequest(modules=["m01_company_context"], priority=priority)
            )
            ids[domain] = job.job_id
        await engine.cancel("first.com", first.job_id)
        for job_id in ids.values():
            await wait_for_status(engine, job_id, {"completed"})
        # CALLS remembers the order in which modules first ran.
        order = [d for d, _ in fakeplugin.CALLS if d != "first.com"]
        assert order == ["high1.com", "high2.com", "norm1.com", "norm2.com", "low1.com"]


async def test_max_concurrent_jobs_is_respected(autojump: Any, engine_factory: Any) -> None:
    async with engine_factory(
        jobs={"max_concurrent_jobs": 2}, modules={"m01_company_context": {"delay": 3}}
    ) as engine:
        peak = 0
        jobs = [
            await engine.start_job(f"d{i}.com", JobRequest(modules=["m01_company_context"]))
            for i in range(6)
        ]
        while any(engine.store.get_job(j.job_id).status != "completed" for j in jobs):
            peak = max(peak, engine.scheduler.running_count)
            await trio.sleep(0.1)
        assert peak == 2


async def test_failure_is_isolated_and_dependents_skip(autojump: Any, engine_factory: Any) -> None:
    async with engine_factory(modules={"m03_traffic": {"fail_domains": ["bad.com"]}}) as engine:
        job = await engine.start_job("bad.com", JobRequest())
        final = await wait_for_status(engine, job.job_id, {"completed", "failed"})
        st = {m: s.status for m, s in final.module_states.items()}
        assert final.status == "failed"
        assert st["m03_traffic"] == "failed"
        for mid in ("m13_case_study_match", "m14_icp_scoring", "m15_displacement_angle"):
            assert st[mid] == "skipped"
            assert final.module_states[mid].error_code == "dependency_failed"
        for mid in ("m01_company_context", "m04_traffic_sources", "m12_trigger_events"):
            assert st[mid] == "completed"
        # The siblings' data is readable.
        assert "m04_traffic_sources" in engine.store.outputs(job.job_id)


async def test_plugin_crash_is_reported_not_raised(autojump: Any, engine_factory: Any) -> None:
    async with engine_factory(
        modules={"m02_tech_stack": {"crash_domains": ["crash.com"]}}
    ) as engine:
        job = await engine.start_job("crash.com", JobRequest(waves=[1]))
        final = await wait_for_status(engine, job.job_id, {"completed", "failed"})
        assert final.module_states["m02_tech_stack"].error_code == "plugin_error"
        assert final.module_states["m01_company_context"].status == "completed"


async def test_module_timeout(autojump: Any, engine_factory: Any) -> None:
    async with engine_factory(
        jobs={"module_timeout_seconds": 10},
        modules={"m02_tech_stack": {"hang_domains": ["slow.com"]}},
    ) as engine:
        job = await engine.start_job("slow.com", JobRequest(waves=[1]))
        final = await wait_for_status(engine, job.job_id, {"completed", "failed"})
        assert final.module_states["m02_tech_stack"].error_code == "timeout"


async def test_missing_dependency_joins_the_job_then_comes_from_cache(
    autojump: Any, engine: Engine
) -> None:
    job = await engine.start_job("dep.com", JobRequest(modules=["m07_financials"]))
    assert job.modules == ["m01_company_context", "m07_financials"]
    assert not job.module_states["m01_company_context"].requested
    await wait_for_status(engine, job.job_id, {"completed"})
    again = await engine.start_job("dep.com", JobRequest(modules=["m08_stock_info"]))
    assert again.modules == ["m08_stock_info"]
    final = await wait_for_status(engine, again.job_id, {"completed"})
    assert final.module_states["m08_stock_info"].status == "completed"
    out = engine.store.get_output(again.job_id, "m08_stock_info")
    assert out is not None and out.data["saw_m01_company_context"] == "m01_company_context"
    assert fakeplugin.CALLS[("dep.com", "m01_company_context")] == 1


async def test_cache_hits_force_and_expiry(
    autojump: Any, engine: Engine, wall: FakeWallClock
) -> None:
    req = JobRequest(modules=["m01_company_context", "m03_traffic"])
    first = await engine.start_job("c.com", req)
    await wait_for_status(engine, first.job_id, {"completed"})
    second = await engine.start_job("c.com", req)
    done = await wait_for_status(engine, second.job_id, {"completed"})
    assert {s.status for s in done.module_states.values()} == {"cached"}
    assert fakeplugin.CALLS[("c.com", "m03_traffic")] == 1

    # 5 days in, m03 (7 d TTL, 3.5 d stale window) is stale: still served from the cache.
    wall.advance(5 * DAY)
    third = await engine.start_job("c.com", req)
    done = await wait_for_status(engine, third.job_id, {"completed"})
    assert done.module_states["m03_traffic"].status == "cached"

    # Past the TTL it is expired: refetched. m01 (30 d) is still a hit.
    wall.advance(3 * DAY)
    fourth = await engine.start_job("c.com", req)
    done = await wait_for_status(engine, fourth.job_id, {"completed"})
    assert done.module_states["m03_traffic"].status == "completed"
    assert done.module_states["m01_company_context"].status == "cached"

    forced = await engine.start_job("c.com", JobRequest(modules=req.modules, force=True))
    done = await wait_for_status(engine, forced.job_id, {"completed"})
    assert {s.status for s in done.module_states.values()} == {"completed"}
    assert fakeplugin.CALLS[("c.com", "m01_company_context")] == 2


async def test_new_input_data_invalidates_derived_modules(autojump: Any, engine: Engine) -> None:
    first = await engine.start_job("derive.com", JobRequest())
    await wait_for_status(engine, first.job_id, {"completed"})
    assert not engine.store.get_cache("derive.com", "m14_icp_scoring").invalidated
    job = await engine.start_job("derive.com", JobRequest(modules=["m03_traffic"], force=True))
    await wait_for_status(engine, job.job_id, {"completed"})
    assert engine.store.get_cache("derive.com", "m14_icp_scoring").invalidated
    assert not engine.store.get_cache("derive.com", "m12_trigger_events").invalidated
    rerun = await engine.start_job("derive.com", JobRequest(modules=["m14_icp_scoring"]))
    done = await wait_for_status(engine, rerun.job_id, {"completed"})
    assert done.module_states["m14_icp_scoring"].status == "completed"


async def test_cancel_running_job_within_a_second(autojump: Any, engine_factory: Any) -> None:
    async with engine_factory(
        modules={"m15_displacement_angle": {"hang_domains": ["hang.com"]}}
    ) as engine:
        job = await engine.start_job("hang.com", JobRequest())
        await wait_until(
            lambda: (
                engine.store.get_job(job.job_id).module_states["m15_displacement_angle"].status
                == "running"
            )
        )
        t0 = trio.current_time()
        cancelled = await engine.cancel("hang.com", None)
        assert trio.current_time() - t0 < 1
        assert cancelled.status == "cancelled"
        assert cancelled.module_states["m01_company_context"].status == "completed"
        assert cancelled.module_states["m15_displacement_angle"].status == "cancelled"
        assert engine.store.get_output(job.job_id, "m01_company_context") is not None
        with pytest.raises(Conflict):
            await engine.cancel("hang.com", job.job_id)
        # The domain is free again.
        await engine.start_job("hang.com", JobRequest(waves=[1]))


async def test_empty_selection_and_active_conflict(autojump: Any, engine: Engine) -> None:
    with pytest.raises(Invalid) as info:
        await engine.start_job("x.com", JobRequest(modules=["m01_company_context"], waves=[2]))
    assert info.value.code == "empty_selection"
    await engine.start_job("x.com", JobRequest(waves=[1]))
    with pytest.raises(Conflict):
        await engine.start_job("x.com", JobRequest())


async def test_resume_after_restart_does_not_redo_completed_modules(
    autojump: Any,
    engine_factory: Any,
) -> None:
    opts = {"modules": {"m15_displacement_angle": {"hang_domains": ["resume.com"]}}}
    async with engine_factory(jobs={"max_concurrent_jobs": 1}, **opts) as engine:
        job = await engine.start_job("resume.com", JobRequest())
        queued = await engine.start_job("later.com", JobRequest(waves=[1]))
        await wait_until(
            lambda: (
                engine.store.get_job(job.job_id).module_states["m15_displacement_angle"].status
                == "running"
            )
        )
    # The engine stopped with one job running and one queued: both still active on disk.
    assert fakeplugin.CALLS[("resume.com", "m01_company_context")] == 1
    async with engine_factory(jobs={"max_concurrent_jobs": 1}) as engine:
        final = await wait_for_status(engine, job.job_id, {"completed", "failed"})
        assert final.status == "completed"
        assert fakeplugin.CALLS[("resume.com", "m01_company_context")] == 1
        assert fakeplugin.CALLS[("resume.com", "m15_displacement_angle")] == 2
        assert (await wait_for_status(engine, queued.job_id, {"completed"})).status == "completed"


async def test_retry_reruns_failed_and_skipped(autojump: Any, engine_factory: Any) -> None:
    async with engine_factory(modules={"m03_traffic": {"fail_domains": ["r.com"]}}) as engine:
        job = await engine.start_job("r.com", JobRequest())
        await wait_for_status(engine, job.job_id, {"failed"})
        retry = await engine.retry("r.com", failed_modules_only=True)
        assert retry.force and retry.retry_of == job.job_id
        assert set(retry.module_states) == {
            "m03_traffic",
            "m13_case_study_match",
            "m14_icp_scoring",
            "m15_displacement_angle",
        }


async def test_estimate_uses_critical_path_and_queue(autojump: Any, engine_factory: Any) -> None:
    async with engine_factory(jobs={"max_concurrent_jobs": 1}) as engine:
        one = engine.estimate_job_seconds(["m01_company_context"], None, True)
        chain = engine.estimate_job_seconds(
            ["m01_company_context", "m07_financials", "m15_displacement_angle"], None, True
        )
        assert chain == pytest.approx(3 * one)
        wide = engine.estimate_job_seconds(
            ["m03_traffic", "m04_traffic_sources", "m05_competitors"], None, True
        )
        assert wide == pytest.approx(one)


async def test_retry_after_a_fixing_job_has_nothing_to_retry(
    autojump: Any, engine_factory: Any
) -> None:
    async with engine_factory(modules={"m03_traffic": {"fail_domains": ["r.com"]}}) as engine:
        job = await engine.start_job("r.com", JobRequest(modules=["m03_traffic"]))
        await wait_for_status(engine, job.job_id, {"failed"})
    async with engine_factory() as engine:
        retry = await engine.retry("r.com", failed_modules_only=True)
        await wait_for_status(engine, retry.job_id, {"completed"})
        with pytest.raises(Conflict) as info:
            await engine.retry("r.com", failed_modules_only=True)
        assert info.value.code == "nothing_to_retry"


async def test_optional_dependencies_run_after_a_failure_required_ones_skip(
    autojump: Any, engine_factory: Any
) -> None:
    plugins = {"disable": ["*"], "modules": ["tests.optionalplugin"]}
    async with engine_factory(plugins=plugins) as engine:
        job = await engine.start_job(
            "acme.com", JobRequest(modules=["opt.optional", "opt.required"])
        )
        done = await wait_for_status(engine, job.job_id, {"completed", "failed"})
        states = done.module_states
        # Selecting a module adds its optional inputs too.
        assert set(states) == {"opt.fails", "opt.works", "opt.optional", "opt.required"}
        assert states["opt.fails"].status == "failed"
        assert states["opt.required"].status == "skipped"
        assert states["opt.optional"].status == "completed"
        seen = engine.store.outputs(job.job_id)["opt.optional"].data["seen"]
        assert seen == {"opt.fails": {"missing": "dependency_missing"}, "opt.works": {"value": 1}}


async def test_failed_refetch_serves_the_expired_entry_marked_stale(
    autojump: Any, engine_factory: Any, wall: FakeWallClock
) -> None:
    async with engine_factory() as engine:
        first = await engine.start_job("acme.com", JobRequest(modules=["m03_traffic"]))
        await wait_for_status(engine, first.job_id, {"completed"})
    wall.advance(30 * 86400)  # m03's 7-day TTL is long gone
    failing = {"m03_traffic": {"fail_domains": ["acme.com"]}}
    async with engine_factory(modules=failing) as engine:
        job = await engine.start_job("acme.com", JobRequest(modules=["m03_traffic"]))
        done = await wait_for_status(engine, job.job_id, {"completed", "failed"})
        state = done.module_states["m03_traffic"]
        assert done.status == "completed"
        assert state.status == "cached"
        assert state.stale is True
        assert state.error_code is None
        assert "refetch failed (upstream_error" in state.warnings[0]
        output = engine.store.outputs(job.job_id)["m03_traffic"]
        assert output.stale is True and output.cached is True
        assert output.data["domain"] == "acme.com"
        # Without any earlier data, the same failure is a failure.
        other = await engine.start_job("acme.com", JobRequest(modules=["m04_traffic_sources"]))
        await wait_for_status(engine, other.job_id, {"completed", "failed"})


async def test_an_invalidated_entry_is_not_served_on_error(
    autojump: Any, engine_factory: Any, wall: FakeWallClock
) -> None:
    async with engine_factory() as engine:
        first = await engine.start_job("acme.com", JobRequest(modules=["m13_case_study_match"]))
        await wait_for_status(engine, first.job_id, {"completed"})
        # New m01 data makes m13's entry invalid (derived data follows its inputs).
        again = await engine.start_job(
            "acme.com", JobRequest(modules=["m01_company_context"], force=True)
        )
        await wait_for_status(engine, again.job_id, {"completed"})
    failing = {"m13_case_study_match": {"fail_domains": ["acme.com"]}}
    async with engine_factory(modules=failing) as engine:
        job = await engine.start_job("acme.com", JobRequest(modules=["m13_case_study_match"]))
        done = await wait_for_status(engine, job.job_id, {"completed", "failed"})
        assert done.module_states["m13_case_study_match"].status == "failed"


async def test_new_data_for_an_optional_input_makes_the_derived_entry_stale(
    autojump: Any, engine_factory: Any
) -> None:
    plugins = {"disable": ["*"], "modules": ["tests.optionalplugin"]}
    async with engine_factory(plugins=plugins) as engine:
        first = await engine.start_job("acme.com", JobRequest(modules=["opt.optional"]))
        await wait_for_status(engine, first.job_id, {"completed", "failed"})
        entry = engine.store.get_cache("acme.com", "opt.optional")
        assert entry is not None and not entry.invalidated
        # Fresh data for one of its inputs...
        refresh = await engine.start_job("acme.com", JobRequest(modules=["opt.works"], force=True))
        await wait_for_status(engine, refresh.job_id, {"completed"})
        entry = engine.store.get_cache("acme.com", "opt.optional")
        assert entry is not None and entry.invalidated
        # ... so a job without force recomputes the derived module rather than serving it.
        again = await engine.start_job("acme.com", JobRequest(modules=["opt.optional"]))
        done = await wait_for_status(engine, again.job_id, {"completed", "failed"})
        assert done.module_states["opt.optional"].status == "completed"
        # Its fresh input comes from the cache without joining the job.
        assert "opt.works" not in done.module_states


async def test_a_large_batch_lets_other_requests_in_without_doubling_a_domain(
    autojump: Any, engine_factory: Any
) -> None:
    async with engine_factory(jobs={"max_concurrent_jobs": 1, "max_batch_domains": 1000}) as engine:
        domains = [f"d{i}.com" for i in range(450)]
        singles: dict[str, str] = {}
        refused: list[str] = []
        batch_started = trio.Event()

        async def one_by_one() -> None:
            await batch_started.wait()
            # Runs at the batch's checkpoints: the batch has reserved some domains, not others.
            for domain in domains[::15]:
                try:
                    job = await engine.start_job(domain, JobRequest(waves=[1]))
                except Conflict:
                    refused.append(domain)
                else:
                    singles[domain] = job.job_id

        async with trio.open_nursery() as nursery:
            nursery.start_soon(one_by_one)
            batch_started.set()
            batch, jobs = await engine.start_batch(
                [(d, d, None) for d in domains], JobRequest(waves=[1]), 5
            )
        assert refused and singles, "the single starts ran while the batch was being planned"
        skipped = {s.domain for s in batch.skipped if s.reason == "job_active"}
        assert skipped == set(singles)
        by_batch = {j.domain for j in jobs}
        assert by_batch.isdisjoint(singles) and by_batch | set(singles) == set(domains)
        assert set(refused) <= by_batch
        for domain in domains:
            listed, total = engine.store.list_jobs(domain=domain)
            assert total == 1, (domain, listed)
