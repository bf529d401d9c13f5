"""Running the daemon: store lock, engine, and the HTTP server in one Trio nursery."""

from __future__ import annotations

import fcntl
import logging
import os
import signal
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import hypercorn.config
import hypercorn.trio
import msgspec
import trio

from ..config import Config, ConfigError
from ..plugins._manager import load_plugins
from ._engine import Engine
from ._store import Store, StoreError

if TYPE_CHECKING:
    from ..sandbox import SandboxOptions

log = logging.getLogger("enrichd")


class DataDirLock:
    """An exclusive lock on the data directory: a second daemon on it is refused."""

    def __init__(self, path: Path) -> None:
        self.path = path / "enrichd.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`StoreError` naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")  # noqa: SIM115 - held open for the daemon's lifetime
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise StoreError(
                f"another enrichd (pid {holder}) is already using {str(self.path.parent)!r}; "
                "stop it or choose another --data-dir"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._file = f

    def release(self) -> None:
        """Drop the lock."""
        if self._file is not None:
            self._file.close()
            self._file = None


def build_engine(config: Config, *, extra_plugins: Sequence[tuple[str, Any]] = ()) -> Engine:
    """Load plugins, open the store and build the engine (no tasks started yet)."""
    registry = load_plugins(
        disable=config.plugins.disable,
        extra_modules=config.plugins.modules,
        extra_objects=extra_plugins,
    )
    if not registry.modules:
        raise ConfigError("no enrichment modules are loaded: check [plugins] and the install")
    store = Store(config.storage.path, map_size=config.storage.map_size_mb * 1024 * 1024)
    try:
        return Engine(config, registry, store)
    except BaseException:
        store.close()
        raise


async def serve(
    config: Config,
    *,
    extra_plugins: Sequence[tuple[str, Any]] = (),
    sandbox: SandboxOptions | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the daemon until SIGTERM or SIGINT; reports the bound URLs once listening.

    With ``sandbox``, the simulated upstream APIs run in the same process and every source is
    pointed at them (``enrichd serve --sandbox``): no keys, no internet, simulated data.
    """
    lock = DataDirLock(Path(config.storage.path))
    lock.acquire()
    try:
        async with trio.open_nursery() as outer:
            if sandbox is not None:
                config = await _start_sandbox(outer, config, sandbox)
            await _serve_engine(config, extra_plugins, task_status)
            outer.cancel_scope.cancel(reason="daemon stopped")
    finally:
        lock.release()


async def _start_sandbox(nursery: trio.Nursery, config: Config, options: SandboxOptions) -> Config:
    from ..sandbox import Sandbox

    box = Sandbox(options)
    url: str = await nursery.start(box.run)
    log.warning(
        "sandbox mode: every source points at the simulated upstream APIs on %s; "
        "results are simulated data, not real company facts",
        url,
    )
    return with_source_overrides(config, box.source_overrides(url))


def with_source_overrides(config: Config, overrides: dict[str, dict[str, Any]]) -> Config:
    """A copy of ``config`` whose ``[sources.<name>]`` tables take the keys in ``overrides``."""
    sources = {name: dict(table) for name, table in config.sources.items()}
    for name, table in overrides.items():
        sources[name] = {**sources.get(name, {}), **table}
    return msgspec.structs.replace(config, sources=sources)


async def _serve_engine(
    config: Config,
    extra_plugins: Sequence[tuple[str, Any]],
    task_status: trio.TaskStatus[list[str]],
) -> None:
    from ..api import Authenticator, create_app

    engine = build_engine(config, extra_plugins=extra_plugins)
    try:
        auth = Authenticator(config, engine.store)
        if not auth.has_tokens():
            log.warning(
                "no API token is configured: every /api request will get 401. Create one "
                "with `enrichd token create NAME` or set ENRICHD_API_TOKEN"
            )
        app = create_app(engine, auth)
        hconfig = hypercorn.config.Config()
        hconfig.bind = [config.server.bind]
        hconfig.graceful_timeout = config.server.graceful_timeout_seconds
        hconfig.accesslog = None
        # Hypercorn's errors go through our logging; its "Running on" line duplicates ours.
        hconfig.errorlog = logging.getLogger("hypercorn.error")
        shutdown = trio.Event()
        async with engine.running(), trio.open_nursery() as nursery:
            nursery.start_soon(_watch_signals, shutdown)
            binds: list[str] = await nursery.start(
                partial(hypercorn.trio.serve, app, hconfig, shutdown_trigger=shutdown.wait)
            )
            for url in binds:
                log.info("enrichd listening on %s", url)
            task_status.started(binds)
            await shutdown.wait()
            log.info("shutting down")
            engine.stopping = True
    finally:
        engine.store.close()


async def _watch_signals(shutdown: trio.Event) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.info("received %s", signal.Signals(signum).name)
            shutdown.set()
            return
