"""The domain's own homepage: a guarded fetch that refuses non-global addresses."""

from __future__ import annotations

from .._types import SourceSpec

SOURCE = SourceSpec(
    name="homepage",
    description="The domain's own homepage",
    requires_api_key=False,
    rate_per_second=10.0,
    burst=10,
    max_concurrency=8,
    timeout_seconds=10.0,
    homepage="",
)
