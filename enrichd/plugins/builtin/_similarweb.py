"""SimilarWeb: the v1 website endpoints."""

from __future__ import annotations

from .._types import SourceSpec

SOURCE = SourceSpec(
    name="similarweb",
    description="SimilarWeb website API",
    base_url="https://api.similarweb.com",
    auth=("query", "api_key"),
    rate_per_second=10.0,
    burst=10,
    homepage="https://similarweb.com",
)
