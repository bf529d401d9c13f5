"""Wave 4: hiring signals, executive quotes and trigger events from web search.

Each module runs one query through the ``websearch`` source (whichever provider is configured) and
reads what the hits say: titles, snippets and dates. Every query names the company and its
domain, which disambiguates on the real web (and is how the sandbox finds the company).

The weights, recency factors and velocity bands are those of ``sales-intel-rules.md``; a team
can change them in ``[modules.<id>]`` (see the ``*Options`` structs) without touching code.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple, TypeVar
from urllib.parse import urlsplit

import msgspec

from ..._time import WallClock, system_clock
from ...domains import InvalidDomain, registrable_domain
from .._types import (
    Citation,
    ModuleContext,
    ModuleError,
    ModuleResult,
    ModuleSpec,
    SearchHit,
    SearchQuery,
)
from . import _websearch
from ._common import DAY, count_points

WEBSEARCH: Final = "websearch"
M01: Final = "m01_company_context"
_M01 = (M01,)
MAX_CITATIONS: Final = 10

S = TypeVar("S", bound=msgspec.Struct)


# -- shared helpers ----------------------------------------------------------------------------


class Company(NamedTuple):
    """Who the queries are about."""

    name: str
    domain: str
    #: The domain's own label (``costco`` for ``shop.costco.co.uk``).
    label: str


def company_of(ctx: ModuleContext) -> Company:
    """The company name from m01 (else the domain's label) and the registrable domain."""
    try:
        domain = registrable_domain(ctx.domain)
    except InvalidDomain:
        domain = ctx.domain
    label = domain.split(".", 1)[0]
    try:
        context = ctx.dependency(M01)
    except ModuleError as exc:
        # m01 cached without data, or run on its own: the label still identifies the company.
        if exc.code != "dependency_missing":
            raise
        context = {}
    name = context.get("company_name")
    if not isinstance(name, str) or not name.strip():
        name = label
    # A double quote inside the name would break the phrase query.
    return Company(name=name.replace('"', "").strip(), domain=domain, label=label)


def module_options(ctx: ModuleContext, options_type: type[S]) -> S:
    """``[modules.<id>]`` as ``options_type``; ``invalid_options`` names the bad key."""
    try:
        return msgspec.convert(dict(ctx.options), options_type)
    except msgspec.ValidationError as exc:
        raise ModuleError("invalid_options", f"modules.{ctx.module_id}: {exc}") from None


async def search_hits(ctx: ModuleContext, query: SearchQuery) -> list[SearchHit]:
    """The hits of ``query`` (``source_not_configured`` when no web search is set up)."""
    return await _websearch.search(ctx.source(WEBSEARCH), query)


def parse_when(published: str | None) -> dt.datetime | None:
    """An ISO date or datetime as an aware datetime (UTC when it carries no zone)."""
    if not published:
        return None
    try:
        when = dt.datetime.fromisoformat(published)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def iso_date(published: str | None) -> str | None:
    """The ``YYYY-MM-DD`` date of a hit's ``published``, or ``None``."""
    when = parse_when(published)
    return when.date().isoformat() if when is not None else None


def hit_text(hit: SearchHit) -> str:
    """A hit's snippet and extra snippets as one text."""
    return " ".join([hit.snippet, *hit.extra_snippets]).strip()


def citations_for(hits: Iterable[SearchHit]) -> list[Citation]:
    """One citation per distinct hit URL, at most :data:`MAX_CITATIONS`."""
    seen: dict[str, Citation] = {}
    for hit in hits:
        if hit.url not in seen and len(seen) < MAX_CITATIONS:
            seen[hit.url] = Citation(url=hit.url, title=hit.title or hit.url)
    return list(seen.values())


def _tokens(text: str) -> list[str]:
    return [t for t in re.findall(r"[a-z0-9]+", text.lower()) if t not in _NAME_NOISE]


_NAME_NOISE: Final = frozenset(
    {"the", "inc", "corp", "corporation", "co", "company", "llc", "ltd", "plc", "group", "sa", "ag"}
)


def mentions_company(text: str, company: Company) -> bool:
    """Whether ``text`` (e.g. "Costco Wholesale Corp") names ``company``."""
    words = _tokens(text)
    label = company.label.replace("-", "").lower()
    if len(label) >= 4 and label in "".join(words):
        return True
    # Every word of the name, not just the first: "American Eagle" is not "American Express".
    name_words = _tokens(company.name)
    return (bool(name_words) and all(w in words for w in name_words)) or label in words


def _result(
    data: dict[str, Any], hits: Iterable[SearchHit], source_url: str | None, warnings: list[str]
) -> ModuleResult:
    return ModuleResult(
        data=data,
        data_points=count_points(data),
        citations=citations_for(hits),
        source=WEBSEARCH,
        source_url=source_url,
        warnings=warnings,
    )


# -- m10_hiring_signals ------------------------------------------------------------------------


class HiringOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[modules.m10_hiring_signals]``."""

    #: Open roles at or above which hiring velocity is "high".
    velocity_high: int = 50
    #: Open roles at or above which hiring velocity is "medium".
    velocity_medium: int = 20
    #: More words that make a role relevant, besides the built-in focus areas.
    keywords: list[str] = msgspec.field(default_factory=list)


#: Focus areas a role can mention. The rules name the first four; recommendation and discovery are
#: added because search-and-discovery teams post their roles under those words too.
FOCUS_AREAS: Final[Mapping[str, re.Pattern[str]]] = {
    "search": re.compile(r"\bsearch\b", re.I),
    "relevance": re.compile(r"\brelevan(?:ce|cy)\b", re.I),
    "e-commerce": re.compile(r"\be-?commerce\b|\bdigital commerce\b", re.I),
    "personalisation": re.compile(r"\bpersonali[sz](?:ation|ed|ing)\b", re.I),
    "recommendation": re.compile(r"\brecommend(?:ation|ations|er|ers)\b", re.I),
    "discovery": re.compile(r"\bdiscovery\b", re.I),
}
# "Job search", "search all jobs" and the like are career-site boilerplate, not the role.
_SEARCH_BOILERPLATE = re.compile(
    r"\b(?:job|executive|candidate|talent|career)\s+search\b"
    r"|\bsearch\s+(?:for\s+)?(?:all\s+|our\s+)?(?:jobs|openings|careers|positions|roles)\b",
    re.I,
)
_OPEN_ROLES_RE = re.compile(
    r"(?P<n>\d{1,3}(?:,\d{3})+|\d+)\+?\s+"
    r"(?:(?:open|available|current|active)\s+(?:job\s+)?"
    r"(?:positions|jobs|roles|openings|vacancies|opportunities)"
    r"|job\s+(?:openings|vacancies|opportunities))\b",
    re.I,
)
#: Applicant-tracking systems whose URLs are job postings (or boards, when the path is short).
ATS_HOSTS: Final = (
    "greenhouse.io",
    "lever.co",
    "myworkdayjobs.com",
    "myworkdaysite.com",
    "smartrecruiters.com",
    "ashbyhq.com",
    "icims.com",
    "taleo.net",
    "jobvite.com",
    "workable.com",
    "bamboohr.com",
    "recruitee.com",
    "breezy.hr",
    "successfactors.com",
    "teamtailor.com",
    "personio.com",
    "eightfold.ai",
)
_JOB_PATH_WORDS: Final = frozenset(
    {"job", "jobs", "career", "careers", "position", "positions", "openings", "vacancies"}
)
_JOB_TITLE_RE = re.compile(r"\bjob\b", re.I)
_APPLICATION_RE = re.compile(r"^job application for\s+(.+?)\s+at\s+.+$", re.I)
_TITLE_SEP_RE = re.compile(r"\s+[|\-–—]\s+")  # noqa: RUF001 (en and em dashes are separators)
_SITE_WORDS_RE = re.compile(
    r"careers?|jobs?\b|job board|greenhouse|lever|workday|linkedin|indeed|glassdoor|apply", re.I
)


def open_roles_figure(hits: Sequence[SearchHit]) -> tuple[int, SearchHit] | None:
    """The largest "N open positions" figure in the hits, and the hit that states it."""
    best: tuple[int, SearchHit] | None = None
    for hit in hits:
        for match in _OPEN_ROLES_RE.finditer(f"{hit.title} {hit_text(hit)}"):
            n = int(match.group("n").replace(",", ""))
            if best is None or n > best[0]:
                best = (n, hit)
    return best


def is_posting(hit: SearchHit) -> bool:
    """Whether a hit looks like one job posting (not a careers landing page or news)."""
    if _OPEN_ROLES_RE.search(f"{hit.title} {hit_text(hit)}"):
        return False  # a page counting the openings lists them; it is not one of them
    parts = urlsplit(hit.url)
    host = (parts.hostname or "").lower()
    segments = [s.lower() for s in parts.path.split("/") if s]
    if any(host == ats or host.endswith("." + ats) for ats in ATS_HOSTS):
        return len(segments) >= 2  # boards.greenhouse.io/acme is the board; /acme/jobs/1 a post
    if any(segment in _JOB_PATH_WORDS for segment in segments[:-1]):
        return True  # something after /jobs/ or /careers/
    if host.split(".", 1)[0] in ("careers", "jobs") and segments:
        return True
    return bool(_JOB_TITLE_RE.search(hit.title))


def role_title(title: str, company: Company) -> str:
    """A posting's title without the site or company suffix ("Engineer - Acme" -> "Engineer")."""
    application = _APPLICATION_RE.match(title)
    if application:
        return application.group(1).strip()
    parts = _TITLE_SEP_RE.split(title)
    while len(parts) > 1 and (
        mentions_company(parts[-1], company) or _SITE_WORDS_RE.search(parts[-1])
    ):
        parts.pop()
    text = " - ".join(parts)
    at = re.search(rf"\s+at\s+{re.escape(company.name)}\b.*$", text, re.I)
    return (text[: at.start()] if at else text).strip()


def role_mentions(text: str, extra: Sequence[str] = ()) -> list[str]:
    """The focus areas (and extra keywords) ``text`` mentions, in a fixed order."""
    text = _SEARCH_BOILERPLATE.sub(" ", text)
    found = [area for area, pattern in FOCUS_AREAS.items() if pattern.search(text)]
    lowered = text.lower()
    found += [word for word in extra if word.lower() in lowered and word not in found]
    return found


def velocity(open_roles: int, options: HiringOptions | None = None) -> str:
    """Hiring velocity, "high", "medium" or "low", from the number of open roles."""
    options = options or HiringOptions()
    if open_roles >= options.velocity_high:
        return "high"
    if open_roles >= options.velocity_medium:
        return "medium"
    return "low"


def signal_strength(pace: str, relevant: int) -> str:
    """How strongly hiring suggests a search/discovery project: strong, moderate or weak.

    Strong: three or more relevant roles, or any relevant role while hiring fast. Moderate: a
    relevant role, or medium/high velocity alone. Weak: slow hiring and nothing relevant.
    """
    if relevant >= 3 or (relevant >= 1 and pace == "high"):
        return "strong"
    if relevant >= 1 or pace in ("high", "medium"):
        return "moderate"
    return "weak"


def _hiring_summary(
    company: Company, open_roles: int, pace: str, roles: Sequence[dict[str, Any]], relevant: int
) -> str:
    text = f"{company.name}: {open_roles:,} open roles ({pace} hiring velocity)"
    if roles:
        text += (
            f"; {relevant} of {len(roles)} postings found mention search, relevance, "
            "e-commerce, personalisation, recommendation or discovery"
        )
    examples = [r["title"] for r in roles if r["mentions"]][:3]
    return text + (f" (e.g. {'; '.join(examples)})" if examples else "")


def analyse_hiring(
    hits: Sequence[SearchHit], company: Company, options: HiringOptions | None = None
) -> tuple[dict[str, Any], list[SearchHit]]:
    """m10's data from the hits, and the hits it used (for citations)."""
    options = options or HiringOptions()
    figure = open_roles_figure(hits)
    postings = [hit for hit in hits if is_posting(hit)]
    roles = [
        {
            "title": role_title(hit.title, company),
            "url": hit.url,
            "mentions": role_mentions(f"{hit.title} {hit_text(hit)}", options.keywords),
        }
        for hit in postings
    ]
    relevant = [role for role in roles if role["mentions"]]
    data: dict[str, Any] = {
        "open_roles": None,
        "open_roles_basis": None,
        "careers_url": figure[1].url if figure else None,
        "roles": roles,
        "relevant_roles": relevant,
        "relevant_role_count": None,
        "velocity": None,
        "hiring_signal_strength": None,
        "summary": None,
    }
    used = ([figure[1]] if figure else []) + postings
    if figure is None and not postings:
        return data, used
    # A careers page's count can lag behind the postings we can see; never report fewer.
    open_roles = max(figure[0] if figure else 0, len(postings))
    pace = velocity(open_roles, options)
    data.update(
        open_roles=open_roles,
        open_roles_basis="careers_page" if figure and figure[0] >= len(postings) else "postings",
        relevant_role_count=len(relevant),
        velocity=pace,
        hiring_signal_strength=signal_strength(pace, len(relevant)),
        summary=_hiring_summary(company, open_roles, pace, roles, len(relevant)),
    )
    return data, used


def hiring_query(company: Company) -> SearchQuery:
    """The web search m10 runs."""
    q = f'"{company.name}" {company.domain} jobs hiring careers'
    return SearchQuery(q=q, kind="web", count=20, freshness="month")


async def run_hiring_signals(ctx: ModuleContext) -> ModuleResult:
    """m10: open roles, the roles that mention search and friends, and hiring velocity."""
    options = module_options(ctx, HiringOptions)
    company = company_of(ctx)
    hits = await search_hits(ctx, hiring_query(company))
    data, used = analyse_hiring(hits, company, options)
    warnings = []
    if data["open_roles"] is None:
        warnings.append(
            f"no careers page or job posting for {company.name} in {len(hits)} search results"
        )
    return _result(data, used, data["careers_url"], warnings)


# -- m11_exec_quotes ---------------------------------------------------------------------------


class QuoteOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[modules.m11_exec_quotes]``."""

    max_quotes: int = 10
    #: Quotes shorter than this many words are not statements (headline fragments, names).
    min_words: int = 8


_QUOTE_RE = re.compile(r"[“\"]([^“”\"]{10,800}?)[”\"]")
_NAME = (
    r"(?P<name>[A-ZÀ-ÖØ-Þ][\w'’.-]*"  # noqa: RUF001 (apostrophes)
    r"(?:\s+(?:(?:de|da|di|van|von|der|del|la|le|bin|al)\s+)*[A-ZÀ-ÖØ-Þ][\w'’.-]*){1,3})"  # noqa: RUF001
)
_TITLE = r"(?P<title>[^,;:“”\"()]{2,100}?)"
_VERB = r"(?:said|says|added|adds|noted|notes|explained|stated|told\s+[\w ]{2,40}?)"
#: A title written before the name, as news style has it: "said Costco CEO Ron Vachris".
_TITLE_FIRST = (
    r"(?P<org>(?:[A-Z][\w&.'’-]*\s+){0,3}?)"  # noqa: RUF001 (apostrophe)
    r"(?P<title>CEO|CFO|CTO|CMO|CDO|COO|CIO|CPO|CRO|CCO|CISO|CHRO|President|Chair(?:man|woman)?"
    r"|(?:Co-)?[Ff]ounder|Chief(?:\s+[A-Z]\w+){1,2}\s+Officer)\s+"
)
#: Attributions right after a quote: ``, said Name, Title of Co.`` / ``, Name, Title, said`` /
#: ``, according to Name, Title`` / ``, said Co CEO Name`` / ``, Co CEO Name said``.
_AFTER = (
    re.compile(rf"^[\s,.!?]*{_VERB}\s+{_NAME},\s+{_TITLE}\s*(?:[,.;]|$)"),
    re.compile(rf"^[\s,.!?]*{_NAME},\s+{_TITLE},\s+{_VERB}"),
    re.compile(rf"^[\s,.!?]*(?i:according)\s+to\s+{_NAME},\s+{_TITLE}\s*(?:[,.;]|$)"),
    re.compile(rf"^[\s,.!?]*{_VERB}\s+{_TITLE_FIRST}{_NAME}"),
    re.compile(rf"^[\s,.!?]*{_TITLE_FIRST}{_NAME}\s+{_VERB}"),
)
#: Attributions right before a quote: ``According to Name, Title,`` / ``Name, Title, said:``.
_BEFORE = (
    re.compile(rf"(?i:according)\s+to\s+{_NAME},\s+{_TITLE}[,:]?\s*$"),
    re.compile(rf"{_NAME},\s+{_TITLE},\s+{_VERB}[,:]?\s*$"),
)
EXECUTIVE_RE = re.compile(
    r"\b(?:CEO|CFO|CTO|CMO|CDO|COO|CIO|CPO|CRO|CCO|CISO|CHRO|chief|president|vice[ -]president"
    r"|[SE]?VP|head\s+of|director|(?:co-?)?founder|chair(?:man|woman|person)?)\b",
    re.I,
)
_WORD_RE = re.compile(r"[\w'’-]+")  # noqa: RUF001


class Attribution(NamedTuple):
    """Who said a quote, as the text puts it."""

    speaker: str
    title: str
    company: str | None


def _is_title(text: str) -> bool:
    # "Head" alone is what is left of "Head of Digital" cut at the wrong "of".
    return bool(EXECUTIVE_RE.search(text)) and not re.search(r"\bhead$", text, re.I)


def split_title(raw: str, company: Company) -> tuple[str, str | None]:
    """``"Chief Executive Officer of Acme"`` -> (``"Chief Executive Officer"``, ``"Acme"``)."""
    raw = raw.strip()
    cuts = list(re.finditer(r"\s+(?:of|at)\s+", raw))
    # The company we look for, named after the last cut that leaves a title before it:
    # "Head of Digital of Acme", "Vice President of E-commerce at Acme".
    for cut in reversed(cuts):
        if mentions_company(raw[cut.end() :], company) and _is_title(raw[: cut.start()]):
            return raw[: cut.start()].strip(), raw[cut.end() :].strip()
    at = [cut for cut in cuts if cut.group().strip() == "at"]
    if at:  # "at" rarely belongs to a title itself
        return raw[: at[-1].start()].strip(), raw[at[-1].end() :].strip()
    for cut in cuts:  # another company: "CEO of Bank of America" cuts at the first "of"
        rest = raw[cut.end() :]
        if _is_title(raw[: cut.start()]) and rest[:1].isupper() and not _is_area(rest):
            return raw[: cut.start()].strip(), rest.strip()
    return raw, None


#: First words of what follows "of" in a title when it is a function, not another company
#: ("Vice President of Merchandising", "Head of Global Sales").
_AREA_WORDS: Final = frozenset(
    {
        "analytics",
        "brand",
        "business",
        "commerce",
        "communications",
        "corporate",
        "customer",
        "data",
        "design",
        "digital",
        "e-commerce",
        "ecommerce",
        "emea",
        "engineering",
        "europe",
        "finance",
        "global",
        "growth",
        "hr",
        "human",
        "information",
        "infrastructure",
        "innovation",
        "international",
        "it",
        "logistics",
        "marketing",
        "membership",
        "merchandising",
        "north",
        "online",
        "operations",
        "partnerships",
        "people",
        "pharmacy",
        "platform",
        "product",
        "products",
        "research",
        "retail",
        "sales",
        "security",
        "south",
        "stores",
        "strategy",
        "supply",
        "technology",
        "u.s.",
        "us",
        "west",
        "east",
        "americas",
        "asia",
    }
)


def _is_area(text: str) -> bool:
    first = text.strip().split(" ", 1)[0].lower().rstrip(",")
    return first in _AREA_WORDS


def attribute(before: str, after: str, company: Company) -> Attribution | None:
    """The speaker of a quote, from the text right after it or else right before it."""
    match = next((m for p in _AFTER if (m := p.match(after[:250]))), None)
    if match is None:
        match = next((m for p in _BEFORE if (m := p.search(before[-250:]))), None)
    if match is None:
        return None
    if "org" in match.groupdict():
        title, org = match.group("title"), match.group("org").strip() or None
    else:
        title, org = split_title(match.group("title"), company)
    # The name pattern allows dots for initials ("John Q. Public"), so a full stop can stick.
    speaker = match.group("name").strip().rstrip(".")
    return Attribution(speaker=speaker, title=title.strip(), company=org)


def extract_quotes(
    hit: SearchHit, company: Company, options: QuoteOptions | None = None
) -> list[dict[str, Any]]:
    """The executive quotes in one hit's snippets, as m11 records."""
    options = options or QuoteOptions()
    quotes: list[dict[str, Any]] = []
    for text in (hit.snippet, *hit.extra_snippets):
        for match in _QUOTE_RE.finditer(text):
            said = match.group(1).strip().rstrip(",").strip()
            if len(_WORD_RE.findall(said)) < options.min_words:
                continue
            who = attribute(text[: match.start()], text[match.end() :], company)
            if who is None or not EXECUTIVE_RE.search(who.title):
                continue
            if who.company is not None and not mentions_company(who.company, company):
                continue  # a partner's or rival's executive, quoted in the same article
            quotes.append(
                {
                    "text": said,
                    "speaker": who.speaker,
                    "title": who.title,
                    "source_url": hit.url,
                    "date": iso_date(hit.published),
                }
            )
    return quotes


def collect_quotes(
    hits: Sequence[SearchHit], company: Company, options: QuoteOptions | None = None
) -> tuple[list[dict[str, Any]], list[SearchHit]]:
    """Distinct quotes from every hit, newest first, capped; and the hits they came from."""
    options = options or QuoteOptions()
    seen: set[str] = set()
    found: list[tuple[dict[str, Any], SearchHit]] = []
    for hit in hits:
        for quote in extract_quotes(hit, company, options):
            key = " ".join(_WORD_RE.findall(quote["text"].lower()))
            if key not in seen:
                seen.add(key)
                found.append((quote, hit))
    # Stable sort: undated quotes keep their search rank, after the dated ones.
    found.sort(key=lambda pair: pair[0]["date"] or "", reverse=True)
    found = found[: options.max_quotes]
    return [quote for quote, _ in found], [hit for _, hit in found]


def quotes_query(company: Company) -> SearchQuery:
    """The web search m11 runs (web results carry Brave's news cluster too)."""
    q = f'"{company.name}" {company.domain} CEO said interview'
    return SearchQuery(q=q, kind="web", count=20, freshness="year")


async def run_exec_quotes(ctx: ModuleContext) -> ModuleResult:
    """m11: what the company's executives said, with who, when and where."""
    options = module_options(ctx, QuoteOptions)
    company = company_of(ctx)
    hits = await search_hits(ctx, quotes_query(company))
    quotes, used = collect_quotes(hits, company, options)
    warnings = (
        [] if quotes else [f"no executive quote for {company.name} in {len(hits)} search results"]
    )
    return _result({"quotes": quotes}, used, quotes[0]["source_url"] if quotes else None, warnings)


# -- m12_trigger_events ------------------------------------------------------------------------


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
    return _result(data, used, events[0]["source_url"] if events else None, warnings)


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
