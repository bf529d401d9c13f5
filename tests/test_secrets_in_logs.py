"""No API token and no source key ever reaches a log record, whatever clients and upstreams do.

Everything is logged at DEBUG while clients send good and bad tokens (also in query strings, by
mistake) and upstreams refuse, fail, and echo the key they were sent back in their error bodies.
Then every record's message, arguments and traceback is searched for each secret, raw and in the
URL-encoded forms it takes in a query string.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import msgspec
import pytest
import trio

from enrichd._logging import TextFormatter, extra_fields, setup_logging
from enrichd.api import Authenticator, create_app
from enrichd.config import Config
from enrichd.daemon import Engine
from enrichd.daemon._server import serve
from enrichd.sandbox import Handler, HttpRequest, HttpResponse, json_response, serve_http
from tests.conftest import BUILTIN, make_config, wait_for_status

API_TOKEN = "enr_Secret-Api-Token-5f3a9c"
# Characters that URL encoding changes, so every spelling of the key is looked for.
SIMILARWEB_KEY = "sw/Secret+Key=77e1"
BUILTWITH_KEY = "bw-Secret-Key-2d4b"
SECRETS = (API_TOKEN, SIMILARWEB_KEY, BUILTWITH_KEY)
#: Every logger of the daemon and of the HTTP server it runs on.
TREES = ("enrichd", "hypercorn")
TERMINAL = {"completed", "failed", "cancelled"}


def spellings(secret: str) -> set[str]:
    """``secret`` as it may appear: raw, percent-encoded, form-encoded."""
    return {secret, quote(secret, safe=""), quote_plus(secret)}


def record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write for ``record``: message, arguments, traceback."""
    parts = [str(record.msg), repr(record.args)]
    # A malformed record is still searched through its msg and args.
    with contextlib.suppress(TypeError, ValueError):
        parts.append(record.getMessage())
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    # Fields passed with extra= (the JSON format writes each one, "exc" tracebacks included).
    parts.extend(f"{k}={v!r}" for k, v in extra_fields(record).items())
    parts.extend(str(x) for x in (record.exc_text, record.stack_info) if x)
    return "\n".join(parts)


def leaks(records: Iterable[logging.LogRecord], secrets: Iterable[str] = SECRETS) -> list[str]:
    """One line per record that holds a secret."""
    found = []
    for record in records:
        text = record_text(record)
        for secret in secrets:
            if any(form in text for form in spellings(secret)):
                found.append(f"{record.name} {record.levelname}: {text[:300]!r} holds {secret!r}")
    return found


def capture(caplog: pytest.LogCaptureFixture, *trees: str) -> None:
    for tree in trees:
        caplog.set_level(logging.DEBUG, logger=tree)


def in_trees(records: Iterable[logging.LogRecord], trees: Iterable[str]) -> list[logging.LogRecord]:
    prefixes = tuple(trees)
    return [
        r
        for r in records
        if r.name in prefixes or r.name.startswith(tuple(f"{t}." for t in prefixes))
    ]


def failing_upstream(*, quote_the_key: bool) -> Handler:
    """SimilarWeb refuses its key (quoting it back if asked); BuiltWith fails with a 500.

    Real APIs do quote the key they refused ("Invalid API key 'abc'"): a hostile or careless
    upstream controls those words, and modules pass them on in their error messages.
    """

    async def answer(request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/similarweb/"):
            message = "Invalid api_key"
            if quote_the_key:
                message += f" '{SIMILARWEB_KEY}' (sent as {quote(SIMILARWEB_KEY, safe='')})"
            meta = {"status": "Error", "error_code": 401, "error_message": message}
            return json_response({"meta": meta}, 401)
        error = "internal error" + (f" for KEY={BUILTWITH_KEY}" if quote_the_key else "")
        return json_response({"Errors": [{"Message": error}]}, 500)

    return answer


def sources(base: str) -> dict[str, dict[str, Any]]:
    return {
        "similarweb": {"base_url": f"{base}/similarweb", "api_key": SIMILARWEB_KEY},
        "builtwith": {"base_url": f"{base}/builtwith", "api_key": BUILTWITH_KEY, "max_retries": 1},
        # m02 falls back to the domain's homepage, which would be a real lookup of acme.com.
        "homepage": {"enabled": False},
    }


async def api_traffic(client: Any, engine: Engine) -> str:
    """Good and bad tokens, tokens where they do not belong, and a job that calls the sources."""
    good = {"Authorization": f"Bearer {API_TOKEN}"}
    answers = [
        await client.get("/api/v1/enrich", headers=good),
        await client.get("/api/v1/enrich", headers={"Authorization": f"Bearer {API_TOKEN}x"}),
        await client.get("/api/v1/enrich", headers={"Authorization": f"Basic {API_TOKEN}"}),
        await client.get("/api/v1/enrich", headers={"Authorization": API_TOKEN}),
        # The token in the query string, by mistake, with and without a valid header.
        await client.get(f"/api/v1/enrich?token={API_TOKEN}&access_token={API_TOKEN}"),
        await client.get(f"/api/v1/enrich?api_key={quote(API_TOKEN)}", headers=good),
        # ...and in paths: an unknown route, a "domain".
        await client.get(f"/{API_TOKEN}?token={API_TOKEN}"),
        await client.get(f"/api/v1/enrich/{API_TOKEN}/status", headers=good),
    ]
    assert [a.status_code for a in answers] == [200, 401, 401, 401, 401, 200, 404, 422]
    started = await client.post(
        "/api/v1/enrich/acme.com",
        headers=good,
        json={"modules": ["m02_tech_stack", "m03_traffic"], "force": True},
    )
    assert started.status_code == 202, await started.get_data()
    job_id: str = (await started.get_json())["job_id"]
    await wait_for_status(engine, job_id, TERMINAL)
    return job_id


async def run_scenario(
    engine_factory: Any, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, *, quote: bool
) -> str:
    """API traffic, a job whose sources fail, a crashing request; the job's status body."""
    base = await nursery.start(serve_http, failing_upstream(quote_the_key=quote))
    async with engine_factory(**BUILTIN, sources=sources(base)) as engine:
        engine.config.auth.token_sha256 = [hashlib.sha256(API_TOKEN.encode()).hexdigest()]
        client = create_app(engine, Authenticator(engine.config, engine.store)).test_client()
        job_id = await api_traffic(client, engine)
        good = {"Authorization": f"Bearer {API_TOKEN}"}
        status = await client.get(f"/api/v1/enrich/acme.com/status?job_id={job_id}", headers=good)
        assert status.status_code == 200

        # An unexpected error while serving a request whose URL holds the token is logged with
        # its traceback.
        def broken(**_: Any) -> Any:
            raise RuntimeError("store exploded")

        # Whichever of the store's listing methods the route uses.
        for name in ("list_jobs", "list_job_heads"):
            if hasattr(engine.store, name):
                monkeypatch.setattr(engine.store, name, broken)
        crash = await client.get(f"/api/v1/enrich?token={API_TOKEN}", headers=good)
        assert crash.status_code == 500
        return (await status.get_data()).decode()


def source_keys_in(text: str) -> list[str]:
    return [s for s in (SIMILARWEB_KEY, BUILTWITH_KEY) if any(f in text for f in spellings(s))]


async def test_no_secret_in_logs_through_the_api_and_sources(
    autojump: Any,
    engine_factory: Any,
    nursery: trio.Nursery,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    capture(caplog, *TREES)
    body = await run_scenario(engine_factory, nursery, monkeypatch, quote=False)
    records = in_trees(caplog.records, TREES)
    # The scenario really logged the failures, URLs included (else this test proves nothing).
    text = "\n".join(record_text(r) for r in records)
    assert "unhandled error" in text and "store exploded" in text
    assert "m03_traffic failed" in text and "m02_tech_stack failed" in text
    assert "KEY=***" in text  # the failed call's URL, key redacted
    assert leaks(records) == []
    # The failed modules' messages, shown to API clients, do not carry the keys either.
    assert source_keys_in(body) == []


async def test_an_upstream_quoting_the_key_does_not_leak_it(
    autojump: Any,
    engine_factory: Any,
    nursery: trio.Nursery,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    capture(caplog, *TREES)
    body = await run_scenario(engine_factory, nursery, monkeypatch, quote=True)
    assert leaks(in_trees(caplog.records, TREES)) == []
    assert source_keys_in(body) == []


async def test_the_daemons_logging_keeps_http_client_urls_out(
    autojump: Any,
    engine_factory: Any,
    nursery: trio.Nursery,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With logging set up as ``enrichd serve`` does at level debug, library loggers included,
    and what the daemon's handler writes in either format."""
    libraries = ("httpx", "httpcore", "hpack", "h11", "hypercorn", "hypercorn.error", "trio")
    levels = {name: logging.getLogger(name).level for name in libraries}
    written = io.StringIO()
    handler = None
    try:
        caplog.set_level(logging.DEBUG)  # the root logger: every tree, at the daemon's levels
        handler = setup_logging("debug", "json", stream=written)
        text = logging.StreamHandler(io.StringIO())
        text.setFormatter(TextFormatter())
        logging.getLogger().addHandler(text)
        try:
            await run_scenario(engine_factory, nursery, monkeypatch, quote=True)
        finally:
            logging.getLogger().removeHandler(text)
    finally:
        if handler is not None:
            logging.getLogger().removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    assert leaks(caplog.records) == []
    lines = written.getvalue().splitlines()
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(e.get("event") == "module.failed" for e in events)
    assert any(e.get("event") == "source.error" for e in events)
    assert any("exc" in e for e in events)  # the crashing request's traceback
    for output in (written.getvalue(), text.stream.getvalue()):
        assert output
        assert [s for s in SECRETS if any(f in output for f in spellings(s))] == []


async def test_no_secret_in_logs_through_hypercorn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The daemon as it runs: hypercorn on a socket, real clock, requests over HTTP."""
    capture(caplog, *TREES)
    config: Config = make_config(tmp_path, server={"bind": "127.0.0.1:0"})
    config.auth.token_sha256 = [hashlib.sha256(API_TOKEN.encode()).hexdigest()]
    config = msgspec.convert(msgspec.to_builtins(config), Config)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            binds: list[str] = await nursery.start(serve, config)
            async with httpx.AsyncClient(base_url=binds[0]) as http:
                good = {"Authorization": f"Bearer {API_TOKEN}"}
                codes = [
                    (await http.get("/api/v1/enrich", headers=good)).status_code,
                    (
                        await http.get("/api/v1/enrich", headers={"Authorization": "Bearer no"})
                    ).status_code,
                    (await http.get("/api/v1/enrich", params={"token": API_TOKEN})).status_code,
                    (
                        await http.get(f"/{API_TOKEN}", params={"access_token": API_TOKEN})
                    ).status_code,
                ]
                # A request the server cannot parse: hypercorn answers and may log it.
                bad = await trio.open_tcp_stream("127.0.0.1", int(binds[0].rsplit(":", 1)[1]))
                await bad.send_all(f"GET /?token={API_TOKEN} HTTP/1.1\r\nHost\r\n\r\n".encode())
                await bad.receive_some(65536)
                await bad.aclose()
            nursery.cancel_scope.cancel()
    assert codes == [200, 401, 401, 404]
    assert leaks(in_trees(caplog.records, TREES)) == []
