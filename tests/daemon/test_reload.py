"""Reloading the configuration: new settings reach the source actors and the engine live.

Source actors run against an ``httpx.MockTransport`` upstream and the engine on the fake plugin,
all on trio's autojumping MockClock, so rates and delays are exact virtual times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import trio
import trio.lowlevel

from enrichd.config import Config, ConfigError, ResolvedSource
from enrichd.daemon import JobRequest
from enrichd.daemon._notify import Notifier
from enrichd.daemon._ratelimit import TokenBucket
from enrichd.daemon._reload import (
    ReloadRequests,
    apply_config,
    reload_config,
    section_changes,
    serve_reloads,
)
from enrichd.daemon._server import _load_with_overrides
from enrichd.daemon._sources import SourceActor
from enrichd.plugins._types import SourceError, SourceNotConfigured
from enrichd.sandbox import HttpRequest, HttpResponse, json_response
from tests import fakeplugin
from tests.canned import CannedServer
from tests.conftest import make_config, wait_for_status
from tests.daemon.test_sources import BASE, KEY, Upstream, make_actor, running

NEW_KEY = "new-KEY/456"
NEW_BASE = "https://other.example.test/v2/"


def replaced(actor: SourceActor, **changes: Any) -> ResolvedSource:
    """The actor's settings with ``changes``."""
    return msgspec.structs.replace(actor.settings, **changes)


class Gauge(Upstream):
    """An upstream that holds each request for ``hold`` seconds and records peak concurrency."""

    def __init__(self, hold: float = 1.0) -> None:
        super().__init__(self._held)
        self.hold = hold
        self.now = 0
        self.peaks: list[int] = []

    async def _held(self, request: httpx.Request) -> httpx.Response:
        self.now += 1
        self.peaks.append(self.now)
        try:
            await trio.sleep(self.hold)
        finally:
            self.now -= 1
        return httpx.Response(200, json={"url": str(request.url)})

    def peak_since(self, start: int) -> int:
        return max(self.peaks[start:], default=0)


async def call_many(actor: SourceActor, count: int, prefix: str = "p") -> None:
    async with trio.open_nursery() as nursery:
        for i in range(count):
            nursery.start_soon(partial(actor.request, "GET", f"{prefix}{i}"))


# -- the rate limiter ----------------------------------------------------------------------------


async def test_a_new_rate_takes_effect(autojump: Any) -> None:
    up = Upstream()
    actor = make_actor(up, rate_per_second=1.0, burst=1)
    async with running(actor):
        for i in range(3):
            await actor.request("GET", f"slow{i}")
        assert actor.reconfigure(replaced(actor, rate_per_second=10.0)) == ["rate_per_second"]
        for i in range(3):
            await actor.request("GET", f"fast{i}")
    # The new interval applies from the last call on: 0.1 s after it, not a second.
    assert up.times == pytest.approx([0.0, 1.0, 2.0, 2.1, 2.2, 2.3])


async def test_available_tokens_carry_over_capped_at_the_new_burst(autojump: Any) -> None:
    up = Upstream()
    actor = make_actor(up, rate_per_second=1.0, burst=5)
    async with running(actor):
        await call_many(actor, 5, "spent")  # the whole burst, at once
        # A larger burst is no reason for a fresh one: the bucket is still empty.
        actor.reconfigure(replaced(actor, burst=10))
        await actor.request("GET", "next")
        assert up.times[-1] == pytest.approx(1.0)
        await trio.sleep(100)  # refilled, to the new burst of 10
        actor.reconfigure(replaced(actor, burst=2))  # ... and capped at the smaller one
        start = trio.current_time()
        await call_many(actor, 4, "after")
    assert [t - start for t in up.times[-4:]] == pytest.approx([0.0, 0.0, 1.0, 2.0])


async def test_retune_keeps_a_retry_after_pause(autojump: Any) -> None:
    bucket = TokenBucket(10.0, 10)
    bucket.pause_until(trio.current_time() + 30)
    bucket.retune(100.0, 50)
    assert bucket.paused_until == pytest.approx(trio.current_time() + 30)
    assert bucket.next_free_at() >= bucket.paused_until


async def test_the_daily_quota_keeps_todays_count(autojump: Any) -> None:
    up = Upstream()
    actor = make_actor(up, daily_quota=3)
    async with running(actor):
        await actor.request("GET", "a")
        await actor.request("GET", "b")
        actor.reconfigure(replaced(actor, daily_quota=2))
        with pytest.raises(SourceError) as info:
            await actor.request("GET", "c")
        assert info.value.code == "quota_exhausted"
        actor.reconfigure(replaced(actor, daily_quota=None))
        await actor.request("GET", "d")
    assert actor.quota.used == 3
    assert len(up.requests) == 3


# -- keys, base URLs and calls in flight -----------------------------------------------------------


async def test_a_new_key_re_enables_a_refused_source(autojump: Any) -> None:
    up = Upstream()
    actor = make_actor(up)
    async with running(actor):
        actor.refuse_key("401 invalid key")
        assert not actor.configured
        assert "reload" in actor.why_not_configured()
        # Anything but the credentials changing leaves it disabled: the same key would be
        # refused again.
        actor.reconfigure(replaced(actor, rate_per_second=5.0))
        with pytest.raises(SourceNotConfigured):
            await actor.request("GET", "refused")
        assert actor.reconfigure(replaced(actor, api_key=NEW_KEY)) == ["api_key"]
        assert actor.configured
        assert actor.why_not_configured() == ""
        await actor.request("GET", "accepted")
    assert [r.headers["X-Api-Key"] for r in up.requests] == [NEW_KEY]


async def test_disabling_a_source_refuses_new_calls(autojump: Any) -> None:
    actor = make_actor(Upstream())
    async with running(actor):
        actor.reconfigure(replaced(actor, enabled=False))
        with pytest.raises(SourceNotConfigured) as info:
            await actor.request("GET", "x")
        assert "enabled is false" in str(info.value)
        actor.reconfigure(replaced(actor, enabled=True))
        await actor.request("GET", "x")


async def test_a_call_in_flight_finishes_on_the_old_settings(autojump: Any) -> None:
    up = Gauge(hold=5.0)
    actor = make_actor(up)
    async with running(actor), trio.open_nursery() as nursery:
        answers: list[str] = []

        async def old_call() -> None:
            answers.append((await actor.request("GET", "old")).url)

        nursery.start_soon(old_call)
        await trio.sleep(1)  # sent, and held by the upstream
        old_client, old_slot = actor._client, actor._slot
        actor.reconfigure(replaced(actor, base_url=NEW_BASE, api_key=NEW_KEY, timeout_seconds=20))
        assert actor._client is not old_client
        new = await actor.request("GET", "new")
        assert str(new.url).startswith(NEW_BASE)
        assert old_client is not None and not old_client.is_closed  # still in use
    assert answers == [BASE + "old"]
    # The old call kept its client, key and (10 s) timeout; the new one took the new ones.
    assert [(str(r.url), r.headers["X-Api-Key"]) for r in up.requests] == [
        (BASE + "old", KEY),
        (NEW_BASE + "new", NEW_KEY),
    ]
    assert old_slot is not None and old_slot.unused.is_set()  # let go once its call ended
    # Both keys stay redacted: an answer to the old one may still be in a message.
    assert actor.redact(f"{KEY} {NEW_KEY}") == "*** ***"


async def test_a_replaced_client_closes_once_unused(autojump: Any, canned: CannedServer) -> None:
    async def held(request: HttpRequest) -> HttpResponse:
        await trio.sleep(2)
        return json_response({"held": True})

    canned.add("GET", "/v1/held", held)
    canned.json("GET", "/v2/new", {"new": True})
    spec = make_actor(Upstream()).spec
    settings = replaced(make_actor(Upstream()), base_url=f"{canned.url}/v1/")
    actor = SourceActor(spec, settings)  # httpx's own transport, as in production
    async with running(actor), trio.open_nursery() as nursery:
        nursery.start_soon(partial(actor.request, "GET", "held"))
        await trio.sleep(1)
        old_client = actor._client
        actor.reconfigure(replaced(actor, base_url=f"{canned.url}/v2/"))
        assert (await actor.request("GET", "new")).status_code == 200
        assert old_client is not None and not old_client.is_closed
        await trio.sleep(2)
        assert old_client.is_closed
    assert [r.path for r in canned.requests] == ["/v1/held", "/v2/new"]


async def test_queued_calls_are_kept_across_a_reload(autojump: Any) -> None:
    up = Gauge(hold=1.0)
    actor = make_actor(up, max_concurrency=1)
    async with running(actor), trio.open_nursery() as nursery:
        nursery.start_soon(call_many, actor, 5)
        await trio.sleep(0.5)
        actor.reconfigure(replaced(actor, base_url=NEW_BASE))
    assert len(up.requests) == 5
    assert str(up.requests[0].url).startswith(BASE)
    assert all(str(r.url).startswith(NEW_BASE) for r in up.requests[1:])


async def test_concurrency_shrinks_and_grows(autojump: Any) -> None:
    up = Gauge(hold=1.0)
    actor = make_actor(up, max_concurrency=4)
    async with running(actor):
        await call_many(actor, 8, "a")
        assert up.peak_since(0) == 4
        actor.reconfigure(replaced(actor, max_concurrency=2))
        mark = len(up.peaks)
        await call_many(actor, 8, "b")
        assert up.peak_since(mark) == 2
        assert len(actor._workers) == 2
        actor.reconfigure(replaced(actor, max_concurrency=6))
        mark = len(up.peaks)
        await call_many(actor, 12, "c")
        assert up.peak_since(mark) == 6


async def test_shrinking_while_busy_waits_for_calls_in_hand(autojump: Any) -> None:
    up = Gauge(hold=2.0)
    actor = make_actor(up, max_concurrency=4)
    async with running(actor), trio.open_nursery() as nursery:
        nursery.start_soon(call_many, actor, 12)
        await trio.sleep(1)  # four calls held by the upstream
        actor.reconfigure(replaced(actor, max_concurrency=1))
        mark = len(up.peaks)
    assert len(up.requests) == 12  # nothing dropped
    assert up.peak_since(mark) == 1  # once the four in hand ended, one at a time


async def test_unchanged_settings_change_nothing(autojump: Any) -> None:
    actor = make_actor(Upstream())
    async with running(actor):
        client = actor._client
        assert actor.reconfigure(replaced(actor)) == []
        assert actor._client is client


# -- the engine ----------------------------------------------------------------------------------


def reload_with(tmp_path: Path, **sections: dict[str, Any]) -> Config:
    return make_config(tmp_path, **sections)


async def test_apply_config_reports_and_applies_live_keys(
    autojump: Any, engine_factory: Callable[..., Any], tmp_path: Path
) -> None:
    async with engine_factory() as engine:
        new = reload_with(
            tmp_path,
            sources={"fake": {"rate_per_second": 2.0, "api_key": "secret-value"}},
            jobs={"max_concurrent_jobs": 3, "module_timeout_seconds": 60},
            cache={"ttl": {"m02_tech_stack": "2d"}},
            modules={"m01_company_context": {"delay": 0.5}},
        )
        outcome = apply_config(engine, new)
        assert outcome.changed == [
            "jobs.max_concurrent_jobs",
            "jobs.module_timeout_seconds",
            "cache.ttl.m02_tech_stack",
            "modules.m01_company_context",
            "sources.fake.api_key",
            "sources.fake.rate_per_second",
        ]
        assert outcome.needs_restart == []
        assert engine.sources["fake"].settings.rate_per_second == 2.0
        assert engine.sources["fake"].bucket.rate == 2.0
        assert engine.scheduler.max_concurrent == 3
        assert engine.cache_policy.ttl["m02_tech_stack"] == 2 * 86400
        assert engine.config.jobs.module_timeout_seconds == 60
        assert engine.config.modules["m01_company_context"] == {"delay": 0.5}


async def test_restart_keys_are_reported_and_kept(
    autojump: Any, engine_factory: Callable[..., Any], tmp_path: Path
) -> None:
    async with engine_factory() as engine:
        before = engine.config
        new = reload_with(
            tmp_path,
            server={"bind": "127.0.0.1:9999", "max_body_bytes": 10},
            storage={"path": str(tmp_path / "elsewhere")},
            auth={"token_sha256": ["0" * 64]},
            jobs={"max_batch_domains": 7},
        )
        outcome = apply_config(engine, new)
        assert outcome.needs_restart == [
            "server.bind",
            "server.max_body_bytes",
            "storage.path",
            "auth.token_sha256",
        ]
        assert outcome.changed == ["jobs.max_batch_domains"]
        assert engine.config.server == before.server
        assert engine.config.storage == before.storage
        assert engine.config.auth == before.auth
        assert engine.config.jobs.max_batch_domains == 7


@pytest.mark.parametrize(
    ("sections", "key"),
    [
        ({"sources": {"nosuch": {"api_key": "x"}}}, "sources.nosuch"),
        ({"sources": {"fake": {"rate_per_second": -1}}}, "sources.fake.rate_per_second"),
        ({"sources": {"fake": {"colour": "blue"}}}, "sources.fake.colour"),
        ({"cache": {"ttl": {"m99_nothing": "1d"}}}, "cache.ttl.m99_nothing"),
        ({"modules": {"m99_nothing": {}}}, "modules.m99_nothing"),
    ],
)
async def test_an_invalid_config_changes_nothing(
    autojump: Any,
    engine_factory: Callable[..., Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    sections: dict[str, Any],
    key: str,
) -> None:
    async with engine_factory() as engine:
        config, policy = engine.config, engine.cache_policy
        settings = engine.sources["fake"].settings
        # A valid change beside the invalid one: it must not be applied either.
        sections = {**sections, "jobs": {"max_concurrent_jobs": 1}}
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            apply_config(engine, reload_with(tmp_path, **sections))
        with caplog.at_level(logging.ERROR, logger="enrichd"):
            assert reload_config(engine, lambda: reload_with(tmp_path, **sections)) is None
        assert "configuration not reloaded" in caplog.text
        assert key in caplog.text
        assert engine.config is config
        assert engine.cache_policy is policy
        assert engine.sources["fake"].settings is settings
        assert engine.scheduler.max_concurrent == config.jobs.max_concurrent_jobs


async def test_an_unreadable_file_changes_nothing(
    autojump: Any, engine_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> Config:
        raise ConfigError("config.toml: not valid TOML: expected '=' (line 3)")

    def buggy() -> Config:
        raise RuntimeError("a bug in the loader")

    async with engine_factory() as engine:
        config = engine.config
        with caplog.at_level(logging.ERROR, logger="enrichd"):
            assert reload_config(engine, broken) is None
            assert reload_config(engine, buggy) is None
        assert "not valid TOML" in caplog.text
        assert "a bug in the loader" in caplog.text
        assert engine.config is config


async def test_reload_log_names_keys_never_secrets(
    autojump: Any,
    engine_factory: Callable[..., Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with engine_factory() as engine:
        new = reload_with(
            tmp_path,
            sources={"fake": {"api_key": "TOPSECRET", "max_retries": 1}},
            server={"graceful_timeout_seconds": 1},
        )
        with caplog.at_level(logging.INFO, logger="enrichd"):
            reload_config(engine, lambda: new)
            reload_config(engine, lambda: new)
    lines = [r.getMessage() for r in caplog.records]
    assert "configuration reloaded: changed sources.fake.api_key, sources.fake.max_retries" in lines
    assert "configuration reloaded: nothing to change" in lines
    restart = [line for line in lines if "after a restart" in line]
    assert len(restart) == 2 and "server.graceful_timeout_seconds" in restart[0]
    assert "TOPSECRET" not in caplog.text


async def test_a_refused_key_is_re_enabled_by_a_reload(
    autojump: Any, engine_factory: Callable[..., Any], tmp_path: Path
) -> None:
    async with engine_factory() as engine:
        fake = engine.sources["fake"]
        fake.refuse_key("403 forbidden")
        apply_config(engine, reload_with(tmp_path, sources={"fake": {"timeout_seconds": 5}}))
        assert not fake.configured
        apply_config(engine, reload_with(tmp_path, sources={"fake": {"api_key": "fresh"}}))
        assert fake.configured


async def test_the_key_from_the_environment_is_read_again(
    autojump: Any,
    engine_factory: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    monkeypatch.delenv("ENRICHD_FAKE_API_KEY", raising=False)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    async with engine_factory() as engine:
        assert engine.sources["fake"].settings.api_key is None
        (creds / "fake-api-key").write_text("from-a-credential\n")
        outcome = apply_config(engine, reload_with(tmp_path))
        assert outcome.changed == ["sources.fake.api_key"]
        assert engine.sources["fake"].settings.api_key == "from-a-credential"


async def test_jobs_are_not_dropped_by_a_reload(
    autojump: Any, engine_factory: Callable[..., Any], tmp_path: Path
) -> None:
    slow = {m: {"delay": 1.0} for m in fakeplugin.WAVES}
    async with engine_factory(jobs={"max_concurrent_jobs": 2}, modules=slow) as engine:
        domains = [(f"reload{i}.com", f"reload{i}.com", None) for i in range(6)]
        _, jobs = await engine.start_batch(domains, JobRequest(waves=[1, 2]), 6)
        await trio.sleep(1.5)  # two jobs running, four queued
        assert engine.scheduler.running_count == 2
        faster = {m: {"delay": 0.1} for m in fakeplugin.WAVES}
        outcome = apply_config(
            engine,
            reload_with(
                tmp_path,
                jobs={"max_concurrent_jobs": 4},
                modules=faster,
                sources={"fake": {"rate_per_second": 1.0}},
            ),
        )
        assert "jobs.max_concurrent_jobs" in outcome.changed
        await trio.lowlevel.checkpoint()
        await trio.lowlevel.checkpoint()
        assert engine.scheduler.running_count == 4  # admitted at once, not at the next finish
        finished = [await wait_for_status(engine, j.job_id, {"completed"}) for j in jobs]
    assert all(job.status == "completed" for job in finished)
    modules = finished[0].modules
    # Every module ran exactly once: nothing was interrupted and run again.
    assert all(fakeplugin.CALLS[(job.domain, m)] == 1 for job in finished for m in modules)


async def test_the_logging_level_reloads(
    autojump: Any, engine_factory: Callable[..., Any], tmp_path: Path
) -> None:
    root = logging.getLogger()
    level = root.level
    try:
        async with engine_factory() as engine:
            new = reload_with(tmp_path, logging={"level": "debug", "format": "json"})
            outcome = apply_config(engine, new)
            assert outcome.changed == ["logging.level"]
            assert outcome.needs_restart == ["logging.format"]  # the handler is set at start
            assert root.level == logging.DEBUG
            assert engine.config.logging.level == "debug"
            assert engine.config.logging.format == "auto"
    finally:
        root.setLevel(level)


def test_section_changes_names_nested_keys() -> None:
    old = Config()
    new = msgspec.convert(
        {"intel": {"seller_product": "Acme Search"}, "cache": {"stale_window": {"m01": "1d"}}},
        Config,
    )
    assert section_changes(old, new, "intel") == ["intel.seller_product"]
    assert section_changes(old, new, "cache", 2) == ["cache.stale_window.m01"]
    assert section_changes(old, old, "server") == []


def test_the_sandbox_still_overrides_the_sources_after_a_reload() -> None:
    file_config = msgspec.convert(
        {"sources": {"builtwith": {"base_url": "https://api.builtwith.com", "burst": 3}}}, Config
    )
    overrides = {"builtwith": {"base_url": "http://127.0.0.1:1/builtwith", "api_key": "sandbox"}}
    config = _load_with_overrides(lambda: file_config, overrides)
    assert config.sources["builtwith"] == {
        "base_url": "http://127.0.0.1:1/builtwith",
        "api_key": "sandbox",
        "burst": 3,
    }


# -- reload requests and systemd -------------------------------------------------------------------


class Recorder(Notifier):
    """A notifier that keeps what it was asked to send."""

    def __init__(self) -> None:
        super().__init__(None)
        self.sent: list[dict[str, str | int]] = []

    def notify(self, **fields: str | int) -> bool:
        self.sent.append(fields)
        return True


async def test_serve_reloads_tells_systemd(
    autojump: Any, engine_factory: Callable[..., Any], tmp_path: Path
) -> None:
    loads: list[int] = []

    def load() -> Config:
        loads.append(1)
        return reload_with(tmp_path, jobs={"max_concurrent_jobs": 1 + len(loads)})

    requests = ReloadRequests()
    recorder = Recorder()
    async with engine_factory() as engine, trio.open_nursery() as nursery:
        nursery.start_soon(serve_reloads, requests, engine, load, recorder, "listening on x")
        # Three requests before the first reload begins count as one.
        for _ in range(3):
            requests.request()
        await trio.sleep(1)
        assert len(loads) == 1
        assert engine.scheduler.max_concurrent == 2
        requests.request()
        await trio.sleep(1)
        assert len(loads) == 2
        engine.stopping = True
        requests.request()
        await trio.sleep(1)
        assert len(loads) == 2  # not while stopping
        nursery.cancel_scope.cancel()
    kinds = [("RELOADING" in m, "READY" in m) for m in recorder.sent]
    assert kinds == [(True, False), (False, True)] * 2
    assert all(isinstance(m["MONOTONIC_USEC"], int) for m in recorder.sent if "RELOADING" in m)
    assert recorder.sent[1]["STATUS"] == "listening on x"


async def test_without_a_loader_requests_are_refused(
    autojump: Any, engine_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    requests = ReloadRequests()
    async with engine_factory() as engine, trio.open_nursery() as nursery:
        nursery.start_soon(serve_reloads, requests, engine, None, Recorder(), "up")
        with caplog.at_level(logging.WARNING, logger="enrichd"):
            requests.request()
            await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert "cannot reload" in caplog.text
