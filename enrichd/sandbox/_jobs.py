"""Open positions of a company: the careers page and its job postings (Brave and homepage)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ._model import Profile
from ._profile import profile_for
from ._util import DAY, article, hex_id, rng_for, slug, today, unit
from ._words import ROLES_OTHER, ROLES_SIGNAL

#: Job postings listed at most (the count of open positions may be larger).
MAX_LISTED = 200


@dataclass(frozen=True, slots=True)
class Job:
    """One job posting."""

    role: str
    title: str
    url: str
    location: str
    posted: int  # epoch seconds
    description: str


def careers_url(p: Profile) -> str:
    """The company's careers page (its own site or its applicant-tracking system)."""
    handle = p.label.replace("-", "")
    if p.ats == "greenhouse":
        return f"https://boards.greenhouse.io/{handle}"
    if p.ats == "lever":
        return f"https://jobs.lever.co/{handle}"
    return f"https://careers.{p.domain}/"


def listed(p: Profile) -> int:
    """How many postings can be listed."""
    return min(p.open_positions, MAX_LISTED)


def job(p: Profile, index: int, now: float) -> Job:
    """Posting number ``index`` (0-based) of the company, as of ``now``'s day."""
    return _job(p.domain, index, today(now))


@lru_cache(maxsize=16384)
def _job(domain: str, index: int, day: int) -> Job:
    p = profile_for(domain)
    assert p is not None  # only called with a profile's own domain
    rng = rng_for("job", p.label, index)
    commerce = p.vertical in ("Retail", "E-commerce", "Marketplace")
    signal_odds = (0.06 + 0.3 * unit("signal", p.label)) if commerce else 0.05
    signal = rng.random() < signal_odds
    others = [r for r in ROLES_OTHER if r != "Store Manager" or p.vertical == "Retail"]
    role = rng.choice(ROLES_SIGNAL if signal else others)
    location = rng.choice((f"{p.city}, {p.state}", f"{p.city}, {p.state}", "Remote"))
    posted = day - rng.randint(1, 45) * DAY + rng.randint(9, 18) * 3600
    handle = p.label.replace("-", "")
    if p.ats == "greenhouse":
        url = f"https://boards.greenhouse.io/{handle}/jobs/{4000000 + rng.randrange(10**6)}"
    elif p.ats == "lever":
        h = hex_id(32, "lever", p.label, index)
        url = f"https://jobs.lever.co/{handle}/{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    else:
        url = f"https://careers.{p.domain}/jobs/{100000 + rng.randrange(900000)}-{slug(role)}"
    if signal:
        description = (
            f"{p.name} is hiring {article(role)} {role} in {location}. You will improve search "
            f"relevance, e-commerce conversion and personalization for the "
            f"customers of {p.domain}."
        )
    else:
        description = f"{p.name} is hiring {article(role)} {role} in {location}. Apply today."
    return Job(role, f"{role} - {p.name}", url, location, posted, description)


def careers_snippet(p: Profile) -> str:
    """The careers page's summary line, with the number of open positions."""
    if p.open_positions == 0:
        return f"There are currently 0 open positions at {p.name}. Check back soon."
    return (
        f"{p.name} is hiring! Browse {p.open_positions} open positions across engineering, "
        f"e-commerce, marketing and operations in {p.city} and remote."
    )
