"""The command line: token creation and how the daemon accepts tokens."""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec
import pytest

from enrichd.api import Authenticator
from enrichd.cli import main
from enrichd.config import Config
from enrichd.daemon import Store


def _config(data: Path, hashes: list[str] | None = None) -> Config:
    return msgspec.convert(
        {"storage": {"path": str(data)}, "auth": {"token_sha256": hashes or []}}, Config
    )


def test_token_create_prints_once_and_stores_only_the_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ENRICHD_API_TOKEN", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    data = tmp_path / "data"
    assert main(["token", "create", "crm", "--data-dir", str(data)]) == 0
    token = capsys.readouterr().out.strip()
    assert token
    store = Store(data)
    try:
        tokens = store.tokens()
        assert list(tokens) == [hashlib.sha256(token.encode()).hexdigest()]
        assert tokens[next(iter(tokens))].name == "crm"
        assert token.encode() not in (data / "enrichd.lmdb" / "data.mdb").read_bytes()
        auth = Authenticator(_config(data), store)
        assert auth.check(f"Bearer {token}") == "crm"
        assert auth.check(f"Bearer {token}x") is None
        assert auth.check(f"Basic {token}") is None
    finally:
        store.close()


def test_tokens_from_config_env_and_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "api-token").write_text("from-credential\n")
    monkeypatch.delenv("ENRICHD_API_TOKEN", raising=False)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    store = Store(tmp_path / "data")
    try:
        digest = hashlib.sha256(b"from-config").hexdigest()
        auth = Authenticator(_config(tmp_path / "data", [digest]), store)
        assert auth.check("Bearer from-config") == "config"
        assert auth.check("Bearer from-credential") == "config"
        monkeypatch.setenv("ENRICHD_API_TOKEN", "from-env")
        auth = Authenticator(_config(tmp_path / "data"), store)
        assert auth.check("Bearer from-env") == "config"
        assert auth.check("Bearer from-credential") is None
        assert auth.check(None) is None
    finally:
        store.close()


def test_plugins_command_lists_the_builtin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "builtin" in out and "m15_displacement_angle" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sandbox", "--fault-rate", "2"], "fault_rate must be between 0 and 1"),
        (["sandbox", "--latency", "-1"], "latency must be a non-negative"),
        (["sandbox", "--bind", "nowhere"], "--bind: expected HOST:PORT"),
        (["sandbox", "--limit", "similarweb"], "expected UPSTREAM=RATE"),
        (["sandbox", "--limit", "nosuch=1"], "unknown upstream"),
        (["sandbox", "--limit", "similarweb=fast"], "--limit 'similarweb=fast'"),
        (["serve", "--sandbox", "--jitter", "-2"], "jitter must be a non-negative"),
    ],
)
def test_bad_sandbox_options_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_sandbox_options_from_the_command_line() -> None:
    from enrichd.cli import _sandbox_options, build_parser

    args = build_parser().parse_args(
        ["sandbox", "--latency", "2", "--jitter", "1", "--seed", "7", "--limit", "websearch=1/2"]
    )
    options = _sandbox_options(args, "0.0.0.0:8901")
    assert (options.host, options.port, options.latency, options.jitter) == ("0.0.0.0", 8901, 2, 1)
    assert options.seed == 7
    assert options.limits["websearch"].rate_per_second == 1
    assert options.limits["websearch"].burst == 2
