"""Company facts and fingerprinting inputs from a homepage's HTML, in one pass.

:func:`extract_facts` runs the standard library's tolerant ``html.parser`` once over the page and
collects what the company says about itself (title, meta and OpenGraph tags, schema.org
Organization JSON-LD, social profiles, phones, e-mails, careers links) and what
:mod:`._fingerprints` needs (script URLs, inline scripts, meta tags, the start tags). Everything
is capped, so a 2 MiB page costs a bounded amount of memory and time.
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any, Final
from urllib.parse import unquote, urljoin, urlsplit

import msgspec

__all__ = [
    "Address",
    "ContactPoint",
    "EmployeeRange",
    "Organization",
    "PageFacts",
    "extract_facts",
    "parse_json_ld",
]

# -- caps ---------------------------------------------------------------------------------------

_MAX_URL: Final = 2048
_MAX_LIST: Final = 500
_MAX_META: Final = 500
_MAX_META_VALUE: Final = 2000
_MAX_INLINE_SCRIPT: Final = 32 * 1024
_MAX_INLINE_TOTAL: Final = 512 * 1024
_MAX_JSON_LD_BLOCK: Final = 1024 * 1024
_MAX_JSON_LD_BLOCKS: Final = 50
_MAX_MARKUP: Final = 1024 * 1024
_MAX_COMMENT: Final = 2048
_MAX_ANCHOR_TEXT: Final = 200
_MAX_TITLE: Final = 1000
_MAX_NODES: Final = 20_000
_MAX_DEPTH: Final = 32


# -- the result ---------------------------------------------------------------------------------


class Address(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A postal address; ``text`` holds an address given as one string, not split up."""

    street: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    text: str | None = None


class EmployeeRange(msgspec.Struct, kw_only=True, frozen=True):
    """A head-count range; ``max`` is ``None`` for "10,000+"."""

    min: int | None
    max: int | None


class ContactPoint(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A schema.org ContactPoint."""

    contact_type: str | None = None
    telephone: str | None = None
    email: str | None = None


class Organization(msgspec.Struct, kw_only=True, frozen=True):
    """The schema.org Organization (or subtype) that describes the site's company."""

    #: The ``@type`` values, e.g. ``["Corporation"]``.
    types: list[str]
    name: str | None = None
    legal_name: str | None = None
    alternate_names: list[str] = msgspec.field(default_factory=list)
    url: str | None = None
    logo: str | None = None
    description: str | None = None
    #: ``foundingDate`` as written, and its year.
    founding_date: str | None = None
    founding_year: int | None = None
    founders: list[str] = msgspec.field(default_factory=list)
    address: Address | None = None
    #: ``numberOfEmployees``: a number, or a range.
    employees: int | EmployeeRange | None = None
    same_as: list[str] = msgspec.field(default_factory=list)
    #: ``telephone`` and every contact point's telephone.
    telephones: list[str] = msgspec.field(default_factory=list)
    emails: list[str] = msgspec.field(default_factory=list)
    contact_points: list[ContactPoint] = msgspec.field(default_factory=list)
    ticker_symbol: str | None = None
    industry: str | None = None
    naics: str | None = None
    parent_organization: str | None = None
    #: ``duns``, ``leiCode``, ``vatID``, ``taxID`` when given.
    identifiers: dict[str, str] = msgspec.field(default_factory=dict)


class PageFacts(msgspec.Struct, kw_only=True):
    """What :func:`extract_facts` found in a page.

    URLs are absolute (resolved against the page URL and any ``<base href>``). The fields after
    ``ats`` are inputs for :func:`._fingerprints.detect`; they are large and not facts to publish.
    """

    url: str
    lang: str | None = None
    title: str | None = None
    #: ``<meta name="description">``.
    description: str | None = None
    #: The first ``<meta name="generator">``.
    generator: str | None = None
    canonical: str | None = None
    icon: str | None = None
    #: ``og:*`` properties without the prefix: ``site_name``, ``title``, ``description``,
    #: ``image``, ``url``, ``locale``, ``type``... (first value of each).
    opengraph: dict[str, str] = msgspec.field(default_factory=dict)
    #: ``twitter:site``, e.g. ``"@acme"``.
    twitter_site: str | None = None
    #: Every JSON-LD block that could be decoded (each block's values, in page order).
    json_ld: list[Any] = msgspec.field(default_factory=list)
    #: JSON-LD blocks that could not be decoded even leniently.
    json_ld_errors: int = 0
    organization: Organization | None = None
    #: Platform (``linkedin``, ``twitter``, ``facebook``, ``instagram``, ``youtube``,
    #: ``tiktok``, ``github``) -> profile URL, from the Organization's sameAs, then the links.
    social_profiles: dict[str, str] = msgspec.field(default_factory=dict)
    #: From the Organization (telephone, contact points) and ``tel:`` links, deduplicated.
    phones: list[str] = msgspec.field(default_factory=list)
    #: From the Organization and ``mailto:`` links, lower-cased, deduplicated.
    emails: list[str] = msgspec.field(default_factory=list)
    #: Links to a careers or jobs page (by path, host or link text, or to an ATS).
    careers_urls: list[str] = msgspec.field(default_factory=list)
    #: Applicant-tracking system (``Greenhouse``, ``Lever``, ``Ashby``, ``Workable``,
    #: ``SmartRecruiters``, ``Workday``...) -> the first URL seen on it (link, script, iframe).
    ats: dict[str, str] = msgspec.field(default_factory=dict)
    # -- fingerprinting inputs --
    #: Every ``<meta>`` name or property (lower case) -> its contents, in page order.
    meta: dict[str, list[str]] = msgspec.field(default_factory=dict)
    script_srcs: list[str] = msgspec.field(default_factory=list)
    #: Inline ``<script>`` bodies other than JSON-LD (each capped at 32 KiB, 512 KiB in all).
    inline_scripts: list[str] = msgspec.field(default_factory=list)
    #: ``<link href>`` URLs (stylesheets, preconnects, icons...).
    link_hrefs: list[str] = msgspec.field(default_factory=list)
    #: The start tags and comments of the page, one per line (capped at 1 MiB): what the
    #: fingerprints' ``html`` patterns match.
    markup: str = ""


#: Pages parsed lately, by (URL, markup): m01 and m02 both read the same homepage of a job (one
#: coalesced fetch), and parsing it is the costliest thing either does.
_RECENT: collections.OrderedDict[tuple[str, str], PageFacts] = collections.OrderedDict()
_RECENT_SIZE: Final = 16
#: Larger pages are not kept: the memo holds their markup, at most 16 pages of 512 Ki characters.
_RECENT_MAX_CHARS: Final = 512 * 1024


def extract_facts(html: str, url: str) -> PageFacts:
    """Extract company facts and fingerprinting inputs from ``html``, served at ``url``.

    One pass of a tolerant parser: broken markup never raises, and whatever was read before a
    hopeless construct is kept. JSON-LD blocks are decoded leniently (HTML comments, CDATA
    wrappers, trailing commas, several values per block); objects, arrays and ``@graph`` are
    walked and ``@id`` references resolved. The Organization is the one describing this site
    (its ``url`` on the page's host, or the WebSite's publisher) when there are several.
    CPU-bound: about 0.15 s per MiB of dense markup (pages are capped at 2 MiB). The facts of
    the last few pages are kept, so they are shared by callers, which must not change them.
    """
    if len(html) > _RECENT_MAX_CHARS:
        return _extract_facts(html, url)
    key = (url, html)
    facts = _RECENT.get(key)
    if facts is None:
        facts = _extract_facts(html, url)
        _RECENT[key] = facts
        if len(_RECENT) > _RECENT_SIZE:
            _RECENT.popitem(last=False)
    return facts


def _extract_facts(html: str, url: str) -> PageFacts:
    parser = _Parser(url)
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser asserts on some malformed declarations
        pass  # keep what was read so far
    return parser.result()


# -- the parser ---------------------------------------------------------------------------------


class _Parser(HTMLParser):
    def __init__(self, url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.url = url
        self.base = url
        self._base_set = False
        self.lang: str | None = None
        self.title: str | None = None
        self._title_parts: list[str] | None = None
        self._svg_depth = 0
        self.meta: dict[str, list[str]] = {}
        self._meta_count = 0
        self.canonical: str | None = None
        self.icon: str | None = None
        self.link_hrefs: list[str] = []
        self.script_srcs: list[str] = []
        self.inline_scripts: list[str] = []
        self._inline_size = 0
        self.json_ld_texts: list[str] = []
        # (is JSON-LD, chunks, size) of the <script> being read.
        self._script: tuple[bool, list[str], list[int]] | None = None
        self._markup: list[str] = []
        self._markup_size = 0
        self._anchor: tuple[str, list[str]] | None = None
        self.links = _Links()

    # -- html.parser callbacks --

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add_markup(self.get_starttag_text() or "")
        handler = _START_HANDLERS.get(tag)
        if handler is not None:
            handler(self, {k: v for k, v in attrs if v is not None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self.finish_anchor()
        elif tag == "title":
            self._finish_title()
        elif tag == "script":
            self._finish_script()
        elif tag == "svg":
            self._svg_depth = max(0, self._svg_depth - 1)

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            _, chunks, size = self._script
            if size[0] < _MAX_JSON_LD_BLOCK:
                chunks.append(data)
                size[0] += len(data)
            return
        if self._title_parts is not None:
            self._title_parts.append(data)
        if self._anchor is not None:
            text = self._anchor[1]
            if sum(map(len, text)) < _MAX_ANCHOR_TEXT:
                text.append(data)

    def handle_comment(self, data: str) -> None:
        self._add_markup(f"<!--{data[:_MAX_COMMENT]}-->")

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        # "<![foo[" makes html.parser assert; skip it like a browser's bogus comment.
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            end = self.rawdata.find(">", i + 3)
            return -1 if end < 0 else end + 1

    # -- tags --

    def _html(self, attrs: dict[str, str]) -> None:
        if self.lang is None and attrs.get("lang"):
            self.lang = attrs["lang"].strip()[:35] or None

    def _base_tag(self, attrs: dict[str, str]) -> None:
        href = attrs.get("href")
        if href and not self._base_set:
            self._base_set = True
            self.base = urljoin(self.url, href.strip())

    def _title(self, attrs: dict[str, str]) -> None:
        if self.title is None and self._svg_depth == 0:
            self._title_parts = []

    def _finish_title(self) -> None:
        if self._title_parts is not None:
            text = _squash("".join(self._title_parts))[:_MAX_TITLE]
            self.title = text or None
            self._title_parts = None

    def _svg(self, attrs: dict[str, str]) -> None:
        self._svg_depth += 1

    def _meta(self, attrs: dict[str, str]) -> None:
        key = (attrs.get("property") or attrs.get("name") or "").strip().lower()
        content = attrs.get("content")
        if not key or content is None or self._meta_count >= _MAX_META:
            return
        self._meta_count += 1
        self.meta.setdefault(key, []).append(content.strip()[:_MAX_META_VALUE])

    def _link(self, attrs: dict[str, str]) -> None:
        href = self.absolute(attrs.get("href"))
        if href is None:
            return
        rels = set((attrs.get("rel") or "").lower().split())
        if "canonical" in rels and self.canonical is None:
            self.canonical = href
        if self.icon is None and ("icon" in rels or "apple-touch-icon" in rels):
            self.icon = href
        if "me" in rels:
            self.links.anchor(href, "")
        if len(self.link_hrefs) < _MAX_LIST:
            self.link_hrefs.append(href)

    def _script_tag(self, attrs: dict[str, str]) -> None:
        src = self.absolute(attrs.get("src"))
        if src is not None:
            if len(self.script_srcs) < _MAX_LIST:
                self.script_srcs.append(src)
            self.links.embedded(src)
        kind = attrs.get("type", "").split(";", 1)[0].strip().lower()
        self._script = (kind == "application/ld+json", [], [0])

    def _finish_script(self) -> None:
        if self._script is None:
            return
        is_json_ld, chunks, _ = self._script
        self._script = None
        text = "".join(chunks)
        if is_json_ld:
            if len(self.json_ld_texts) < _MAX_JSON_LD_BLOCKS:
                self.json_ld_texts.append(text)
            return
        text = text.strip()
        room = min(_MAX_INLINE_SCRIPT, _MAX_INLINE_TOTAL - self._inline_size)
        if text and room > 0:
            self.inline_scripts.append(text[:room])
            self._inline_size += min(len(text), room)

    def _iframe(self, attrs: dict[str, str]) -> None:
        src = self.absolute(attrs.get("src"))
        if src is not None:
            self.links.embedded(src)

    def _a(self, attrs: dict[str, str]) -> None:
        self.finish_anchor()
        href = attrs.get("href", "").strip()
        if href:
            self._anchor = (href, [])

    def finish_anchor(self) -> None:
        """Classify the link being read, if any (also called when the parse stops early)."""
        if self._anchor is None:
            return
        href, text = self._anchor
        self._anchor = None
        lowered = href[:7].lower()
        if lowered.startswith(("tel:", "mailto:")):
            self.links.contact(href)
            return
        label = _squash("".join(text))
        if not _ABSOLUTE.match(href) and not self._base_set:
            # A page-relative link (most of a big page's links) can only be a careers link.
            if _CAREERS_PATH.search(href.split("?", 1)[0]) or _CAREERS_TEXT.search(label):
                self.links.add_careers(self.absolute(href))
            return
        absolute = self.absolute(href)
        if absolute is not None:
            self.links.anchor(absolute, label)

    # -- helpers --

    def absolute(self, href: str | None) -> str | None:
        if not href:
            return None
        href = href.strip()
        if not href or href.lower().startswith(("javascript:", "data:", "#")):
            return None
        try:
            resolved = urljoin(self.base, href)
        except ValueError:
            return None
        return resolved if len(resolved) <= _MAX_URL else None

    def _add_markup(self, text: str) -> None:
        if self._markup_size < _MAX_MARKUP:
            self._markup.append(text)
            self._markup_size += len(text) + 1

    def result(self) -> PageFacts:
        self.finish_anchor()
        self._finish_title()
        blocks: list[Any] = []
        errors = 0
        for text in self.json_ld_texts:
            values = parse_json_ld(text)
            if values is None:
                errors += 1
            else:
                blocks.extend(values)
        organization = _Organizations(blocks, self.url).best()
        facts = PageFacts(
            url=self.url,
            lang=self.lang,
            title=self.title,
            description=_first(self.meta.get("description")),
            generator=_first(self.meta.get("generator")),
            canonical=self.canonical,
            icon=self.icon,
            opengraph={
                key[3:]: values[0]
                for key, values in self.meta.items()
                if key.startswith("og:") and len(key) > 3 and values[0]
            },
            twitter_site=_first(self.meta.get("twitter:site")),
            json_ld=blocks,
            json_ld_errors=errors,
            organization=organization,
            meta=self.meta,
            script_srcs=list(dict.fromkeys(self.script_srcs)),
            inline_scripts=self.inline_scripts,
            link_hrefs=list(dict.fromkeys(self.link_hrefs)),
            markup="\n".join(self._markup),
        )
        self.links.fill(facts, organization)
        return facts


_START_HANDLERS: Final = {
    "html": _Parser._html,
    "base": _Parser._base_tag,
    "title": _Parser._title,
    "svg": _Parser._svg,
    "meta": _Parser._meta,
    "link": _Parser._link,
    "script": _Parser._script_tag,
    "iframe": _Parser._iframe,
    "a": _Parser._a,
}


def _first(values: list[str] | None) -> str | None:
    if not values:
        return None
    return values[0] or None


_SPACE: Final = re.compile(r"\s+")
_ABSOLUTE: Final = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


# -- links: social profiles, contacts, careers --------------------------------------------------

_SOCIAL: Final[tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...]] = (
    (
        "linkedin",
        re.compile(r"^(?:[a-z]{2,3}\.)?linkedin\.com$"),
        re.compile(r"^/(?:company|school|showcase|in)/[^/]+"),
    ),
    (
        "twitter",
        re.compile(r"^(?:mobile\.)?(?:twitter|x)\.com$"),
        re.compile(
            r"^/(?!intent\b|share\b|home\b|search\b|hashtag\b|i/|privacy\b|tos\b)"
            r"[A-Za-z0-9_]{1,15}/?$"
        ),
    ),
    (
        "facebook",
        re.compile(r"^(?:[a-z]{1,3}\.|web\.)?(?:facebook\.com|fb\.com)$"),
        re.compile(
            r"^/(?!sharer|share\b|dialog/|plugins/|tr/?$|login|groups/|events/|policy|privacy)"
            r"[^/]+"
        ),
    ),
    (
        "instagram",
        re.compile(r"^instagram\.com$"),
        re.compile(r"^/(?!p/|reel/|reels/|explore/|accounts/|stories/)[A-Za-z0-9_.]+/?$"),
    ),
    (
        "youtube",
        re.compile(r"^(?:m\.)?youtube\.com$"),
        re.compile(r"^/(?:channel/|c/|user/|@)[^/]+"),
    ),
    ("tiktok", re.compile(r"^tiktok\.com$"), re.compile(r"^/@[^/]+")),
    (
        "github",
        re.compile(r"^github\.com$"),
        re.compile(
            r"^/(?!sponsors\b|features\b|about\b|login\b|pricing\b|orgs/?$|topics\b)"
            r"[A-Za-z0-9-]+/?"
        ),
    ),
)

_ATS_HOSTS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("Greenhouse", r"^(?:job-)?boards(?:-api)?(?:\.eu)?\.greenhouse\.io$"),
        ("Lever", r"^(?:jobs|api)(?:\.eu)?\.lever\.co$"),
        ("Ashby", r"^jobs\.ashbyhq\.com$"),
        ("Workable", r"^(?!www\.)[a-z0-9-]+\.workable\.com$"),
        ("SmartRecruiters", r"^(?:jobs|careers)\.smartrecruiters\.com$"),
        ("Workday", r"(?:^|\.)myworkday(?:jobs|site)\.com$"),
        ("iCIMS", r"^(?!www\.)[a-z0-9-]+\.icims\.com$"),
        ("Taleo", r"(?:^|\.)taleo\.net$"),
        ("Jobvite", r"^(?:jobs|careers)\.jobvite\.com$"),
        ("SAP SuccessFactors", r"(?:^|\.)successfactors\.(?:com|eu)$"),
        ("BambooHR", r"^(?!www\.)[a-z0-9-]+\.bamboohr\.com$"),
        ("Personio", r"\.jobs\.personio\.(?:de|com)$"),
        ("Recruitee", r"^(?!www\.)[a-z0-9-]+\.recruitee\.com$"),
        ("Teamtailor", r"^(?!www\.)[a-z0-9-]+\.teamtailor\.com$"),
    )
)

_CAREERS_PATH: Final = re.compile(
    r"/(?:careers?|jobs?|join-?us|join-our-team|work-with-us|working-(?:at|here)|vacancies|"
    r"open-positions|openings|karriere|stellenangebote|emplois?|empleos?|carrieres|vagas)"
    r"(?:[/.?#_-]|$)",
    re.IGNORECASE,
)
_CAREERS_HOST: Final = re.compile(r"^(?:careers?|jobs?|karriere)\.", re.IGNORECASE)
_CAREERS_TEXT: Final = re.compile(
    r"\b(?:careers?|jobs|job openings|open positions|we(?:'|\u2019)re hiring|join (?:us|our team)|"
    r"work (?:with|for) us|karriere)\b",
    re.IGNORECASE,
)
_EMAIL: Final = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_NOT_DIGIT: Final = re.compile(r"\D")


def _split(url: str) -> tuple[str, str, str]:
    """(host without "www.", host, path) of ``url``; empty strings when it has no host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "", "", ""
    return (host[4:] if host.startswith("www.") else host), host, parts.path


def _host(url: str) -> str:
    return _split(url)[0]


class _Links:
    """Classifies links as they are met; ``fill`` puts the results into the facts."""

    def __init__(self) -> None:
        self.social: dict[str, str] = {}
        self.phones: list[str] = []
        self.emails: list[str] = []
        self.careers: list[str] = []
        self.ats: dict[str, str] = {}

    def anchor(self, url: str, text: str) -> None:
        """Classify an absolute link with its text."""
        host, full_host, path = _split(url)
        if not host:
            return
        self.social_profile(host, full_host, path)
        ats = self._ats(url, host)
        if (
            ats is not None
            or _CAREERS_HOST.match(host)
            or _CAREERS_TEXT.search(text)
            or _CAREERS_PATH.search(path)
        ):
            self.add_careers(url)

    def add_careers(self, url: str | None) -> None:
        """Record a link to a careers page."""
        if url is not None and len(self.careers) < _MAX_LIST:
            self.careers.append(url)

    def embedded(self, url: str) -> None:
        """Note an ATS behind a script or iframe URL."""
        self._ats(url, _host(url))

    def _ats(self, url: str, host: str) -> str | None:
        for name, pattern in _ATS_HOSTS:
            if pattern.search(host):
                self.ats.setdefault(name, url)
                return name
        return None

    def social_profile(self, host: str, full_host: str, path: str) -> None:
        """Record a social-network profile link (not a share button or a post)."""
        for platform, host_re, path_re in _SOCIAL:
            if not host_re.match(host):
                continue
            if not path_re.match(path):
                return
            profile = f"https://{full_host}{path.rstrip('/')}"
            current = self.social.get(platform)
            # A company page beats a person's profile on LinkedIn.
            if current is None or (
                platform == "linkedin" and "/in/" in current and "/in/" not in profile
            ):
                self.social[platform] = profile
            return

    def contact(self, href: str) -> None:
        scheme, _, rest = href.partition(":")
        value = unquote(rest.split("?", 1)[0]).strip()
        if scheme.lower() == "tel":
            if len(_NOT_DIGIT.sub("", value)) >= 6 and len(self.phones) < _MAX_LIST:
                self.phones.append(_squash(value))
            return
        for address in value.split(","):
            address = address.strip().lower()
            if _EMAIL.match(address) and len(self.emails) < _MAX_LIST:
                self.emails.append(address)

    def fill(self, facts: PageFacts, organization: Organization | None) -> None:
        social = dict(self.social)
        phones = list(self.phones)
        emails = list(self.emails)
        if organization is not None:
            from_same_as = _Links()
            for url in organization.same_as:
                host, full_host, path = _split(url)
                if host:
                    from_same_as.social_profile(host, full_host, path)
            social = {**social, **from_same_as.social}
            phones = organization.telephones + phones
            emails = [e.lower() for e in organization.emails] + emails
        facts.social_profiles = dict(sorted(social.items()))
        facts.phones = _dedupe(phones, key=lambda p: _NOT_DIGIT.sub("", p.replace("+", "00")))
        facts.emails = _dedupe(emails, key=str.lower)
        facts.careers_urls = list(dict.fromkeys(self.careers))
        facts.ats = self.ats


def _dedupe(items: list[str], *, key: Any) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        k = key(item)
        if k and k not in seen:
            seen.add(k)
            out.append(item)
    return out


# -- JSON-LD ------------------------------------------------------------------------------------

_CDATA_OPEN: Final = re.compile(r"^\s*(?://\s*)?<!\[CDATA\[")
_CDATA_CLOSE: Final = re.compile(r"(?://\s*)?\]\]>\s*$")
_HTML_COMMENT: Final = re.compile(r"<!--|-->")
_TRAILING_COMMA: Final = re.compile(r",(\s*[}\]])")
_BAD_ESCAPE: Final = re.compile(r"\\(?![\"\\/bfnrtu])")
_DECODER: Final = json.JSONDecoder(strict=False)


def parse_json_ld(text: str) -> list[Any] | None:
    """The JSON values in one ``<script type="application/ld+json">`` body, or ``None``.

    Strict JSON first; then leniently: HTML comment markers and CDATA wrappers removed, trailing
    commas dropped, invalid backslash escapes kept literally. Several values in one block (one
    after the other, or separated by commas or semicolons) are all returned.
    """
    text = _CDATA_CLOSE.sub("", _CDATA_OPEN.sub("", text)).strip()
    if not text:
        return None
    values = _decode_all(text)
    if values is None:
        repaired = _HTML_COMMENT.sub("", text)
        repaired = _TRAILING_COMMA.sub(r"\1", repaired)
        repaired = _BAD_ESCAPE.sub(r"\\\\", repaired)
        values = _decode_all(repaired)
    return values


def _decode_all(text: str) -> list[Any] | None:
    values: list[Any] = []
    index = 0
    end = len(text)
    while index < end:
        while index < end and text[index] in " \t\r\n,;":
            index += 1
        if index >= end:
            break
        try:
            value, index = _DECODER.raw_decode(text, index)
        except (ValueError, RecursionError):
            return None
        values.append(value)
    return values or None


def _type_name(value: str) -> str:
    # "http://schema.org/Organization" and "schema:Organization" are "Organization".
    return value.rsplit("/", 1)[-1].rsplit(":", 1)[-1].rsplit("#", 1)[-1]


#: schema.org Organization and the subtypes (direct and common indirect) a company site uses.
ORGANIZATION_TYPES: Final = frozenset(
    {
        "Organization",
        "Airline",
        "Consortium",
        "Corporation",
        "EducationalOrganization",
        "CollegeOrUniversity",
        "FundingScheme",
        "GovernmentOrganization",
        "LibrarySystem",
        "LocalBusiness",
        "MedicalOrganization",
        "NGO",
        "NewsMediaOrganization",
        "OnlineBusiness",
        "OnlineStore",
        "PerformingGroup",
        "PoliticalParty",
        "Project",
        "ResearchOrganization",
        "SearchRescueOrganization",
        "SportsOrganization",
        "SportsTeam",
        "WorkersUnion",
        "Store",
        "AutomotiveBusiness",
        "FinancialService",
        "BankOrCreditUnion",
        "InsuranceAgency",
        "FoodEstablishment",
        "Restaurant",
        "HealthAndBeautyBusiness",
        "HomeAndConstructionBusiness",
        "LegalService",
        "LodgingBusiness",
        "Hotel",
        "MedicalBusiness",
        "ProfessionalService",
        "RealEstateAgent",
        "TravelAgency",
        "EntertainmentBusiness",
        "EmploymentAgency",
        "InternetCafe",
        "Library",
        "RadioStation",
        "TelevisionStation",
        "ShoppingCenter",
    }
)
# Store subtypes (ClothingStore, ElectronicsStore...) and other "...Business" types.
_ORG_SUFFIXES: Final = ("Store", "Business", "Organization")


def _types(node: dict[str, Any]) -> list[str]:
    raw = node.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    return [_type_name(v) for v in values if isinstance(v, str) and v]


def _is_organization(node: dict[str, Any]) -> bool:
    return any(t in ORGANIZATION_TYPES or t.endswith(_ORG_SUFFIXES) for t in _types(node))


class _Organizations:
    """Finds the Organization nodes of every JSON-LD block and picks this site's."""

    def __init__(self, blocks: list[Any], page_url: str) -> None:
        self.page_url = page_url
        self.page_host = _host(page_url)
        self.by_id: dict[str, dict[str, Any]] = {}
        # (node, is top level) in document order.
        self.nodes: list[tuple[dict[str, Any], bool]] = []
        for block in blocks:
            for node, top in _walk(block):
                self.nodes.append((node, top))
                node_id = node.get("@id")
                if isinstance(node_id, str) and len(node) > 1:
                    # Split definitions of one @id are merged, the first value of a key wins.
                    self.by_id[node_id] = {**node, **self.by_id.get(node_id, {})}

    def resolve(self, value: Any) -> Any:
        """``value``, or the node it refers to when it is an ``{"@id": ...}`` reference."""
        if isinstance(value, dict) and isinstance(value.get("@id"), str):
            target = self.by_id.get(value["@id"])
            if target is not None and len(value) <= 2:
                return target
        return value

    def best(self) -> Organization | None:
        publishers = self._publisher_ids()
        best: tuple[int, int, dict[str, Any]] | None = None
        for order, (raw, top) in enumerate(self.nodes):
            node_id = raw.get("@id")
            # Every definition of the node's @id, merged; a bare reference becomes its target.
            node = self.by_id.get(node_id, raw) if isinstance(node_id, str) else raw
            if not isinstance(node, dict) or not _is_organization(node):
                continue
            score = 2 * top + bool(_text(node.get("name")))
            if node.get("@id") in publishers:
                score += 3
            url = _text(self.resolve(node.get("url")))
            if url and self.page_host and _host(urljoin(self.page_url, url)) == self.page_host:
                score += 4
            if best is None or score > best[0] or (score == best[0] and order < best[1]):
                best = (score, order, node)
        return None if best is None else self._organization(best[2])

    def _publisher_ids(self) -> set[str]:
        ids: set[str] = set()
        for node, _ in self.nodes:
            if "WebSite" in _types(node) or "WebPage" in _types(node):
                for key in ("publisher", "about", "copyrightHolder"):
                    ref = node.get(key)
                    if isinstance(ref, dict) and isinstance(ref.get("@id"), str):
                        ids.add(ref["@id"])
        return ids

    def _organization(self, node: dict[str, Any]) -> Organization:
        r = self.resolve
        founding = _text(r(node.get("foundingDate")))
        points = [
            point
            for value in _as_list(r(node.get("contactPoint")))
            if (point := self._contact_point(r(value))) is not None
        ]
        telephones = _texts(r(node.get("telephone"))) + [p.telephone for p in points if p.telephone]
        emails = [_strip_mailto(e) for e in _texts(r(node.get("email")))]
        emails += [p.email for p in points if p.email]
        address = r(node.get("address"))
        if address is None:
            location = r(_first_of(r(node.get("location"))))
            if isinstance(location, dict):
                address = r(location.get("address"))
        return Organization(
            types=_types(node),
            name=_text(r(node.get("name"))),
            legal_name=_text(r(node.get("legalName"))),
            alternate_names=_texts(r(node.get("alternateName"))),
            url=self._url(node.get("url")),
            logo=self._logo(node.get("logo")),
            description=_text(r(node.get("description"))),
            founding_date=founding,
            founding_year=_year(founding),
            founders=_texts(
                [r(f) for f in _as_list(r(node.get("founder") or node.get("founders")))]
            ),
            address=self._address(address),
            employees=_employees(r(node.get("numberOfEmployees"))),
            same_as=self._urls(node.get("sameAs")),
            telephones=list(dict.fromkeys(telephones)),
            emails=list(dict.fromkeys(e for e in emails if e)),
            contact_points=points,
            ticker_symbol=_text(r(node.get("tickerSymbol"))),
            industry=_text(r(node.get("industry"))),
            naics=_text(r(node.get("naics"))),
            parent_organization=_text(r(node.get("parentOrganization"))),
            identifiers={
                key: value
                for key in ("duns", "leiCode", "vatID", "taxID", "isicV4")
                if (value := _text(r(node.get(key)))) is not None
            },
        )

    def _url(self, value: Any) -> str | None:
        text = _text(self.resolve(value))
        return urljoin(self.page_url, text) if text else None

    def _urls(self, value: Any) -> list[str]:
        urls = [self._url(v) for v in _as_list(self.resolve(value))]
        return list(dict.fromkeys(u for u in urls if u))

    def _logo(self, value: Any) -> str | None:
        logo = self.resolve(_first_of(self.resolve(value)))
        if isinstance(logo, dict):
            logo = logo.get("url") or logo.get("contentUrl")
        return self._url(logo)

    def _contact_point(self, value: Any) -> ContactPoint | None:
        if not isinstance(value, dict):
            return None
        point = ContactPoint(
            contact_type=_text(value.get("contactType")),
            telephone=_text(value.get("telephone")),
            email=_strip_mailto(_text(value.get("email"))),
        )
        return point if point.telephone or point.email else None

    def _address(self, value: Any) -> Address | None:
        value = self.resolve(_first_of(value))
        if isinstance(value, str):
            text = _squash(value)
            return Address(text=text) if text else None
        if not isinstance(value, dict):
            return None
        address = Address(
            street=_join(_texts(value.get("streetAddress"))),
            city=_text(self.resolve(value.get("addressLocality"))),
            region=_text(self.resolve(value.get("addressRegion"))),
            postal_code=_text(value.get("postalCode")),
            country=_text(self.resolve(value.get("addressCountry"))),
        )
        return address if address != Address() else None


def _walk(value: Any) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every dict node under ``value`` with whether it is top level (a block's or @graph's)."""
    count = 0
    stack: list[tuple[Any, int, bool]] = [(value, 0, True)]
    while stack and count < _MAX_NODES:
        item, depth, top = stack.pop()
        if depth > _MAX_DEPTH:
            continue
        if isinstance(item, list):
            stack.extend((v, depth + 1, top) for v in reversed(item))
        elif isinstance(item, dict):
            count += 1
            graph = item.get("@graph")
            if graph is not None:
                stack.append((graph, depth + 1, True))
            if len(item) > 1 or "@graph" not in item:
                yield item, top
            stack.extend(
                (v, depth + 1, False)
                for k, v in reversed(item.items())
                if k != "@graph" and isinstance(v, dict | list)
            )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _first_of(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _text(value: Any) -> str | None:
    """A display string from a JSON-LD value: a string, a number, or a node's name."""
    value = _first_of(value)
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or value.get("url")
        value = _first_of(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        text = _squash(value)
        return text or None
    return None


def _texts(value: Any) -> list[str]:
    texts = [_text(v) for v in _as_list(value)]
    return list(dict.fromkeys(t for t in texts if t))


def _join(parts: list[str]) -> str | None:
    return ", ".join(parts) or None


def _strip_mailto(value: str | None) -> str | None:
    if value is None:
        return None
    if value.lower().startswith("mailto:"):
        value = value[7:]
    value = value.split("?", 1)[0].strip()
    return value or None


_YEAR: Final = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")


def _year(value: str | None) -> int | None:
    if not value:
        return None
    match = _YEAR.search(value)
    return int(match.group(1)) if match else None


_RANGE: Final = re.compile(r"^(\d+)\s*(?:-|\u2013|\u2014|to)\s*(\d+)$", re.IGNORECASE)
_AT_LEAST: Final = re.compile(r"^(?:over|more than|>=?|\u2265)?\s*(\d+)\s*(\+)?$", re.IGNORECASE)
_THOUSANDS: Final = re.compile(r"(?<=\d)[,.\u00a0\u202f ](?=\d{3}(?!\d))")
_MAX_EMPLOYEES: Final = 10_000_000


def _employees(value: Any) -> int | EmployeeRange | None:
    """``numberOfEmployees``: a QuantitativeValue, a number or a string like "201-500"."""
    value = _first_of(value)
    if isinstance(value, dict):
        if value.get("value") is not None:
            return _employees(value["value"])
        low = _count(value.get("minValue"))
        high = _count(value.get("maxValue"))
        if low is not None and low == high:
            return low
        return EmployeeRange(min=low, max=high) if low is not None or high is not None else None
    if isinstance(value, str):
        text = _THOUSANDS.sub("", value.strip())
        if match := _RANGE.match(text):
            low, high = int(match.group(1)), int(match.group(2))
            return EmployeeRange(min=low, max=high) if _plausible(low) and low <= high else None
        if match := _AT_LEAST.match(text):
            number = int(match.group(1))
            if not _plausible(number):
                return None
            open_ended = bool(match.group(2)) or not text[0].isdigit()
            return EmployeeRange(min=number, max=None) if open_ended else number
        return None
    return _count(value)


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        parsed = _employees(value)
        return parsed if isinstance(parsed, int) else None
    if isinstance(value, int | float) and _plausible(int(value)):
        return int(value)
    return None


def _plausible(number: int) -> bool:
    return 0 < number < _MAX_EMPLOYEES
