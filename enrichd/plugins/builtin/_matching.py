"""Helpers shared by m13 and m14: matching names and keywords, size tiers, short figures.

Names come from different places (BuiltWith, JSON-LD, the case-study database, ``config.toml``)
spelled differently ("E-commerce", "ecommerce", "Elastic", "Elasticsearch"), so every comparison
goes through one of the few rules here instead of ad-hoc ``lower()`` calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from enrichd.intel import CaseStudyWeights

from .._types import ModuleContext, ModuleError

__all__ = [
    "TIER_LABELS",
    "compact",
    "contains_product",
    "has_phrase",
    "human_number",
    "number",
    "optional_dependency",
    "prefix_words",
    "same_product",
    "size_tier",
    "technology_names",
    "text",
    "words",
]

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def words(text: str) -> str:
    """``text`` case-folded, with every run of other characters than letters and digits turned
    into one space: "E-Commerce & Retail" -> "e commerce retail"."""
    return " ".join(_NON_ALNUM.sub(" ", text.casefold()).split())


def compact(text: str) -> str:
    """``text`` case-folded with only its letters and digits, the key of an exact comparison:
    "E-commerce" and "ecommerce" are the same vertical."""
    return _NON_ALNUM.sub("", text.casefold())


def has_phrase(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words, optionally pluralised with "s".

    "News and Media" has "media"; "Marketplaces" has "marketplace"; "Mediation" has not "media"
    (a bare substring test would score a mediation firm as a publisher).
    """
    needle = words(phrase)
    if not needle:
        return False
    pattern = rf"(?<![0-9a-z]){re.escape(needle)}s?(?![0-9a-z])"
    return re.search(pattern, words(text)) is not None


def prefix_words(name: str, prefix: str) -> bool:
    """Whether ``name`` is ``prefix`` or starts with it as whole words.

    How a detected technology is recognised as a listed product: "Magento 2 Community" is
    Magento and "Shopify Plus" is Shopify (the longest listed name decides which), but
    "Bloomreach Experience Manager" is not "Experience Manager" (Adobe's).
    """
    full, start = words(name), words(prefix)
    return bool(start) and (full == start or full.startswith(start + " "))


def _at_word_start(text: str, part: str) -> bool:
    index = text.find(part)
    while index != -1:
        if index == 0 or text[index - 1] == " ":
            return True
        index = text.find(part, index + 1)
    return False


def same_product(a: str, b: str) -> bool:
    """Whether two product names name the same product: one contains the other from the start
    of a word, case-insensitively ("Elastic" ~ "Elasticsearch", "Solr" ~ "Apache Solr")."""
    x, y = words(a), words(b)
    if not x or not y:
        return False
    return _at_word_start(x, y) or _at_word_start(y, x) or compact(a) == compact(b)


def contains_product(name: str, product: str) -> bool:
    """Whether the technology ``name`` is (a variant of) ``product``: "Algolia DocSearch" is
    Algolia. One-way, so that a short technology name never matches a longer product name."""
    x, y = words(name), words(product)
    return bool(x) and bool(y) and _at_word_start(x, y)


def number(value: Any) -> float | None:
    """``value`` when it is a real number (not a bool, not NaN), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value != value:  # NaN
        return None
    return float(value)


def size_tier(employees: float | None, *, enterprise: int, mid_market: int, smb: int) -> str | None:
    """The size tier of a company with ``employees`` (the thresholds from ``[intel]``)."""
    if employees is None:
        return None
    thresholds = CaseStudyWeights(
        enterprise_employees=enterprise, mid_market_employees=mid_market, smb_employees=smb
    )
    return thresholds.size_tier(employees)


#: How a size tier reads in a sentence.
TIER_LABELS: dict[str, str] = {
    "enterprise": "enterprise",
    "mid-market": "mid-market",
    "smb": "SMB",
    "startup": "startup",
}

_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def human_number(value: float) -> str:
    """A short figure: 50_000_000 -> "50M", 1_500_000 -> "1.5M", 254e9 -> "254B", 950 -> "950"."""
    for index, (size, unit) in enumerate(_UNITS):
        if abs(value) >= size:
            scaled = round(value / size, 1)
            # 999_960 rounds to 1000.0K: say 1M instead.
            if index > 0 and abs(scaled) >= 1000:
                bigger, bigger_unit = _UNITS[index - 1]
                scaled, unit = round(value / bigger, 1), bigger_unit
            return f"{scaled:g}{unit}"
    return f"{round(value, 1):g}"


def optional_dependency(ctx: ModuleContext, module_id: str) -> Mapping[str, Any] | None:
    """The data of ``module_id``, or ``None`` when it failed or has none.

    Only ``dependency_missing`` means "no input"; any other error (an undeclared dependency) is
    a bug and propagates.
    """
    try:
        return ctx.dependency(module_id)
    except ModuleError as exc:
        if exc.code == "dependency_missing":
            return None
        raise


def technology_names(m02: Mapping[str, Any]) -> list[str]:
    """Every technology name m02 reports: its technologies, then its commerce platform and CMS
    (found on the homepage when BuiltWith missed them)."""
    names: list[str] = []
    technologies = m02.get("technologies")
    if isinstance(technologies, list):
        for tech in technologies:
            name = tech.get("name") if isinstance(tech, Mapping) else None
            if isinstance(name, str) and name.strip():
                names.append(name)
    for role in ("commerce_platform", "cms"):
        value = m02.get(role)
        if isinstance(value, str) and value.strip():
            names.append(value)
    return names


def text(value: Any) -> str | None:
    """``value`` stripped when it is a non-empty string, else ``None``."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
