"""m10_hiring_signals: open roles, the roles that matter to the seller, hiring velocity."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

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
    hit_text,
    make_result,
    mentions_company,
    module_options,
    search_hits,
)


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
    return make_result(data, used, data["careers_url"], warnings)
