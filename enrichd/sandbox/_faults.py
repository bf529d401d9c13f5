"""Injected faults: the ways real upstreams fail, on demand or at random.

Rules come from ``POST /_sandbox/faults`` (per upstream or ``"*"`` for all); on top of them the
sandbox's ``fault_rate`` option fails that fraction of all requests with a kind drawn at random.
Everything random comes from one seeded generator, so a run with a seed is reproducible.
"""

from __future__ import annotations

import random
from typing import Annotated, Literal, get_args

import msgspec

from ._http import HttpResponse, json_response

__all__ = ["KINDS", "FaultKind", "FaultRule", "Faults", "fault_response", "truncate_json"]

FaultKind = Literal["500", "503", "429", "timeout", "malformed_json", "reset"]

#: Every fault kind, in a fixed order (the random mix draws from it).
KINDS: tuple[FaultKind, ...] = get_args(FaultKind)

_REASONS = {"500": "Internal Server Error", "503": "Service Unavailable", "504": "Gateway Timeout"}


class FaultRule(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /_sandbox/faults``: fail ``rate`` of ``upstream``'s requests with ``kind``."""

    #: A source name, or ``"*"`` for every upstream.
    upstream: str
    kind: FaultKind
    #: Fraction of matching requests to fail (default: every one).
    rate: Annotated[float, msgspec.Meta(ge=0, le=1)] = 1.0
    #: Inject only this many, then drop the rule (default: no end).
    count: Annotated[int, msgspec.Meta(ge=1)] | None = None

    def matches(self, upstream: str) -> bool:
        """Whether this rule applies to ``upstream``'s requests."""
        return self.upstream in ("*", upstream)


class Faults:
    """The active rules plus the global random ``fault_rate``."""

    def __init__(self, rng: random.Random, fault_rate: float = 0.0) -> None:
        self._rng = rng
        self.fault_rate = fault_rate
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> None:
        """Add a rule; earlier rules are tried first."""
        self._rules.append(rule)

    def clear(self) -> None:
        """Drop every rule (the global ``fault_rate`` stays: it is a start-up option)."""
        self._rules.clear()

    def rules(self) -> list[FaultRule]:
        """The active rules; ``count`` is what is left to inject."""
        return list(self._rules)

    def pick(self, upstream: str) -> FaultKind | None:
        """The fault to inject into this request of ``upstream``, if any."""
        for rule in self._rules:
            if rule.matches(upstream) and self._rng.random() < rule.rate:
                self._use(rule)
                return rule.kind
        if self.fault_rate > 0 and self._rng.random() < self.fault_rate:
            return self._rng.choice(KINDS)
        return None

    def _use(self, rule: FaultRule) -> None:
        if rule.count is None:
            return
        rule.count -= 1
        if rule.count <= 0:
            self._rules.remove(rule)


def fault_response(status: int) -> HttpResponse:
    """An injected server error: ``status`` with a short JSON body saying it was simulated."""
    reason = _REASONS.get(str(status), "Error")
    return json_response({"error": {"status": status, "message": f"{reason} (simulated)"}}, status)


#: Sent when an upstream's own body is too short to truncate into invalid JSON.
_BROKEN_JSON = b'{"results": [{"id": 1, "na'


def truncate_json(response: HttpResponse) -> HttpResponse:
    """A 200 whose JSON body stops half-way, as when an upstream's connection drops mid-body.

    The upstream's real answer is cut, so a client sees a plausible start of the right document.
    """
    body = response.body.rstrip()
    cut = body[: len(body) // 2]
    if len(cut) < 2 or _decodes(cut):
        cut = _BROKEN_JSON
    return HttpResponse(
        status=200,
        headers=[("content-type", "application/json; charset=utf-8")],
        body=cut,
    )


def _decodes(body: bytes) -> bool:
    try:
        msgspec.json.decode(body)
    except msgspec.DecodeError:
        return False
    return True
