"""Running the daemon: store lock, engine, and the HTTP server in one Trio nursery.

Stopping: the first SIGTERM or SIGINT stops gracefully. New jobs are refused at once (503
``shutting_down``), running jobs are written back as queued (completed modules keep their
outputs), HTTP requests that arrived before the signal finish normally, and the process exits 0
once they have, within ``server.graceful_timeout_seconds`` plus a second. A second signal stops
at once: exit status 130, with everything committed so far kept, as after a crash.

Reloading: SIGHUP re-reads the configuration and applies what can change while running
(``_reload.py``); jobs go on undisturbed, and an invalid file changes nothing.

Under systemd (``Type=notify``, systemd/enrichd.service) the daemon sends ``READY=1`` once the API
is bound (and again after each reload, which ``RELOADING=1`` announces), ``STOPPING=1`` when a
stop begins, and ``WATCHDOG=1`` every half ``WatchdogSec`` while
the store writer and the scheduler make progress (or wait idle): a hung one stops the pings, and
systemd restarts the daemon.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import math
import os
import signal
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import hypercorn.config
import hypercorn.trio
import msgspec
import trio
from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope

from ..config import Config, ConfigError
from ..plugins._manager import load_plugins
from ._engine import REQUEST_ARRIVED, Engine
from ._notify import Notifier, watchdog_seconds
from ._reload import ReloadRequests, serve_reloads
from ._store import Store, StoreError

if TYPE_CHECKING:
    from ..sandbox import SandboxOptions

log = logging.getLogger("enrichd")

#: Seconds a forced stop (the second signal) may take before the process exits regardless.
FORCED_STOP_SECONDS = 3.0
#: Seconds HTTP requests that arrived during the graceful stop get once listening has stopped,
#: even if the graceful timeout is spent.
MIN_CLOSE_SECONDS = 1.0


class ForcedStop(KeyboardInterrupt):
    """A second stop signal cut the graceful stop short; ``enrichd serve`` exits with 130.

    A KeyboardInterrupt, so the command line's existing ``except KeyboardInterrupt`` maps it.
    """


class _StopRequest:
    """What the signals asked for: the first one a graceful stop, a second one a forced stop;
    SIGHUP a reload."""

    def __init__(self) -> None:
        self.requested = trio.Event()
        #: Cancelled by a forced stop; covers the engine and the HTTP server.
        self.scope = trio.CancelScope()
        self.forced = False
        self.reloads = ReloadRequests()


class _RequestTracker:
    """The API app, wrapped to know which HTTP requests are in flight and when they arrived.

    Each request's arrival time is put in :data:`REQUEST_ARRIVED` for the engine, which lets a
    request that arrived before a stop finish as if the stop had not come.
    """

    def __init__(self, app: ASGIFramework) -> None:
        self.app = app
        self._ticket = 0
        self._arrived: dict[int, float] = {}
        self._finished = trio.Event()

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """Serve one ASGI connection scope, tracking it if it is an HTTP request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self._ticket += 1
        ticket = self._ticket
        self._arrived[ticket] = now = trio.current_time()
        token = REQUEST_ARRIVED.set(now)
        try:
            await self.app(scope, receive, send)
        finally:
            REQUEST_ARRIVED.reset(token)
            del self._arrived[ticket]
            self._finished.set()

    def in_flight(self, arrived_before: float) -> int:
        """How many requests that arrived before ``arrived_before`` are still being served."""
        return sum(1 for t in self._arrived.values() if t < arrived_before)

    async def wait_until_served(self, arrived_before: float) -> None:
        """Wait until every request that arrived before ``arrived_before`` has been answered."""
        while self.in_flight(arrived_before):
            self._finished = trio.Event()
            await self._finished.wait()


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


def build_engine(
    config: Config,
    *,
    extra_plugins: Sequence[tuple[str, Any]] = (),
    sandbox_overrides: dict[str, dict[str, Any]] | None = None,
) -> Engine:
    """Load plugins, open the store and build the engine (no tasks started yet).

    With ``sandbox_overrides`` (the settings pointing sources at the sandbox), every source the
    sandbox does not simulate is disabled, and added to ``sandbox_overrides`` as such so that a
    reload keeps it disabled: sandbox mode promises that nothing reaches the internet.
    """
    registry = load_plugins(
        disable=config.plugins.disable,
        extra_modules=config.plugins.modules,
        extra_objects=extra_plugins,
    )
    if sandbox_overrides is not None:
        for name in registry.sources:
            if name not in sandbox_overrides:
                log.warning(
                    "sandbox mode: source %r is not simulated by the sandbox and is disabled "
                    "(its modules fail with source_not_configured); run without --sandbox to "
                    "use it",
                    name,
                )
                sandbox_overrides[name] = {"enabled": False}
        # Only sources a plugin provides: a sandboxed upstream whose plugin is not loaded (the
        # built-in one disabled, say) is no configuration error, at start or at a reload.
        for name in [n for n in sandbox_overrides if n not in registry.sources]:
            del sandbox_overrides[name]
        config = with_source_overrides(config, sandbox_overrides)
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
    reload_config: Callable[[], Config] | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the daemon until SIGTERM or SIGINT; reports the bound URLs once listening.

    Returns after a graceful stop (the first signal); raises :class:`ForcedStop` after a forced
    one (a second signal). With ``sandbox``, the simulated upstream APIs run in the same process
    and every source is pointed at them (``enrichd serve --sandbox``): no keys, no internet,
    simulated data. ``reload_config`` reads the configuration again as start-up read it: each
    SIGHUP applies what it returns (the sandbox still overriding the sources); without it,
    SIGHUP is logged and ignored.
    """
    lock = DataDirLock(Path(config.storage.path))
    lock.acquire()
    stop = _StopRequest()
    notifier = Notifier.from_env()
    try:
        async with trio.open_nursery() as outer:
            await outer.start(_watch_signals, stop, notifier)
            with stop.scope:
                load = reload_config
                overrides: dict[str, dict[str, Any]] | None = None
                if sandbox is not None:
                    overrides = await _start_sandbox(outer, sandbox)
                    if load is not None:
                        # build_engine adds the sources it disables: a reload reads them too.
                        load = partial(_load_with_overrides, load, overrides)
                await _serve_engine(
                    config, extra_plugins, stop, notifier, task_status, load, overrides
                )
            outer.cancel_scope.cancel(reason="daemon stopped")
    finally:
        lock.release()
    if stop.forced:
        log.warning("stopped at once; jobs that were running resume at the next start")
        raise ForcedStop


async def _start_sandbox(
    nursery: trio.Nursery, options: SandboxOptions
) -> dict[str, dict[str, Any]]:
    """Start the sandbox; the source settings that point at it."""
    from ..sandbox import Sandbox

    box = Sandbox(options)
    url: str = await nursery.start(box.run)
    log.warning(
        "sandbox mode: every source points at the simulated upstream APIs on %s; "
        "results are simulated data, not real company facts",
        url,
    )
    return box.source_overrides(url)


def _load_with_overrides(
    load: Callable[[], Config], overrides: dict[str, dict[str, Any]]
) -> Config:
    """The configuration ``load`` reads, still pointing at the sandbox after a reload."""
    return with_source_overrides(load(), overrides)


def with_source_overrides(config: Config, overrides: dict[str, dict[str, Any]]) -> Config:
    """A copy of ``config`` whose ``[sources.<name>]`` tables take the keys in ``overrides``."""
    sources = {name: dict(table) for name, table in config.sources.items()}
    for name, table in overrides.items():
        sources[name] = {**sources.get(name, {}), **table}
    return msgspec.structs.replace(config, sources=sources)


async def _serve_engine(
    config: Config,
    extra_plugins: Sequence[tuple[str, Any]],
    stop: _StopRequest,
    notifier: Notifier,
    task_status: trio.TaskStatus[list[str]],
    load: Callable[[], Config] | None = None,
    sandbox_overrides: dict[str, dict[str, Any]] | None = None,
) -> None:
    from ..api import Authenticator, create_app

    engine = build_engine(config, extra_plugins=extra_plugins, sandbox_overrides=sandbox_overrides)
    try:
        auth = Authenticator(config, engine.store)
        if not auth.has_tokens():
            log.warning(
                "no API token is configured: every /api request will get 401. Create one "
                "with `enrichd token create NAME` or set ENRICHD_API_TOKEN"
            )
        app = _RequestTracker(create_app(engine, auth))
        hconfig = hypercorn.config.Config()
        hconfig.bind = [config.server.bind]
        hconfig.graceful_timeout = config.server.graceful_timeout_seconds
        hconfig.accesslog = None
        # Hypercorn's errors go through our logging; its "Running on" line duplicates ours.
        hconfig.errorlog = logging.getLogger("hypercorn.error")
        close_http = trio.Event()
        # Leaving running() normally (after the graceful stop) writes running jobs back as
        # queued; leaving it by a forced stop's cancellation stops them where they are.
        async with engine.running(), trio.open_nursery() as nursery:
            binds: list[str] = await nursery.start(
                partial(
                    hypercorn.trio.serve,
                    app,
                    hconfig,
                    shutdown_trigger=close_http.wait,
                    mode="asgi",
                )
            )
            for url in binds:
                log.info("enrichd listening on %s", url)
            # Everything allocated at start-up (plugins, fingerprints, the suffix list) lives as
            # long as the daemon: keep it out of the collector's scans, whose full passes over
            # ~100k such objects stalled the event loop for 45-75 ms (docs/benchmarks.md).
            gc.collect()
            gc.freeze()
            # A request allocates a few thousand short-lived objects: collecting the youngest
            # generation every 20,000 allocations rather than 700 does the same work in fewer,
            # longer passes (~8 ms each), and older generations are scanned far less often.
            # Measured under load: +5% requests/s and a lower p95 (docs/benchmarks.md).
            gc.set_threshold(20_000, 20, 100)
            task_status.started(binds)
            status = f"listening on {' '.join(binds)}"
            notifier.notify(READY=1, STATUS=status)
            nursery.start_soon(serve_reloads, stop.reloads, engine, load, notifier, status)
            interval = watchdog_seconds()
            if notifier.enabled and interval is not None:
                actors = (("store writer", engine.writer), ("scheduler", engine.scheduler))
                nursery.start_soon(_watchdog, notifier, interval / 2, actors, stop.requested)
            await stop.requested.wait()
            await _stop_gracefully(engine, app, hconfig, close_http)
            # Every request is answered. Hypercorn would still hold idle keep-alive connections
            # until its graceful deadline: their idle timer dies with the request that armed it
            # (it is started inside Quart's request nursery), so nothing closes them earlier.
            nursery.cancel_scope.cancel(reason="every HTTP request answered")
        log.info("stopped")
    finally:
        engine.store.close()


async def _stop_gracefully(
    engine: Engine,
    app: _RequestTracker,
    hconfig: hypercorn.config.Config,
    close_http: trio.Event,
) -> None:
    """Refuse new jobs, write running jobs back as queued, and let earlier requests finish.

    HTTP keeps listening until every request that arrived before the stop has been answered (so
    a client that connects meanwhile gets a clear 503 ``shutting_down`` for new work, and reads
    still work), at most ``graceful_timeout``; then Hypercorn stops listening, and requests still
    open get what is left of that time, at least :data:`MIN_CLOSE_SECONDS`. Returns once every
    request is answered or that time is up.
    """
    engine.stopping = True
    started = trio.current_time()
    deadline = started + hconfig.graceful_timeout
    log.info(
        "stopping: new jobs are refused; %d running jobs are written back as queued; "
        "waiting up to %gs for %d HTTP requests in flight",
        engine.scheduler.running_count,
        hconfig.graceful_timeout,
        app.in_flight(started),
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(engine.stop_jobs)
        with trio.move_on_at(deadline):
            await app.wait_until_served(started)
    close_at = max(deadline, trio.current_time() + MIN_CLOSE_SECONDS)
    hconfig.graceful_timeout = close_at - trio.current_time()
    close_http.set()
    with trio.move_on_at(close_at):
        await app.wait_until_served(math.inf)
    late = app.in_flight(math.inf)
    if late:
        log.warning("closing %d HTTP requests still unanswered", late)


class _Live(Protocol):
    heartbeat: int

    def live_since(self, heartbeat: int) -> bool: ...


async def _watchdog(
    notifier: Notifier,
    interval: float,
    actors: Sequence[tuple[str, _Live]],
    stopping: trio.Event,
) -> None:
    """Send ``WATCHDOG=1`` every ``interval`` while every actor has shown progress since the
    last ping (or waits idle); stop pinging once a stop begins, when systemd's stop timeout takes
    over.

    A skipped ping is how a hung writer or scheduler reaches systemd: the event loop itself still
    runs, so pinging on a timer alone would hide it.
    """
    marks = [actor.heartbeat for _, actor in actors]
    stalled: list[str] = []
    while True:
        with trio.move_on_after(interval):
            await stopping.wait()
            return
        now_stalled = [
            name
            for (name, actor), mark in zip(actors, marks, strict=True)
            if not actor.live_since(mark)
        ]
        if not now_stalled:
            notifier.notify(WATCHDOG=1)
            if stalled:
                log.warning("%s making progress again", " and ".join(stalled))
        elif now_stalled != stalled:
            log.error(
                "%s made no progress for %gs: withholding the systemd watchdog ping",
                " and ".join(now_stalled),
                interval,
            )
        stalled = now_stalled
        marks = [actor.heartbeat for _, actor in actors]


def _reload_requested(stop: _StopRequest) -> None:
    if stop.requested.is_set():
        log.info("received SIGHUP while stopping: not reloading the configuration")
    else:
        log.info("received SIGHUP: reloading the configuration")
        stop.reloads.request()


async def _watch_signals(
    stop: _StopRequest,
    notifier: Notifier,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The first SIGTERM or SIGINT asks for a graceful stop, a second one for a forced stop;
    SIGHUP asks for a reload of the configuration.

    A forced stop cancels everything; what was handed to the store writer is still committed.
    Should even that hang (a stalled disk), the process exits after
    :data:`FORCED_STOP_SECONDS`: committed LMDB transactions are durable whatever happens.
    """
    # SIGHUP is caught from the start: its default action would end the process.
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        task_status.started()
        async for signum in signals:
            name = signal.Signals(signum).name
            if signum == signal.SIGHUP:
                _reload_requested(stop)
                continue
            if not stop.requested.is_set():
                log.info("received %s: stopping gracefully (send it again to stop at once)", name)
                notifier.notify(STOPPING=1, STATUS=f"stopping gracefully ({name})")
                stop.requested.set()
                continue
            log.warning("received %s while stopping: stopping at once", name)
            stop.forced = True
            stop.scope.cancel(reason=f"second {name}")
            break
    await trio.sleep(FORCED_STOP_SECONDS)
    log.error("the forced stop did not finish within %gs; exiting", FORCED_STOP_SECONDS)
    logging.shutdown()
    os._exit(130)
