"""News about a company: trigger events and executive interviews, on a fixed calendar.

Events are laid out on absolute 30-day slots drawn from the company's hash, so an article keeps
its date and URL from one day to the next and simply ages; a query sees the ones published in
the last year before the sandbox's clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from ._model import Profile
from ._profile import profile_for
from ._util import DAY, article, iso_date, rng_for, slug, today, unit
from ._words import BRAND_A, BRAND_B

_SLOT_DAYS = 30
_SHOPS = ("Retail", "E-commerce", "Marketplace")
_WINDOW_DAYS = 365

#: Sales-intel event types and how often each appears (weights).
_KINDS = {
    "digital_initiative": 16,
    "technology_refresh": 12,
    "executive_change": 12,
    "acquisition": 8,
    "new_market": 10,
    "competitor_win": 8,
    "funding": 8,
    "layoffs": 5,
    "other": 14,
}
_PUBLISHERS = (
    ("Business Wire", "www.businesswire.com"),
    ("PR Newswire", "www.prnewswire.com"),
    ("Reuters", "www.reuters.com"),
    ("Retail Dive", "www.retaildive.com"),
    ("TechCrunch", "techcrunch.com"),
    ("Digital Commerce 360", "www.digitalcommerce360.com"),
    ("Modern Retail", "www.modernretail.co"),
    ("Forbes", "www.forbes.com"),
)
_MARKETS = (
    "Canada",
    "Mexico",
    "the United Kingdom",
    "Germany",
    "Japan",
    "Australia",
    "the Middle East",
    "Brazil",
    "India",
    "France",
)
_CAPABILITIES = (
    "same-day delivery",
    "retail media",
    "AI personalization",
    "B2B commerce",
    "loyalty and payments",
    "supply-chain automation",
)
_QUOTES = (
    "Search is the front door to our digital business, and customers expect it to understand "
    "them the first time",
    "We are investing heavily in personalization so every customer sees the most relevant products",
    "Our priority this year is to modernize the technology behind our website and app",
    "Customers who use search convert at two to three times the rate of those who only browse",
    "We want to make it effortless to find what you need, online or in our stores",
    "Digital is our fastest-growing channel, and we are rebuilding the experience from the "
    "ground up",
    "AI is changing how people discover products, and we intend to lead rather than follow",
    "We are consolidating our technology stack so our teams can ship faster",
)
_TOPICS = (
    "digital growth",
    "AI and site search",
    "the customer experience",
    "personalization",
    "the year ahead",
    "technology strategy",
)


@dataclass(frozen=True, slots=True)
class Article:
    """One dated news article about a company."""

    kind: str  # an event type of the sales rules, or "quote" for an interview
    title: str
    description: str
    url: str
    publisher: str
    published: int  # epoch seconds


def _url(host: str, when: int, title: str, number: int) -> str:
    day = iso_date(when)
    year, month, mday = day.split("-")
    text = slug(title)[:80]
    if host == "www.businesswire.com":
        return f"https://{host}/news/home/{year}{month}{mday}{number:09d}/en/{text}"
    if host == "www.prnewswire.com":
        return f"https://{host}/news-releases/{text}-{number:09d}.html"
    if host == "www.reuters.com":
        return f"https://{host}/business/{text}-{day}/"
    if host in ("www.retaildive.com", "www.modernretail.co"):
        return f"https://{host}/news/{text}/{number % 1000000}/"
    if host == "www.forbes.com":
        return f"https://{host}/sites/retail/{year}/{month}/{mday}/{text}/"
    return f"https://{host}/{year}/{month}/{mday}/{text}/"


def _event(profile: Profile, kind: str, when: int, rng: random.Random) -> Article | None:
    name = profile.name
    chiefs = [e for e in profile.execs[2:] if e.press_title.startswith("Chief")]
    if kind == "executive_change" and chiefs:
        person = rng.choice(chiefs)
        title = f"{name} names {person.name} as new {person.press_title}"
        text = (
            f"{name} has appointed {person.name} as {person.press_title}, effective "
            f"immediately. {person.name} will lead the company's technology and digital "
            "roadmap."
        )
    elif kind == "acquisition":
        target = f"{rng.choice(BRAND_A).capitalize()}{rng.choice(BRAND_B)}"
        capability = rng.choice(_CAPABILITIES)
        title = f"{name} acquires {target} to expand {capability}"
        text = (
            f"{name} said it acquired {target}, {article(capability)} {capability} startup, "
            "for an undisclosed sum."
        )
    elif kind == "new_market":
        market = rng.choice(_MARKETS)
        title = f"{name} expands into {market}"
        text = f"{name} announced plans to expand into {market}, with online sales first."
    elif kind == "competitor_win" and profile.search_vendor:
        vendor = profile.search_vendor
        title = f"{name} selects {vendor} to power search across its digital properties"
        text = f"{vendor} announced that {name} chose its platform for site search."
    elif kind == "funding" and not profile.public and profile.tier != "enterprise":
        amount = rng.choice((12, 25, 40, 60, 85, 120)) * (1 if profile.tier == "startup" else 2)
        series = rng.choice("BCD" if profile.tier != "startup" else "AB")
        title = f"{name} raises ${amount}M Series {series} to accelerate growth"
        text = f"{name} raised ${amount} million in a Series {series} round led by investors."
    elif kind == "layoffs" and profile.employees >= 200:
        cut = min(2500, max(20, round(profile.employees * rng.uniform(0.01, 0.06), -1)))
        title = f"{name} cuts {cut:.0f} jobs in restructuring"
        text = f"{name} is cutting about {cut:.0f} jobs as it restructures operations."
    elif kind == "technology_refresh":
        platform = profile.commerce or profile.cms
        if profile.commerce:
            title = f"{name} replatforms its e-commerce site onto {platform}"
        elif platform:
            title = f"{name} migrates its website to {platform} in technology refresh"
        else:
            title = f"{name} begins technology refresh of its customer-facing systems"
        text = (
            f"{name} is replatforming its digital storefront and customer-facing systems "
            "as part of a multi-year technology refresh."
        )
    elif kind == "digital_initiative":
        title = rng.choice(
            (
                f"{name} launches AI-powered shopping assistant on its website",
                f"{name} unveils digital transformation initiative",
                f"{name} launches new mobile app and digital experience",
                f"{name} invests in personalization and site search",
                f"{name} rolls out generative AI across customer service",
            )
        )
        text = (
            f"{name} announced a digital initiative to modernize its online experience, "
            "including search, personalization and checkout."
        )
    else:
        kind = "other"
        quarter = ("first", "second", "third", "fourth")[(int(iso_date(when)[5:7]) - 1) // 3]
        results = f"{name} reports {quarter}-quarter results"
        site = "distribution center" if profile.commerce or profile.vertical in _SHOPS else "office"
        title = rng.choice(
            (
                f"{name} opens new {site} in {profile.city}",
                f"{name} named to list of most innovative companies",
                # Only listed companies publish quarterly results.
                results if profile.public else f"{name} opens new office in {profile.city}",
                f"{name} announces sustainability commitments",
            )
        )
        text = f"{name} shared an update on its business."
    publisher, host = rng.choice(_PUBLISHERS)
    return Article(
        kind, title, text, _url(host, when, title, rng.randrange(10**9)), publisher, when
    )


def _interview(profile: Profile, when: int, rng: random.Random) -> Article:
    speakers = [e for e in profile.execs if "Financial" not in e.press_title]
    person = rng.choice(speakers)
    quote = rng.choice(_QUOTES)
    topic = rng.choice(_TOPICS)
    if rng.random() < 0.5:
        text = f"\u201c{quote},\u201d said {person.name}, {person.press_title} of {profile.name}."
    else:
        text = f'"{quote}," {person.name}, {person.press_title}, said.'
    title = f"{profile.name} {person.press_title} {person.name} on {topic}"
    publisher, host = rng.choice(_PUBLISHERS)
    return Article(
        "quote", title, text, _url(host, when, title, rng.randrange(10**9)), publisher, when
    )


#: Event types a company sees about once a year, in a slot fixed by its hash.
_ONE_OFF = ("technology_refresh", "executive_change", "competitor_win", "funding", "layoffs")
_RECURRING = ("digital_initiative", "new_market", "acquisition", "other")


def _when(rng: random.Random, slot: int) -> int:
    return (slot * _SLOT_DAYS + rng.randrange(_SLOT_DAYS)) * DAY + rng.randrange(8, 20) * 3600


@lru_cache(maxsize=16384)
def _slot(domain: str, slot: int) -> tuple[Article, ...]:
    profile = profile_for(domain)
    if profile is None:
        return ()
    rng = rng_for("slot", profile.label, slot)
    busy = {"enterprise": 2, "mid-market": 2, "smb": 1, "startup": 1}[profile.tier]
    kinds = [k for k in _ONE_OFF if slot % 12 == int(unit("once", profile.label, k) * 12)]
    weights = [_KINDS[k] for k in _RECURRING]
    kinds += rng.choices(_RECURRING, weights=weights, k=rng.randint(0, busy))
    # One generator per slot, drawn in a fixed order: cheap, and still the same every run.
    articles = [_event(profile, kind, _when(rng, slot), rng) for kind in kinds]
    articles += [_interview(profile, _when(rng, slot), rng) for _ in range(rng.randint(0, busy))]
    return tuple(a for a in articles if a is not None)


def articles(profile: Profile, now: float, *, quotes: bool) -> list[Article]:
    """Articles of the last year before ``now``, newest first: interviews or events."""
    # Articles up to yesterday only: answers stay the same all day (and can be cached by day).
    return list(_articles(profile.domain, today(now), quotes))


@lru_cache(maxsize=8192)
def _articles(domain: str, end: int, quotes: bool) -> tuple[Article, ...]:
    start = end - _WINDOW_DAYS * DAY
    found = [
        a
        for slot in range(start // DAY // _SLOT_DAYS, end // DAY // _SLOT_DAYS + 1)
        for a in _slot(domain, slot)
        if start <= a.published < end and (a.kind == "quote") == quotes
    ]
    found.sort(key=lambda a: -a.published)
    # The same headline twice in a year reads like a bug: keep the newest.
    seen: set[str] = set()
    unique = []
    for item in found:
        if item.title not in seen:
            seen.add(item.title)
            unique.append(item)
    return tuple(unique)
