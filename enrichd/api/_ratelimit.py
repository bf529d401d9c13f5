"""Per-client rate limiting of the API: one token bucket per client, answered without waiting.

The source actors' :class:`~enrichd.daemon._ratelimit.TokenBucket` makes its caller wait; the
API instead refuses at once (429 with ``Retry-After``), so a flooding client costs one dictionary
look-up per request and never ties up a server task.

Each bucket is kept as GCRA's single number, the *theoretical arrival time* (TAT): a request is
admitted while the TAT is at most ``burst - 1`` intervals ahead of now, and each admission pushes
the TAT one interval further. A bucket whose TAT is in the past is full, exactly like a bucket
never seen, so it is dropped: memory holds only clients that sent something in the last
``burst / rate`` seconds, and never more than ``max_clients`` of them.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

import trio

__all__ = ["ClientRateLimiter", "retry_after_header"]

#: Most clients tracked at once. Past it the least recently admitted client loses its bucket
#: (and gets a fresh burst): a bounded table matters more than exactness under an address flood.
DEFAULT_MAX_CLIENTS = 10_000
# Slack for the floating-point sums of intervals: 100 additions of 0.02 exceed 2.0 by ~1e-15,
# which must not cost a client the last request of its burst.
_EPSILON = 1e-9


class ClientRateLimiter:
    """Admits ``rate`` requests per second per client on average, in bursts of up to ``burst``."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        if not rate > 0 or math.isinf(rate):
            raise ValueError(f"rate must be a positive finite number per second: {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1: {burst!r}")
        if max_clients < 1:
            raise ValueError(f"max_clients must be at least 1: {max_clients!r}")
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._interval = 1.0 / rate
        # How far ahead of now a TAT may run and still admit: room for burst - 1 more requests.
        self._tolerance = self._interval * (burst - 1)
        self._clock = clock
        # Client key -> TAT, least recently admitted first.
        self._tats: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        """How many clients currently have a bucket that is not full."""
        return len(self._tats)

    def check(self, key: str) -> float | None:
        """Count one request of ``key``: None when admitted, else the seconds until it would be.

        A refused request is not charged, so a client that keeps hammering is still admitted as
        soon as its bucket has a token again.
        """
        now = self._clock()
        self._evict_full(now)
        tat = self._tats.get(key, now)
        wait = tat - self._tolerance - now
        if wait > _EPSILON:
            return wait
        self._tats[key] = max(tat, now) + self._interval
        self._tats.move_to_end(key)
        while len(self._tats) > self.max_clients:
            self._tats.popitem(last=False)
        return None

    def _evict_full(self, now: float) -> None:
        """Drop buckets that have refilled completely, oldest first.

        The table is ordered by last admission, not by TAT, so this stops at the first bucket
        still refilling; the ones behind it go on a later call. Each bucket is dropped once, so
        the cost per request stays constant on average.
        """
        while self._tats:
            key, tat = next(iter(self._tats.items()))
            if tat > now:
                return
            del self._tats[key]


def retry_after_header(wait: float) -> int:
    """``Retry-After`` in whole seconds for a wait of ``wait`` seconds: rounded up, at least 1.

    Rounding down would send the client back before its token exists, to be refused again.
    """
    return max(1, math.ceil(wait))
