"""Sandbox mode (``enrichd serve --sandbox``) never lets a source reach the internet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from enrichd.daemon._server import build_engine
from enrichd.sandbox import source_overrides
from tests.conftest import make_config


def test_sources_the_sandbox_does_not_simulate_are_disabled(tmp_path: Path, caplog: Any) -> None:
    # The fake plugin's source "fake" stands for a third-party plugin's source.
    config = make_config(tmp_path, sources={"fake": {"enabled": True}})
    overrides = source_overrides("http://127.0.0.1:1")
    engine = build_engine(config, sandbox_overrides=overrides)
    try:
        actor = engine.sources["fake"]
        assert not actor.configured
        assert "enabled is false" in actor.why_not_configured()
        # Recorded with the sandbox's own settings, so a reload keeps it disabled.
        assert overrides == {"fake": {"enabled": False}}
        assert "source 'fake' is not simulated by the sandbox" in caplog.text
    finally:
        engine.store.close()


def test_without_the_sandbox_nothing_is_disabled(tmp_path: Path) -> None:
    engine = build_engine(make_config(tmp_path))
    try:
        assert engine.sources["fake"].configured
    finally:
        engine.store.close()
