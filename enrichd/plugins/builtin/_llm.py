"""An OpenAI-compatible chat-completions client (used by m15)."""

from __future__ import annotations

from .._types import SourceSpec

SOURCE = SourceSpec(
    name="llm",
    description="OpenAI-compatible chat completions",
    base_url="https://api.openai.com/v1",
    auth=("bearer", "Authorization"),
    rate_per_second=2.0,
    burst=2,
    timeout_seconds=60.0,
    homepage="",
)
