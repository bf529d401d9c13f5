"""Hook specifications of the ``enrichd`` plugin API (pluggy project name ``enrichd``).

A plugin is a module (or object) with functions marked ``@enrichd.plugins.hookimpl`` whose names
match the specifications below. Installed plugins are found through the ``enrichd`` entry-point
group; the built-in sources and modules are registered the same way.
"""

from __future__ import annotations

import pluggy

from ._types import ModuleSpec, SearchProvider, SourceSpec

PROJECT = "enrichd"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def enrichd_plugin_api_version() -> int:  # type: ignore[empty-body]
    """Return the plugin API version the plugin was written for (``PLUGIN_API_VERSION``)."""


@hookspec
def enrichd_sources() -> list[SourceSpec]:  # type: ignore[empty-body]
    """Return the data sources this plugin provides."""


@hookspec
def enrichd_modules() -> list[ModuleSpec]:  # type: ignore[empty-body]
    """Return the enrichment modules this plugin provides."""


@hookspec
def enrichd_search_providers() -> list[SearchProvider]:  # type: ignore[empty-body]
    """Return the web-search providers this plugin adds to the ``websearch`` source."""
