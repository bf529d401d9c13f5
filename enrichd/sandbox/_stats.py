"""Counters behind ``GET /_sandbox/stats``: what each upstream was asked and what it answered."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from ._faults import KINDS

__all__ = ["Stats"]


class _Counts:
    def __init__(self) -> None:
        self.requests = 0
        self.responses: Counter[int] = Counter()
        self.violations = 0
        self.faults: Counter[str] = Counter()

    def add(self, other: _Counts) -> None:
        self.requests += other.requests
        self.responses.update(other.responses)
        self.violations += other.violations
        self.faults.update(other.faults)

    def to_builtins(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "responses": {str(s): n for s, n in sorted(self.responses.items())},
            "violations": self.violations,
            "faults": {kind: self.faults[kind] for kind in KINDS},
        }


class Stats:
    """Per-upstream counts of requests, responses by status, rate-limit violations and faults.

    A request the client abandoned (a hung ``timeout`` fault) or that was answered with a
    connection reset has no response status; it still counts as a request and, if injected, as a
    fault.
    """

    def __init__(self, upstreams: Iterable[str]) -> None:
        # Known upstreams are listed even before their first request, so the shape is stable.
        self._known = tuple(upstreams)
        self._counts: dict[str, _Counts] = {}
        self.unrouted = 0
        self.clear()

    def clear(self) -> None:
        """Forget everything counted so far."""
        self._counts = {name: _Counts() for name in self._known}
        self.unrouted = 0

    def _of(self, upstream: str) -> _Counts:
        return self._counts.setdefault(upstream, _Counts())

    def request(self, upstream: str) -> None:
        """Count a request routed to ``upstream``."""
        self._of(upstream).requests += 1

    def response(self, upstream: str, status: int) -> None:
        """Count a response ``upstream`` sent."""
        self._of(upstream).responses[status] += 1

    def violation(self, upstream: str) -> None:
        """Count a request refused because the client exceeded ``upstream``'s rate limit."""
        self._of(upstream).violations += 1

    def fault(self, upstream: str, kind: str) -> None:
        """Count a fault injected into a request of ``upstream``."""
        self._of(upstream).faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        """The stats document: ``upstreams`` by name, their ``totals``, ``unrouted_requests``."""
        totals = _Counts()
        for counts in self._counts.values():
            totals.add(counts)
        return {
            "upstreams": {name: c.to_builtins() for name, c in self._counts.items()},
            "totals": totals.to_builtins(),
            "unrouted_requests": self.unrouted,
        }
