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
