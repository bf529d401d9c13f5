"""Wave 1: m01_company_context and m02_tech_stack."""

from __future__ import annotations

from .._types import ModuleSpec
from ._common import DAY, unavailable

MODULES: list[ModuleSpec] = [
    ModuleSpec(
        id="m01_company_context",
        wave=1,
        description="Basic company info",
        run=unavailable("builtwith"),
        sources=("builtwith", "homepage"),
        ttl_seconds=30 * DAY,
    ),
    ModuleSpec(
        id="m02_tech_stack",
        wave=1,
        description="Technology detection",
        run=unavailable("builtwith"),
        sources=("builtwith", "builtwith_free", "homepage"),
        ttl_seconds=7 * DAY,
    ),
]
