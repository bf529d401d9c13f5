"""Reloading the configuration into the running daemon: SIGHUP, or ``systemctl reload enrichd``.

The new file is read the way start-up read it (the same path, ``--bind``/``--data-dir``, the
environment and ``$CREDENTIALS_DIRECTORY``), validated in full against the loaded plugins, and only
then applied, in one step with no checkpoint in between: no task ever sees half a configuration.
An invalid file changes nothing; the daemon goes on with the configuration it has.

What applies at once:

- ``[sources.<name>]``, every key (and keys from the environment or credentials): limits, keys,
  base URLs, timeouts, retries, ``enabled``, the source's own options. See
  :meth:`~enrichd.daemon._sources.SourceActor.reconfigure` for how calls in flight and the rate
  limiter's state carry over.
- ``[jobs]`` (``max_concurrent_jobs`` for admissions from now on; the module timeout for modules
  that start from now on), ``[cache]`` TTLs and stale windows (for results written from now on),
  ``[intel]`` and ``[modules.<id>]`` (for modules that start from now on), ``[logging] level``.

What needs a restart (:data:`RESTART_SECTIONS`): ``[server]`` (the listening socket, body and
client rate limits, the graceful timeout), ``[storage]``, ``[plugins]``, ``[auth]``, and
``[logging]`` keys other than ``level`` (the format). A change there is logged as a warning naming
each key, and the daemon keeps the running values.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import msgspec
import trio

from ..config import Config, ConfigError, ResolvedSource
from ._cache import CachePolicy
from ._engine import Engine, resolve_sources
from ._notify import Notifier

log = logging.getLogger("enrichd")

#: Sections read once at start-up: a change is reported, and takes effect at the next restart.
RESTART_SECTIONS: Final = ("server", "storage", "plugins", "auth")
#: Sections (besides ``[sources]``) applied by a reload, and how deep their changes are named:
#: ``jobs.module_timeout_seconds``, ``cache.ttl.m02_tech_stack``, ``modules.m10_hiring_signals``.
_LIVE_SECTIONS: Final = {"jobs": 1, "cache": 2, "intel": 1, "modules": 1}
#: The one ``[logging]`` key a reload applies; the others (the format) need a restart.
_LIVE_LOGGING_KEY: Final = "logging.level"


class ReloadOutcome(msgspec.Struct, kw_only=True, frozen=True):
    """What a reload applied, and what it could not apply until a restart (key names only)."""

    changed: list[str]
    needs_restart: list[str]


class ReloadRequests:
    """Reloads asked for (SIGHUP) and not yet begun; several pending ones count as one, since a
    reload reads the file as it is when it begins."""

    def __init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[None](1)

    def request(self) -> None:
        """Ask for a reload (never blocks)."""
        with contextlib.suppress(trio.WouldBlock):
            self._send.send_nowait(None)

    async def wait(self) -> None:
        """Wait until a reload is asked for."""
        await self._receive.receive()


def _diff(prefix: str, old: Any, new: Any, depth: int) -> Iterator[str]:
    """Dotted names of the keys that differ between two decoded tables, ``depth`` levels down."""
    if depth == 0 or not isinstance(old, Mapping) or not isinstance(new, Mapping):
        if old != new:
            yield prefix
        return
    for key in sorted(set(old) | set(new), key=str):
        yield from _diff(f"{prefix}.{key}", old.get(key), new.get(key), depth - 1)


def section_changes(old: Config, new: Config, section: str, depth: int = 1) -> list[str]:
    """The keys of ``[section]`` that differ between ``old`` and ``new``."""
    before = msgspec.to_builtins(getattr(old, section))
    after = msgspec.to_builtins(getattr(new, section))
    return list(_diff(section, before, after, depth))


def _source_changes(
    name: str, old: ResolvedSource, new: ResolvedSource, fields: list[str]
) -> list[str]:
    """``sources.<name>.<key>`` for each changed setting, the source's own options by key."""
    keys: list[str] = []
    for field in fields:
        if field == "options":
            keys.extend(
                _diff(
                    f"sources.{name}",
                    msgspec.to_builtins(old.options),
                    msgspec.to_builtins(new.options),
                    1,
                )
            )
        else:
            keys.append(f"sources.{name}.{field}")
    return keys


def apply_config(engine: Engine, new: Config) -> ReloadOutcome:
    """Validate ``new`` against the engine's plugins and apply what can change while running.

    Raises :class:`ConfigError` (naming the key) and changes nothing when ``new`` is invalid.
    Sections in :data:`RESTART_SECTIONS` keep their running values in ``engine.config``.
    """
    old = engine.config
    # Everything that can fail comes first: past this point nothing raises.
    resolved = resolve_sources(engine.registry, new)
    policy = CachePolicy(engine.registry, new.cache)
    engine.registry.check_module_options(new.modules)
    needs_restart = [key for s in RESTART_SECTIONS for key in section_changes(old, new, s)]
    changed = [
        key for s, depth in _LIVE_SECTIONS.items() for key in section_changes(old, new, s, depth)
    ]
    for key in section_changes(old, new, "logging"):
        (changed if key == _LIVE_LOGGING_KEY else needs_restart).append(key)
    for name, (_spec, settings) in resolved.items():
        actor = engine.sources[name]
        before = actor.settings
        changed.extend(_source_changes(name, before, settings, actor.reconfigure(settings)))
    engine.config = msgspec.structs.replace(
        new,
        logging=msgspec.structs.replace(old.logging, level=new.logging.level),
        **{section: getattr(old, section) for section in RESTART_SECTIONS},
    )
    engine.cache_policy = policy
    _set_max_concurrent_jobs(engine, new.jobs.max_concurrent_jobs)
    if new.logging.level != old.logging.level:
        logging.getLogger().setLevel(new.logging.level.upper())
    return ReloadOutcome(changed=changed, needs_restart=needs_restart)


def _set_max_concurrent_jobs(engine: Engine, limit: int) -> None:
    scheduler = engine.scheduler
    if scheduler.max_concurrent == limit:
        return
    scheduler.set_max_concurrent(limit)


def reload_config(engine: Engine, load: Callable[[], Config]) -> ReloadOutcome | None:
    """Read the configuration with ``load`` and apply it; None (logged) if it was refused.

    Never raises: whatever goes wrong, the daemon goes on with the configuration it has.
    """
    try:
        outcome = apply_config(engine, load())
    except ConfigError as exc:
        log.error(
            "configuration not reloaded (still running on the previous one): %s",
            exc,
            extra={"event": "config.reload_refused"},
        )
        return None
    except Exception:
        log.exception(
            "configuration not reloaded (still running on the previous one)",
            extra={"event": "config.reload_refused"},
        )
        return None
    if outcome.needs_restart:
        log.warning(
            "configuration reloaded, but these keys take effect only after a restart (the "
            "running values are kept until then): %s",
            ", ".join(outcome.needs_restart),
            extra={"event": "config.restart_needed", "keys": outcome.needs_restart},
        )
    log.info(
        "configuration reloaded: %s",
        "changed " + ", ".join(outcome.changed) if outcome.changed else "nothing to change",
        extra={"event": "config.reloaded", "changed": outcome.changed},
    )
    return outcome


async def serve_reloads(
    requests: ReloadRequests,
    engine: Engine,
    load: Callable[[], Config] | None,
    notifier: Notifier,
    ready_status: str,
) -> None:
    """Reload the configuration each time one is requested, until cancelled.

    systemd hears ``RELOADING=1`` before and ``READY=1`` after each reload, so ``systemctl
    reload`` returns once it is done (``MONOTONIC_USEC`` is what ``Type=notify-reload`` asks for).
    Without ``load`` (a daemon embedded without a way to re-read its file) requests are refused.
    """
    while True:
        await requests.wait()
        if engine.stopping:
            log.info("not reloading the configuration: the daemon is stopping")
            continue
        if load is None:
            log.warning("cannot reload: this daemon was started without a configuration loader")
            continue
        notifier.notify(
            RELOADING=1,
            MONOTONIC_USEC=time.monotonic_ns() // 1000,
            STATUS="reloading the configuration",
        )
        try:
            reload_config(engine, load)
        finally:
            notifier.notify(READY=1, STATUS=ready_status)
