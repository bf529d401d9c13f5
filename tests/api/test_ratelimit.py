"""The API's per-client rate limit: 429 with Retry-After, per token or peer, on trio's clock.

The clock is trio's MockClock moved by hand (``mock_clock.jump``), so every Retry-After value is
exact and nothing waits in real time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from enrichd.api import Authenticator, create_app
from enrichd.api._ratelimit import ClientRateLimiter, retry_after_header
from enrichd.config import ConfigError, parse_config
from enrichd.daemon import Engine

TOKEN_A = "token-a"
TOKEN_B = "token-b"
LIST = "/api/v1/enrich"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def limited_client(
    engine_factory: Callable[..., Any], rate: float, burst: int
) -> AsyncIterator[Any]:
    """A test client of an engine whose API allows ``rate``/s in bursts of ``burst``."""
    server = {"rate_limit_per_second": rate, "rate_limit_burst": burst}
    async with engine_factory(server=server) as engine:
        assert isinstance(engine, Engine)
        engine.config.auth.token_sha256 = [
            hashlib.sha256(t.encode()).hexdigest() for t in (TOKEN_A, TOKEN_B)
        ]
        yield create_app(engine, Authenticator(engine.config, engine.store)).test_client()


async def get(
    client: Any, path: str = LIST, token: str | None = TOKEN_A, peer: str | None = None
) -> Any:
    """One GET; ``peer`` sets the client address the test client otherwise leaves out."""
    scope = {"client": (peer, 50000)} if peer is not None else None
    headers = bearer(token) if token is not None else {}
    return await client.get(path, headers=headers, scope_base=scope)


async def statuses(client: Any, count: int, **kw: Any) -> list[int]:
    return [(await get(client, **kw)).status_code for _ in range(count)]


async def assert_limited(response: Any, retry_after: int) -> None:
    """``response`` is the API's 429: error shape, integer Retry-After header and detail."""
    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(retry_after)
    body = json.loads(await response.get_data())
    assert body["error"] == "rate_limited"
    assert isinstance(body["message"], str) and body["message"]
    assert body["details"] == {"retry_after": retry_after}


async def test_a_burst_over_the_limit_gets_429(mock_clock: Any, engine_factory: Any) -> None:
    async with limited_client(engine_factory, rate=1, burst=3) as client:
        assert await statuses(client, 3) == [200, 200, 200]
        await assert_limited(await get(client), retry_after=1)
        # Refused requests are not charged: hammering does not push the next token further.
        assert await statuses(client, 20) == [429] * 20
        mock_clock.jump(1)
        assert await statuses(client, 2) == [200, 429]


async def test_retry_after_counts_down_to_the_next_token(
    mock_clock: Any, engine_factory: Any
) -> None:
    async with limited_client(engine_factory, rate=0.1, burst=2) as client:
        assert await statuses(client, 2) == [200, 200]
        await assert_limited(await get(client), retry_after=10)
        mock_clock.jump(4)
        await assert_limited(await get(client), retry_after=6)
        mock_clock.jump(5.5)
        # 0.5 s left: rounded up, never 0 (which would invite an immediate retry).
        await assert_limited(await get(client), retry_after=1)
        mock_clock.jump(0.5)
        assert (await get(client)).status_code == 200


async def test_the_bucket_refills_to_the_burst(mock_clock: Any, engine_factory: Any) -> None:
    async with limited_client(engine_factory, rate=2, burst=4) as client:
        assert await statuses(client, 5) == [200] * 4 + [429]
        mock_clock.jump(0.5)  # one token
        assert await statuses(client, 2) == [200, 429]
        mock_clock.jump(60)  # idle long enough to refill, but never beyond the burst
        assert await statuses(client, 5) == [200] * 4 + [429]


async def test_tokens_have_separate_buckets(mock_clock: Any, engine_factory: Any) -> None:
    async with limited_client(engine_factory, rate=1, burst=2) as client:
        assert await statuses(client, 3, token=TOKEN_A) == [200, 200, 429]
        # Same peer, other token: its own bucket.
        assert await statuses(client, 3, token=TOKEN_B) == [200, 200, 429]
        # Unauthenticated requests use the peer's bucket, untouched by either token.
        assert await statuses(client, 3, token=None) == [401, 401, 429]


async def test_bad_tokens_are_limited_by_peer(mock_clock: Any, engine_factory: Any) -> None:
    async with limited_client(engine_factory, rate=1, burst=3) as client:
        # Guessing tokens spends the peer's bucket, whatever token is tried...
        guesses = [
            (await get(client, token=f"guess-{i}", peer="203.0.113.7")).status_code
            for i in range(5)
        ]
        assert guesses == [401, 401, 401, 429, 429]
        # ...while a valid token from that same address keeps its own bucket,
        assert (await get(client, token=TOKEN_A, peer="203.0.113.7")).status_code == 200
        # and other addresses are unaffected.
        assert (await get(client, token="guess", peer="203.0.113.8")).status_code == 401


async def test_peers_are_keyed_by_address_and_ipv6_by_64(
    mock_clock: Any, engine_factory: Any
) -> None:
    async with limited_client(engine_factory, rate=1, burst=1) as client:
        assert await statuses(client, 2, token=None, peer="198.51.100.1") == [401, 429]
        assert await statuses(client, 1, token=None, peer="198.51.100.2") == [401]
        # An IPv4-mapped IPv6 address is the same client as the IPv4 one.
        assert await statuses(client, 1, token=None, peer="::ffff:198.51.100.1") == [429]
        # One /64 is one client, however many addresses it rotates through.
        assert await statuses(client, 1, token=None, peer="2001:db8:1:2::1") == [401]
        assert await statuses(client, 1, token=None, peer="2001:db8:1:2:ffff::9") == [429]
        assert await statuses(client, 1, token=None, peer="2001:db8:1:3::1") == [401]
        # The test client gives no address at all: one "unknown" bucket.
        assert await statuses(client, 2, token=None) == [401, 429]


async def test_other_paths_are_limited_but_healthz_is_exempt(
    mock_clock: Any, engine_factory: Any
) -> None:
    async with limited_client(engine_factory, rate=1, burst=1) as client:
        for _ in range(20):
            assert (await get(client, "/healthz", token=None)).status_code == 200
        # /healthz did not spend the peer's token.
        assert await statuses(client, 2, token=None, path="/nope") == [404, 429]
        assert (await get(client, "/healthz", token=None)).status_code == 200


async def test_zero_disables_the_limit(mock_clock: Any, engine_factory: Any) -> None:
    async with limited_client(engine_factory, rate=0, burst=0) as client:
        assert set(await statuses(client, 300)) == {200}
        assert set(await statuses(client, 300, token=None)) == {401}


async def test_default_limit_is_on(mock_clock: Any, engine_factory: Any) -> None:
    async with engine_factory() as engine:
        assert engine.config.server.rate_limit_per_second == 50
        assert engine.config.server.rate_limit_burst == 100
        client = create_app(engine, Authenticator(engine.config, engine.store)).test_client()
        codes = await statuses(client, 101, token=None)
        assert codes == [401] * 100 + [429]


# -- the limiter alone ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_full_buckets_are_dropped() -> None:
    clock = Clock()
    limiter = ClientRateLimiter(10, 5, clock=clock)
    for i in range(1000):
        assert limiter.check(f"client-{i}") is None
    assert len(limiter) == 1000
    # After an interval every one-request bucket is full again: all are forgotten lazily.
    clock.now += 0.1
    assert limiter.check("late") is None
    assert len(limiter) == 1


def test_a_refilling_bucket_is_kept() -> None:
    clock = Clock()
    limiter = ClientRateLimiter(1, 3, clock=clock)
    for _ in range(3):
        assert limiter.check("busy") is None
    clock.now += 1.5  # 1.5 of 3 tokens back: forgetting it would hand out a fresh burst
    assert limiter.check("other") is None
    assert len(limiter) == 2
    assert limiter.check("busy") is None
    assert limiter.check("busy") == pytest.approx(0.5)


def test_the_table_is_capped() -> None:
    clock = Clock()
    limiter = ClientRateLimiter(1, 10, max_clients=100, clock=clock)
    for i in range(10_000):
        limiter.check(f"flood-{i}")
        assert len(limiter) <= 100


def test_limiter_rejects_bad_settings() -> None:
    for rate, burst in ((0, 1), (-1, 1), (float("inf"), 1), (float("nan"), 1), (1, 0)):
        with pytest.raises(ValueError):
            ClientRateLimiter(rate, burst)


def test_retry_after_is_a_whole_second_at_least() -> None:
    assert retry_after_header(0.001) == 1
    assert retry_after_header(1.0) == 1
    assert retry_after_header(1.01) == 2
    assert retry_after_header(59.5) == 60


# -- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("rate_limit_per_second = -1", "server.rate_limit_per_second"),
        ("rate_limit_per_second = inf", "server.rate_limit_per_second"),
        ("rate_limit_per_second = nan", "server.rate_limit_per_second"),
        ('rate_limit_per_second = "50"', "server.rate_limit_per_second"),
        ("rate_limit_per_second = true", "server.rate_limit_per_second"),
        ("rate_limit_burst = 0", "server.rate_limit_burst"),
        ("rate_limit_burst = -5", "server.rate_limit_burst"),
        ("rate_limit_burst = 1.5", "server.rate_limit_burst"),
    ],
)
def test_bad_rate_limit_settings_are_named(text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_config(f"[server]\n{text}")


def test_rate_limit_settings_parse() -> None:
    config = parse_config("[server]\nrate_limit_per_second = 5\nrate_limit_burst = 20")
    assert config.server.rate_limit_per_second == 5.0
    assert config.server.rate_limit_burst == 20
    # 0 turns the limit off; the burst does not matter then.
    off = parse_config("[server]\nrate_limit_per_second = 0\nrate_limit_burst = 0")
    assert off.server.rate_limit_per_second == 0
