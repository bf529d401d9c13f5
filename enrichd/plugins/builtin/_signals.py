"""Wave 4: hiring signals, executive quotes and trigger events from web search.

Each module runs one query through the ``websearch`` source (whichever provider is configured) and
reads what the hits say: titles, snippets and dates. Every query names the company and its
domain, which disambiguates on the real web (and is how the sandbox finds the company).

The weights, recency factors and velocity bands are those of ``sales-intel-rules.md``; a team
can change them in ``[modules.<id>]`` (see the ``*Options`` structs) without touching code.

The modules live in ``_hiring``, ``_quotes`` and ``_events``; their shared helpers in
``_searchhits``. This module assembles them and re-exports their public names.
"""

from __future__ import annotations

from .._types import ModuleSpec
from ._common import DAY
from ._events import (
    EVENT_RULES,
    EVENT_WEIGHTS,
    OLDER_FACTOR,
    RECENCY_FACTORS,
    UNKNOWN_DATE_FACTOR,
    EventOptions,
    build_events,
    classify,
    event_type,
    events_query,
    recency_factor,
    run_trigger_events,
)
from ._hiring import (
    ATS_HOSTS,
    FOCUS_AREAS,
    HiringOptions,
    analyse_hiring,
    hiring_query,
    is_posting,
    open_roles_figure,
    role_mentions,
    role_title,
    run_hiring_signals,
    signal_strength,
    velocity,
)
from ._quotes import (
    EXECUTIVE_RE,
    Attribution,
    QuoteOptions,
    attribute,
    collect_quotes,
    extract_quotes,
    quotes_query,
    run_exec_quotes,
    split_title,
)
from ._searchhits import (
    M01,
    MAX_CITATIONS,
    WEBSEARCH,
    Company,
    citations_for,
    company_of,
    hit_text,
    iso_date,
    make_result,
    mentions_company,
    module_options,
    parse_when,
    search_hits,
)

_M01 = (M01,)

__all__ = [
    "ATS_HOSTS",
    "EVENT_RULES",
    "EVENT_WEIGHTS",
    "EXECUTIVE_RE",
    "FOCUS_AREAS",
    "M01",
    "MAX_CITATIONS",
    "MODULES",
    "OLDER_FACTOR",
    "RECENCY_FACTORS",
    "UNKNOWN_DATE_FACTOR",
    "WEBSEARCH",
    "Attribution",
    "Company",
    "EventOptions",
    "HiringOptions",
    "QuoteOptions",
    "analyse_hiring",
    "attribute",
    "build_events",
    "citations_for",
    "classify",
    "collect_quotes",
    "company_of",
    "event_type",
    "events_query",
    "extract_quotes",
    "hiring_query",
    "hit_text",
    "is_posting",
    "iso_date",
    "make_result",
    "mentions_company",
    "module_options",
    "open_roles_figure",
    "parse_when",
    "quotes_query",
    "recency_factor",
    "role_mentions",
    "role_title",
    "run_exec_quotes",
    "run_hiring_signals",
    "run_trigger_events",
    "search_hits",
    "signal_strength",
    "split_title",
    "velocity",
]

MODULES: list[ModuleSpec] = [
    ModuleSpec(
        id="m10_hiring_signals",
        wave=4,
        description="Job postings analysis",
        run=run_hiring_signals,
        depends_on=_M01,
        sources=(WEBSEARCH,),
        ttl_seconds=3 * DAY,
    ),
    ModuleSpec(
        id="m11_exec_quotes",
        wave=4,
        description="Executive statements",
        run=run_exec_quotes,
        depends_on=_M01,
        sources=(WEBSEARCH,),
        ttl_seconds=30 * DAY,
    ),
    ModuleSpec(
        id="m12_trigger_events",
        wave=4,
        description="Business events",
        run=run_trigger_events,
        depends_on=_M01,
        sources=(WEBSEARCH,),
        ttl_seconds=3 * DAY,
    ),
]
