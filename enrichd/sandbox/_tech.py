"""Which technologies a generated company runs: plausible stacks by vertical and size."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ._catalog import IMPLIES, RETIRED

# (choice, weight) tables; None means "none of these".
_Table = list[tuple[str | None, int]]
_COMMERCE_BY_TIER: dict[str, _Table] = {
    "startup": [
        ("Shopify", 55),
        ("BigCommerce", 15),
        ("Magento", 10),
        ("Shopify Plus", 5),
        (None, 15),
    ],
    "smb": [
        ("Shopify", 40),
        ("Shopify Plus", 15),
        ("BigCommerce", 15),
        ("Magento", 12),
        ("Adobe Commerce", 5),
        ("Salesforce Commerce Cloud", 3),
        (None, 10),
    ],
    "mid-market": [
        ("Shopify Plus", 22),
        ("Salesforce Commerce Cloud", 20),
        ("Adobe Commerce", 18),
        ("BigCommerce", 10),
        ("commercetools", 10),
        ("Magento", 5),
        ("Spryker", 5),
        (None, 10),
    ],
    "enterprise": [
        ("Salesforce Commerce Cloud", 28),
        ("Adobe Commerce", 18),
        ("commercetools", 15),
        ("Shopify Plus", 8),
        ("Spryker", 6),
        (None, 25),
    ],
}
_CMS_BY_TIER: dict[str, _Table] = {
    "startup": [("WordPress", 55), ("Contentful", 10), (None, 35)],
    "smb": [("WordPress", 50), ("Drupal", 10), ("Contentful", 10), (None, 30)],
    "mid-market": [
        ("WordPress", 25),
        ("Contentful", 20),
        ("Adobe Experience Manager", 15),
        ("Drupal", 15),
        ("Sitecore", 10),
        ("Amplience", 5),
        (None, 10),
    ],
    "enterprise": [
        ("Adobe Experience Manager", 35),
        ("Sitecore", 15),
        ("Contentful", 15),
        ("Amplience", 8),
        ("Drupal", 10),
        ("WordPress", 7),
        (None, 10),
    ],
}
_SEARCH_ODDS = {"enterprise": 0.85, "mid-market": 0.75, "smb": 0.55, "startup": 0.35}
_SEARCH_COMMERCE: _Table = [
    ("Algolia", 18),
    ("Constructor", 10),
    ("Bloomreach", 10),
    ("Searchspring", 10),
    ("Klevu", 9),
    ("Doofinder", 5),
    ("Coveo", 8),
    ("Elasticsearch", 13),
    ("Solr", 7),
    ("Lucidworks", 5),
    ("OpenSearch", 3),
]
_SEARCH_CONTENT: _Table = [
    ("Elasticsearch", 30),
    ("Algolia", 20),
    ("Solr", 15),
    ("Swiftype", 10),
    ("Coveo", 5),
    ("OpenSearch", 10),
    ("Yext", 5),
]
_SEARCH_OTHER: _Table = [
    ("Coveo", 20),
    ("Yext", 20),
    ("Elasticsearch", 20),
    ("Lucidworks", 8),
    ("Algolia", 20),
    ("Solr", 7),
    ("Swiftype", 5),
]
_CDN_BY_TIER: dict[str, _Table] = {
    "enterprise": [("Akamai", 50), ("Fastly", 20), ("Cloudflare", 15), ("Amazon CloudFront", 15)],
    "mid-market": [("Cloudflare", 35), ("Akamai", 20), ("Fastly", 20), ("Amazon CloudFront", 25)],
    "smb": [("Cloudflare", 60), ("Amazon CloudFront", 20), (None, 20)],
    "startup": [("Cloudflare", 60), ("Amazon CloudFront", 20), (None, 20)],
}
_BIG = ("enterprise", "mid-market")
#: Editions BuiltWith reports together with the product they are an edition of.
_PARENTS = {"Shopify Plus": ["Shopify"], "Adobe Commerce": ["Magento"]}


@dataclass(frozen=True, slots=True)
class Stack:
    """The technologies chosen for a site, and the three that matter most to sales."""

    names: list[str]
    search: str | None
    commerce: str | None
    cms: str | None


def parents(name: str | None) -> list[str]:
    """The products BuiltWith also reports for an edition (Shopify for Shopify Plus...)."""
    return _PARENTS.get(name or "", [])


def with_implied(names: list[str]) -> list[str]:
    """``names`` plus what they run on (PHP for WordPress...), without duplicates."""
    out = list(names)
    for name in names:
        out += [n for n in IMPLIES.get(name, ()) if n not in out]
    return out


def _pick(rng: random.Random, table: _Table) -> str | None:
    return rng.choices([c for c, _ in table], weights=[w for _, w in table])[0]


def _odds(rng: random.Random, names: list[str], table: dict[str, float]) -> None:
    for name, odds in table.items():
        if rng.random() < odds:
            names.append(name)


def choose_stack(
    rng: random.Random, commerce_vertical: bool, b2b: bool, vertical: str, tier: str
) -> Stack:
    """A plausible technology stack for a company of ``vertical`` and size ``tier``."""
    big = tier in _BIG
    commerce = _pick(rng, _COMMERCE_BY_TIER[tier]) if commerce_vertical else None
    cms = None if commerce in ("Shopify", "Shopify Plus") else _pick(rng, _CMS_BY_TIER[tier])
    if vertical in ("Media", "Publishing") and rng.random() < 0.5:
        cms = "WordPress" if rng.random() < 0.6 else "Drupal"
    search = None
    if rng.random() < _SEARCH_ODDS[tier]:
        table = (
            _SEARCH_COMMERCE
            if commerce_vertical
            else _SEARCH_CONTENT
            if vertical in ("Media", "Publishing", "Software")
            else _SEARCH_OTHER
        )
        search = _pick(rng, table)
    cdn = (
        "Cloudflare" if commerce in ("Shopify", "Shopify Plus") else _pick(rng, _CDN_BY_TIER[tier])
    )
    names = [n for n in (cms, commerce, search, cdn) if n]
    names += parents(commerce)
    if cdn != "Cloudflare" and commerce not in ("Shopify", "Shopify Plus"):
        names.append("nginx" if rng.random() < 0.6 else "Apache")
    names += _frontend(rng, cms, commerce, big)
    _odds(
        rng,
        names,
        {
            "Google Tag Manager": 0.85,
            "Google Analytics": 0.8,
            "Google Font API": 0.45,
            "Adobe Analytics": 0.6 if tier == "enterprise" else 0.3 if big else 0.04,
            "Optimizely": 0.3 if tier == "enterprise" else 0.15 if big else 0.02,
            "Segment": 0.2,
            "Hotjar": 0.15 if big else 0.35,
            "New Relic": 0.25,
            "OneTrust": 0.6 if tier == "enterprise" else 0.4 if big else 0.1,
            "Tealium": 0.25 if tier == "enterprise" else 0.05,
        },
    )
    if commerce_vertical:
        _odds(
            rng,
            names,
            {
                "Facebook Pixel": 0.7,
                "PayPal": 0.6,
                "Stripe": 0.25,
                "Klaviyo": 0.2 if tier == "enterprise" else 0.5,
                "Bazaarvoice": 0.35 if big else 0.05,
                "Dynamic Yield": 0.2 if big else 0.0,
            },
        )
    else:
        _odds(rng, names, {"Facebook Pixel": 0.3})
    if b2b:
        _odds(
            rng,
            names,
            {
                "HubSpot": 0.2 if tier == "enterprise" else 0.5,
                "Salesforce": 0.55 if big else 0.2,
                "Marketo": 0.3 if tier == "enterprise" else 0.1,
            },
        )
    _odds(rng, names, {"Universal Analytics": 0.5, "Google Optimize": 0.2, "AddThis": 0.15})
    names = with_implied(list(dict.fromkeys(names)))
    # Retired products are reported dead; keep them last so live ones lead the list.
    names.sort(key=lambda n: n in RETIRED)
    return Stack(names, search, commerce, cms)


def _frontend(rng: random.Random, cms: str | None, commerce: str | None, big: bool) -> list[str]:
    roll = rng.random()
    if roll < (0.35 if big else 0.15):
        picked = ["Next.js", "React"]
    elif roll < (0.6 if big else 0.35):
        picked = ["React"]
    elif roll < 0.7:
        picked = ["Nuxt.js", "Vue.js"]
    elif roll < 0.8:
        picked = ["Vue.js"]
    else:
        picked = []
    if cms == "WordPress" or commerce in ("Magento", "Adobe Commerce") or rng.random() < 0.35:
        picked.append("jQuery")
    return picked
