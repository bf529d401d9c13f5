"""Small helpers shared by the simulated upstreams: hashing, domains, dates, keys, numbers.

Every simulated value comes from SHA-256 of stable strings, never from Python's ``hash()``
(salted per process) or the server's ``--seed``: the same domain gives the same answer on
every run and every machine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
import re
from functools import lru_cache

from ..domains import InvalidDomain, normalize_domain, registrable_domain

DAY = 86400
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DOMAIN_TOKEN_RE = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def rng_for(*parts: object) -> random.Random:
    """A random generator seeded from SHA-256 of ``parts`` (stable across runs and machines)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def unit(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts``: cheaper than :func:`rng_for` for one draw."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:7], "big") / float(1 << 56)


def hex_id(length: int, *parts: object) -> str:
    """A lower-case hex string of ``length`` characters fixed by ``parts``."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:length]


@lru_cache(maxsize=8192)
def split_host(raw: str) -> tuple[str, str, str] | None:
    """``(host, registrable domain, company label)`` of ``raw``, or ``None`` if not a domain.

    ``www.shop.costco.co.uk`` -> ``("www.shop.costco.co.uk", "costco.co.uk", "costco")``.
    """
    try:
        host = normalize_domain(raw.strip().lower())
        registrable = registrable_domain(host)
    except InvalidDomain:
        return None
    return host, registrable, registrable.split(".", 1)[0]


def find_domain(text: str) -> str | None:
    """The first token of ``text`` that is a domain name (the registrable part)."""
    for match in _DOMAIN_TOKEN_RE.finditer(text.lower()):
        parts = split_host(match.group(0))
        if parts is not None:
            return parts[1]
    return None


def is_bad_key(key: str | None) -> bool:
    """A missing key, or one the contract marks as invalid (it starts with ``bad``)."""
    return not key or key.startswith("bad")


def today(now: float) -> int:
    """The start of the UTC day of ``now``, in epoch seconds: answers are stable within a day."""
    return int(now // DAY) * DAY


def iso_date(epoch: float) -> str:
    """``YYYY-MM-DD`` of an epoch time (UTC)."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d")


def iso_datetime(epoch: float) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` of an epoch time (UTC), as Brave's ``page_age``."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def long_date(epoch: float) -> str:
    """``September 4, 2026``."""
    day = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return f"{_MONTHS[day.month - 1]} {day.day}, {day.year}"


def human_age(epoch: float, now: float) -> str:
    """Brave's human ``age``: "3 hours ago", "2 days ago", "3 weeks ago" or a long date."""
    seconds = max(0, int(now - epoch))
    if seconds < DAY:
        hours = max(1, seconds // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    days = seconds // DAY
    if days < 7:
        return f"{days} day{'s' if days != 1 else ''} ago"
    if days < 30:
        weeks = days // 7
        return f"{weeks} week{'s' if weeks != 1 else ''} ago"
    return long_date(epoch)


def month_of(epoch: float) -> tuple[int, int]:
    """``(year, month)`` of an epoch time (UTC)."""
    day = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return day.year, day.month


def add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    """``(year, month)`` moved by ``delta`` months."""
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def month_start(year: int, month: int) -> int:
    """Epoch seconds of the first day of a month (UTC)."""
    return int(dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp())


def month_end_date(year: int, month: int) -> str:
    """``YYYY-MM-DD`` of the last day of a month."""
    ny, nm = add_months(year, month, 1)
    return iso_date(month_start(ny, nm) - DAY)


def article(word: str) -> str:
    """ "a" or "an" before ``word`` (by its first letter: good enough for job titles)."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def slug(text: str) -> str:
    """A URL slug: lower-case words joined by hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def rank_for(visits: float) -> int:
    """A global traffic rank for monthly ``visits`` (1B visits ~ rank 30, 1M ~ rank 50,000)."""
    return max(1, int(10 ** (11.14 - 1.073 * math.log10(max(visits, 1.0)))))


def compact(value: float) -> str:
    """``28.18B`` style, as Yahoo's ``fmt`` for large numbers."""
    size = abs(value)
    for bound, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= bound:
            return f"{value / bound:.2f}{suffix}"
    return f"{value:.2f}" if value != int(value) else str(int(value))


def money(value: float) -> str:
    """``$254.5 billion`` / ``$45 million`` for prose."""
    # Round half up on the shown digit (254.45e9 is "$254.5 billion", as people write it).
    if value >= 1e9:
        return f"${int(value / 1e8 + 0.5) / 10:.1f} billion"
    if value >= 1e7:
        return f"${int(value / 1e6 + 0.5)} million"
    if value >= 1e6:
        return f"${int(value / 1e5 + 0.5) / 10:.1f} million"
    return f"${value:,.0f}"
