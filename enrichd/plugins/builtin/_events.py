"""m12_trigger_events: recent business events, typed and scored by the sales rules."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from ..._time import WallClock, system_clock
from .._types import (
    ModuleContext,
    ModuleError,
    ModuleResult,
    SearchHit,
    SearchQuery,
)
from ._common import DAY
from ._searchhits import (
    Company,
    company_of,
    hit_text,
    iso_date,
    make_result,
    module_options,
    parse_when,
    search_hits,
)

_WORD_RE = re.compile(r"[\w'’-]+")  # noqa: RUF001 (curly apostrophes are part of words)


class EventOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[modules.m12_trigger_events]``."""

    #: Overrides of :data:`EVENT_WEIGHTS`, by event type.
    weights: dict[str, float] = msgspec.field(default_factory=dict)
    #: More competitor product names whose adoption is a ``competitor_win``.
    competitors: list[str] = msgspec.field(default_factory=list)


#: Event weights from sales-intel-rules.md.
EVENT_WEIGHTS: Final[Mapping[str, float]] = {
    "digital_initiative": 30,
    "technology_refresh": 28,
    "executive_change": 25,
    "acquisition": 20,
    "new_market": 18,
    "competitor_win": 15,
    "funding": 30,
    "layoffs": -25,
    "other": 10,
}
#: (age in days at most, factor), from sales-intel-rules.md.
RECENCY_FACTORS: Final[tuple[tuple[int, float], ...]] = (
    (7, 1.0),
    (30, 0.8),
    (90, 0.6),
    (180, 0.4),
    (365, 0.2),
)
OLDER_FACTOR: Final = 0.1
UNKNOWN_DATE_FACTOR: Final = 0.2

_TITLES = r"(?:chief|ceo|cfo|cto|cmo|cio|cdo|coo|president|vice president|[se]?vp|head of|officer)"
_COMPETITORS = (
    r"algolia|coveo|bloomreach|constructor\.io|constructor (?:search|ai)|elasticsearch|lucidworks"
    r"|searchspring|klevu|yext|doofinder|solr|opensearch|swiftype|fredhopper|attraqt|unbxd|nosto"
    r"|dynamic yield|hawksearch|groupby|einstein search|endeca"
)
#: Where a replatforming lands: the partner platforms of the sales rules, cloud and headless.
_PLATFORMS = (
    r"cloud|headless|composable|shopify|salesforce|commercetools|bigcommerce|adobe|magento"
    r"|amplience|spryker|sap commerce|vtex"
)
_ADOPTS = (
    r"\b(?:selects?|selected|chooses|chose|picks|taps|switch(?:es)? to|partners with|signs with"
    r"|goes live with|deploys|implements|adopts)\b"
)
_SEARCHY = r"\b(?:site search|search|discovery|personali[sz]ation|recommendations?|merchandising)\b"
#: Typing rules in precedence order: the first that matches names the event.
EVENT_RULES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    (
        "layoffs",
        re.compile(
            r"\blay[ -]?offs?\b|\blays off\b|\blaid off\b|\bjob cuts\b|\bworkforce reduction\b"
            r"|\b(?:cuts?|cutting|slash(?:es)?|eliminat\w*|axes)\s+(?:about\s+|around\s+|nearly\s+"
            r"|more than\s+|some\s+)?[\d,]+\s+(?:jobs|roles|positions|workers|employees|staff)\b"
            r"|\breduc\w*\s+(?:its\s+)?(?:workforce|headcount)\b",
            re.I,
        ),
    ),
    (
        "funding",
        re.compile(
            r"\brais(?:es|ed|ing)\s+(?:a\s+)?[$€£]|\bseries\s+[a-h]\b|\bfunding round\b"
            r"|\b(?:seed|growth|venture)\s+(?:round|funding)\b|\bsecures?\s+[$€£][\d.,]+",
            re.I,
        ),
    ),
    (
        "acquisition",
        re.compile(
            r"\bacquir(?:es|ed|ing|e)\b|\bacquisition of\b|\bto buy\b|\bbuys\b|\bmerger\b"
            r"|\bmerges? with\b|\btakeover\b",
            re.I,
        ),
    ),
    (
        "executive_change",
        re.compile(
            r"\b(?:names|named|appoints|appointed|hires|hired|promotes|promoted|taps|tapped)\b"
            rf"[^.]{{0,80}}\b{_TITLES}\b|\bnew\s+{_TITLES}\b|\bjoins as\b"
            r"|\b(?:steps down|stepping down|resigns|to retire|retires|to depart|departs"
            r"|succeeds)\b",
            re.I,
        ),
    ),
    (
        "competitor_win",
        re.compile(rf"\b(?:{_COMPETITORS})\b|{_ADOPTS}[^.]{{0,80}}{_SEARCHY}", re.I),
    ),
    (
        "technology_refresh",
        re.compile(
            r"\bre-?platform\w*|\bmigrat\w*\s+(?:to|its|from)\b|\bupgrad\w*\s+(?:its\s+)?"
            r"(?:e-?commerce|commerce|platform|site|website|systems?|technology|tech stack)"
            r"|\bnew\s+(?:e-?commerce\s+|commerce\s+|digital\s+|technology\s+)?platform\b"
            r"|\bmoderni[sz]\w*|\btechnology refresh\b|\btech(?:nology)? overhaul\b"
            r"|\brebuil\w*\s+(?:its\s+)?(?:web)?site\b"
            rf"|\b(?:moves?|moving|switch(?:es|ing)?|shifts?|transitions?)\b[^.]{{0,40}}?\bto\s+"
            rf"(?:the\s+|an?\s+)?(?:{_PLATFORMS})",
            re.I,
        ),
    ),
    (
        "new_market",
        re.compile(
            r"\bexpand(?:s|ing)?\s+(?:in)?to\b|\bexpansion\s+(?:in)?to\b|\benters?\b[^.]{0,40}"
            r"\bmarkets?\b|\blaunch\w*\s+in\b|\bopens?\s+(?:its\s+)?first\b|\bnew markets?\b"
            r"|\binternational expansion\b|\bdebuts?\s+in\b",
            re.I,
        ),
    ),
    (
        "digital_initiative",
        re.compile(
            r"\bdigital\b|\be-?commerce\b|\bomnichannel\b|\bmobile app\b|\bonline\s+(?:store|"
            r"shopping|sales|marketplace|ordering)\b|\blaunch\w*\s+(?:a\s+|its\s+|new\s+)*"
            r"(?:app|website|marketplace|loyalty)|\b(?:ai|artificial intelligence|genai)\b"
            r"|\bpersonali[sz]ation\b",
            re.I,
        ),
    ),
)
# Phrases that contain a rule's word without being that event.
_NOT_EVENTS = re.compile(r"\b(?:customer|talent|user)\s+acquisition\b", re.I)


def classify(text: str, competitors: Sequence[str] = ()) -> str | None:
    """The event type ``text`` describes by its wording, or ``None``."""
    text = _NOT_EVENTS.sub(" ", text)
    for kind, pattern in EVENT_RULES:
        if pattern.search(text):
            return kind
        if kind == "competitor_win" and any(c.lower() in text.lower() for c in competitors if c):
            return kind
    return None


def event_type(hit: SearchHit, competitors: Sequence[str] = ()) -> str:
    """A news hit's event type: by its title, else by its snippets, else ``other``."""
    return classify(hit.title, competitors) or classify(hit_text(hit), competitors) or "other"


def recency_factor(published: str | None, now: float) -> float:
    """The rules' recency factor for an event published at ``published`` (ISO), seen at ``now``."""
    when = parse_when(published)
    if when is None:
        return UNKNOWN_DATE_FACTOR
    age_days = (now - when.timestamp()) / DAY
    for limit, factor in RECENCY_FACTORS:
        if age_days <= limit:
            return factor
    return OLDER_FACTOR


def _summary(text: str, limit: int = 280) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def build_events(
    hits: Sequence[SearchHit], now: float, options: EventOptions | None = None
) -> tuple[list[dict[str, Any]], list[SearchHit]]:
    """Typed, scored events (best first, one per headline) and the hits they came from."""
    options = options or EventOptions()
    weights = {**EVENT_WEIGHTS, **options.weights}
    seen: set[str] = set()
    scored: list[tuple[dict[str, Any], SearchHit]] = []
    for hit in hits:
        headline = " ".join(_WORD_RE.findall(hit.title.lower()))
        if headline and headline in seen:
            continue  # the same story syndicated under several URLs
        seen.add(headline)
        kind = event_type(hit, options.competitors)
        factor = recency_factor(hit.published, now)
        event = {
            "type": kind,
            "title": hit.title,
            "summary": _summary(hit.snippet),
            "source_url": hit.url,
            "date": iso_date(hit.published),
            "weight": weights[kind],
            "recency_factor": factor,
            "score": round(weights[kind] * factor, 2),
        }
        scored.append((event, hit))
    scored.sort(key=lambda pair: (pair[0]["score"], pair[0]["date"] or ""), reverse=True)
    return [event for event, _ in scored], [hit for _, hit in scored]


def events_query(company: Company) -> SearchQuery:
    """The news search m12 runs."""
    return SearchQuery(
        q=f'"{company.name}" {company.domain} news', kind="news", count=20, freshness="year"
    )


async def run_trigger_events(
    ctx: ModuleContext, *, clock: WallClock = system_clock
) -> ModuleResult:
    """m12: recent business events, typed and scored as in the sales rules."""
    options = module_options(ctx, EventOptions)
    unknown = sorted(set(options.weights) - set(EVENT_WEIGHTS))
    if unknown:
        raise ModuleError(
            "invalid_options",
            f"modules.{ctx.module_id}.weights: unknown event type(s) {', '.join(unknown)}; "
            f"known: {', '.join(EVENT_WEIGHTS)}",
        )
    company = company_of(ctx)
    hits = await search_hits(ctx, events_query(company))
    events, used = build_events(hits, clock(), options)
    data = {
        "events": events,
        "top_event": events[0] if events else None,
        "counts": dict(Counter(event["type"] for event in events)),
    }
    warnings = [] if events else [f"no news about {company.name} in the last year"]
    return make_result(data, used, events[0]["source_url"] if events else None, warnings)
