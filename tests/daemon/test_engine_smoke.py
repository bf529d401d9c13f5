from tests.conftest import wait_for_status
from enrichd.daemon import JobRequest


async def test_full_job_completes(engine, mock_clock):
    mock_clock.autojump_threshold = 0
    job = await engine.start_job("costco.com", JobRequest())
    final = await wait_for_status(engine, job.job_id, {"completed", "failed"})
    assert final.status == "completed", final
    outs = engine.store.outputs(job.job_id)
    assert len(outs) == 15
