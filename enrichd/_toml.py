"""Writing TOML: the daemon reads ``config.toml`` with the standard library's ``tomllib``, which
cannot write, and the sandbox, the testing kit and the benchmarks all write configuration."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["toml_document", "toml_key", "toml_value"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "\\": "\\\\",
}


def _string(text: str) -> str:
    # Only what TOML requires is escaped: other characters, emoji included, stay as they are
    # (a \\u escape of a UTF-16 surrogate, as json.dumps writes for them, is invalid TOML).
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    """``key`` as a TOML key: bare when it can be, quoted otherwise."""
    return key if _BARE_KEY.match(key) else _string(key)


def toml_value(value: Any, where: str = "value") -> str:
    """``value`` (bool, number, string, list, or mapping as an inline table) in TOML.

    Raises:
        TypeError: naming ``where`` for a value TOML cannot hold (None, say).
    """
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v, f"{where}[]") for v in value) + "]"
    if isinstance(value, Mapping):
        items = (f"{toml_key(k)} = {toml_value(v, f'{where}.{k}')}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"{where}: cannot write {type(value).__name__} in TOML: {value!r}")


def toml_document(config: Mapping[str, Mapping[str, Any]]) -> str:
    """``config`` (section -> table) as a TOML document, one ``[section]`` table each; nested
    tables are written inline."""
    blocks = []
    for section, table in config.items():
        lines = [f"[{toml_key(section)}]"]
        lines += [f"{toml_key(k)} = {toml_value(v, f'{section}.{k}')}" for k, v in table.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
