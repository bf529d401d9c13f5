"""Shared fixtures: an engine on a real LMDB store in a temp directory, with the fake plugin."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio

from enrichd.api import Authenticator, create_app
from enrichd.config import Config
from enrichd.daemon import Engine, Store
from enrichd.plugins import load_plugins
from enrichd.sandbox import serve_http
from tests import fakeplugin
from tests.canned import CannedServer

TOKEN = "test-token"


class FakeWallClock:
    """A wall clock the tests move by hand (cache freshness, timestamps)."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


def make_config(tmp_path: Path, **sections: dict[str, Any]) -> Config:
    """A config using only the fake plugin and a store under ``tmp_path``."""
    raw: dict[str, Any] = {
        "storage": {"path": str(tmp_path / "data")},
        "plugins": {"disable": ["*"], "modules": ["tests.fakeplugin"]},
    }
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    return msgspec.convert(raw, Config)


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    fakeplugin.CALLS.clear()


#: Names a test may resolve: loopback, and the reserved names that never resolve (RFC 6761).
_LOCAL_NAMES = ("localhost", "127.0.0.1", "::1", "")
_NEVER_RESOLVED = (".invalid", ".test", ".example", ".localhost")


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Fail any test whose code looks up a public host name: no test may reach the internet.

    The lookup itself is refused as a resolver would refuse it (so the code under test takes its
    ordinary error path), and the test fails at teardown naming the host.
    """
    real = socket.getaddrinfo
    attempts: list[str] = []

    def is_public(name: str) -> bool:
        name = name.lower().rstrip(".")
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return name not in _LOCAL_NAMES and not name.endswith(_NEVER_RESOLVED)
        return False

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        if is_public(name):
            attempts.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"tests may not resolve {name!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield
    assert not attempts, f"the test tried to resolve public host names: {sorted(set(attempts))}"


@pytest.fixture
def autojump(mock_clock: Any) -> Any:
    """trio's MockClock jumping ahead whenever every task waits.

    pytest-trio only runs a test on a clock that the test requests *directly* (as an argument),
    so tests take this fixture by name rather than through ``usefixtures``.
    """
    mock_clock.autojump_threshold = 0
    return mock_clock


@pytest.fixture
def wall() -> FakeWallClock:
    """The engine's wall clock."""
    return FakeWallClock()


EngineFactory = Callable[..., Any]


@pytest.fixture
async def engine_factory(tmp_path: Path, wall: FakeWallClock) -> AsyncIterator[Callable[..., Any]]:
    """``async with engine_factory(**config_sections) as engine:`` runs an engine."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def factory(**sections: dict[str, Any]) -> AsyncIterator[Engine]:
        config = make_config(tmp_path, **sections)
        registry = load_plugins(
            disable=config.plugins.disable, extra_modules=config.plugins.modules
        )
        store = Store(config.storage.path)
        try:
            engine = Engine(config, registry, store, clock=wall, commit_in_thread=False)
            async with engine.running():
                yield engine
        finally:
            store.close()

    yield factory


@pytest.fixture
async def engine(engine_factory: Callable[..., Any]) -> AsyncIterator[Engine]:
    """A running engine with default settings."""
    async with engine_factory() as e:
        yield e


@pytest.fixture
def client(engine: Engine) -> Any:
    """A Quart test client for the API, authenticated with ``TOKEN``."""
    config = engine.config
    config.auth.token_sha256 = [__import__("hashlib").sha256(TOKEN.encode()).hexdigest()]
    app = create_app(engine, Authenticator(config, engine.store))
    return app.test_client()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def wait_until(predicate: Callable[[], bool], what: str = "condition") -> None:
    """Poll ``predicate`` in trio time (the state lives in LMDB, which has no change events)."""
    for _ in range(10_000):
        if predicate():
            return
        await trio.sleep(0.05)
    raise AssertionError(f"{what} never became true")


async def wait_for_status(engine: Engine, job_id: str, statuses: set[str]) -> Any:
    """Wait (in trio time) until the stored job reaches one of ``statuses``."""
    for _ in range(10_000):
        job = engine.store.get_job(job_id)
        if job is not None and job.status in statuses:
            return job
        await trio.sleep(0.01)
    raise AssertionError(f"job {job_id} never reached {statuses}")


@pytest.fixture
async def canned(nursery: trio.Nursery) -> CannedServer:
    """A :class:`CannedServer` listening on 127.0.0.1 (its base URL is ``canned.url``)."""
    server = CannedServer()
    server.url = await nursery.start(serve_http, server)
    return server


#: Config sections that load the built-in plugin instead of the fake one.
BUILTIN = {"plugins": {"disable": ["*"], "modules": ["enrichd.plugins.builtin"]}}
