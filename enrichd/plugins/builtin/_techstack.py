"""m02_tech_stack: builtwith → builtwith_free → homepage fingerprinting, and the key roles.

The Free API knows technology categories only, so from it m02 reports categories; when the
serving source names no site-search vendor (or commerce platform, or CMS), the homepage's
fingerprints may fill that gap.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypeVar

import msgspec

from .._fallback import first_available
from .._types import (
    Citation,
    ModuleContext,
    ModuleError,
    ModuleResult,
    NoData,
    Source,
)
from . import _builtwith as bw
from . import _fingerprints
from ._pagecommon import (
    BUILTWITH,
    BUILTWITH_FREE,
    HOMEPAGE,
    HomepageView,
    _attempt,
    _builtwith_citation,
    _homepage_citation,
    _points,
    _today,
    read_homepage,
)

T = TypeVar("T")


class Tech(msgspec.Struct, kw_only=True, frozen=True):
    """One technology as m02 reports it, whichever source found it."""

    name: str
    category: str
    source: str
    first_detected: str | None = None
    last_detected: str | None = None
    #: BuiltWith's parent technology (child entries are plug-ins or editions of it).
    parent: str | None = None
    #: The Free API's counts of live and dead technologies in a category.
    live: int | None = None
    dead: int | None = None
    #: Homepage fingerprinting's confidence (0-100) and detected version.
    confidence: int | None = None
    version: str | None = None
    #: BuiltWith categories beyond ``category`` (used to recognise site-search vendors).
    categories: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        """The technology as an item of m02's ``technologies``."""
        item: dict[str, Any] = {
            "name": self.name,
            "category": self.category,
            "first_detected": self.first_detected,
            "last_detected": self.last_detected,
            "source": self.source,
        }
        if self.live is not None:
            item["live"] = self.live
            item["dead"] = self.dead
        if self.source == HOMEPAGE:
            item["confidence"] = self.confidence
            item["version"] = self.version
        return item


class Stack(msgspec.Struct, kw_only=True):
    """What one source of the m02 chain found."""

    techs: list[Tech]
    technology_count: int
    #: Category -> number of technologies in it.
    categories: dict[str, int]
    monthly_spend_usd: int | None = None
    #: The homepage that was read, when the homepage served.
    view: HomepageView | None = None
    #: Whether the technologies are names (False: the Free API's categories).
    named: bool = True
    warnings: list[str] = msgspec.field(default_factory=list)


async def _from_domain_api(source: Source, domain: str) -> Stack:
    profile = await bw.lookup_domain(source, domain)
    if not profile.technologies:
        raise NoData(f"BuiltWith lists no technology for {domain}", source=source.name)
    techs = [
        Tech(
            name=t.name,
            category=t.category,
            source=BUILTWITH,
            first_detected=t.first_detected,
            last_detected=t.last_detected,
            parent=t.parent,
            categories=t.categories,
        )
        for t in profile.technologies
    ]
    return Stack(
        techs=techs,
        technology_count=len(techs),
        categories=_category_counts(techs),
        monthly_spend_usd=profile.spend_usd,
    )


async def _from_free_api(source: Source, domain: str) -> Stack:
    profile = await bw.lookup_free(source, domain)
    techs: list[Tech] = []
    for group in profile.groups:
        # A group without sub-categories still says how many technologies it holds.
        entries = group.categories or (
            bw.FreeCategory(
                name=group.name,
                live=group.live,
                dead=group.dead,
                first_detected=group.first_detected,
                last_detected=group.last_detected,
            ),
        )
        techs.extend(
            Tech(
                name=entry.name,
                category=group.category,
                source=BUILTWITH_FREE,
                first_detected=entry.first_detected,
                last_detected=entry.last_detected,
                live=entry.live,
                dead=entry.dead,
            )
            for entry in entries
        )
    return Stack(
        techs=techs,
        # The Free API counts the live technologies of each group; that is the site's count.
        technology_count=sum(g.live for g in profile.groups),
        # Per group, not per sub-category: one technology may sit in several sub-categories.
        categories={g.category: g.live for g in profile.groups},
        named=False,
        warnings=[
            "BuiltWith's Free API gives technology categories and counts only: no technology "
            "names and no spend"
        ],
    )


async def _from_homepage(source: Source, domain: str) -> Stack:
    view = await read_homepage(source, domain)
    techs = homepage_techs(view)
    if not techs:
        raise NoData(
            f"no known technology fingerprint matched {view.page.final_url}", source=source.name
        )
    return Stack(
        techs=techs, technology_count=len(techs), categories=_category_counts(techs), view=view
    )


def homepage_techs(view: HomepageView) -> list[Tech]:
    """The technologies fingerprinting finds in a homepage.

    A page shows what runs *now*, not since when: ``last_detected`` is today's date (UTC) and
    ``first_detected`` is ``None`` (unknown).
    """
    page = view.page
    today = _today()
    return [
        Tech(
            name=d.name,
            category=d.category,
            source=HOMEPAGE,
            first_detected=None,
            last_detected=today,
            confidence=d.confidence,
            version=d.version,
        )
        for d in _fingerprints.detect(view.facts, page.headers, page.cookies, page.final_url)
    ]


async def run_tech_stack(ctx: ModuleContext) -> ModuleResult:
    """m02: the technologies a site runs, its tech spend and its commerce/CMS/search vendors."""
    domain = ctx.domain
    served = await first_available(
        ctx,
        [
            (BUILTWITH, lambda s: _from_domain_api(s, domain)),
            (BUILTWITH_FREE, lambda s: _from_free_api(s, domain)),
            (HOMEPAGE, lambda s: _from_homepage(s, domain)),
        ],
    )
    stack = served.value
    warnings = [*served.warnings, *stack.warnings]
    roles = pick_roles(stack.techs) if stack.named else dict.fromkeys(ROLES)
    role_sources = {role: served.source for role, name in roles.items() if name}
    view = stack.view
    added: list[Tech] = []
    if served.source != HOMEPAGE and roles["search_provider"] is None:
        view, extra = await _homepage_roles(ctx, roles, warnings)
        known = {t.name.casefold() for t in stack.techs}
        for role, tech in extra.items():
            roles[role] = tech.name
            role_sources[role] = HOMEPAGE
            if tech.name.casefold() not in known:
                known.add(tech.name.casefold())
                added.append(tech)

    data: dict[str, Any] = {
        "technologies": [t.record() for t in (*stack.techs, *added)],
        "technology_count": stack.technology_count + len(added),
        "monthly_spend_usd": stack.monthly_spend_usd,
        **roles,
        "categories": _sorted_counts(stack.categories, added),
        "field_sources": role_sources,
    }
    citations: list[Citation] = []
    if served.source != HOMEPAGE:
        citations.append(_builtwith_citation(domain))
    if view is not None and (served.source == HOMEPAGE or HOMEPAGE in role_sources.values()):
        citations.append(_homepage_citation(view, domain))
    return ModuleResult(
        data=data,
        data_points=_points(data),
        citations=citations,
        source=served.source,
        source_url=citations[0].url if citations else None,
        warnings=warnings,
    )


async def _homepage_roles(
    ctx: ModuleContext, roles: Mapping[str, str | None], warnings: list[str]
) -> tuple[HomepageView | None, dict[str, Tech]]:
    """Fill the roles BuiltWith left empty from the homepage's fingerprints, when configured."""
    if not ctx.source_configured(HOMEPAGE):
        return None, {}
    outcome = await _attempt(ctx, HOMEPAGE, lambda s: read_homepage(s, ctx.domain))
    if isinstance(outcome, ModuleError):
        warnings.append(
            f"homepage fingerprinting for the missing vendors failed ({outcome.code}): "
            f"{outcome.message}"
        )
        return None, {}
    found = pick_role_techs(homepage_techs(outcome))
    return outcome, {role: t for role, t in found.items() if roles[role] is None and t is not None}


def _category_counts(techs: Iterable[Tech]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for tech in techs:
        counts[tech.category] = counts.get(tech.category, 0) + 1
    return counts


def _sorted_counts(counts: Mapping[str, int], added: Iterable[Tech]) -> dict[str, int]:
    """``counts`` plus the ``added`` technologies, largest first."""
    merged = dict(counts)
    for category, count in _category_counts(added).items():
        merged[category] = merged.get(category, 0) + count
    return dict(sorted(merged.items(), key=lambda kv: (-kv[1], kv[0])))


# -- commerce platform, CMS and site search --------------------------------------------------------

#: m02's three vendor roles.
ROLES: Final = ("commerce_platform", "cms", "search_provider")

# Names by role: the partner platforms and incumbent search vendors of the sales rules, plus the
# common others. A technology belongs to the role whose name it matches longest (a name matches
# when it equals the technology's name or starts it as whole words: "Magento" matches
# "Magento 2 Community", "Bloomreach Experience Manager" beats "Bloomreach").
_ROLE_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "commerce_platform": (
        "Shopify Plus",
        "Shopify",
        "Salesforce Commerce Cloud",
        "Demandware",
        "commercetools",
        "BigCommerce",
        "Adobe Commerce",
        "Magento",
        "Spryker",
        "SAP Commerce Cloud",
        "SAP Hybris",
        "Hybris",
        "Oracle Commerce",
        "Oracle ATG",
        "WooCommerce",
        "PrestaShop",
        "Shopware",
        "VTEX",
        "Elastic Path",
        "Kibo Commerce",
        "Salesforce B2C Commerce",
        "OpenCart",
        "Ecwid",
        "Wix Stores",
        "Squarespace Commerce",
        "Volusion",
        "Lightspeed eCom",
    ),
    "cms": (
        "Adobe Experience Manager",
        "Amplience",
        "WordPress",
        "Drupal",
        "Sitecore",
        "Contentful",
        "Contentstack",
        "Bloomreach Experience Manager",
        "Bloomreach Content",
        "Acquia",
        "Optimizely CMS",
        "Episerver",
        "Joomla",
        "Kentico",
        "Umbraco",
        "Storyblok",
        "Sanity",
        "Strapi",
        "Magnolia",
        "Liferay",
        "Craft CMS",
        "TYPO3",
        "Sitefinity",
        "Progress Sitefinity",
        "dotCMS",
        "Prismic",
        "HubSpot CMS",
        "Ghost",
        "Webflow",
        "Squarespace",
        "Wix",
    ),
    "search_provider": (
        "Elasticsearch",
        "Elastic Site Search",
        "Elastic App Search",
        "Elastic Enterprise Search",
        "OpenSearch",
        "Amazon OpenSearch",
        "Solr",
        "Apache Solr",
        "Coveo",
        "Searchspring",
        "Klevu",
        "Constructor",
        "Constructor.io",
        "Bloomreach",
        "Bloomreach Discovery",
        "Lucidworks",
        "Lucidworks Fusion",
        "Yext",
        "Yext Search",
        "Swiftype",
        "Doofinder",
        "Salesforce Einstein",
        "Einstein Search",
        "Endeca",
        "Oracle Endeca",
        "Algolia",
        "Searchanise",
        "Attraqt",
        "Fredhopper",
        "Hawksearch",
        "Unbxd",
        "SLI Systems",
        "Findify",
        "Typesense",
        "Meilisearch",
        "Cludo",
        "AddSearch",
        "Sajari",
        "Loop54",
        "SearchStax",
        "Azure AI Search",
        "Google Cloud Retail Search",
        "Google Custom Search",
        "Vertex AI Search",
    ),
}
#: Categories that put a technology in a role when its name is on no list.
_ROLE_CATEGORIES: Final[dict[str, frozenset[str]]] = {
    "commerce_platform": frozenset({_fingerprints.COMMERCE_CATEGORY.casefold()}),
    "cms": frozenset({_fingerprints.CMS_CATEGORY.casefold()}),
    "search_provider": frozenset({_fingerprints.SEARCH_CATEGORY.casefold(), "site search"}),
}
#: A technology last seen this long before the site's newest detection is taken as gone.
_STALE_DAYS: Final = 90


def _words(name: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", name.casefold()).split())


_ROLE_ALIASES: Final = sorted(
    ((_words(alias), role) for role, names in _ROLE_NAMES.items() for alias in names),
    key=lambda pair: -len(pair[0]),
)


@functools.lru_cache(maxsize=4096)
def _named_role(tech_name: str) -> tuple[str, int] | None:
    """The role a technology's name matches and the matching alias's length, if any.

    Cached: every job's stack holds dozens of names, mostly the same few hundred, and each is
    compared with every alias.
    """
    name = _words(tech_name)
    for alias, role in _ROLE_ALIASES:
        if name == alias or name.startswith(alias + " "):
            return role, len(alias)
    return None


def role_of(tech: Tech) -> tuple[str, int] | None:
    """The role ``tech`` plays and how specific the match is (longer is better), if any."""
    named = _named_role(tech.name)
    if named is not None:
        return named
    if tech.parent is None:
        # A child entry (a plug-in, an edition) is not the platform itself.
        for role, categories in _ROLE_CATEGORIES.items():
            if any(c.casefold() in categories for c in (tech.category, *tech.categories)):
                return role, 0
    return None


def pick_role_techs(techs: Iterable[Tech]) -> dict[str, Tech | None]:
    """The technology in each role.

    Preferred: one still current (seen within 90 days of the site's newest detection), then one
    no other candidate implies (Shopify Plus over its parent Shopify), then the most specific
    name, the highest confidence and the latest detection.
    """
    techs = list(techs)
    newest = max((t.last_detected for t in techs if t.last_detected), default=None)
    implied = {name.casefold() for t in techs for name in _implies(t)}
    best: dict[str, tuple[tuple[Any, ...], Tech]] = {}
    for tech in techs:
        match = role_of(tech)
        if match is None:
            continue
        role, specificity = match
        key = (
            _current(tech.last_detected, newest),
            tech.name.casefold() not in implied,
            specificity,
            tech.confidence if tech.confidence is not None else 100,
            tech.last_detected or "",
        )
        if role not in best or key > best[role][0]:
            best[role] = (key, tech)
    return {role: best[role][1] if role in best else None for role in ROLES}


def _implies(tech: Tech) -> list[str]:
    """The technologies ``tech`` implies: BuiltWith's parent, or the fingerprints' implies."""
    if tech.parent is not None:
        return [tech.parent]
    known = _fingerprints.TECHNOLOGIES.get(tech.name) if tech.source == HOMEPAGE else None
    return [name for name, _ in known.implies] if known is not None else []


def pick_roles(techs: Iterable[Tech]) -> dict[str, str | None]:
    """The name of the technology in each role (``None`` when none was found)."""
    return {role: t.name if t else None for role, t in pick_role_techs(techs).items()}


def _current(last: str | None, newest: str | None) -> bool:
    if last is None or newest is None:
        return True
    gap = dt.date.fromisoformat(newest) - dt.date.fromisoformat(last)
    return gap.days <= _STALE_DAYS
