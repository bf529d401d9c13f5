"""A circuit breaker per source: stop calling an upstream that keeps failing, probe it later.

Closed: calls go through; ``threshold`` consecutive failed calls (5xx, timeouts, connection
errors, each after its retries) open it. Open: calls fail at once with ``circuit_open`` — which
makes a module fall back to the next source instead of waiting out retries — until
``reset_seconds`` have passed. Then
half-open: one probe call goes through while the others still fail fast; its success closes the
circuit, its failure opens it again for twice as long (capped), so a dead upstream costs one
call per interval, not one per job.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["CircuitBreaker", "CircuitState"]

CircuitState = Literal["closed", "open", "half_open"]

_MAX_RESET_FACTOR = 16


class CircuitBreaker:
    """The breaker's state machine; times are trio times (``trio.current_time()``)."""

    def __init__(self, threshold: int = 5, reset_seconds: float = 30.0) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be at least 1: {threshold!r}")
        if reset_seconds <= 0:
            raise ValueError(f"reset_seconds must be positive: {reset_seconds!r}")
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self.failures = 0
        self.opened_until = 0.0
        self.times_opened = 0
        self._state: CircuitState = "closed"
        self._factor = 1
        self._probing = False

    def state(self, now: float) -> CircuitState:
        """The state at ``now`` (an open circuit whose time is up reads as half-open)."""
        if self._state == "open" and now >= self.opened_until:
            return "half_open"
        return self._state

    def allow(self, now: float) -> bool:
        """Whether a call may go upstream now; a half-open circuit lets one probe through."""
        state = self.state(now)
        if state == "closed":
            return True
        if state == "open" or self._probing:
            return False
        self._state = "half_open"
        self._probing = True
        return True

    def retry_in(self, now: float) -> float:
        """Seconds until the next probe may go (0 when half-open)."""
        return max(0.0, self.opened_until - now)

    def release(self) -> None:
        """A probe ended with no verdict (cancelled): let the next call probe instead."""
        self._probing = False

    def success(self) -> None:
        """A call got an answer: close the circuit."""
        self.failures = 0
        self._factor = 1
        self._probing = False
        self._state = "closed"

    def failure(self, now: float) -> None:
        """A call failed in a way that says the upstream is unhealthy."""
        self.failures += 1
        if self._state == "half_open" or self._probing:
            # The probe failed: back off longer before the next one.
            self._factor = min(self._factor * 2, _MAX_RESET_FACTOR)
            self._open(now)
        elif self._state == "closed" and self.failures >= self.threshold:
            self._open(now)

    def _open(self, now: float) -> None:
        self._state = "open"
        self._probing = False
        self.times_opened += 1
        self.opened_until = now + self.reset_seconds * self._factor
