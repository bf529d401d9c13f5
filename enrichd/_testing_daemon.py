"""``enrichd serve`` as a real subprocess for tests: a free port, a temporary store, a token."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ._toml import toml_document
from .client import Client

__all__ = ["EnrichdDaemon", "toml_document"]

_LISTENING = re.compile(r"enrichd listening on (http://\S+)")


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in, tables recursively."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


class EnrichdDaemon:
    """``enrichd serve`` on 127.0.0.1 with a free port, a store under ``directory`` and a token.

    ``config`` holds extra ``config.toml`` tables (``{"sources": {"acme": {...}}}``), merged
    over the defaults; ``pythonpath`` makes plugin modules importable by dotted path
    (``[plugins] modules``). Installed plugins load through their entry points, as in
    production. Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        config: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        token: str = "enrichd-test-token",
        pythonpath: Sequence[str | os.PathLike[str]] = (),
        args: Sequence[str] = (),
        start_timeout: float = 60.0,
    ) -> None:
        self.directory = Path(directory)
        self.data_dir = self.directory / "data"
        self.config_path = self.directory / "config.toml"
        self.config = _merge({"logging": {"level": "info"}}, config or {})
        self.token = token
        self.pythonpath = [str(p) for p in pythonpath]
        self.args = list(args)
        self.start_timeout = start_timeout
        self.url = ""
        #: Every line the daemon logged so far (stderr).
        self.log: list[str] = []
        self.returncode: int | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._listening = threading.Event()

    def start(self) -> str:
        """Write the config, start the daemon and wait until it listens; its base URL.

        Raises ``RuntimeError`` with the daemon's log if it exits or stays silent instead (a
        configuration error, a plugin contradiction).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(toml_document(self.config), encoding="utf-8")
        paths = [*self.pythonpath, os.environ.get("PYTHONPATH", "")]
        env = {
            **os.environ,
            "ENRICHD_API_TOKEN": self.token,
            "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        }
        self._listening.clear()
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "enrichd",
                "serve",
                "--config",
                str(self.config_path),
                "--bind",
                "127.0.0.1:0",
                "--data-dir",
                str(self.data_dir),
                *self.args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._reader = threading.Thread(target=self._read_log, name="enrichd-log", daemon=True)
        self._reader.start()
        if not self._listening.wait(self.start_timeout):
            self.stop(kill=True)
            raise RuntimeError(
                f"enrichd did not start within {self.start_timeout} s:\n" + "".join(self.log)
            )
        if not self.url:
            code = self.stop(kill=True)
            raise RuntimeError(f"enrichd exited with status {code}:\n" + "".join(self.log))
        return self.url

    def _read_log(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stderr is not None
        try:
            for line in proc.stderr:
                self.log.append(line)
                match = _LISTENING.search(line)
                if match and not self.url:
                    self.url = match.group(1)
                    self._listening.set()
        except ValueError:
            pass  # the pipe was closed by stop()
        finally:
            self._listening.set()  # exited before listening: start() reports the log

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self, *, kill: bool = False, timeout: float = 30.0) -> int | None:
        """SIGTERM (or SIGKILL) the daemon and wait; its exit status (``None`` if not started).

        A daemon that ignores SIGTERM for ``timeout`` seconds is killed.
        """
        proc = self._proc
        if proc is None:
            return self.returncode
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=10)
            self._reader = None
        if proc.stderr is not None:
            proc.stderr.close()
        self._proc = None
        self.returncode = code
        return code

    def client(self, *, timeout: float = 30.0) -> Client:
        """An :class:`~enrichd.client.Client` of this daemon, with its token."""
        return Client(self.url, token=self.token, timeout=timeout)

    def logged(self, text: str) -> bool:
        """Whether any log line so far contains ``text``."""
        return any(text in line for line in self.log)

    def __enter__(self) -> EnrichdDaemon:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
