"""End to end: ``kill -9`` at random moments of a 300-domain batch loses nothing.

A real ``enrichd serve --sandbox`` process (simulated upstreams with latency) runs a batch and
is killed with SIGKILL at a random moment after each start, five times, then left to finish. A
second daemon runs the same batch uninterrupted, at the same time, as the reference.

Checked: every job reaches a terminal state; after every kill the store is consistent (every
record decodes, the indexes agree with the records, every completed module has its output); a
module completed before a kill keeps its output's fetch time and its recorded duration, so it
was not fetched again; and every job's data equals the uninterrupted run's.

The batch runs waves 1-2 (m01-m06) rather than all 15 modules: the later waves' simulated web
pages and model answers cost enough CPU that two runs would not fit in a minute.
"""

from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path
from typing import Any

from enrichd.daemon import Job, ModuleOutput
from tests.e2e._daemon import (
    Daemon,
    read_jobs,
    sandbox_args,
    sandbox_config,
    store_problems,
    wait_for_batch,
)

SEED = 5150
KILLS = 5
DOMAINS = [f"crash{i:03d}-shop.com" for i in range(300)]
WAVES = [1, 2]
#: The in-process sandbox listens on a new port at every start, and the homepage module's data
#: and citations hold URLs under it (``careers_url``, the homepage citation). Those URLs are the
#: only thing that legitimately differs between runs; everything else must be equal.
SANDBOX_ORIGIN = re.compile(r"http://127\.0\.0\.1:\d+")

Stored = dict[str, tuple[Job, dict[str, ModuleOutput]]]


def _start_batch(d: Daemon) -> tuple[str, list[str]]:
    with d.client() as c:
        r = c.post(
            "/api/v1/enrich/batch", json={"domains": DOMAINS, "waves": WAVES, "concurrency": 100}
        )
        assert r.status_code == 202, r.text
        body = r.json()
    assert len(body["jobs"]) == len(DOMAINS)
    return body["batch_id"], [j["job_id"] for j in body["jobs"]]


def _completed(stored: Stored) -> dict[tuple[str, str], tuple[float, float | None]]:
    """(job, module) -> (output fetch time, recorded duration) of every completed module."""
    return {
        (job.job_id, mid): (outputs[mid].fetched_at, state.duration_seconds)
        for job, outputs in stored.values()
        for mid, state in job.module_states.items()
        if state.status == "completed"
    }


def _comparable(stored: Stored) -> dict[str, dict[str, Any]]:
    """Per domain: the job's status, and per module its status and data (no timestamps)."""
    result = {}
    for job, outputs in stored.values():
        modules = {}
        for mid, state in sorted(job.module_states.items()):
            output = outputs.get(mid)
            record = {
                "status": state.status,
                "data": output.data if output else None,
                "data_points": output.data_points if output else None,
                "source": output.source if output else None,
                "source_url": output.source_url if output else None,
                "citations": [(c.url, c.title) for c in output.citations] if output else None,
            }
            modules[mid] = json.loads(SANDBOX_ORIGIN.sub("SANDBOX", json.dumps(record)))
        result[job.domain] = {"status": job.status, "modules": modules}
    return result


def test_kill_9_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    config = tmp_path / "config.toml"
    sandbox_config(config)
    args = sandbox_args(latency=0.05, jitter=0.02, seed=SEED)
    reference = Daemon(config, tmp_path / "reference", *args)
    crashing = Daemon(config, tmp_path / "crashing", *args)
    try:
        reference.start()
        reference_batch, reference_ids = _start_batch(reference)
        crashing.start()
        batch_id, job_ids = _start_batch(crashing)

        seen: dict[tuple[str, str], tuple[float, float | None]] = {}
        caught_mid_job = 0
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.3, 2.0))
            crashing.stop(kill=True)
            assert store_problems(crashing.data_dir) == []
            stored = read_jobs(crashing.data_dir, job_ids)
            statuses = [job.status for job, _ in stored.values()]
            assert "queued" in statuses or "running" in statuses, "the kill came too late"
            caught_mid_job += sum(
                1
                for job, _ in stored.values()
                if job.status == "running"
                and any(s.status == "completed" for s in job.module_states.values())
            )
            done = _completed(stored)
            for key, value in seen.items():
                assert done.get(key) == value, f"{key} ran again after a kill"
            seen.update(done)
            crashing.start()
        assert caught_mid_job, "no kill interrupted a job between two modules"

        with crashing.client() as c:
            wait_for_batch(c, batch_id)
        assert crashing.stop() == 0
        with reference.client() as c:
            wait_for_batch(c, reference_batch)
        assert reference.stop() == 0

        assert store_problems(crashing.data_dir) == []
        final = read_jobs(crashing.data_dir, job_ids)
        assert {job.status for job, _ in final.values()} == {"completed"}
        done = _completed(final)
        for key, value in seen.items():
            assert done.get(key) == value, f"{key} ran again after a kill"
        assert _comparable(final) == _comparable(read_jobs(reference.data_dir, reference_ids))
    finally:
        crashing.stop(kill=True)
        reference.stop(kill=True)
