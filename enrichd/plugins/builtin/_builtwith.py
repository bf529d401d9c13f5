"""BuiltWith: the Domain API (paid) and the Free API."""

from __future__ import annotations

from .._types import SourceSpec

SOURCES: list[SourceSpec] = [
    SourceSpec(
        name="builtwith",
        description="BuiltWith Domain API (paid)",
        base_url="https://api.builtwith.com",
        auth=("query", "KEY"),
        fallback="builtwith_free",
        rate_per_second=2.0,
        burst=2,
        max_concurrency=4,
        homepage="https://builtwith.com",
    ),
    SourceSpec(
        name="builtwith_free",
        description="BuiltWith Free API",
        base_url="https://api.builtwith.com",
        auth=("query", "KEY"),
        fallback="homepage",
        rate_per_second=1.0,
        burst=1,
        max_concurrency=1,
        homepage="https://builtwith.com",
    ),
]
