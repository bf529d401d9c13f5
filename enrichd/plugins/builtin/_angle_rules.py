"""m15's facts and its rule-based writer: the sales angle from the other modules' data.

:func:`gather_inputs` reads m01-m14 (any of them may be missing), :func:`read_facts` picks the
strongest facts out of them (traffic, size, the incumbent, the freshest trigger event, the best
case study, ...), and :func:`write_rules` turns the facts into the angle, talking points and
risks. The fields a language model does not write (the incumbent, threat, timing signals,
quotes, case studies, ICP) always come from :func:`fixed_fields`, so both writers give the same
shape. Every list, weight and threshold comes from ``ctx.intel``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from ...intel import IncumbentProfile, IntelConfig
from .._types import Citation, ModuleContext, ModuleError

M01: Final = "m01_company_context"
M02: Final = "m02_tech_stack"
M03: Final = "m03_traffic"
M07: Final = "m07_financials"
M10: Final = "m10_hiring_signals"
M11: Final = "m11_exec_quotes"
M12: Final = "m12_trigger_events"
M13: Final = "m13_case_study_match"
M14: Final = "m14_icp_scoring"

#: Every module m15 reads (its ``optional_depends_on``).
INPUT_MODULES: Final = (
    M01,
    M02,
    M03,
    "m04_traffic_sources",
    "m05_competitors",
    "m06_keywords",
    M07,
    "m08_stock_info",
    "m09_analyst_ratings",
    M10,
    M11,
    M12,
    M13,
    M14,
)
#: Modules whose data carries per-item source URLs (roles, quotes, events, case studies).
ITEM_URL_MODULES: Final = (M10, M11, M12, M13)

MAX_TALKING_POINTS: Final = 5
MAX_RISKS: Final = 4
#: What ``current_competitor`` says when no competitor product was detected.
NO_INCUMBENT: Final = "none"
#: ... and when there is no tech-stack data to tell.
UNKNOWN_INCUMBENT: Final = "unknown"

_CURRENCY_SYMBOLS: Final = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}
#: Ranges print with an en dash, as people write them: 5\u201315%.
_LIFT_DASH: Final = "\u2013"


# -- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """The data and citations of the dependencies that have data."""

    domain: str
    data: dict[str, Mapping[str, Any]]
    citations: dict[str, list[Citation]]
    warnings: list[str] = field(default_factory=list)
    #: :func:`input_citations` of these inputs, once worked out (m15 needs it twice).
    known: dict[str, Citation] | None = field(default=None, repr=False, compare=False)

    def get(self, module_id: str) -> Mapping[str, Any]:
        """The data of ``module_id`` (empty when it is missing)."""
        return self.data.get(module_id, {})

    def has(self, module_id: str) -> bool:
        """Whether ``module_id`` has data."""
        return module_id in self.data


def gather_inputs(ctx: ModuleContext) -> Inputs:
    """m01-m14's data and citations; a dependency that failed is simply absent."""
    data: dict[str, Mapping[str, Any]] = {}
    citations: dict[str, list[Citation]] = {}
    warnings: list[str] = []
    for mid in INPUT_MODULES:
        try:
            value = ctx.dependency(mid)
        except ModuleError as exc:
            # dependency_missing is the normal case (that module failed or was not run); any
            # other error is worth a line, but still must not stop the angle.
            if exc.code != "dependency_missing":
                warnings.append(f"{mid} unreadable ({exc.code}): {exc.message}")
            continue
        if not isinstance(value, Mapping) or not value:
            continue
        data[mid] = value
        try:
            citations[mid] = list(ctx.citations(mid))
        except ModuleError:
            citations[mid] = []
    return Inputs(ctx.domain, data, citations, warnings)


@functools.lru_cache(maxsize=4096)
def url_key(url: str) -> str:
    """``url`` normalised for comparison: scheme and host lower-cased, no trailing slash.

    Cached: m15 keys the same few dozen URLs several times over per job.
    """
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def _item_urls(value: Any) -> Iterable[tuple[str, str | None]]:
    """Every ``*url`` string in ``value`` (recursively) with a title found beside it."""
    if isinstance(value, Mapping):
        title = _label_of(value)
        for key, item in value.items():
            if isinstance(key, str) and key.endswith("url") and _is_http(item):
                yield item, title
            elif isinstance(item, Mapping | list):
                yield from _item_urls(item)
    elif isinstance(value, list):
        for item in value:
            yield from _item_urls(item)


def _label_of(record: Mapping[str, Any]) -> str | None:
    """A citation title for a record: a quote's speaker, a case study's customer, a title."""
    speaker, title = _text(record.get("speaker")), _text(record.get("title"))
    if speaker:
        return f"{speaker}, {title}" if title else speaker
    customer = _text(record.get("customer"))
    if customer:
        return f"Case study: {customer}"
    return title


def _is_http(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(("http://", "https://"))


def input_citations(inputs: Inputs) -> dict[str, Citation]:
    """Every URL the inputs cite (normalised key -> citation): the dependencies' citations plus
    the source URLs inside m10-m13's data. A model may cite these and nothing else."""
    if inputs.known is None:
        # Frozen dataclass: the memo is set once, the way __init__ would set it.
        object.__setattr__(inputs, "known", _input_citations(inputs))
    assert inputs.known is not None
    return dict(inputs.known)


def _input_citations(inputs: Inputs) -> dict[str, Citation]:
    known: dict[str, Citation] = {}
    for mid in INPUT_MODULES:
        for citation in inputs.citations.get(mid, []):
            if _is_http(citation.url):
                known.setdefault(url_key(citation.url), citation)
    for mid in ITEM_URL_MODULES:
        for url, title in _item_urls(inputs.get(mid)):
            known.setdefault(url_key(url), Citation(url=url.strip(), title=title or url.strip()))
    return known


# -- small readers ---------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _records(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def words(name: str) -> str:
    """``name`` lower-cased with punctuation as spaces: "Constructor.io" -> "constructor io"."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", name.casefold()).split())


def best_match(name: str, candidates: Iterable[str]) -> str | None:
    """The longest candidate whose words appear, as whole words, in ``name`` (case-insensitive):
    "Elastic App Search" -> "Elastic"; "Elasticsearch" beats "Elastic" for "Elasticsearch"."""
    haystack = f" {words(name)} "
    found = [c for c in candidates if words(c) and f" {words(c)} " in haystack]
    return max(found, key=lambda c: len(words(c)), default=None)


# -- formatting ------------------------------------------------------------------------------


def visits_label(visits: float) -> str:
    """``15.0M`` / ``1.2B`` / ``850K`` / ``900``."""
    for unit, suffix in ((1e9, "B"), (1e6, "M")):
        if round(visits / unit, 1) >= 1:
            return f"{visits / unit:.1f}{suffix}"
    if round(visits / 1e3) >= 1:
        return f"{visits / 1e3:.0f}K"
    return f"{visits:.0f}"


def money_label(amount: float, currency: str | None = None) -> str:
    """``$254B`` / ``$12.3B`` / ``€450M``: three significant digits at most."""
    code = (currency or "USD").upper()
    symbol = _CURRENCY_SYMBOLS.get(code, f"{code} ")
    sign = "-" if amount < 0 else ""
    value = abs(amount)
    for unit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= unit:
            scaled = value / unit
            shown = f"{scaled:.0f}" if scaled >= 100 else f"{scaled:.1f}".removesuffix(".0")
            return f"{sign}{symbol}{shown}{suffix}"
    return f"{sign}{symbol}{value:.0f}"


def lift_range(low: float, high: float) -> str:
    """``low`` to ``high`` percent joined by an en dash (just ``5%`` when both are equal)."""
    a, b = _plain(low), _plain(high)
    return f"{a}%" if a == b else f"{a}{_LIFT_DASH}{b}%"


def _plain(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:g}"


def whole(value: float) -> int | float:
    """``5.0`` -> ``5``; other values unchanged."""
    return int(value) if float(value).is_integer() else value


# -- facts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Incumbent:
    """The competitor product to displace (``name`` as detected), or ``none`` / ``unknown``."""

    name: str
    profile: IncumbentProfile

    @property
    def known(self) -> bool:
        """Whether a competitor product was detected."""
        return self.name not in (NO_INCUMBENT, UNKNOWN_INCUMBENT)


@dataclass(frozen=True)
class Facts:
    """What the angle is made of, read from the inputs."""

    seller: str
    name: str
    industry: str | None
    visits: float | None
    high_traffic: bool
    size: str | None
    revenue_growth: float | None
    incumbent: Incumbent
    existing_customer: bool | None
    partner: str | None
    trigger: Mapping[str, Any] | None
    layoffs: Mapping[str, Any] | None
    competitor_win: Mapping[str, Any] | None
    relevant_roles: list[Mapping[str, Any]]
    quotes: list[dict[str, Any]]
    case_studies: list[dict[str, Any]]
    timing_signals: list[dict[str, Any]]
    icp: dict[str, Any] | None
    inputs_used: list[str]
    inputs_total: int


def profile_for(name: str, intel: IntelConfig) -> IncumbentProfile:
    """The incumbent profile of ``name``: an exact key (any case), else the longest key contained
    in the name ("Elastic App Search" -> Elastic), else ``intel.default_incumbent``."""
    keys = {key.casefold(): key for key in intel.incumbents}
    if name.casefold() in keys:
        return intel.incumbents[keys[name.casefold()]]
    if name in (NO_INCUMBENT, UNKNOWN_INCUMBENT):
        return intel.default_incumbent
    named = [key for key in intel.incumbents if key.casefold() != NO_INCUMBENT]
    key = best_match(name, named)
    return intel.incumbents[key] if key is not None else intel.default_incumbent


def _seller_names(intel: IntelConfig) -> list[str]:
    return [n for n in (intel.seller_product, *intel.seller_product_aliases) if n.strip()]


def find_incumbent(inputs: Inputs, intel: IntelConfig) -> Incumbent:
    """The incumbent from m02: its ``search_provider`` (unless it is the seller's product), else
    the first technology that matches ``intel.competitors``; ``none`` when m02 found none,
    ``unknown`` without m02."""
    if not inputs.has(M02):
        return Incumbent(UNKNOWN_INCUMBENT, profile_for(UNKNOWN_INCUMBENT, intel))
    stack = inputs.get(M02)
    sellers = _seller_names(intel)
    provider = _text(stack.get("search_provider"))
    if provider and best_match(provider, sellers) is None:
        # m02's search_provider is the site's search vendor, on the competitor list or not
        # (a vendor missing from the list is one of the rules' "others").
        return Incumbent(provider, profile_for(provider, intel))
    # Another role's product whose name merely starts with a competitor's ("Elastic Path", a
    # commerce platform, is not Elastic) does not count; an exact name does.
    roles = (_text(stack.get("commerce_platform")), _text(stack.get("cms")))
    other_roles = {words(v) for v in roles if v}
    for tech in _records(stack.get("technologies")):
        name = _text(tech.get("name"))
        if not name or best_match(name, sellers) is not None:
            continue
        match = best_match(name, intel.competitors)
        if match is None or (words(name) in other_roles and words(name) != words(match)):
            continue
        return Incumbent(name, profile_for(name, intel))
    return Incumbent(NO_INCUMBENT, profile_for(NO_INCUMBENT, intel))


def _existing_customer(inputs: Inputs, intel: IntelConfig) -> bool | None:
    """m14's flag; without m14, whether m02 shows the seller's product; ``None`` if unknown."""
    flag = inputs.get(M14).get("existing_customer")
    if isinstance(flag, bool):
        return flag
    if not inputs.has(M02):
        return None
    stack = inputs.get(M02)
    names = [_text(stack.get("search_provider"))]
    names += [_text(t.get("name")) for t in _records(stack.get("technologies"))]
    sellers = _seller_names(intel)
    return any(n and best_match(n, sellers) is not None for n in names)


def _high_traffic(visits: float, intel: IntelConfig) -> bool:
    # "High" is the upper half of the ICP's visit bands by points (default: at least 1M visits),
    # so re-banding the ICP re-labels the angle too.
    bands = intel.icp.visit_bands
    top = max((band.points for band in bands), default=0)
    return any(visits >= band.min and band.points * 2 >= top > 0 for band in bands)


_TIER_TITLES = {"enterprise": "Enterprise", "mid-market": "Mid-market", "smb": "SMB"}


def _size_tier(employees: float, intel: IntelConfig) -> str:
    return _TIER_TITLES.get(intel.case_studies.size_tier(employees), "Startup")


def _size(inputs: Inputs, intel: IntelConfig) -> str | None:
    """``Enterprise ($254B revenue)``, ``Mid-market (2,400 employees)`` or ``$40M revenue``."""
    employees = _number(inputs.get(M01).get("employees"))
    finance = inputs.get(M07)
    revenue = _number(finance.get("revenue"))
    money = None
    if revenue is not None and revenue > 0:
        money = f"{money_label(revenue, _text(finance.get('currency')))} revenue"
    if employees is not None and employees > 0:
        tier = _size_tier(employees, intel)
        return f"{tier} ({money or f'{employees:,.0f} employees'})"
    return money


def _partner(inputs: Inputs, intel: IntelConfig) -> str | None:
    stack = inputs.get(M02)
    candidates = [_text(stack.get("commerce_platform")), _text(stack.get("cms"))]
    candidates += [_text(t.get("name")) for t in _records(stack.get("technologies"))]
    for name in candidates:
        if name and best_match(name, intel.partners) is not None:
            return name
    return None


def _events(inputs: Inputs) -> list[Mapping[str, Any]]:
    data = inputs.get(M12)
    events = _records(data.get("events"))
    top = data.get("top_event")
    if not events and isinstance(top, Mapping):
        events = [top]
    return events


def _trigger(events: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """m12's top event (events come best first), passing over ones that argue against calling
    now (a negative weight: layoffs)."""
    for event in events:
        weight = _number(event.get("weight"))
        if _text(event.get("title")) and (weight is None or weight > 0):
            return event
    return None


def _event_of(events: Sequence[Mapping[str, Any]], kind: str) -> Mapping[str, Any] | None:
    return next((e for e in events if e.get("type") == kind and _text(e.get("title"))), None)


def _quotes(inputs: Inputs) -> list[dict[str, Any]]:
    quotes = []
    for quote in _records(inputs.get(M11).get("quotes")):
        text, speaker, url = (_text(quote.get(k)) for k in ("text", "speaker", "source_url"))
        if text and speaker and url:
            quotes.append(
                {
                    "quote": text,
                    "speaker": speaker,
                    "title": _text(quote.get("title")),
                    "source_url": url,
                    "date": _text(quote.get("date")),
                }
            )
    return quotes


def _case_studies(inputs: Inputs) -> list[dict[str, Any]]:
    data = inputs.get(M13)
    primary = data.get("primary_match")
    matches = ([primary] if isinstance(primary, Mapping) else []) + _records(
        data.get("secondary_matches")
    )
    studies = []
    for match in matches:
        customer = _text(match.get("customer"))
        if customer:
            studies.append(
                {
                    "customer": customer,
                    "headline_result": _text(match.get("headline_result")),
                    "url": _text(match.get("url")),
                    "score": _whole_or_none(_number(match.get("score"))),
                }
            )
    return studies


def _relevant_roles(inputs: Inputs) -> list[Mapping[str, Any]]:
    return [r for r in _records(inputs.get(M10).get("relevant_roles")) if _text(r.get("title"))]


def _timing_signals(
    events: Sequence[Mapping[str, Any]],
    quotes: Sequence[Mapping[str, Any]],
    roles: Sequence[Mapping[str, Any]],
    limit: int,
) -> list[dict[str, Any]]:
    """m12's events, m11's quotes and m10's search-related roles, each with its source URL,
    freshest first (undated ones last, in that order)."""
    signals: list[dict[str, Any]] = []
    for event in events:
        title, url = _text(event.get("title")), _text(event.get("source_url"))
        if title and url:
            kind = _text(event.get("type")) or "other"
            signals.append(
                {"signal": title, "type": kind, "source_url": url, "date": _text(event.get("date"))}
            )
    for quote in quotes:
        said = _shorten(quote["quote"], 160)
        signals.append(
            {
                "signal": f'{quote["speaker"]}: "{said}"',
                "type": "exec_quote",
                "source_url": quote["source_url"],
                "date": quote["date"],
            }
        )
    for role in roles:
        url = _text(role.get("url"))
        if url:
            signal = f"Hiring: {_text(role.get('title'))}"
            signals.append({"signal": signal, "type": "hiring", "source_url": url, "date": None})
    # Stable sort: same-day and undated signals keep m12's score order, then quotes, then roles.
    signals.sort(key=lambda s: s["date"] or "", reverse=True)
    return signals[:limit]


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def _whole_or_none(value: float | None) -> int | float | None:
    return None if value is None else whole(value)


def _icp(inputs: Inputs) -> dict[str, Any] | None:
    data = inputs.get(M14)
    tier, score = _text(data.get("tier")), _number(data.get("score"))
    if tier is None and score is None:
        return None
    return {"tier": tier, "score": _whole_or_none(score)}


def read_facts(
    inputs: Inputs, intel: IntelConfig, *, max_signals: int = 10, max_quotes: int = 3
) -> Facts:
    """The facts of the angle, from whichever inputs are there."""
    company = inputs.get(M01)
    visits = _number(inputs.get(M03).get("monthly_visits"))
    events = _events(inputs)
    quotes = _quotes(inputs)
    roles = _relevant_roles(inputs)
    return Facts(
        seller=intel.seller_product,
        name=_text(company.get("company_name")) or inputs.domain,
        industry=_text(company.get("industry")),
        visits=visits if visits is not None and visits > 0 else None,
        high_traffic=visits is not None and _high_traffic(visits, intel),
        size=_size(inputs, intel),
        revenue_growth=_number(inputs.get(M07).get("revenue_growth")),
        incumbent=find_incumbent(inputs, intel),
        existing_customer=_existing_customer(inputs, intel),
        partner=_partner(inputs, intel),
        trigger=_trigger(events),
        layoffs=_event_of(events, "layoffs"),
        competitor_win=_event_of(events, "competitor_win"),
        relevant_roles=roles,
        quotes=quotes[:max_quotes],
        case_studies=_case_studies(inputs),
        timing_signals=_timing_signals(events, quotes, roles, max_signals),
        icp=_icp(inputs),
        inputs_used=[mid for mid in INPUT_MODULES if inputs.has(mid)],
        inputs_total=len(INPUT_MODULES),
    )


# -- citations -------------------------------------------------------------------------------


class Cited:
    """Citations collected as claims are written, without duplicates."""

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs
        self.known = input_citations(inputs)
        self.items: dict[str, Citation] = {}

    def module(self, module_id: str) -> None:
        """Cite what ``module_id`` cites."""
        for citation in self.inputs.citations.get(module_id, []):
            self.add(citation)

    def url(self, url: str | None, title: str | None = None) -> None:
        """Cite ``url``, with the input's own title for it when there is one."""
        if not url:
            return
        known = self.known.get(url_key(url))
        self.add(known or Citation(url=url, title=title or url))

    def add(self, citation: Citation) -> None:
        """Cite ``citation`` unless its URL is cited already."""
        self.items.setdefault(url_key(citation.url), citation)

    def extend(self, citations: Iterable[Citation]) -> None:
        """Cite each of ``citations``."""
        for citation in citations:
            self.add(citation)

    def all(self) -> list[Citation]:
        """The citations, in the order they were first cited."""
        return list(self.items.values())


# -- the fields both writers share -------------------------------------------------------------


def fixed_fields(facts: Facts) -> dict[str, Any]:
    """The fields that always come from the rules, whichever writer wrote the angle."""
    return {
        "current_competitor": facts.incumbent.name,
        "threat": facts.incumbent.profile.threat,
        "timing_signals": facts.timing_signals,
        "in_their_own_words": facts.quotes,
        "case_studies": facts.case_studies,
        "icp": facts.icp,
        "existing_customer": facts.existing_customer,
        "inputs": facts.inputs_used,
    }


def fixed_citations(facts: Facts, inputs: Inputs) -> list[Citation]:
    """Citations of the fixed fields: the tech stack (incumbent), signals, quotes, studies."""
    cited = Cited(inputs)
    cited.module(M02)
    for signal in facts.timing_signals:
        cited.url(signal["source_url"], signal["signal"])
    for quote in facts.quotes:
        cited.url(quote["source_url"], _label_of(quote))
    for study in facts.case_studies:
        cited.url(study["url"], f"Case study: {study['customer']}")
    if facts.icp is not None or facts.existing_customer is not None:
        cited.module(M14)
    return cited.all()


# -- the rule-based writer --------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """What a writer produced: the text fields, difficulty, lift and the citations of its claims."""

    angle: str
    talking_points: list[str]
    risks: list[str]
    difficulty: str
    lift: tuple[float, float]
    citations: list[Citation]


def _traffic_phrase(facts: Facts) -> str | None:
    if facts.visits is None or not facts.high_traffic:
        return None
    return f"High traffic ({visits_label(facts.visits)} visits/month)"


def _opening(facts: Facts, cited: Cited) -> str:
    """First sentence: who the target is and its strongest facts."""
    subject = f"{facts.name} ({facts.industry})" if facts.industry else facts.name
    if facts.name != cited.inputs.domain or facts.industry:
        cited.module(M01)
    strong = []
    traffic = _traffic_phrase(facts)
    if traffic:
        strong.append(traffic)
        cited.module(M03)
    if facts.size:
        strong.append(facts.size)
        if _number(cited.inputs.get(M01).get("employees")) is not None:
            cited.module(M01)
        if _number(cited.inputs.get(M07).get("revenue")) is not None:
            cited.module(M07)
    if not strong:
        return f"{subject}: little is known about its scale yet."
    return f"{subject}: {', '.join(strong)}."


def _position(facts: Facts) -> str:
    """Second sentence: displacement, greenfield, expansion or an open question."""
    incumbent = facts.incumbent
    profile = incumbent.profile
    lift = lift_range(*profile.lift)
    if facts.existing_customer:
        alongside = f", alongside {incumbent.name}" if incumbent.known else ""
        return (
            f"Expansion, not displacement: {facts.name} already runs {facts.seller}{alongside}, "
            "so grow its use to more sites, regions and use cases rather than pitch a replacement."
        )
    if incumbent.known:
        return (
            f"Displacing {incumbent.name} is a {profile.difficulty}-difficulty deal with an "
            f"estimated {lift} conversion lift."
        )
    if incumbent.name == NO_INCUMBENT:
        return (
            f"Greenfield: no competing product detected, so {facts.seller} could bring an "
            f"estimated {lift} conversion lift."
        )
    return (
        f"The incumbent is not identified yet (no tech-stack data); a typical displacement "
        f"brings an estimated {lift} conversion lift."
    )


def _hook(facts: Facts, cited: Cited) -> str | None:
    """Third sentence: the freshest trigger event and the best case study, if any."""
    parts = []
    if facts.trigger is not None:
        title = _text(facts.trigger.get("title"))
        date = _text(facts.trigger.get("date"))
        parts.append(f'timely hook: "{title}"' + (f" ({date})" if date else ""))
        cited.url(_text(facts.trigger.get("source_url")), title)
    study = facts.case_studies[0] if facts.case_studies else None
    if study is not None:
        headline = study["headline_result"]
        parts.append(f"proof: {study['customer']}" + (f" ({headline})" if headline else ""))
        cited.url(study["url"], f"Case study: {study['customer']}")
    if not parts:
        return None
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _talking_points(facts: Facts, cited: Cited) -> list[str]:
    incumbent = facts.incumbent
    lift = lift_range(*incumbent.profile.lift)
    points: list[str] = []
    if facts.existing_customer:
        points.append(f"Existing {facts.seller} customer: an expansion opportunity")
    elif incumbent.known:
        points.append(f"Displacing {incumbent.name}: estimated {lift} conversion lift")
    elif incumbent.name == NO_INCUMBENT:
        points.append(f"Greenfield: no competing product detected (estimated {lift} lift)")
    else:
        points.append(f"Discovery: ask what they use today in place of {facts.seller}")
    traffic = _traffic_phrase(facts)
    if traffic:
        points.append(f"{traffic}: small relevance gains move large revenue")
    if facts.trigger is not None:
        date = _text(facts.trigger.get("date"))
        points.append(
            f"Trigger: {_text(facts.trigger.get('title'))}" + (f" ({date})" if date else "")
        )
    if facts.case_studies:
        study = facts.case_studies[0]
        headline = study["headline_result"]
        points.append(f"Proof: {study['customer']}" + (f" — {headline}" if headline else ""))
    if facts.partner:
        points.append(f"Runs {facts.partner}, a partner platform: co-sell with the partner")
        cited.module(M02)
    if facts.relevant_roles:
        example = _text(facts.relevant_roles[0].get("title"))
        count = len(facts.relevant_roles)
        points.append(f"Hiring for search-related roles ({count}, e.g. {example}): a live priority")
        for role in facts.relevant_roles[:3]:
            cited.url(_text(role.get("url")), _text(role.get("title")))
    if facts.quotes:
        quote = facts.quotes[0]
        said = _shorten(quote["quote"], 140)
        points.append(f'In their own words: "{said}" — {quote["speaker"]}')
        cited.url(quote["source_url"], _label_of(quote))
    if facts.size:
        points.append(facts.size)
    if facts.icp is not None and facts.icp.get("tier"):
        points.append(f"ICP tier {facts.icp['tier']} (score {facts.icp['score']})")
        cited.module(M14)
    return points[:MAX_TALKING_POINTS]


def _risks(facts: Facts, cited: Cited) -> list[str]:
    incumbent = facts.incumbent
    risks: list[str] = []
    if incumbent.known and incumbent.profile.threat == "high":
        risks.append(f"{incumbent.name} is a strong incumbent (high threat)")
    elif incumbent.known and incumbent.profile.threat == "medium":
        risks.append(f"{incumbent.name} is an established incumbent (medium threat)")
    if incumbent.name == UNKNOWN_INCUMBENT:
        risks.append("Incumbent unknown: no tech-stack data")
    if facts.competitor_win is not None:
        # A competitor product just chosen is a contract the target will not break soon.
        title = _text(facts.competitor_win.get("title"))
        risks.append(f"Recent competitor win: {title}")
        cited.url(_text(facts.competitor_win.get("source_url")), title)
    if facts.relevant_roles:
        risks.append("Hiring for search roles: may be building in-house")
    if facts.layoffs is not None:
        date = _text(facts.layoffs.get("date"))
        risks.append("Layoffs reported" + (f" ({date})" if date else "") + ": budgets may be tight")
        cited.url(_text(facts.layoffs.get("source_url")), _text(facts.layoffs.get("title")))
    if facts.revenue_growth is not None and facts.revenue_growth < 0:
        risks.append(f"Revenue shrinking ({facts.revenue_growth:.1%} year over year)")
        cited.module(M07)
    if len(facts.inputs_used) * 2 < facts.inputs_total:
        used = len(facts.inputs_used)
        risks.append(f"Limited data: {used} of {facts.inputs_total} inputs available")
    return risks[:MAX_RISKS]


def write_rules(facts: Facts, inputs: Inputs) -> Written:
    """The rule-based angle: facts in fixed sentences, difficulty and lift by the incumbent."""
    cited = Cited(inputs)
    if inputs.has(M02):
        cited.module(M02)  # the incumbent, greenfield or customer claim
    sentences = [_opening(facts, cited), _position(facts), _hook(facts, cited)]
    profile = facts.incumbent.profile
    return Written(
        angle=" ".join(s for s in sentences if s),
        talking_points=_talking_points(facts, cited),
        risks=_risks(facts, cited),
        difficulty=profile.difficulty,
        lift=(float(profile.lift[0]), float(profile.lift[1])),
        citations=cited.all(),
    )


def assemble(facts: Facts, written: Written, generated_by: str) -> dict[str, Any]:
    """m15's data: the writer's fields and the fixed ones, in one shape for both writers."""
    low, high = written.lift
    return {
        "angle": written.angle,
        "talking_points": written.talking_points,
        "risks": written.risks,
        "difficulty": written.difficulty,
        "estimated_conversion_lift": {
            "range": lift_range(low, high),
            "min": whole(low),
            "max": whole(high),
        },
        **fixed_fields(facts),
        "generated_by": generated_by,
    }
