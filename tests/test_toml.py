"""Writing TOML (enrichd/_toml.py): whatever it writes, tomllib reads back the same."""

from __future__ import annotations

import math
import tomllib

import pytest

from enrichd._toml import toml_document, toml_value


def test_a_document_round_trips() -> None:
    tables = {
        "server": {"bind": "127.0.0.1:0", "rate_limit_per_second": 0.5, "open": True},
        "sources": {"builtwith": {"api_key": 'k"\\\n\t\x7f', "max_retries": 2}},
        "modules": {"acme.score": {"labels": ["a", "é", "\U0001f600"], "limits": [1, 2.5]}},
        "weird key": {"x y": -1},
    }
    assert tomllib.loads(toml_document(tables)) == tables


def test_special_floats() -> None:
    parsed = tomllib.loads(f"a = {toml_value(math.inf)}\nb = {toml_value(-math.inf)}\n")
    assert parsed == {"a": math.inf, "b": -math.inf}
    assert math.isnan(tomllib.loads(f"n = {toml_value(math.nan)}")["n"])


def test_a_value_toml_cannot_hold_names_where_it_is() -> None:
    with pytest.raises(TypeError, match=r"^sources\.acme\.key: cannot write NoneType"):
        toml_document({"sources": {"acme": {"key": None}}})
