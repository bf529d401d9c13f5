"""The daemon's log: JSON lines for journald and log shippers, readable lines on a terminal.

Every record is one line. In JSON each line is an object with ``ts`` (ISO 8601 UTC), ``level``,
``logger``, ``message``, ``event`` when the record names one (``job.completed``,
``source.error`` ...), every field the call site passed with ``extra=``, and ``exc`` for a
traceback, so a query such as ``jq 'select(.job_id == "...")'`` follows one job. The text format
shows the same record as ``TIME LEVEL LOGGER: MESSAGE key=value ...``.

Records logged while a job runs carry its ``job_id`` and ``domain`` (and ``module_id`` inside a
module) without the call site passing them: the supervisor binds them to its Trio task with
:func:`bind`, and each task it starts inherits them. That covers plugins' own log lines and the
source errors a module runs into.

Nothing here redacts: secrets are kept out of records where they are made (``Engine.redact``, the
source actors' redaction), which ``tests/test_secrets_in_logs.py`` checks for both formats.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import types
from collections.abc import Mapping
from contextvars import ContextVar, Token
from typing import Any, Literal, TextIO

__all__ = [
    "JsonFormatter",
    "LogFormat",
    "TextFormatter",
    "bind",
    "bound",
    "resolve_format",
    "setup_logging",
    "unbind",
]

LogFormat = Literal["auto", "json", "text"]

_EMPTY: Mapping[str, Any] = types.MappingProxyType({})
_CONTEXT: ContextVar[Mapping[str, Any]] = ContextVar("enrichd_log_context", default=_EMPTY)

#: Attributes every LogRecord has; anything else on a record came from ``extra=`` (or a filter).
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
#: Library loggers quieter than the daemon's level, whatever it is.
_QUIET = {
    # Hypercorn's own "Running on" line duplicates ours.
    "hypercorn.error": logging.WARNING,
    # httpx logs every request's URL at INFO, and some upstreams take their key in the query.
    "httpx": logging.WARNING,
}


def bind(**fields: Any) -> Token[Mapping[str, Any]]:
    """Add ``fields`` to every record logged by the current Trio task and the tasks it starts.

    Returns a token for :func:`unbind`; a task that ends needs no unbinding (Trio gives each task
    its own copy of the context).
    """
    return _CONTEXT.set(types.MappingProxyType({**_CONTEXT.get(), **fields}))


def unbind(token: Token[Mapping[str, Any]]) -> None:
    """Undo the :func:`bind` that returned ``token``."""
    _CONTEXT.reset(token)


def bound() -> Mapping[str, Any]:
    """The fields bound to the current task (empty outside a job)."""
    return _CONTEXT.get()


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record carries beyond the standard ones (from ``extra=`` or the context)."""
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _RESERVED and not key.startswith("_")
    }


class _ContextFilter(logging.Filter):
    """Adds the task's bound fields to a record that does not carry them already."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _CONTEXT.get().items():
            if key not in record.__dict__:
                setattr(record, key, value)
        return True


def _iso(created: float) -> str:
    stamp = dt.datetime.fromtimestamp(created, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line (no newline inside: JSON escapes them)."""
        out: dict[str, Any] = {
            "ts": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        extras = extra_fields(record)
        event = extras.pop("event", None)
        if event is not None:
            out["event"] = event
        out["message"] = record.getMessage()
        for key, value in extras.items():
            out.setdefault(key, value)
        exc = self._exception(record)
        if exc:
            out["exc"] = exc if "exc" not in out else f"{out['exc']}\n{exc}"
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        # default=str: a field a plugin passed that JSON cannot hold still gets logged.
        return json.dumps(out, ensure_ascii=False, default=str)

    def _exception(self, record: logging.LogRecord) -> str:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        return record.exc_text or ""


class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER: MESSAGE key=value ...``; a traceback follows on its own lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """UTC, as in the JSON format and the API."""
        return _iso(record.created)

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The line, with the fields the message does not already show."""
        line = super().formatMessage(record)
        extras = extra_fields(record)
        extras.pop("event", None)
        exc = extras.pop("exc", None)
        shown = [
            f"{key}={value}"
            for key, value in extras.items()
            if value is not None and str(value) not in record.message
        ]
        if shown:
            line += "  " + " ".join(shown)
        if exc:
            line += "\n" + str(exc).rstrip("\n")
        return line


def _is_journal(stream: TextIO) -> bool:
    """Whether ``stream`` is systemd's journal (``$JOURNAL_STREAM`` names its device:inode)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False  # not a file (a test's StringIO, a closed stream)
    return (st.st_dev, st.st_ino) == (int(device), int(inode))


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def resolve_format(fmt: LogFormat, stream: TextIO) -> Literal["json", "text"]:
    """The format ``auto`` means for ``stream``: JSON when it is the journal, else text.

    Text on a terminal; text on a pipe or file too, which other tools read as the daemon's log
    (``enrichd listening on URL``), unless ``json`` is asked for explicitly.
    """
    if fmt != "auto":
        return fmt
    if _is_terminal(stream):
        return "text"
    return "json" if _is_journal(stream) else "text"


class _DaemonHandler(logging.StreamHandler[TextIO]):
    """The handler :func:`setup_logging` installs (so a second call replaces it)."""


def setup_logging(
    level: str = "info", fmt: LogFormat = "auto", stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record at ``level`` or above to ``stream`` (standard error) as ``fmt``.

    Replaces the handler an earlier call installed and leaves other handlers alone. Returns the
    handler, for a caller that wants to remove it again.
    """
    target = stream if stream is not None else sys.stderr
    handler = _DaemonHandler(target)
    handler.setFormatter(
        JsonFormatter() if resolve_format(fmt, target) == "json" else TextFormatter()
    )
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _DaemonHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(quiet)
    return handler
