"""The simulated company behind a domain: one deterministic profile every upstream agrees on.

A profile is drawn from SHA-256 of the domain's company label (``costco`` for ``costco.com``,
``www.costco.co.uk``...), so the name, listing and financials of a company are the same whatever
suffix a client looks it up under, and every upstream (BuiltWith, SimilarWeb, Yahoo, Brave, the
homepage) tells the same story. Curated domains (``_curated.py``) override the draws.
Nothing here depends on the clock: dates relative to "now" are computed per request.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from functools import lru_cache
from typing import Any

from ._catalog import LAUNCHED, RETIRED, TECHS
from ._curated import CURATED
from ._model import Exec, Profile, TechUse
from ._tech import choose_stack, parents, with_implied
from ._util import DAY, rng_for, split_host
from ._words import (
    ABROAD,
    BRAND_A,
    BRAND_B,
    COUNTRIES,
    EXEC_TITLES,
    FIRST_NAMES,
    LAST_NAMES,
    LEGAL_FORMS,
    STREETS,
    SUMMARIES,
    US_CITIES,
    VERTICALS,
)

#: Epoch seconds before which no technology is "first detected" and after which, in profile
#: terms, nothing new is adopted (keeps profiles independent of the clock).
_EPOCH_2004 = 1072915200
_EPOCH_2019_06 = 1559347200  # domains are first indexed by then
_EPOCH_2025_06 = 1748736000
_TIERS = (
    ("enterprise", 8, 10_000, 400_000),
    ("mid-market", 22, 1_000, 9_999),
    ("smb", 40, 100, 999),
    ("startup", 30, 8, 99),
)
_FOUNDED = {
    "enterprise": (1890, 1995),
    "mid-market": (1950, 2010),
    "smb": (1975, 2018),
    "startup": (2012, 2023),
}
_PUBLIC_ODDS = {"enterprise": 0.65, "mid-market": 0.3, "smb": 0.04, "startup": 0.0}
_LEGAL_WORDS = re.compile(
    r"\b(inc|incorporated|corp|corporation|co|company|llc|ltd|limited|plc|gmbh|ag|se|sa|sas|"
    r"bv|nv|pty|group|holdings|the)\b\.?"
)


# Symbols and company names seen so far -> domain, for Yahoo lookups by ticker or name.
_SYMBOLS: dict[str, str] = {}
_SEEN_NAMES: dict[str, str] = {}
_CURATED_SYMBOLS = {str(c["ticker"]): d for d, c in CURATED.items() if c.get("ticker")}
_MAX_SYMBOLS = 200_000


def name_key(name: str) -> str:
    """A company name reduced for matching: lower-case words without legal forms."""
    text = _LEGAL_WORDS.sub(" ", name.lower().replace("&", " and "))
    return " ".join(re.findall(r"[a-z0-9]+", text))


_NAMES = {name_key(str(c[k])): d for d, c in CURATED.items() for k in ("name", "legal_name")}


@lru_cache(maxsize=4096)
def profile_for(domain: str) -> Profile | None:
    """The profile of ``domain`` (any host under it), or ``None`` if it is not a domain."""
    parts = split_host(domain)
    if parts is None:
        return None
    _, registrable, label = parts
    profile = _generate(registrable, label)
    curated = CURATED.get(registrable)
    if curated is not None:
        profile = _apply_curated(profile, curated)
    if profile.public and profile.ticker is not None:
        _remember(_SYMBOLS, profile.ticker, registrable)
    if profile.known:
        _remember(_SEEN_NAMES, name_key(profile.name), registrable)
        _remember(_SEEN_NAMES, name_key(profile.legal_name), registrable)
    return profile


def _remember(index: dict[str, str], key: str, domain: str) -> None:
    """Record ``key -> domain`` (the first domain seen wins), keeping the index bounded."""
    if key in index:
        return
    if len(index) >= _MAX_SYMBOLS:
        del index[next(iter(index))]
    index[key] = domain


def domain_for_symbol(symbol: str) -> str | None:
    """The domain of a listed company by ticker (curated, or generated and seen before)."""
    symbol = symbol.upper()
    return _CURATED_SYMBOLS.get(symbol) or _SYMBOLS.get(symbol)


def domain_for_query(query: str) -> str | None:
    """The domain a Yahoo search query means: a domain, a company name, a label or a ticker."""
    text = query.strip().lower()
    if not text:
        return None
    parts = split_host(text) if "." in text else None
    if parts is not None:
        return parts[1]
    key = name_key(text)
    if key in _NAMES:
        return _NAMES[key]
    if key in _SEEN_NAMES:
        return _SEEN_NAMES[key]
    by_symbol = domain_for_symbol(text)
    if by_symbol is not None:
        return by_symbol
    label = key.replace(" ", "-")
    return f"{label}.com" if label and split_host(f"{label}.com") else None


def _company_name(label: str) -> str:
    words = [w for w in label.split("-") if w]
    if len(label) <= 3:
        return label.upper()
    return " ".join(w[:1].upper() + w[1:] for w in words)


def _pick_weighted(rng: random.Random, table: dict[str, Any], weight: str) -> str:
    names = list(table)
    return rng.choices(names, weights=[getattr(table[n], weight) for n in names])[0]


def _generate(domain: str, label: str) -> Profile:
    rng = rng_for("profile", label)
    vertical = _pick_weighted(rng, VERTICALS, "weight")
    v = VERTICALS[vertical]
    tier, _, low, high = rng.choices(_TIERS, weights=[t[1] for t in _TIERS])[0]
    employees = int(low * (high / low) ** rng.random())
    known = not label.startswith("unknown-")
    public = known and rng.random() < _PUBLIC_ODDS[tier]
    name = _company_name(label)
    # Where a company is depends on the domain's suffix (acme.de is in Germany): draw it from
    # its own generator so that everything else stays the same under every suffix.
    place = rng_for("place", domain)
    country, country_name, city, state, postcode, phone = _place(place, domain)
    forms = LEGAL_FORMS.get(country, LEGAL_FORMS["US"])[1 if public else 0]
    legal_form = place.choice(forms)
    street = f"{place.randint(10, 2999)} {place.choice(STREETS)}"
    founded = rng.randint(*_FOUNDED[tier])
    revenue = employees * v.revenue_per_employee * rng.lognormvariate(0, 0.25)
    gross = rng.uniform(*v.gross_margin)
    operating = gross * rng.uniform(-0.1, 0.45)
    visits = min(900e6, max(10e3, employees * v.visits_per_employee * rng.lognormvariate(0, 0.5)))
    market_cap = revenue * rng.uniform(*v.price_to_sales)
    price = round(rng.uniform(18, 320), 2)
    stack = choose_stack(rng, v.commerce, v.b2b, vertical, tier)
    first_indexed = _first_indexed(rng, founded)
    handle = label.replace("-", "")
    sub = rng.choice(v.subs)
    return Profile(
        domain=domain,
        label=label,
        known=known,
        name=name,
        legal_name=f"{name} {legal_form}",
        vertical=vertical,
        sub_vertical=sub,
        summary=SUMMARIES.get(sub, f"is a {vertical.lower()} company"),
        founded=founded,
        street=street,
        city=city,
        state=state,
        postcode=postcode,
        country=country,
        country_name=country_name,
        phone=phone,
        emails=(f"info@{domain}", f"press@{domain}"),
        social=_social(rng, handle),
        employees=employees,
        tier=tier,
        ticker=_ticker(rng, label) if public else None,
        exchange=rng.choice(("NMS", "NYQ")),
        revenue=revenue,
        fiscal_year=None,
        fiscal_end=None,
        gross_margin=gross,
        operating_margin=operating,
        profit_margin=operating * rng.uniform(0.55, 0.8),
        revenue_growth=rng.uniform(-0.06, 0.22),
        price=price,
        shares=market_cap / price,
        industry=v.industry,
        sector=v.sector,
        visits=visits,
        bounce_rate=rng.uniform(0.3, 0.62),
        pages_per_visit=rng.uniform(3.5, 8.5) if v.commerce else rng.uniform(1.6, 4.5),
        visit_duration=rng.uniform(120, 540),
        traffic_growth=rng.uniform(-0.12, 0.3),
        competitors=_competitors(rng, v.peers, domain),
        keywords=_keywords(rng, name, v),
        techs=_tech_uses(rng, stack.names, first_indexed),
        spend=_spend(rng, stack.names, tier),
        search_vendor=stack.search,
        commerce=stack.commerce,
        cms=stack.cms,
        first_indexed=first_indexed,
        open_positions=_open_positions(rng, employees),
        ats=rng.choices(
            ("greenhouse", "lever", "careers"),
            weights=(45, 35, 20) if tier in ("smb", "startup") else (25, 15, 60),
        )[0],
        execs=_execs(rng, tier, vertical, public),
        redirect_www=rng.random() < 0.5,
        jsonld_graph=rng.random() < 0.5,
    )


def _year_start(year: int) -> int:
    return int((year - 1970) * 365.2425 * DAY)


def _place(rng: random.Random, domain: str) -> tuple[str, str, str, str, str, str]:
    tld = domain.rsplit(".", 1)[-1]
    if tld not in COUNTRIES and rng.random() < 0.85:
        city, state, postcode, area = rng.choice(US_CITIES)
        return (
            "US",
            "United States",
            city,
            state,
            postcode,
            f"+1-{area}-555-01{rng.randint(0, 99):02d}",
        )
    code, country_name, cities, prefix = COUNTRIES[tld if tld in COUNTRIES else rng.choice(ABROAD)]
    city, state, postcode = rng.choice(cities)
    return code, country_name, city, state, postcode, f"{prefix}{rng.randint(100, 999)}"


def _social(rng: random.Random, handle: str) -> tuple[str, ...]:
    links = [f"https://www.linkedin.com/company/{handle}"]
    for url, odds in (
        (f"https://x.com/{handle}", 0.8),
        (f"https://www.facebook.com/{handle}", 0.7),
        (f"https://www.instagram.com/{handle}", 0.6),
        (f"https://www.youtube.com/@{handle}", 0.4),
    ):
        if rng.random() < odds:
            links.append(url)
    return tuple(links)


def _ticker(rng: random.Random, label: str) -> str:
    letters = re.sub(r"[^a-z]", "", label).upper() or "QX"
    consonants = letters[0] + re.sub(r"[AEIOU]", "", letters[1:])
    source = consonants if len(consonants) >= 3 and rng.random() < 0.5 else letters
    size = rng.choices((2, 3, 4, 5), weights=(1, 5, 5, 1))[0]
    ticker = (source * 3)[: max(2, min(size, max(2, len(source))))]
    while ticker in _CURATED_SYMBOLS:
        ticker = ticker[:-1] + chr(ord("A") + rng.randrange(26))
    return ticker


def _competitors(rng: random.Random, peers: tuple[str, ...], domain: str) -> tuple[str, ...]:
    chosen = [p for p in rng.sample(peers, k=min(len(peers), rng.randint(3, 5))) if p != domain]
    while len(chosen) < 8:
        candidate = f"{rng.choice(BRAND_A)}{rng.choice(BRAND_B)}.com"
        if candidate not in chosen and candidate != domain:
            chosen.append(candidate)
    return tuple(chosen)


def _keywords(rng: random.Random, name: str, v: Any) -> tuple[str, ...]:
    brand = name_key(name)
    generic = rng.sample(v.keywords, k=min(6, len(v.keywords)))
    return (brand, f"{brand} {generic[0]}", f"{brand} {generic[1]}", *generic[2:])


def _first_indexed(rng: random.Random, founded: int) -> int:
    """When the domain was first crawled: 2004-2019, and never before the company existed."""
    drawn = int(_EPOCH_2004 + rng.random() * (_EPOCH_2019_06 - _EPOCH_2004))
    return max(drawn, _year_start(founded) + rng.randint(30, 300) * DAY)


def _tech_uses(rng: random.Random, names: list[str], first_indexed: int) -> tuple[TechUse, ...]:
    uses = []
    for name in names:
        # Nothing is detected before the site was crawled, nor before the product existed.
        earliest = max(first_indexed, _year_start(LAUNCHED.get(name, 2000)))
        if name in RETIRED:
            dead = RETIRED[name] - rng.randint(0, 40) * DAY
            if earliest < dead - 400 * DAY:  # a site too young never ran it
                first = min(dead - 400 * DAY, earliest + rng.randint(0, 1500) * DAY)
                uses.append(TechUse(name, first, dead_at=dead))
            continue
        first = earliest + int(rng.random() * max(DAY, _EPOCH_2025_06 - earliest))
        www = TECHS[name].tag in ("analytics", "cdn")
        uses.append(TechUse(name, first - first % DAY, www=www))
    return tuple(uses)


def _spend(rng: random.Random, names: list[str], tier: str) -> int:
    """Monthly USD: hosting and the like for every site, plus each premium technology."""
    base, per_tech = {
        "enterprise": (4000, 2600),
        "mid-market": (1200, 900),
        "smb": (250, 260),
        "startup": (60, 60),
    }[tier]
    premium = sum(1 for n in names if TECHS[n].premium and n not in RETIRED)
    return int(round((base + premium * per_tech) * rng.uniform(0.6, 1.6), -1))


def _open_positions(rng: random.Random, employees: int) -> int:
    if employees < 1000 and rng.random() < 0.12:
        return 0
    rate = rng.uniform(0.05, 0.2) if employees < 100 else rng.uniform(0.003, 0.03)
    return min(2000, max(1, int(employees * rate)))


def _execs(rng: random.Random, tier: str, vertical: str, public: bool) -> tuple[Exec, ...]:
    count = {"enterprise": 6, "mid-market": 5, "smb": 4, "startup": 3}[tier]
    titles = [EXEC_TITLES[0], EXEC_TITLES[1], EXEC_TITLES[2]]
    extra = [EXEC_TITLES[3], EXEC_TITLES[5]] if VERTICALS[vertical].commerce else []
    titles += [*extra, EXEC_TITLES[4], EXEC_TITLES[6]]
    people = []
    for index, (title, press) in enumerate(titles[:count]):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        base = {"enterprise": 9e6, "mid-market": 3e6, "smb": 6e5, "startup": 3e5}[tier]
        pay = int(base * rng.uniform(0.6, 1.4) / (1 + index)) if public and index < 5 else 0
        people.append(Exec(name, title, press, rng.randint(42, 66), pay))
    return tuple(people)


def _apply_curated(profile: Profile, curated: dict[str, Any]) -> Profile:
    rng = rng_for("curated", profile.domain)
    fields: dict[str, Any] = {
        k: v
        for k, v in curated.items()
        if k
        not in ("tech", "search", "commerce", "cms", "competitors", "summary", "visits", "brand")
    }
    vertical = str(curated.get("vertical", profile.vertical))
    fields["industry"] = curated.get("industry", VERTICALS[vertical].industry)
    fields["sector"] = curated.get("sector", VERTICALS[vertical].sector)
    fields["summary"] = curated.get("summary", profile.summary)
    fields["competitors"] = curated.get("competitors", profile.competitors)
    fields["visits"] = curated.get("visits", profile.visits)
    names = [n for n in (curated.get("cms"), curated.get("commerce"), curated.get("search")) if n]
    names += parents(curated.get("commerce"))
    names = with_implied([*names, *curated.get("tech", ()), "Google Analytics"])
    names.append("Universal Analytics")
    employees = int(curated.get("employees", profile.employees))
    first_indexed = max(profile.first_indexed, _first_indexed(rng, int(curated["founded"])))
    commerce = VERTICALS[vertical].commerce
    tier = "enterprise" if employees >= 10_000 else "mid-market" if employees >= 1000 else "smb"
    fields.update(
        search_vendor=curated.get("search"),
        commerce=curated.get("commerce"),
        cms=curated.get("cms"),
        tier=tier,
        techs=_tech_uses(rng, names, first_indexed),
        first_indexed=first_indexed,
        pages_per_visit=rng.uniform(3.5, 8.5) if commerce else rng.uniform(1.6, 4.5),
        spend=_spend(rng, names, tier),
        emails=(f"info@{profile.domain}",),
        keywords=_keywords(
            rng, str(curated.get("brand", fields.get("name", profile.name))), VERTICALS[vertical]
        ),
        open_positions=_open_positions(rng, employees),
        exchange=curated.get("exchange", "NYQ"),
        execs=_execs(rng, tier, vertical, curated.get("ticker") is not None),
    )
    if "country" in curated:
        fields["country_name"] = {
            "US": "United States",
            "CA": "Canada",
            "NL": "Netherlands",
            "GB": "United Kingdom",
        }.get(curated["country"], curated["country"])
    return replace(profile, **fields)
