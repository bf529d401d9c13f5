"""Tests for the Scheduler, driven by a fake ``run_job`` that runs until the test releases it.

Every test runs on trio's MockClock with ``autojump_threshold = 0``, the scheduler under a
``fail_after``: a deadlock fails at once in virtual time instead of hanging. "Has it started?" is
answered with ``wait_all_tasks_blocked``, never with a sleep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from trio.testing import MockClock, wait_all_tasks_blocked

from enrichd.daemon._scheduler import Scheduler


class FakeJobs:
    """A ``run_job`` that records what runs and holds each job until :meth:`finish`."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.finished: list[str] = []
        self.cancelled: list[str] = []
        self.running: set[str] = set()
        self.peak = 0
        self.release: dict[str, trio.Event] = {}
        self.crash: set[str] = set()
        self.scopes: dict[str, trio.CancelScope] = {}

    def _event(self, job_id: str) -> trio.Event:
        return self.release.setdefault(job_id, trio.Event())

    async def run_job(self, job_id: str, scope: trio.CancelScope) -> None:
        self.started.append(job_id)
        self.scopes[job_id] = scope
        self.running.add(job_id)
        self.peak = max(self.peak, len(self.running))
        try:
            with scope:
                await self._event(job_id).wait()
                if job_id in self.crash:
                    raise RuntimeError(f"bug in job {job_id}")
                self.finished.append(job_id)
            if scope.cancelled_caught:
                self.cancelled.append(job_id)
        finally:
            self.running.discard(job_id)

    async def finish(self, *job_ids: str) -> None:
        """Let the jobs end, then wait until the scheduler has reacted."""
        for job_id in job_ids:
            self._event(job_id).set()
        await wait_all_tasks_blocked()


@asynccontextmanager
async def running(sched: Scheduler, clock: MockClock) -> AsyncIterator[None]:
    """Run the scheduler for the duration of the block, which must not deadlock."""
    # pytest-trio runs a test on a clock only if the test itself takes the clock fixture.
    assert trio.lowlevel.current_clock() is clock
    clock.autojump_threshold = 0
    # Here, in the test's own task: a fixture's cancel scope would not cover the test body.
    with trio.fail_after(3600):
        async with trio.open_nursery() as nursery:
            await nursery.start(sched.run)
            yield
            nursery.cancel_scope.cancel()


async def test_priority_order_then_fifo(mock_clock: MockClock) -> None:
    jobs = FakeJobs()
    sched = Scheduler(1, jobs.run_job)
    for seq, (job_id, prio) in enumerate(
        [
            ("low1", "low"),
            ("norm1", "normal"),
            ("high1", "high"),
            ("low2", "low"),
            ("norm2", "normal"),
            ("high2", "high"),
        ],
        start=1,
    ):
        sched.enqueue(job_id, prio, seq)
    assert sched.queue_depth == 6
    assert sched.queued_ahead("high") == 2
    assert sched.queued_ahead("normal") == 4
    assert sched.queued_ahead("low") == 6
    async with running(sched, mock_clock):
        await wait_all_tasks_blocked()
        assert jobs.started == ["high1"]
        assert sched.running_count == 1 and sched.queue_depth == 5
        for expected_next in ["high2", "norm1", "norm2", "low1", "low2"]:
            await jobs.finish(jobs.started[-1])
            assert jobs.started[-1] == expected_next
            assert sched.running_count == 1
        await jobs.finish("low2")
    assert jobs.started == ["high1", "high2", "norm1", "norm2", "low1", "low2"]
    assert jobs.peak == 1
    assert sched.admitted == 6
    assert sched.queue_depth == 0 and sched.running_count == 0


async def test_fifo_follows_seq_not_enqueue_order(mock_clock: MockClock) -> None:
    # Jobs resumed after a restart are enqueued in any order; their stored seq decides.
    jobs = FakeJobs()
    sched = Scheduler(1, jobs.run_job)
    for job_id, seq in [("c", 30), ("a", 10), ("b", 20)]:
        sched.enqueue(job_id, "normal", seq)
    async with running(sched, mock_clock):
        await jobs.finish("a")
        await jobs.finish("b")
        await jobs.finish("c")
    assert jobs.started == ["a", "b", "c"]


async def test_a_late_high_priority_job_jumps_the_queue(mock_clock: MockClock) -> None:
    jobs = FakeJobs()
    sched = Scheduler(1, jobs.run_job)
    async with running(sched, mock_clock):
        sched.enqueue("first", "low", 1)
        await wait_all_tasks_blocked()
        assert jobs.started == ["first"]
        assert sched.is_running("first")
        sched.enqueue("low", "low", 2)
        sched.enqueue("normal", "normal", 3)
        sched.enqueue("high", "high", 4)
        assert sched.is_queued("low") and not sched.is_running("low")
        await jobs.finish("first")
        await jobs.finish("high")
        await jobs.finish("normal")
        await jobs.finish("low")
    assert jobs.started == ["first", "high", "normal", "low"]


async def test_max_concurrent_is_never_exceeded(mock_clock: MockClock) -> None:
    jobs = FakeJobs()
    sched = Scheduler(3, jobs.run_job)
    ids = [f"j{i}" for i in range(10)]
    for seq, job_id in enumerate(ids):
        sched.enqueue(job_id, "normal", seq)
    async with running(sched, mock_clock):
        await wait_all_tasks_blocked()
        # Jobs admitted in one pass start in any order (trio shuffles a tick's tasks).
        assert set(jobs.started) == set(ids[:3])
        assert sched.running_count == 3 and sched.queue_depth == 7
        # Finish out of order; each freed slot admits exactly one more, in seq order.
        await jobs.finish("j1")
        assert jobs.started[3:] == ["j3"]
        await jobs.finish("j0", "j3")
        assert set(jobs.started[4:]) == {"j4", "j5"}
        assert len(jobs.running) == 3
        for job_id in ids[2:]:
            await jobs.finish(job_id)
    assert sorted(jobs.finished) == ids
    assert jobs.peak == 3


async def test_batch_limit_caps_a_batch_but_not_other_jobs(mock_clock: MockClock) -> None:
    jobs = FakeJobs()
    sched = Scheduler(4, jobs.run_job)
    sched.set_batch_limit("b", 2)
    for seq, job_id in enumerate(["b1", "b2", "b3", "b4", "b5"], start=1):
        sched.enqueue(job_id, "normal", seq, "b")
    sched.enqueue("solo1", "normal", 6)
    sched.enqueue("solo2", "low", 7)
    async with running(sched, mock_clock):
        await wait_all_tasks_blocked()
        # Two of the batch (its cap) plus the two non-batch jobs, though they came later.
        assert set(jobs.started) == {"b1", "b2", "solo1", "solo2"}
        assert sched.queue_depth == 3
        await jobs.finish("solo1", "solo2")
        # Free global slots do not let the batch past its own cap.
        assert set(jobs.running) == {"b1", "b2"}
        await jobs.finish("b2")
        assert jobs.started[-1] == "b3"
        assert set(jobs.running) == {"b1", "b3"}
        # A non-batch job arriving now still runs at once.
        sched.enqueue("solo3", "low", 8)
        await wait_all_tasks_blocked()
        assert "solo3" in jobs.running
        await jobs.finish("b1", "b3")
        assert set(jobs.running) == {"solo3", "b4", "b5"}
        await jobs.finish("b4", "b5", "solo3")
    assert set(jobs.started) == {"b1", "b2", "b3", "b4", "b5", "solo1", "solo2", "solo3"}
    assert sched.running_count == 0 and sched.queue_depth == 0


async def test_batch_jobs_keep_their_priority_against_other_work(mock_clock: MockClock) -> None:
    jobs = FakeJobs()
    sched = Scheduler(1, jobs.run_job)
    sched.set_batch_limit("b", 1)
    sched.enqueue("b1", "low", 1, "b")
    sched.enqueue("b2", "low", 2, "b")
    sched.enqueue("n1", "normal", 3)
    async with running(sched, mock_clock):
        await jobs.finish(*jobs.started)
        await jobs.finish(*jobs.started[-1:])
        await jobs.finish(*jobs.started[-1:])
    assert jobs.started == ["n1", "b1", "b2"]


async def test_cancel_queued_withdraws_the_job(mock_clock: MockClock) -> None:
    jobs = FakeJobs()
    sched = Scheduler(1, jobs.run_job)
    sched.enqueue("a", "normal", 1)
    sched.enqueue("b", "normal", 2)
    sched.enqueue("c", "normal", 3)
    done_b = sched.done_event("b")
    assert done_b is not None and not done_b.is_set()
    assert sched.cancel_queued("b") is True
    assert done_b.is_set()
    assert not sched.is_queued("b")
    assert sched.queue_depth == 2
    assert sched.queued_ahead("normal") == 2
    assert sched.cancel_queued("b") is False  # already withdrawn
    assert sched.cancel_queued("unknown") is False
    async with running(sched, mock_clock):
        await wait_all_tasks_blocked()
        assert sched.cancel_queued("a") is False  # running, not queued
        await jobs.finish("a")
        await jobs.finish("c")
    assert jobs.started == ["a", "c"]


async def test_cancel_queued_batch_job_frees_its_batch_slot(mock_clock: MockClock) -> None:
    jobs = FakeJobs()
    sched = Scheduler(1, jobs.run_job)
    sched.set_batch_limit("b", 1)
    sched.enqueue("blocker", "high", 1)
    sched.enqueue("b1", "normal", 2, "b")  # in the queue, holding the batch's only slot
    sched.enqueue("b2", "normal", 3, "b")  # waiting behind the batch cap
    async with running(sched, mock_clock):
        await wait_all_tasks_blocked()
        assert jobs.started == ["blocker"]
        assert sched.cancel_queued("b1") is True
        await jobs.finish("blocker")
        assert jobs.started == ["blocker", "b2"]
        await jobs.finish("b2")
    assert "b1" not in jobs.started


async def test_cancel_running_cancels_the_scope(mock_clock: MockClock) -> None:
    jobs = FakeJobs()
    sched = Scheduler(2, jobs.run_job)
    sched.enqueue("a", "normal", 1)
    sched.enqueue("b", "normal", 2)
    sched.enqueue("c", "normal", 3)
    async with running(sched, mock_clock):
        await wait_all_tasks_blocked()
        assert sched.cancel_running("c") is None  # queued, not running
        assert sched.cancel_running("unknown") is None
        done = sched.cancel_running("a", reason="test says stop")
        assert done is not None
        await done.wait()
        assert jobs.scopes["a"].cancel_called
        assert jobs.cancelled == ["a"]
        assert not sched.is_running("a")
        assert sched.is_running("b")  # a sibling is untouched
        await wait_all_tasks_blocked()
        assert jobs.started[2:] == ["c"]  # the freed slot was reused
        await jobs.finish("b", "c")
    assert sorted(jobs.finished) == ["b", "c"]


async def test_a_crashing_job_does_not_kill_the_scheduler(
    caplog: pytest.LogCaptureFixture, mock_clock: MockClock
) -> None:
    jobs = FakeJobs()
    jobs.crash.add("bad")
    sched = Scheduler(1, jobs.run_job)
    sched.enqueue("bad", "high", 1)
    sched.enqueue("good", "normal", 2)
    async with running(sched, mock_clock):
        await wait_all_tasks_blocked()
        done = sched.done_event("bad")
        assert done is not None
        await jobs.finish("bad")
        assert done.is_set()
        assert jobs.started == ["bad", "good"]
        await jobs.finish("good")
        sched.enqueue("later", "normal", 3)
        await jobs.finish("later")
    assert jobs.finished == ["good", "later"]
    assert any("bad" in r.getMessage() and r.exc_info for r in caplog.records)
