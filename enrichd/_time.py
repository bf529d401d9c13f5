"""Timestamps: the daemon keeps epoch seconds internally and shows ISO 8601 UTC."""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable

#: Wall-clock source; tests inject their own to move time without sleeping.
WallClock = Callable[[], float]

system_clock: WallClock = time.time


def iso(ts: float | None) -> str | None:
    """``ts`` (epoch seconds) as ISO 8601 UTC with a ``Z``, or None."""
    if ts is None:
        return None
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def compact(ts: float) -> str:
    """``ts`` as ``YYYYMMDDHHMMSS`` (UTC), as used in job and batch ids."""
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y%m%d%H%M%S")
