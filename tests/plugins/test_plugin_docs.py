"""docs/plugins.md documents the plugin API: a hook or a field added without docs fails here."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import msgspec
import pytest

from enrichd.plugins import (
    PLUGIN_API_VERSION,
    ModuleContext,
    ModuleResult,
    ModuleSpec,
    SearchProvider,
    SourceSpec,
    hookspecs,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
TEXT = DOCS.read_text(encoding="utf-8")


def _hooks() -> list[str]:
    """The names of every hook specification (pluggy marks them ``enrichd_spec``)."""
    return sorted(
        name
        for name, obj in vars(hookspecs).items()
        if inspect.isfunction(obj) and hasattr(obj, f"{hookspecs.PROJECT}_spec")
    )


def _section(heading: str) -> str:
    """The text under ``### `heading` `` up to the next heading."""
    match = re.search(rf"^### `{re.escape(heading)}`\n(.*?)(?=^#)", TEXT, re.M | re.S)
    return match.group(1).strip() if match else ""


def test_the_hooks_are_found() -> None:
    assert "enrichd_modules" in _hooks() and "enrichd_sources" in _hooks()


@pytest.mark.parametrize("hook", _hooks())
def test_every_hook_has_a_section(hook: str) -> None:
    section = _section(hook)
    assert section, f"docs/plugins.md has no '### `{hook}`' section: document the hook there"
    assert len(section.split()) >= 8, f"the section of {hook} says too little"


def test_no_section_for_a_hook_that_does_not_exist() -> None:
    documented = re.findall(r"^### `(enrichd_\w+)`", TEXT, re.M)
    assert sorted(documented) == _hooks()


def _table_names() -> set[str]:
    """Every name in backticks in the first cell of a table row."""
    names: set[str] = set()
    for row in re.findall(r"^\| ([^|]+) \|", TEXT, re.M):
        names.update(re.findall(r"`(?:ctx\.)?(\w+)", row))
    return names


@pytest.mark.parametrize("spec", [SourceSpec, ModuleSpec])
def test_every_spec_field_is_in_a_table(spec: type[msgspec.Struct]) -> None:
    missing = [f for f in spec.__struct_fields__ if f not in _table_names()]
    assert not missing, f"docs/plugins.md does not document {spec.__name__} fields {missing}"


def test_every_context_member_is_documented() -> None:
    members = {m for m in dir(ModuleContext) if not m.startswith("_")}
    members |= set(ModuleContext.__annotations__)
    missing = sorted(m for m in members if f"`ctx.{m}" not in TEXT)
    assert not missing, f"docs/plugins.md does not document ctx.{missing}"


@pytest.mark.parametrize("struct", [ModuleResult, SearchProvider])
def test_result_and_provider_fields_are_named(struct: type[msgspec.Struct]) -> None:
    missing = [f for f in struct.__struct_fields__ if f"`{f}`" not in TEXT]
    assert not missing, f"docs/plugins.md does not name {struct.__name__} fields {missing}"


def test_the_current_api_version_is_stated() -> None:
    assert f"provides (now `{PLUGIN_API_VERSION}`)" in TEXT
