"""Wave 1: m01_company_context (in ``_context``) and m02_tech_stack (in ``_techstack``).

This module assembles them and re-exports their public names; helpers both use live in
``_pagecommon``.
"""

from __future__ import annotations

from .._types import ModuleSpec
from ._common import DAY
from ._context import (
    Tier,
    builtwith_company_fields,
    country_code,
    homepage_company_tiers,
    merge_company_fields,
    run_company_context,
    social_profiles,
    ticker_symbol,
)
from ._pagecommon import (
    BUILTWITH,
    BUILTWITH_FREE,
    FROM_BUILTWITH,
    FROM_HTML,
    FROM_JSONLD,
    FROM_OPENGRAPH,
    HOMEPAGE,
    HomepageView,
    read_homepage,
)
from ._techstack import (
    ROLES,
    Stack,
    Tech,
    homepage_techs,
    pick_role_techs,
    pick_roles,
    role_of,
    run_tech_stack,
)

__all__ = [
    "BUILTWITH",
    "BUILTWITH_FREE",
    "FROM_BUILTWITH",
    "FROM_HTML",
    "FROM_JSONLD",
    "FROM_OPENGRAPH",
    "HOMEPAGE",
    "MODULES",
    "ROLES",
    "HomepageView",
    "Stack",
    "Tech",
    "Tier",
    "builtwith_company_fields",
    "country_code",
    "homepage_company_tiers",
    "homepage_techs",
    "merge_company_fields",
    "pick_role_techs",
    "pick_roles",
    "read_homepage",
    "role_of",
    "run_company_context",
    "run_tech_stack",
    "social_profiles",
    "ticker_symbol",
]

MODULES: list[ModuleSpec] = [
    ModuleSpec(
        id="m01_company_context",
        wave=1,
        description="Basic company info",
        run=run_company_context,
        sources=(BUILTWITH, HOMEPAGE),
        ttl_seconds=30 * DAY,
    ),
    ModuleSpec(
        id="m02_tech_stack",
        wave=1,
        description="Technology detection",
        run=run_tech_stack,
        sources=(BUILTWITH, BUILTWITH_FREE, HOMEPAGE),
        ttl_seconds=7 * DAY,
    ),
]
