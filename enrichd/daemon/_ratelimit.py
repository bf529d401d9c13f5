"""Rate limiting for source actors: a per-second token bucket and a per-day call quota.

Both are plain objects owned by one :class:`~enrichd.daemon._sources.SourceActor`; every job's
requests to that source pass through the same instances, so the limits hold for the whole daemon.
The bucket runs on trio's clock (``trio.current_time()``), which lets tests drive it with
``trio.testing.MockClock``; the quota counts *calendar* days, so it uses the wall clock.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable

import trio

__all__ = ["DailyQuota", "TokenBucket"]


class TokenBucket:
    """Admits at most ``rate`` calls per second on average, with bursts of up to ``burst``.

    Implemented as GCRA (the "generic cell rate algorithm"), which behaves exactly like a token
    bucket but keeps a single number, the *theoretical arrival time*, instead of a token count
    that has to be refilled with floating-point arithmetic. Waiters are served first come, first
    served: :class:`trio.Lock` is fair, and only the waiter holding it sleeps on the clock.
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        if not rate > 0 or math.isinf(rate):
            raise ValueError(f"rate must be a positive finite number of calls per second: {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1: {burst!r}")
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate
        # How far ahead of "now" the theoretical arrival time may run: room for burst - 1 calls
        # beyond the one being admitted.
        self._tolerance = self._interval * (burst - 1)
        # -inf rather than trio.current_time(): the bucket may be built before trio.run starts.
        self._tat = -math.inf
        self._paused_until = -math.inf
        self._lock = trio.Lock()

    def retune(self, rate: float, burst: int) -> None:
        """Take a new rate and burst (a configuration reload), keeping the bucket's state.

        The tokens available carry over, capped at the new burst (a reload is no reason for a
        fresh burst, nor for forgetting the calls just made), and a Retry-After pause still
        holds. A caller already waiting for a token rechecks once its current wait ends.
        """
        if not rate > 0 or math.isinf(rate):
            raise ValueError(f"rate must be a positive finite number of calls per second: {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1: {burst!r}")
        # GCRA keeps a theoretical arrival time, not a token count: convert through the count.
        now = trio.current_time()
        debt = max(0.0, self._tat - now) / self._interval
        available = min(float(burst), max(0.0, self.burst - debt))
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate
        self._tolerance = self._interval * (burst - 1)
        self._tat = now + (burst - available) * self._interval
        if self._paused_until > now:
            self._tat = max(self._tat, self._paused_until + self._tolerance)

    @property
    def paused_until(self) -> float:
        """The trio-clock time before which nobody is admitted (``-inf`` when not paused)."""
        return self._paused_until

    def next_free_at(self) -> float:
        """The earliest trio-clock time at which a call that arrived now could be admitted."""
        return max(self._paused_until, self._tat - self._tolerance)

    async def acquire(self) -> None:
        """Wait until a call may be made, then count it against the rate.

        Cancelling a waiter costs nothing: the bucket is only charged once a call is admitted.
        """
        async with self._lock:
            while True:
                now = trio.current_time()
                admit_at = self.next_free_at()
                if now >= admit_at:
                    break
                # Loop rather than trust one sleep: pause_until() may move the goalposts while
                # we are asleep.
                await trio.sleep_until(admit_at)
            self._tat = max(self._tat, now) + self._interval

    def pause_until(self, deadline: float) -> None:
        """Admit nobody before the trio-clock time ``deadline`` (a 429's ``Retry-After``).

        A pause only ever extends an earlier one. When it ends the source resumes at its steady
        rate with no burst credit: the upstream has just told us we were too fast, and a crowd of
        queued requests firing the instant the pause ends would likely earn another 429.
        """
        self._paused_until = max(self._paused_until, deadline)
        self._tat = max(self._tat, deadline + self._tolerance)


def _utc_day(timestamp: float) -> dt.date:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).date()


class DailyQuota:
    """Counts calls per UTC calendar day against ``limit`` (``None``: unlimited).

    The count lives in memory, so a restart forgets it; upstream quotas are usually enforced on
    their side as well, and a restart mid-day costs at most one day's allowance.
    """

    def __init__(self, limit: int | None, *, now: Callable[[], float] = time.time) -> None:
        if limit is not None and limit < 0:
            raise ValueError(f"limit must not be negative: {limit!r}")
        self.limit = limit
        self._now = now
        self._day: dt.date | None = None
        self._used = 0

    def _roll_over(self) -> None:
        day = _utc_day(self._now())
        if day != self._day:
            self._day = day
            self._used = 0

    @property
    def used(self) -> int:
        """Calls counted so far today (UTC)."""
        self._roll_over()
        return self._used

    @property
    def remaining(self) -> int | None:
        """Calls left today (UTC), or ``None`` when there is no limit."""
        if self.limit is None:
            return None
        self._roll_over()
        return max(0, self.limit - self._used)

    def try_take(self) -> bool:
        """Count one call if today's quota allows it; ``False`` (and nothing counted) if not."""
        self._roll_over()
        if self.limit is not None and self._used >= self.limit:
            return False
        self._used += 1
        return True

    def resets_at(self) -> float:
        """The wall-clock time (epoch seconds) of the next UTC midnight, when the count resets."""
        today = _utc_day(self._now())
        midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC)
        return midnight.timestamp()
