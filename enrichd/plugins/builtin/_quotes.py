"""m11_exec_quotes: what the company's executives said, with speaker, title and source."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

import msgspec

from .._types import (
    ModuleContext,
    ModuleResult,
    SearchHit,
    SearchQuery,
)
from ._searchhits import (
    Company,
    company_of,
    iso_date,
    make_result,
    mentions_company,
    module_options,
    search_hits,
)


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
    return make_result(
        {"quotes": quotes}, used, quotes[0]["source_url"] if quotes else None, warnings
    )
