"""The pytest fixtures of :mod:`enrichd.testing` (enable with ``pytest_plugins``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ._testing_canned import BackgroundServer, CannedServer
from ._testing_daemon import EnrichdDaemon
from .client import Client
from .sandbox import Sandbox

__all__ = [
    "canned_upstream",
    "enrichd_client",
    "enrichd_config",
    "enrichd_daemon",
    "enrichd_sandbox",
]


@pytest.fixture
def enrichd_config() -> dict[str, Any]:
    """Extra ``config.toml`` tables for :func:`enrichd_daemon` (none by default).

    Override it in a test module or conftest to configure your plugin::

        @pytest.fixture
        def enrichd_config(canned_upstream):
            return {"sources": {"acme": {"base_url": canned_upstream.url}}}
    """
    return {}


@pytest.fixture
def canned_upstream() -> Iterator[CannedServer]:
    """A :class:`CannedServer` on 127.0.0.1 (``.url``), served from a background thread so it
    answers a daemon subprocess and synchronous tests alike."""
    server = CannedServer()
    with BackgroundServer(server) as url:
        server.url = url
        yield server


@pytest.fixture
def enrichd_sandbox() -> Iterator[Sandbox]:
    """The simulated upstream APIs of the built-in sources, on a free port.

    ``enrichd_sandbox.source_overrides()`` gives the ``[sources.<name>]`` tables that point a
    daemon at it (for a plugin whose modules depend on built-in ones).
    """
    sandbox = Sandbox()
    with BackgroundServer(task=sandbox.run):
        yield sandbox


@pytest.fixture
def enrichd_daemon(
    enrichd_config: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[EnrichdDaemon]:
    """``enrichd serve`` as a subprocess: a free port, a temporary store, a token, the installed
    plugins and :func:`enrichd_config`'s tables. The test's root directory is on ``PYTHONPATH``
    so ``[plugins] modules`` can name a plugin module by dotted path.

    The daemon must stop cleanly (exit 0 on SIGTERM) at the end of the test, or the test
    errors with its log.
    """
    daemon = EnrichdDaemon(
        tmp_path_factory.mktemp("enrichd"),
        enrichd_config,
        pythonpath=[request.config.rootpath],
    )
    daemon.start()
    try:
        yield daemon
    finally:
        stopped_by_test = daemon.returncode is not None
        died = not stopped_by_test and not daemon.running
        code = daemon.stop()
    if not stopped_by_test and code != 0:
        how = "on its own" if died else "on SIGTERM"
        pytest.fail(f"enrichd exited with status {code} {how}:\n" + "".join(daemon.log))


@pytest.fixture
def enrichd_client(enrichd_daemon: EnrichdDaemon) -> Iterator[Client]:
    """An :class:`enrichd.client.Client` of :func:`enrichd_daemon`, with its token."""
    with enrichd_daemon.client() as client:
        yield client
