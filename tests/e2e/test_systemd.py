"""systemd integration: the sd_notify messages of ``enrichd serve`` and the unit file.

The daemon runs as a real subprocess with ``$NOTIFY_SOCKET`` pointing at a datagram socket the
test reads, as systemd's would be; the unit file goes through ``systemd-analyze``, as in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from enrichd.daemon import Store
from enrichd.daemon._notify import Notifier, watchdog_seconds
from enrichd.daemon._scheduler import Scheduler
from enrichd.daemon._server import _watchdog
from enrichd.daemon._writer import StoreWriter
from tests.e2e._daemon import REPO, Daemon

UNIT = REPO / "systemd" / "enrichd.service"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (CI installs systemd)"
)
#: The most exposure ``systemd-analyze security`` may report for the unit (lower is better).
MAX_EXPOSURE = 2.5


class NotifySocket:
    """The service manager's end of ``$NOTIFY_SOCKET``: a datagram socket to read messages from."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))

    def receive(self, timeout: float = 10) -> dict[str, str]:
        """The next message as its fields; fails the test if none comes within ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            raise AssertionError(f"no sd_notify message within {timeout}s") from None
        return dict(line.split("=", 1) for line in data.decode().splitlines())

    def receive_until(self, key: str, timeout: float = 10) -> list[dict[str, str]]:
        """Messages up to and including the first carrying ``key``."""
        messages = [self.receive(timeout)]
        while key not in messages[-1]:
            messages.append(self.receive(timeout))
        return messages

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    """A bound notify socket in the test's directory."""
    sock = NotifySocket(tmp_path / "notify")
    yield sock
    sock.close()


def _fake_config(path: Path) -> None:
    path.write_text(
        '[plugins]\ndisable = ["*"]\nmodules = ["tests.fakeplugin"]\n[logging]\nlevel = "info"\n'
    )


def test_ready_watchdog_and_stopping(
    tmp_path: Path, notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_socket.path))
    monkeypatch.setenv("WATCHDOG_USEC", "500000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    config = tmp_path / "config.toml"
    _fake_config(config)
    daemon = Daemon(config, tmp_path / "data")
    daemon.start()  # returns once the "listening" line is logged
    try:
        # READY=1 comes first, and only once the API is bound: its status names the bound URL.
        ready = notify_socket.receive()
        assert ready["READY"] == "1"
        assert daemon.url in ready["STATUS"]
        # WatchdogSec/2 = 0.25 s: a few pings within a couple of seconds, and nothing else.
        for _ in range(4):
            assert notify_socket.receive(timeout=3) == {"WATCHDOG": "1"}
        daemon.send(signal.SIGTERM)
        messages = notify_socket.receive_until("STOPPING")
        assert messages[-1]["STOPPING"] == "1"
        assert all(m == {"WATCHDOG": "1"} for m in messages[:-1])
        assert daemon.wait() == 0
    finally:
        daemon.stop(kill=True)


def test_no_watchdog_pings_for_another_pid(
    tmp_path: Path, notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # $WATCHDOG_PID names another process (the daemon inherited it): READY yes, pings no.
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_socket.path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    config = tmp_path / "config.toml"
    _fake_config(config)
    daemon = Daemon(config, tmp_path / "data")
    daemon.start()
    try:
        assert notify_socket.receive()["READY"] == "1"
        daemon.send(signal.SIGTERM)
        stopping = notify_socket.receive()
        assert stopping == {"STOPPING": "1", "STATUS": "stopping gracefully (SIGTERM)"}
        assert daemon.wait() == 0
    finally:
        daemon.stop(kill=True)


# -- the notify client ---------------------------------------------------------------------------


def test_notify_is_a_no_op_without_the_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier.from_env()
    assert not notifier.enabled
    assert notifier.notify(READY=1) is False


def test_notify_reaches_an_abstract_socket() -> None:
    name = f"enrichd-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        server.settimeout(5)
        assert Notifier("@" + name).notify(READY=1, STATUS="up")
        assert server.recv(4096) == b"READY=1\nSTATUS=up"


def test_notify_survives_a_missing_manager(tmp_path: Path) -> None:
    assert Notifier(str(tmp_path / "gone")).notify(WATCHDOG=1) is False


def test_watchdog_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert watchdog_seconds() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert watchdog_seconds() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_seconds() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog_seconds() is None


# -- pings only while the writer and the scheduler make progress --------------------------------


class _Recorder(Notifier):
    def __init__(self) -> None:
        super().__init__(None)
        self.sent: list[tuple[float, dict[str, str | int]]] = []

    def notify(self, **fields: str | int) -> bool:
        self.sent.append((trio.current_time(), fields))
        return True


class _Actor:
    def __init__(self) -> None:
        self.heartbeat = 0
        self.idle = True

    def live_since(self, heartbeat: int) -> bool:
        return self.idle or self.heartbeat != heartbeat


async def test_watchdog_withholds_pings_while_an_actor_is_stalled(autojump: object) -> None:
    writer, scheduler = _Actor(), _Actor()
    recorder = _Recorder()
    stopping = trio.Event()
    async with trio.open_nursery() as nursery:
        actors = (("store writer", writer), ("scheduler", scheduler))
        nursery.start_soon(_watchdog, recorder, 1.0, actors, stopping)
        await trio.sleep(3.5)  # idle: pinged at 1, 2, 3
        writer.idle = False  # busy from now on, and hung: its heartbeat stays put
        await trio.sleep(3)
        writer.idle = True  # it finished
        await trio.sleep(2)
        writer.idle = False
        for _ in range(3):  # busy but making progress
            writer.heartbeat += 1
            await trio.sleep(1)
        stopping.set()
        await trio.sleep(5)  # no pings once a stop begins
    times = [round(t) for t, fields in recorder.sent if fields == {"WATCHDOG": 1}]
    assert times == [1, 2, 3, 7, 8, 9, 10, 11]


async def test_writer_and_scheduler_liveness(autojump: object, tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    try:
        writer = StoreWriter(store, in_thread=False)

        async def nothing(job_id: str, scope: trio.CancelScope) -> None:
            await trio.lowlevel.checkpoint()

        scheduler = Scheduler(2, nothing)
        assert not writer.live_since(writer.heartbeat)  # not running yet
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            await nursery.start(scheduler.run)
            await trio.sleep(1)
            # Both wait idle: healthy however long nothing happens.
            assert writer.live_since(writer.heartbeat)
            assert scheduler.live_since(scheduler.heartbeat)
            mark = scheduler.heartbeat
            scheduler.enqueue("job1", "normal", 1)
            await trio.sleep(1)
            assert scheduler.heartbeat != mark
            nursery.cancel_scope.cancel()
        # Their loops have ended: no longer live.
        assert not writer.live_since(writer.heartbeat)
        assert not scheduler.live_since(scheduler.heartbeat)
    finally:
        store.close()


# -- the unit file -------------------------------------------------------------------------------


def _unit_for_this_machine(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this venv's ``enrichd``.

    ``systemd-analyze verify`` checks that the ExecStart binary exists, and CI does not install
    enrichd at /usr/local/bin: verifying the shipped file as is would fail on that alone.
    """
    venv_enrichd = Path(sys.executable).parent / "enrichd"
    assert venv_enrichd.exists(), f"{venv_enrichd} is missing: pip install the project"
    text = UNIT.read_text()
    assert "ExecStart=/usr/local/bin/enrichd " in text
    copy = tmp_path / "enrichd.service"
    copy.write_text(text.replace("ExecStart=/usr/local/bin/enrichd ", f"ExecStart={venv_enrichd} "))
    return copy


@needs_systemd_analyze
def test_unit_verifies_cleanly(tmp_path: Path) -> None:
    assert SYSTEMD_ANALYZE is not None
    unit = _unit_for_this_machine(tmp_path)
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@needs_systemd_analyze
def test_unit_exposure_is_low(tmp_path: Path) -> None:
    assert SYSTEMD_ANALYZE is not None
    unit = _unit_for_this_machine(tmp_path)
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    m = re.search(r"Overall exposure level for enrichd\.service: (\d+\.\d+)", result.stdout)
    assert m, result.stdout + result.stderr
    assert float(m.group(1)) <= MAX_EXPOSURE, result.stdout
