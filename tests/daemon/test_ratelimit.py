"""Tests for the token bucket (on trio's mock clock) and the daily quota (on a fake wall clock)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import trio
import trio.testing
from trio.testing import MockClock

from enrichd.daemon._ratelimit import DailyQuota, TokenBucket

# Every async test takes pytest-trio's ``autojump_clock`` (a MockClock with autojump_threshold=0):
# time only moves when all tasks are blocked, so nothing here waits on the wall clock.


async def _acquire_times(bucket: TokenBucket, n: int) -> list[float]:
    times = []
    for _ in range(n):
        await bucket.acquire()
        times.append(trio.current_time())
    return times


async def test_rate_spaces_calls(autojump_clock: MockClock) -> None:
    bucket = TokenBucket(rate=10, burst=1)
    start = trio.current_time()
    times = await _acquire_times(bucket, 11)
    assert times[0] == pytest.approx(start)
    assert times[-1] - start == pytest.approx(1.0)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == pytest.approx([0.1] * 10)


async def test_burst_then_steady_rate(autojump_clock: MockClock) -> None:
    bucket = TokenBucket(rate=2, burst=5)
    start = trio.current_time()
    times = await _acquire_times(bucket, 7)
    # Five at once, then one every half second.
    assert [t - start for t in times] == pytest.approx([0, 0, 0, 0, 0, 0.5, 1.0])


async def test_idle_time_refills_the_burst_but_no_more(autojump_clock: MockClock) -> None:
    bucket = TokenBucket(rate=1, burst=3)
    await _acquire_times(bucket, 3)
    await trio.sleep(100)
    start = trio.current_time()
    times = await _acquire_times(bucket, 4)
    assert [t - start for t in times] == pytest.approx([0, 0, 0, 1.0])


async def test_concurrent_waiters_are_served_fifo(autojump_clock: MockClock) -> None:
    bucket = TokenBucket(rate=1, burst=1)
    order: list[int] = []

    async def take(i: int) -> None:
        await bucket.acquire()
        order.append(i)

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for i in range(5):
            nursery.start_soon(take, i)
            # Make each waiter queue before the next one starts.
            await trio.testing.wait_all_tasks_blocked()
    assert order == [0, 1, 2, 3, 4]
    assert trio.current_time() - start == pytest.approx(4.0)


async def test_pause_until_holds_every_acquirer(autojump_clock: MockClock) -> None:
    bucket = TokenBucket(rate=100, burst=10)
    start = trio.current_time()
    bucket.pause_until(start + 7)
    times: list[float] = []

    async def take() -> None:
        await bucket.acquire()
        times.append(trio.current_time() - start)

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(take)
    # Resumes at the steady rate, without a burst, after the pause.
    assert times == pytest.approx([7.0, 7.01, 7.02])


async def test_pause_extended_while_waiting(autojump_clock: MockClock) -> None:
    bucket = TokenBucket(rate=100, burst=10)
    start = trio.current_time()
    bucket.pause_until(start + 2)
    done_at: list[float] = []

    async def take() -> None:
        await bucket.acquire()
        done_at.append(trio.current_time() - start)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(take)
        await trio.sleep(1)
        bucket.pause_until(start + 5)
        bucket.pause_until(start + 3)  # an earlier deadline never shortens a pause
    assert done_at == pytest.approx([5.0])


async def test_cancelled_waiter_costs_nothing(autojump_clock: MockClock) -> None:
    bucket = TokenBucket(rate=1, burst=1)
    await bucket.acquire()
    with trio.move_on_after(0.5):
        await bucket.acquire()
    start = trio.current_time()
    await bucket.acquire()
    # The second call's slot (t=1.0) was not consumed by the cancelled waiter.
    assert trio.current_time() - start == pytest.approx(0.5)


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0)
    with pytest.raises(ValueError):
        DailyQuota(-1)


class FakeWallClock:
    def __init__(self, when: dt.datetime) -> None:
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now


def test_daily_quota_counts_and_rolls_over_at_utc_midnight() -> None:
    clock = FakeWallClock(dt.datetime(2025, 3, 1, 23, 59, 0, tzinfo=dt.UTC))
    quota = DailyQuota(2, now=clock)
    assert quota.remaining == 2
    assert quota.try_take()
    assert quota.try_take()
    assert not quota.try_take()
    assert quota.remaining == 0
    assert quota.used == 2
    assert quota.resets_at() == dt.datetime(2025, 3, 2, tzinfo=dt.UTC).timestamp()
    clock.now += 59  # 23:59:59, still the same day
    assert not quota.try_take()
    clock.now += 1  # midnight UTC
    assert quota.remaining == 2
    assert quota.try_take()
    assert quota.remaining == 1


def test_daily_quota_unlimited() -> None:
    quota = DailyQuota(None, now=lambda: 0.0)
    assert quota.remaining is None
    assert all(quota.try_take() for _ in range(1000))
    assert quota.used == 1000


def test_daily_quota_zero_allows_nothing() -> None:
    quota = DailyQuota(0, now=lambda: 0.0)
    assert quota.remaining == 0
    assert not quota.try_take()
