"""The sandbox's per-upstream rate limits: what a real API does to a client that goes too fast.

Each upstream has a token bucket with the rate and burst the real API allows (or an override).
A request over the limit is answered 429 with ``Retry-After`` and the body the real API sends,
and counted as a *violation* in the stats, so a benchmark or test can prove that the daemon's own
rate limiting keeps it under every upstream's limit.
"""

from __future__ import annotations

import math
from typing import Annotated

import msgspec
import trio

from ._http import HttpResponse, json_response

__all__ = [
    "DEFAULT_LIMITS",
    "UPSTREAMS",
    "Limit",
    "RateLimiter",
    "too_many_requests",
]

#: Extra tokens granted above ``burst``. The daemon's bucket and the sandbox's run on different
#: clocks (often in different processes); requests the daemon spaced correctly can arrive bunched
#: by network jitter, and one token of slack keeps those from counting as violations.
TOLERANCE = 1


class Limit(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One upstream's limit: ``rate_per_second`` (``None``: unlimited) with bursts of ``burst``."""

    rate_per_second: Annotated[float, msgspec.Meta(gt=0)] | None
    #: Unset: the rate rounded up (at least 1), i.e. one second's worth of requests.
    burst: Annotated[int, msgspec.Meta(ge=1)] | None = None

    def __post_init__(self) -> None:
        # Meta constraints only apply when decoding; direct construction is checked here.
        rate = self.rate_per_second
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate_per_second must be a positive finite number or null: {rate!r}")
        if self.burst is not None and self.burst < 1:
            raise ValueError(f"burst must be at least 1: {self.burst!r}")

    @property
    def effective_burst(self) -> int:
        """``burst``, or one second's worth of requests when unset."""
        if self.burst is not None:
            return self.burst
        return max(1, math.ceil(self.rate_per_second or 1))

    def to_builtins(self) -> dict[str, float | int | None]:
        """As served by ``GET /_sandbox/limits``."""
        return {"rate_per_second": self.rate_per_second, "burst": self.effective_burst}


#: What each real API allows (rate per second, burst); the daemon's defaults are at or below.
DEFAULT_LIMITS: dict[str, Limit] = {
    "builtwith": Limit(rate_per_second=10, burst=10),
    "builtwith_free": Limit(rate_per_second=1, burst=1),
    "similarweb": Limit(rate_per_second=10, burst=10),
    "yahoo_finance": Limit(rate_per_second=5, burst=5),
    "websearch": Limit(rate_per_second=5, burst=5),
    "llm": Limit(rate_per_second=5, burst=5),
    "homepage": Limit(rate_per_second=20, burst=20),
}

#: Every simulated upstream, by source name.
UPSTREAMS: tuple[str, ...] = tuple(DEFAULT_LIMITS)


class _Bucket:
    """A token bucket as GCRA, like the daemon's ``TokenBucket`` but refusing instead of waiting.

    Keeping the same algorithm on both sides means a daemon configured at the sandbox's rate is
    admitted at exactly the instants the sandbox expects, up to clock offsets.
    """

    def __init__(self, rate: float, burst: int) -> None:
        self._interval = 1.0 / rate
        # Room for (burst + TOLERANCE - 1) requests beyond the one being admitted.
        self._slack = self._interval * (burst + TOLERANCE - 1)
        self._tat = -math.inf

    def take(self, now: float) -> float | None:
        """Admit one request (``None``) or say how many seconds until one would be admitted."""
        admit_at = self._tat - self._slack
        if now < admit_at:
            return admit_at - now
        self._tat = max(self._tat, now) + self._interval
        return None


class RateLimiter:
    """Every upstream's bucket, on trio's clock (so ``MockClock`` drives it in tests)."""

    def __init__(self, overrides: dict[str, Limit] | None = None) -> None:
        self._limits = {**DEFAULT_LIMITS, **(overrides or {})}
        self._buckets: dict[str, _Bucket | None] = {}

    def set(self, upstream: str, limit: Limit) -> None:
        """Replace ``upstream``'s limit; its bucket starts full."""
        self._limits[upstream] = limit
        self._buckets.pop(upstream, None)

    def refill(self) -> None:
        """Start every bucket full again (after ``POST /_sandbox/reset``)."""
        self._buckets.clear()

    def limits(self) -> dict[str, dict[str, float | int | None]]:
        """Every upstream's current limit, as served by ``GET /_sandbox/limits``."""
        return {name: limit.to_builtins() for name, limit in self._limits.items()}

    def check(self, upstream: str) -> int | None:
        """Count a request: ``None`` if admitted, else the ``Retry-After`` seconds (at least 1)."""
        if upstream not in self._buckets:
            limit = self._limits.get(upstream)
            rate = limit.rate_per_second if limit is not None else None
            self._buckets[upstream] = (
                None if limit is None or rate is None else _Bucket(rate, limit.effective_burst)
            )
        bucket = self._buckets[upstream]
        if bucket is None:
            return None
        wait = bucket.take(trio.current_time())
        if wait is None:
            return None
        return max(1, math.ceil(wait))


def too_many_requests(upstream: str, retry_after: int) -> HttpResponse:
    """A 429 in ``upstream``'s own shape (a generic JSON body where the real one is unknown)."""
    headers = [("retry-after", str(retry_after))]
    if upstream == "yahoo_finance":
        # Yahoo answers plain text, which clients such as yfinance match on.
        return HttpResponse(
            status=429,
            headers=[("content-type", "text/plain; charset=utf-8"), *headers],
            body=b"Too Many Requests",
        )
    return json_response(_BODIES_429.get(upstream, _GENERIC_429), 429, headers)


_GENERIC_429 = {"error": {"status": 429, "message": "Too Many Requests"}}

_BODIES_429: dict[str, object] = {
    "similarweb": {
        "meta": {"status": "Error", "error_code": 429, "error_message": "Too many requests"}
    },
    "websearch": {
        "type": "ErrorResponse",
        "error": {
            "code": "RATE_LIMITED",
            "detail": "Request rate limit exceeded for plan.",
            "meta": {"component": "rate_limiter"},
            "status": 429,
        },
    },
    "llm": {
        "error": {
            "message": "Rate limit reached for requests. Please try again later.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    },
}
