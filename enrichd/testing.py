"""Helpers for testing modules and sources, for enrichd's own tests and for plugin authors.

Run a module's ``run`` against real source actors (real HTTP, the configured rate limits and
retries) without starting a daemon::

    async with running_sources({"similarweb": {"base_url": url, "api_key": "k"}}) as actors:
        ctx = ModuleTestContext(actors, "acme.example")
        result = await my_module.run(ctx)

This module is also a pytest plugin: ``pytest_plugins = ["enrichd.testing"]`` in a project's
top-level ``conftest.py`` gives the fixtures ``enrichd_daemon`` (``enrichd serve`` on a free
port with a temporary store and a token), ``enrichd_config`` (its extra config tables; override
it), ``enrichd_client``, ``enrichd_sandbox`` and ``canned_upstream``. docs/plugins.md shows them
in use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import trio

from ._testing_canned import Answer, BackgroundServer, CannedServer
from ._testing_daemon import EnrichdDaemon, toml_document
from .config import Config
from .daemon._engine import resolve_sources
from .daemon._sources import SourceActor
from .intel import IntelConfig
from .plugins import CaseStudy, Citation, ModuleError, Source, SourceNotConfigured, load_plugins
from .sandbox import HttpRequest, HttpResponse, Reset, json_response

__all__ = [
    "Answer",
    "BackgroundServer",
    "CannedServer",
    "EnrichdDaemon",
    "HttpRequest",
    "HttpResponse",
    "ModuleTestContext",
    "Reset",
    "json_response",
    "running_sources",
    "source_actors",
    "toml_document",
]

try:
    import pytest  # noqa: F401  (the fixtures need it; the helpers above do not)
except ImportError:  # pragma: no cover - enrichd installed without its test extra
    pass
else:
    from ._testing_fixtures import (
        canned_upstream,
        enrichd_client,
        enrichd_config,
        enrichd_daemon,
        enrichd_sandbox,
    )

    __all__ += [
        "canned_upstream",
        "enrichd_client",
        "enrichd_config",
        "enrichd_daemon",
        "enrichd_sandbox",
    ]


def source_actors(
    sources: Mapping[str, Mapping[str, Any]],
    *,
    plugins: Sequence[tuple[str, Any]] = (),
    disable: Sequence[str] = (),
) -> dict[str, SourceActor]:
    """An actor per installed source, configured from ``[sources.<name>]`` tables as the daemon
    does it (defaults, secrets, each source's ``configure``).

    ``plugins`` adds ``(name, plugin)`` objects; an installed entry point of the same name is
    not loaded then, so a plugin's tests pass the same whether or not it is installed.
    """
    config = msgspec.convert({"sources": dict(sources)}, Config)
    replaced = [name for name, _ in plugins]
    registry = load_plugins(disable=[*disable, *replaced], extra_objects=plugins)
    return {
        name: SourceActor(spec, settings)
        for name, (spec, settings) in resolve_sources(registry, config).items()
    }


@asynccontextmanager
async def running_sources(
    sources: Mapping[str, Mapping[str, Any]],
    *,
    plugins: Sequence[tuple[str, Any]] = (),
    disable: Sequence[str] = (),
) -> AsyncIterator[dict[str, SourceActor]]:
    """:func:`source_actors`, running until the block ends.

    An exception raised in the block comes out as itself, not wrapped in an exception group,
    so tests can write ``pytest.raises(ModuleError)``.
    """
    actors = source_actors(sources, plugins=plugins, disable=disable)
    try:
        async with trio.open_nursery() as nursery:
            for actor in actors.values():
                await nursery.start(actor.run)
            yield actors
            nursery.cancel_scope.cancel(reason="test finished")
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1 and isinstance(group.exceptions[0], Exception):
            error = group.exceptions[0]
            raise error from error.__cause__
        raise


class ModuleTestContext:
    """A :class:`~enrichd.plugins.ModuleContext` over running actors and given dependency data.

    It behaves as the daemon's context does: an unknown or unconfigured source raises
    :class:`~enrichd.plugins.SourceNotConfigured` with the same reason, and a dependency with no
    data raises ``dependency_missing``.
    """

    def __init__(
        self,
        actors: Mapping[str, SourceActor],
        domain: str = "example.com",
        *,
        module_id: str = "m00_test",
        dependencies: Mapping[str, Mapping[str, Any]] | None = None,
        options: Mapping[str, Any] | None = None,
        job_id: str = "job-test",
        citations: Mapping[str, Sequence[Citation]] | None = None,
        previous: Mapping[str, Mapping[str, Any]] | None = None,
        case_studies: Sequence[CaseStudy] = (),
        intel: IntelConfig | None = None,
    ) -> None:
        self.actors = actors
        self.domain = domain
        self.job_id = job_id
        self.module_id = module_id
        self.options: Mapping[str, Any] = options or {}
        self.dependencies = dict(dependencies or {})
        self.dependency_citations = {k: list(v) for k, v in (citations or {}).items()}
        self.previous_data = dict(previous or {})
        self.studies = list(case_studies)
        self._intel = intel or IntelConfig()

    def source(self, name: str) -> Source:
        """The handle of source ``name`` (raises ``SourceNotConfigured`` like the daemon)."""
        actor = self.actors.get(name)
        if actor is None:
            raise SourceNotConfigured(name, why="no installed plugin provides it")
        if not actor.configured:
            raise SourceNotConfigured(name, why=actor.why_not_configured())
        return actor.handle()

    def source_configured(self, name: str) -> bool:
        """Whether :meth:`source` would succeed."""
        actor = self.actors.get(name)
        return actor is not None and actor.configured

    def dependency(self, module_id: str) -> Mapping[str, Any]:
        """The data given for ``module_id`` (``dependency_missing`` if none was)."""
        if module_id not in self.dependencies:
            raise ModuleError("dependency_missing", f"no data for dependency {module_id}")
        return self.dependencies[module_id]

    def citations(self, module_id: str) -> list[Citation]:
        """The citations given for dependency ``module_id``."""
        self.dependency(module_id)
        return list(self.dependency_citations.get(module_id, []))

    def previous(self, module_id: str | None = None) -> Mapping[str, Any] | None:
        """The ``previous`` data given for ``module_id`` (default: this module), or ``None``."""
        return self.previous_data.get(module_id or self.module_id)

    def case_studies(self) -> list[CaseStudy]:
        """The case studies given."""
        return list(self.studies)

    @property
    def intel(self) -> IntelConfig:
        """The ``[intel]`` settings given (default: the built-in defaults)."""
        return self._intel
