"""The daemon's log: JSON lines carrying each job's id and domain, text lines on a terminal.

Jobs run through a real engine (the fake plugin, or the built-in SimilarWeb module against the
canned loopback server for source errors) with the daemon's handler writing to a buffer.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from enrichd import _logging
from enrichd._logging import JsonFormatter, TextFormatter, resolve_format, setup_logging
from enrichd.config import ConfigError, parse_config
from enrichd.daemon import Engine
from enrichd.daemon._engine import JobRequest
from enrichd.sandbox import HttpResponse
from tests.canned import CannedServer
from tests.conftest import BUILTIN, wait_for_status

M02, M05 = "m02_tech_stack", "m05_competitors"
TERMINAL = {"completed", "failed", "cancelled"}
SOURCE_KEY = "sw/Secret+Key=31"
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARNING|ERROR|DEBUG) \S+: ")


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def installed() -> Iterator[list[logging.Handler]]:
    """Handlers the test installs with ``setup_logging``; removed, and levels restored, after."""
    root = logging.getLogger()
    level = root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "hypercorn.error")}
    handlers: list[logging.Handler] = []
    yield handlers
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


def json_log(installed: list[logging.Handler]) -> io.StringIO:
    stream = io.StringIO()
    installed.append(setup_logging("info", "json", stream=stream))
    return stream


def events(stream: io.StringIO) -> list[dict[str, Any]]:
    """Every line written, parsed (each must be one JSON object)."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def of_job(lines: list[dict[str, Any]], job_id: str) -> list[str]:
    return [e["event"] for e in lines if e.get("job_id") == job_id and "event" in e]


async def finish(engine: Engine, domain: str, **request: Any) -> Any:
    job = await engine.start_job(domain, JobRequest(**request))
    return await wait_for_status(engine, job.job_id, TERMINAL)


async def test_a_jobs_transitions_as_json_lines(
    autojump: Any, engine_factory: Any, installed: list[logging.Handler]
) -> None:
    stream = json_log(installed)
    async with engine_factory() as engine:
        job = await finish(engine, "acme.com", modules=[M02])
    lines = events(stream)
    assert of_job(lines, job.job_id) == ["job.queued", "job.running", "job.completed"]
    for line in lines:
        if line.get("job_id") == job.job_id:
            assert line["domain"] == "acme.com"
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
            assert line["level"] == "info" and line["logger"].startswith("enrichd.")
    queued = next(e for e in lines if e.get("event") == "job.queued")
    assert queued["priority"] == "normal"
    assert queued["message"] == f"job {job.job_id} queued (acme.com, normal priority, 1 modules)"
    completed = next(e for e in lines if e.get("event") == "job.completed")
    assert isinstance(completed["duration_seconds"], float)


async def test_module_failures_and_crashes(
    autojump: Any, engine_factory: Any, installed: list[logging.Handler]
) -> None:
    stream = json_log(installed)
    modules = {M02: {"fail_domains": ["acme.com"]}, M05: {"crash_domains": ["acme.com"]}}
    async with engine_factory(modules=modules) as engine:
        job = await finish(engine, "acme.com", modules=[M02, M05])
    lines = events(stream)
    failed = next(e for e in lines if e.get("event") == "module.failed" and e["module_id"] == M02)
    assert failed["job_id"] == job.job_id and failed["domain"] == "acme.com"
    assert (failed["module_id"], failed["code"], failed["source"]) == (
        M02,
        "upstream_error",
        "fake",
    )
    assert failed["level"] == "warning"
    crashed = next(e for e in lines if e.get("event") == "module.crashed")
    assert (crashed["job_id"], crashed["module_id"]) == (job.job_id, M05)
    assert crashed["message"].endswith("raised RuntimeError: fake plugin bug")
    # The traceback is one string field; the line is still one line.
    assert (
        crashed["exc"].startswith("Traceback") and "RuntimeError: fake plugin bug" in crashed["exc"]
    )
    done = next(e for e in lines if e.get("event") == "job.failed")
    assert done["failed_modules"] == [M02, M05]


async def test_cancellations(
    autojump: Any, engine_factory: Any, installed: list[logging.Handler]
) -> None:
    stream = json_log(installed)
    sections = {"jobs": {"max_concurrent_jobs": 1}, "modules": {M02: {"hang_domains": ["a.com"]}}}
    async with engine_factory(**sections) as engine:
        running = await engine.start_job("a.com", JobRequest(modules=[M02]))
        await wait_for_status(engine, running.job_id, {"running"})
        queued = await engine.start_job("b.com", JobRequest(modules=[M02]))
        await engine.cancel("b.com", queued.job_id)
        await engine.cancel("a.com", running.job_id)
    lines = events(stream)
    assert of_job(lines, queued.job_id) == ["job.queued", "job.cancelled"]
    assert of_job(lines, running.job_id) == ["job.queued", "job.running", "job.cancelled"]
    cancelled = [e for e in lines if e.get("event") == "job.cancelled"]
    assert [e["domain"] for e in cancelled] == ["b.com", "a.com"]


async def test_source_errors_name_the_source_and_the_job(
    autojump: Any, engine_factory: Any, canned: CannedServer, installed: list[logging.Handler]
) -> None:
    stream = json_log(installed)
    canned.add("GET", "/v1/website/down.com/similar-sites/similarsites", HttpResponse(status=502))
    sources = {"similarweb": {"base_url": canned.url, "api_key": SOURCE_KEY, "max_retries": 1}}
    async with engine_factory(**BUILTIN, sources=sources) as engine:
        job = await finish(engine, "down.com", modules=[M05])
    lines = events(stream)
    (error,) = [e for e in lines if e.get("event") == "source.error"]
    assert error["source"] == "similarweb"
    assert (error["code"], error["status_code"]) == ("upstream_error", 502)
    assert (error["job_id"], error["domain"], error["module_id"]) == (job.job_id, "down.com", M05)
    assert "api_key=***" in error["message"]
    assert SOURCE_KEY not in stream.getvalue()
    assert of_job(lines, job.job_id) == [
        "job.queued",
        "job.running",
        "source.error",
        "module.failed",
        "job.failed",
    ]


async def test_text_lines_on_a_terminal(
    autojump: Any, engine_factory: Any, canned: CannedServer, installed: list[logging.Handler]
) -> None:
    terminal = Terminal()
    installed.append(setup_logging("info", "auto", stream=terminal))
    canned.add("GET", "/v1/website/down.com/similar-sites/similarsites", HttpResponse(status=503))
    sources = {"similarweb": {"base_url": canned.url, "api_key": SOURCE_KEY, "max_retries": 0}}
    async with engine_factory(**BUILTIN, sources=sources) as engine:
        job = await finish(engine, "down.com", modules=[M05])
    text = terminal.getvalue()
    lines = text.splitlines()
    assert lines and all(LINE.match(line) for line in lines), text
    assert not any(line.startswith("{") for line in lines)
    (done,) = [line for line in lines if f"enrichd.jobs: job {job.job_id} failed" in line]
    assert done.endswith(f"failed (down.com)  duration_seconds=0.0 failed_modules=['{M05}']")
    # Fields the message does not show follow it: not the domain (in the URL), the source
    # (named) or the status code (503, in the message too).
    (source_error,) = [
        line for line in lines if "WARNING enrichd.sources: source similarweb" in line
    ]
    assert source_error.endswith(f"(upstream_error)  job_id={job.job_id} module_id={M05}")
    assert SOURCE_KEY not in text


def test_records_outside_a_job_and_odd_fields() -> None:
    record = logging.LogRecord("enrichd.x", logging.ERROR, __file__, 1, "boom %s", ("!",), None)
    record.when = Path("/tmp")  # JSON cannot hold it: written as its str()
    try:
        raise ValueError("bad value")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "boom !" and parsed["level"] == "error" and "event" not in parsed
    assert parsed["when"] == "/tmp"
    assert parsed["exc"].startswith("Traceback") and parsed["exc"].endswith("ValueError: bad value")
    text = TextFormatter().format(record)
    assert text.splitlines()[0].endswith("enrichd.x: boom !  when=/tmp")
    assert text.splitlines()[-1] == "ValueError: bad value"


async def test_bound_fields_reach_every_record_of_the_task_and_its_children(
    installed: list[logging.Handler],
) -> None:
    stream = json_log(installed)
    plugin_log = logging.getLogger("acme_plugin")  # a third-party plugin's own logger

    async def child() -> None:
        plugin_log.info("inside")

    token = _logging.bind(job_id="j1", domain="acme.com")
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(child)
        plugin_log.info("explicit", extra={"domain": "other.com"})
    finally:
        _logging.unbind(token)
    plugin_log.info("outside")
    inside, explicit, outside = events(stream)
    assert (inside["job_id"], inside["domain"]) == ("j1", "acme.com")
    assert (explicit["job_id"], explicit["domain"]) == ("j1", "other.com")  # extra= wins
    assert "job_id" not in outside


def test_setup_replaces_its_own_handler(installed: list[logging.Handler]) -> None:
    first = setup_logging("warning", "text", stream=io.StringIO())
    installed.append(first)
    second = setup_logging("debug", "json", stream=io.StringIO())
    installed.append(second)
    root = logging.getLogger()
    assert second in root.handlers and first not in root.handlers
    assert root.level == logging.DEBUG
    assert isinstance(second.formatter, JsonFormatter)
    # httpx would log request URLs (keys in query strings) at INFO.
    assert logging.getLogger("httpx").level == logging.WARNING


def test_auto_is_json_on_the_journal_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open(tmp_path / "journal", "w") as journal, open(tmp_path / "other", "w") as other:
        st = os.fstat(journal.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        assert resolve_format("auto", journal) == "json"
        assert resolve_format("auto", other) == "text"  # a file or pipe: read by people and tools
        assert resolve_format("text", journal) == "text"
        assert resolve_format("auto", Terminal()) == "text"
        assert resolve_format("json", Terminal()) == "json"
        monkeypatch.setenv("JOURNAL_STREAM", "garbage")
        assert resolve_format("auto", journal) == "text"
    assert resolve_format("auto", io.StringIO()) == "text"


def test_the_format_key() -> None:
    assert parse_config("").logging.format == "auto"
    assert parse_config('[logging]\nformat = "json"').logging.format == "json"
    with pytest.raises(ConfigError, match=r"logging\.format"):
        parse_config('[logging]\nformat = "xml"')
