"""Plugin loading: entry points one at a time, then one validated registry of sources/modules."""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from collections.abc import Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any

import msgspec
import pluggy

from ..config import ConfigError
from . import hookspecs
from ._types import (
    MODULE_ID_RE,
    PLUGIN_API_VERSION,
    ModuleSpec,
    SearchProvider,
    SourceSpec,
    all_dependencies,
    options_error,
)

log = logging.getLogger("enrichd.plugins")

ENTRY_POINT_GROUP = "enrichd"


class PluginConfigError(Exception):
    """The loaded plugins contradict each other (duplicate ids, cycles, unknown dependencies)."""


class PluginVersionError(Exception):
    """A plugin targets another plugin API version; it is reported and skipped, like any failure."""


class PluginInfo(msgspec.Struct, kw_only=True):
    """What ``enrichd plugins`` and ``/healthz`` report about one plugin."""

    name: str
    origin: str
    status: str  # "loaded" | "failed" | "disabled"
    error: str | None = None
    sources: list[str] = msgspec.field(default_factory=list)
    modules: list[str] = msgspec.field(default_factory=list)
    #: How many times one of its modules raised an unexpected exception (``plugin_error``)
    #: since the daemon started, and the last such error.
    runtime_errors: int = 0
    last_runtime_error: str | None = None


class Registry:
    """Every source and module the loaded plugins provide, validated as a whole."""

    def __init__(
        self,
        sources: dict[str, SourceSpec],
        modules: dict[str, ModuleSpec],
        plugins: list[PluginInfo],
        search_providers: dict[str, SearchProvider] | None = None,
    ) -> None:
        self.sources = sources
        self.search_providers = search_providers or {}
        # Wave order, then id: the order status and results list modules in.
        self.modules = dict(sorted(modules.items(), key=lambda kv: (kv[1].wave, kv[0])))
        self.plugins = plugins
        self.waves = sorted({m.wave for m in self.modules.values()})
        #: Module id -> the plugin that provides it.
        self.owner: dict[str, PluginInfo] = {m: p for p in plugins for m in p.modules}
        self.dependents: dict[str, set[str]] = {m: set() for m in self.modules}
        for spec in self.modules.values():
            for dep in all_dependencies(spec):
                self.dependents[dep].add(spec.id)

    def record_runtime_error(self, module_id: str, message: str) -> None:
        """Count a ``plugin_error`` of ``module_id`` against its plugin (``/healthz``)."""
        info = self.owner.get(module_id)
        if info is not None:
            info.runtime_errors += 1
            info.last_runtime_error = f"{module_id}: {message}"

    def check_module_options(self, tables: Mapping[str, Mapping[str, Any]]) -> None:
        """Check each ``[modules.<id>]`` table against its module's ``options_type``.

        Raises :class:`~enrichd.config.ConfigError` naming the key, so a typo stops start-up
        rather than failing every job of that module.
        """
        for module_id, table in tables.items():
            spec = self.modules.get(module_id)
            if spec is None or spec.options_type is None:
                continue
            try:
                msgspec.convert(dict(table), spec.options_type)
            except msgspec.ValidationError as exc:
                raise ConfigError(options_error(f"modules.{module_id}", exc)) from None

    def with_dependencies(self, module_ids: Iterable[str]) -> set[str]:
        """``module_ids`` plus everything they depend on, transitively."""
        seen: set[str] = set()
        stack = list(module_ids)
        while stack:
            mid = stack.pop()
            if mid in seen:
                continue
            seen.add(mid)
            stack.extend(all_dependencies(self.modules[mid]))
        return seen

    def downstream(self, module_ids: Iterable[str]) -> set[str]:
        """Every module that depends, directly or not, on one of ``module_ids``."""
        seen: set[str] = set()
        stack = list(module_ids)
        while stack:
            for child in self.dependents.get(stack.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen

    def ordered(self, module_ids: Iterable[str]) -> list[str]:
        """``module_ids`` in registry (wave, id) order."""
        wanted = set(module_ids)
        return [m for m in self.modules if m in wanted]


def _plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


class _Collected(msgspec.Struct):
    sources: list[SourceSpec]
    modules: list[ModuleSpec]
    providers: list[SearchProvider]


def _collect(name: str, plugin: ModuleType | object, info: PluginInfo) -> _Collected:
    """Register one plugin in a private manager and call its hooks, so failures stay its own."""
    pm = _plugin_manager()
    pm.register(plugin, name=name)
    versions = pm.hook.enrichd_plugin_api_version()
    for version in versions:
        if version != PLUGIN_API_VERSION:
            raise PluginVersionError(
                f"plugin {name!r} was written for plugin API version {version}, this enrichd "
                f"provides version {PLUGIN_API_VERSION}: upgrade the plugin or enrichd"
            )
    sources: list[SourceSpec] = [s for batch in pm.hook.enrichd_sources() for s in batch]
    modules: list[ModuleSpec] = [m for batch in pm.hook.enrichd_modules() for m in batch]
    for s in sources:
        if not isinstance(s, SourceSpec):
            raise TypeError(f"enrichd_sources returned {type(s).__name__}, expected SourceSpec")
    for m in modules:
        if not isinstance(m, ModuleSpec):
            raise TypeError(f"enrichd_modules returned {type(m).__name__}, expected ModuleSpec")
    providers: list[SearchProvider] = [
        p for batch in pm.hook.enrichd_search_providers() for p in batch
    ]
    for p in providers:
        if not isinstance(p, SearchProvider):
            raise TypeError(
                f"enrichd_search_providers returned {type(p).__name__}, expected SearchProvider"
            )
    info.sources = [s.name for s in sources]
    info.modules = [m.id for m in modules]
    return _Collected(sources, modules, providers)


def load_plugins(
    *,
    disable: Sequence[str] = (),
    extra_modules: Sequence[str] = (),
    extra_objects: Sequence[tuple[str, Any]] = (),
) -> Registry:
    """Load every ``enrichd`` entry point (minus ``disable``; ``"*"`` disables them all),
    ``extra_modules`` and objects.

    A plugin that fails to import or whose hooks raise is recorded as failed and skipped; the
    daemon still starts. Contradictions between plugins (duplicate ids, dependency cycles,
    unknown dependencies) raise :class:`PluginConfigError`, naming the plugins involved.
    """
    candidates: list[tuple[str, str, Any]] = []
    plugins: list[PluginInfo] = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in disable or "*" in disable:
            plugins.append(PluginInfo(name=ep.name, origin=ep.value, status="disabled"))
            continue
        candidates.append((ep.name, ep.value, ep))
    for dotted in extra_modules:
        candidates.append((dotted, dotted, dotted))
    for name, obj in extra_objects:
        candidates.append((name, repr(obj), obj))

    sources: dict[str, SourceSpec] = {}
    modules: dict[str, ModuleSpec] = {}
    source_owner: dict[str, str] = {}
    module_owner: dict[str, str] = {}
    providers: dict[str, SearchProvider] = {}
    provider_owner: dict[str, str] = {}
    for name, origin, target in candidates:
        info = PluginInfo(name=name, origin=origin, status="loaded")
        plugins.append(info)
        try:
            if isinstance(target, importlib.metadata.EntryPoint):
                obj = target.load()
            elif isinstance(target, str):
                obj = importlib.import_module(target)
            else:
                obj = target
            collected = _collect(name, obj, info)
        except PluginConfigError:
            raise
        except Exception as exc:
            info.status = "failed"
            info.error = f"{type(exc).__name__}: {exc}"
            log.error("plugin %r failed to load and is skipped: %s", name, info.error)
            continue
        for p in collected.providers:
            if p.name in providers:
                raise PluginConfigError(
                    f"search provider {p.name!r} is provided by both {provider_owner[p.name]!r} "
                    f"and {name!r}"
                )
            providers[p.name] = p
            provider_owner[p.name] = name
        for s in collected.sources:
            if s.name in sources:
                raise PluginConfigError(
                    f"source {s.name!r} is provided by both {source_owner[s.name]!r} and {name!r}"
                )
            sources[s.name] = s
            source_owner[s.name] = name
        for m in collected.modules:
            if not MODULE_ID_RE.match(m.id):
                raise PluginConfigError(
                    f"plugin {name!r}: module id {m.id!r} must look like m16_name or plugin.name"
                )
            if m.id in modules:
                raise PluginConfigError(
                    f"module {m.id!r} is provided by both {module_owner[m.id]!r} and {name!r}"
                )
            if m.wave < 1:
                raise PluginConfigError(f"plugin {name!r}: module {m.id!r} has wave {m.wave} < 1")
            modules[m.id] = m
            module_owner[m.id] = name

    _check_graph(modules, module_owner)
    return Registry(sources, modules, plugins, providers)


def _check_graph(modules: dict[str, ModuleSpec], owner: dict[str, str]) -> None:
    for spec in modules.values():
        for dep in all_dependencies(spec):
            if dep not in modules:
                raise PluginConfigError(
                    f"plugin {owner[spec.id]!r}: module {spec.id!r} depends on unknown "
                    f"module {dep!r}"
                )
            if modules[dep].wave > spec.wave:
                raise PluginConfigError(
                    f"plugin {owner[spec.id]!r}: module {spec.id!r} (wave {spec.wave}) depends on "
                    f"{dep!r}, which runs in a later wave ({modules[dep].wave})"
                )
    # Depth-first search for a cycle, reporting its path.
    state: dict[str, int] = {}

    def visit(mid: str, path: list[str]) -> None:
        state[mid] = 1
        for dep in all_dependencies(modules[mid]):
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep) :], dep] if dep in path else [mid, dep]
                raise PluginConfigError(
                    f"plugin {owner[mid]!r}: modules depend on each other in a cycle: "
                    + " -> ".join(cycle)
                )
            if dep not in state:
                visit(dep, [*path, dep])
        state[mid] = 2

    for mid in modules:
        if mid not in state:
            visit(mid, [mid])
