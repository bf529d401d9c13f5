"""Cache policy: each module's TTL and stale window, and the freshness of a cache entry."""

from __future__ import annotations

from typing import Literal

from ..config import CacheConfig, ConfigError, parse_duration
from ..plugins._manager import Registry
from ._records import CacheEntry, CacheHead

Freshness = Literal["fresh", "stale", "expired", "missing"]

#: The longest stale window: data goes stale at most this long before it expires.
MAX_STALE_WINDOW = 7 * 86400

#: Worst first, for ``overall_freshness``.
FRESHNESS_ORDER: dict[str, int] = {"expired": 0, "stale": 1, "fresh": 2}


class CachePolicy:
    """TTLs from the module specs, overridden by ``[cache.ttl]`` and ``[cache.stale_window]``."""

    def __init__(self, registry: Registry, config: CacheConfig) -> None:
        self.ttl: dict[str, int] = {}
        self.stale_window: dict[str, int] = {}
        for section, table in (
            ("cache.ttl", config.ttl),
            ("cache.stale_window", config.stale_window),
        ):
            for module_id in table:
                if module_id not in registry.modules:
                    raise ConfigError(
                        f"{section}.{module_id}: no such module; known modules: "
                        + ", ".join(registry.modules)
                    )
        for module_id, spec in registry.modules.items():
            ttl = spec.ttl_seconds
            if module_id in config.ttl:
                ttl = parse_duration(config.ttl[module_id], key=f"cache.ttl.{module_id}")
            window = spec.stale_window_seconds
            if module_id in config.stale_window:
                window = parse_duration(
                    config.stale_window[module_id], key=f"cache.stale_window.{module_id}"
                )
            if window is None:
                window = min(MAX_STALE_WINDOW, ttl // 2)
            if window > ttl:
                raise ConfigError(
                    f"cache.stale_window.{module_id}: {window}s is longer than the TTL ({ttl}s)"
                )
            self.ttl[module_id] = ttl
            self.stale_window[module_id] = window


def freshness(entry: CacheEntry | CacheHead | None, now: float) -> Freshness:
    """``fresh`` until the entry's last stale window, ``stale`` in it, ``expired`` after the TTL.

    An entry invalidated because a module it was derived from changed is ``stale`` at best.
    """
    if entry is None:
        return "missing"
    age = now - entry.fetched_at
    if age >= entry.ttl_seconds:
        return "expired"
    if entry.invalidated or age >= entry.ttl_seconds - entry.stale_window_seconds:
        return "stale"
    return "fresh"


def ttl_remaining(entry: CacheEntry, now: float) -> int:
    """Whole seconds until the entry expires (0 once it has)."""
    return max(0, int(entry.fetched_at + entry.ttl_seconds - now))


def is_hit(entry: CacheEntry | CacheHead | None, now: float) -> bool:
    """Whether a job without ``force`` may take this entry instead of running the module."""
    return (
        entry is not None and not entry.invalidated and freshness(entry, now) in ("fresh", "stale")
    )
