"""Yahoo Finance: cookie and crumb, ticker search, quoteSummary."""

from __future__ import annotations

from .._types import SourceSpec

SOURCE = SourceSpec(
    name="yahoo_finance",
    description="Yahoo Finance (cookie and crumb)",
    base_url="https://query2.finance.yahoo.com",
    requires_api_key=False,
    fallback="websearch",
    rate_per_second=5.0,
    burst=5,
    homepage="https://finance.yahoo.com",
)
