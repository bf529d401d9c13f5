"""Source fallback chains: try the primary source, hand over to the next when it cannot serve."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from ._types import ModuleContext, ModuleError, Source, SourceNotConfigured

T = TypeVar("T")

#: One link of a chain: a source name and what to do with that source.
Link = tuple[str, Callable[[Source], Awaitable[T]]]

# Errors about the module's own wiring, not about the source: no other source can fix them.
_NOT_SOURCE_ERRORS = frozenset({"undeclared_dependency", "dependency_missing"})


class Served(Generic[T]):
    """What a chain produced: the value, the source that served it, and why others did not."""

    def __init__(self, source: str, value: T, skipped: list[str]) -> None:
        self.source = source
        self.value = value
        #: One line per source tried before ``source``, saying why it did not serve.
        self.skipped = skipped

    @property
    def warnings(self) -> list[str]:
        """Warnings for the module result: which sources were passed over, and why."""
        return [f"fell back to {self.source}: {why}" for why in self.skipped]


async def first_available(ctx: ModuleContext, chain: Sequence[Link[T]]) -> Served[T]:
    """Run ``chain`` in order and return the first link that succeeds.

    A source that is not configured (no key, disabled), or whose call raises a
    :class:`ModuleError` — a :class:`~enrichd.plugins.SourceError` after the actor's retries
    (quota spent, rate limited, upstream failing, auth refused), a malformed answer, or
    :class:`~enrichd.plugins.NoData` — hands over to the next. When every link fails, the error
    of the first source that was actually tried is raised, its message listing each source's
    reason; when none was configured, :class:`SourceNotConfigured` for the primary.
    """
    if not chain:
        raise ValueError("first_available needs at least one source")
    skipped: list[str] = []
    first_error: ModuleError | None = None
    for name, attempt in chain:
        try:
            source = ctx.source(name)
        except SourceNotConfigured as exc:
            skipped.append(f"{name}: {exc.message}")
            continue
        try:
            value = await attempt(source)
        except ModuleError as exc:
            if exc.code in _NOT_SOURCE_ERRORS:
                raise
            if exc.code == "auth_failed":
                source.refuse_key(exc.message)
            skipped.append(f"{name}: {exc.message}")
            if first_error is None:
                first_error = exc
                first_error.source = first_error.source or name
            continue
        return Served(name, value, skipped)
    if first_error is None:
        primary = chain[0][0]
        raise SourceNotConfigured(
            primary, why="no source in the chain is configured (" + "; ".join(skipped) + ")"
        )
    raise ModuleError(
        first_error.code,
        "no source could serve: " + "; ".join(skipped),
        source=first_error.source,
    ) from first_error
