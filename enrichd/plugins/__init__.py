"""The plugin API: hook specifications, specification types, and plugin loading.

Plugin authors import everything they need from here::

    from enrichd.plugins import hookimpl, ModuleSpec, ModuleResult, SourceSpec
"""

from ._manager import ENTRY_POINT_GROUP, PluginConfigError, PluginInfo, Registry, load_plugins
from ._types import (
    MODULE_ID_RE,
    PLUGIN_API_VERSION,
    Citation,
    ModuleContext,
    ModuleError,
    ModuleResult,
    ModuleSpec,
    Priority,
    RunFn,
    Source,
    SourceError,
    SourceNotConfigured,
    SourceResponse,
    SourceSpec,
)
from .hookspecs import hookimpl, hookspec

__all__ = [
    "ENTRY_POINT_GROUP",
    "MODULE_ID_RE",
    "PLUGIN_API_VERSION",
    "Citation",
    "ModuleContext",
    "ModuleError",
    "ModuleResult",
    "ModuleSpec",
    "PluginConfigError",
    "PluginInfo",
    "Priority",
    "Registry",
    "RunFn",
    "Source",
    "SourceError",
    "SourceNotConfigured",
    "SourceResponse",
    "SourceSpec",
    "hookimpl",
    "hookspec",
    "load_plugins",
]
