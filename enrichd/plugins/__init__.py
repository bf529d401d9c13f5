"""The plugin API: hook specifications, specification types, and plugin loading.

Plugin authors import everything they need from here::

    from enrichd.plugins import hookimpl, ModuleSpec, ModuleResult, SourceSpec
"""

from ._fallback import Served, first_available
from ._manager import ENTRY_POINT_GROUP, PluginConfigError, PluginInfo, Registry, load_plugins
from ._types import (
    MODULE_ID_RE,
    PLUGIN_API_VERSION,
    CaseStudy,
    Citation,
    ModuleContext,
    ModuleError,
    ModuleResult,
    ModuleSpec,
    NoData,
    Priority,
    RunFn,
    SearchHit,
    SearchProvider,
    SearchQuery,
    Source,
    SourceError,
    SourceNotConfigured,
    SourceResponse,
    SourceSpec,
    all_dependencies,
    module_options,
)
from .hookspecs import hookimpl, hookspec

__all__ = [
    "ENTRY_POINT_GROUP",
    "MODULE_ID_RE",
    "PLUGIN_API_VERSION",
    "CaseStudy",
    "Citation",
    "ModuleContext",
    "ModuleError",
    "ModuleResult",
    "ModuleSpec",
    "NoData",
    "PluginConfigError",
    "PluginInfo",
    "Priority",
    "Registry",
    "RunFn",
    "SearchHit",
    "SearchProvider",
    "SearchQuery",
    "Served",
    "Source",
    "SourceError",
    "SourceNotConfigured",
    "SourceResponse",
    "SourceSpec",
    "all_dependencies",
    "first_available",
    "hookimpl",
    "hookspec",
    "load_plugins",
    "module_options",
]
