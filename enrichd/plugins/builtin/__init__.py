"""The built-in plugin: the spec's 15 modules in 4 waves and the sources they call.

It is registered through the ``enrichd`` entry point exactly as a third-party plugin would be.
Each upstream has its own client module (``_builtwith``, ``_similarweb``, ...); the modules are
grouped by wave (``_company``, ``_traffic``, ``_finance``, ``_signals``, ``_intel``).
"""

from __future__ import annotations

from .._types import PLUGIN_API_VERSION, ModuleSpec, SearchProvider, SourceSpec
from ..hookspecs import hookimpl
from . import (
    _brave,
    _builtwith,
    _company,
    _finance,
    _homepage,
    _intel,
    _llm,
    _signals,
    _similarweb,
    _traffic,
    _websearch,
    _yahoo,
)

SOURCES: list[SourceSpec] = [
    *_builtwith.SOURCES,
    _homepage.SOURCE,
    _similarweb.SOURCE,
    _yahoo.SOURCE,
    _websearch.SOURCE,
    _llm.SOURCE,
]

MODULES: list[ModuleSpec] = [
    *_company.MODULES,
    *_traffic.MODULES,
    *_finance.MODULES,
    *_signals.MODULES,
    *_intel.MODULES,
]

SEARCH_PROVIDERS: list[SearchProvider] = [_brave.PROVIDER]


@hookimpl
def enrichd_plugin_api_version() -> int:
    """This plugin follows the current plugin API."""
    return PLUGIN_API_VERSION


@hookimpl
def enrichd_sources() -> list[SourceSpec]:
    """The built-in data sources."""
    return SOURCES


@hookimpl
def enrichd_modules() -> list[ModuleSpec]:
    """The spec's 15 modules."""
    return MODULES


@hookimpl
def enrichd_search_providers() -> list[SearchProvider]:
    """The built-in web-search providers."""
    return SEARCH_PROVIDERS
