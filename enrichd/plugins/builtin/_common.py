"""Helpers shared by the built-in modules."""

from __future__ import annotations

DAY = 86400


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
