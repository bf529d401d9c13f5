"""Helpers shared by the built-in modules."""

from __future__ import annotations

from .._types import ModuleContext, ModuleError, ModuleResult, RunFn

DAY = 86400


def unavailable(module_id: str) -> RunFn:
    """A run function for a module whose implementation this version does not ship yet.

    It reports the truth — the module cannot produce data — instead of inventing some.
    """

    async def run(ctx: ModuleContext) -> ModuleResult:
        raise ModuleError(
            "not_implemented",
            f"{module_id} is not implemented in this enrichd version; its result is not available",
        )

    return run


def count_points(data: object) -> int:
    """The number of data points in ``data``: every non-empty scalar leaf counts once.

    ``None``, ``""`` and empty containers count zero; a list of records counts each record's
    fields. The one convention every built-in module reports ``data_points`` by.
    """
    if data is None or data == "" or (isinstance(data, bool) and data is False):
        return 0
    if isinstance(data, dict):
        return sum(count_points(v) for v in data.values())
    if isinstance(data, list | tuple):
        return sum(count_points(v) for v in data)
    return 1
