"""The company homepage: HTML whose fingerprints, JSON-LD and OpenGraph agree with the APIs.

Every live technology BuiltWith reports for the domain leaves its real-world signature here
(script hosts, meta generator, response headers, cookies); the schema.org Organization and
OpenGraph tags give the same name, phone, address, founding year, employee count and social
profiles as BuiltWith Meta and Yahoo's assetProfile.
"""

from __future__ import annotations

import html
import json
from typing import Any

from ._catalog import TECHS
from ._http import HttpResponse
from ._jobs import careers_snippet, careers_url, job, listed
from ._model import Profile
from ._profile import profile_for
from ._util import hex_id, month_of, split_host

_TAGLINES = {
    "Retail": "Shop Online & In Store",
    "E-commerce": "Shop the Latest Collection",
    "Marketplace": "Buy & Sell Online",
    "Media": "Watch, Listen & Read",
    "Publishing": "News, Analysis & Opinion",
    "Software": "Official Site",
    "Finance": "Banking & Financial Services",
    "Healthcare": "Care You Can Trust",
    "Travel": "Book Flights, Hotels & Vacations",
    "Manufacturing": "Products & Solutions",
}
_HEAD_TAGS = ("analytics",)


def _page(status: int, body: str, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    return HttpResponse(
        status=status,
        headers=[("content-type", "text/html; charset=utf-8"), *(headers or [])],
        body=body.encode(),
    )


def _not_found(path: str) -> HttpResponse:
    return _page(
        404,
        '<!DOCTYPE html><html><head><meta name="enrichd-sandbox" '
        'content="simulated"><title>404 Not Found</title></head><body><h1>Not Found'
        f"</h1><p>{html.escape(path)} was not found on this server.</p></body></html>",
    )


def handle(path: str, base_url: str, now: float) -> HttpResponse:
    """Answer ``/homepage/{host}/[...]``."""
    host, _, rest = path.removeprefix("/homepage/").partition("/")
    parts = split_host(host)
    profile = profile_for(host) if parts is not None else None
    if parts is None or profile is None:
        return _not_found(path)
    rest = rest.strip("/")
    if rest == "" and parts[0] == parts[1] and profile.redirect_www:
        location = f"{base_url.rstrip('/')}/homepage/www.{parts[1]}/"
        return _page(
            301,
            f'<html><head><meta name="enrichd-sandbox" content="simulated"></head><body>'
            f'Moved to <a href="{location}">{location}</a></body></html>',
            [("location", location)],
        )
    if rest == "":
        return _homepage(profile, now)
    if rest in ("careers", "jobs"):
        return _careers(profile, now)
    return _not_found(path)


def _values(p: Profile, tech: str) -> dict[str, str]:
    h = hex_id(40, "fp", p.domain, tech)
    return {
        "domain": p.domain,
        "label": p.label,
        "Label": p.label.replace("-", "").capitalize(),
        "num": str(1_000_000 + int(h[:8], 16) % 9_000_000),
        "hex": h[:16],
        "ver": str(1_700_000_000 + int(h[8:14], 16) % 90_000_000),
        "HEX6": h[:6].upper(),
        "HEX10": h[:10].upper(),
        "HEX16": h[:16].upper(),
    }


def _fingerprints(p: Profile) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """``(head markup, body markup, response headers)`` for the live technologies."""
    head: list[str] = []
    body: list[str] = []
    headers: dict[str, str] = {}
    cookies: list[tuple[str, str]] = []
    for name in p.tech_names():
        tech = TECHS[name]
        values = _values(p, name)
        target = head if tech.tag in _HEAD_TAGS else body
        for kind, template in tech.fingerprints:
            text = template.format(**values)
            if kind in ("header", "cookie", "meta"):
                key, _, value = text.partition("=")
                if kind == "header":
                    headers.setdefault(key.lower(), value)
                elif kind == "cookie":
                    cookies.append(("set-cookie", f"{key}={value}; Path=/; HttpOnly; SameSite=Lax"))
                else:
                    head.append(f'<meta name="{key}" content="{html.escape(value)}">')
            elif kind == "script":
                target.append(f'<script src="{html.escape(text)}" async></script>')
            elif kind == "css":
                head.append(f'<link rel="stylesheet" href="{html.escape(text)}">')
            elif kind == "preconnect":
                head.append(f'<link rel="preconnect" href="{html.escape(text)}" crossorigin>')
            elif kind == "inline":
                target.append(f"<script>{text}</script>")
            else:
                body.append(text + ("</div>" if text.startswith("<div") else ""))
    return head, body, [*headers.items(), *cookies]


def _json_ld(p: Profile) -> list[dict[str, Any]]:
    site = f"https://www.{p.domain}/"
    org: dict[str, Any] = {
        "@type": "Corporation" if p.public else "Organization",
        "@id": f"{site}#organization",
        "name": p.name,
        "legalName": p.legal_name,
        "url": site,
        "logo": {"@type": "ImageObject", "url": f"{site}static/images/logo.png"},
        "description": f"{p.name} {p.summary}.",
        "foundingDate": str(p.founded),
        "numberOfEmployees": {"@type": "QuantitativeValue", "value": p.employees},
        "address": {
            "@type": "PostalAddress",
            "streetAddress": p.street,
            "addressLocality": p.city,
            "addressRegion": p.state,
            "postalCode": p.postcode,
            "addressCountry": p.country,
        },
        "telephone": p.phone,
        "email": p.emails[0],
        "sameAs": list(p.social),
        "contactPoint": {
            "@type": "ContactPoint",
            "telephone": p.phone,
            "contactType": "customer service",
            "email": p.emails[0],
        },
    }
    if p.public:
        org["tickerSymbol"] = f"{p.exch_disp}:{p.ticker}"
    website = {
        "@type": "WebSite",
        "@id": f"{site}#website",
        "url": site,
        "name": p.name,
        "publisher": {"@id": f"{site}#organization"},
        "potentialAction": {
            "@type": "SearchAction",
            "target": f"{site}search?q={{search_term_string}}",
            "query-input": "required name=search_term_string",
        },
    }
    if p.jsonld_graph:
        return [{"@context": "https://schema.org", "@graph": [org, website]}]
    return [
        {"@context": "https://schema.org", **org},
        {"@context": "https://schema.org", **website},
    ]


def _script_json(data: dict[str, Any]) -> str:
    text = json.dumps(data, indent=2, ensure_ascii=False).replace("</", "<\\/")
    return f'<script type="application/ld+json">\n{text}\n</script>'


def _head(p: Profile, title: str, description: str, extra: list[str]) -> str:
    site = f"https://www.{p.domain}/"
    handle = next((s.rsplit("/", 1)[-1] for s in p.social if "x.com" in s), p.label)
    e = html.escape
    tags = [
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="enrichd-sandbox" content="simulated">',
        f"<title>{e(title)}</title>",
        f'<meta name="description" content="{e(description)}">',
        f'<link rel="canonical" href="{site}">',
        f'<link rel="icon" href="{site}favicon.ico">',
        f'<meta property="og:site_name" content="{e(p.name)}">',
        f'<meta property="og:title" content="{e(title)}">',
        '<meta property="og:type" content="website">',
        f'<meta property="og:url" content="{site}">',
        f'<meta property="og:image" content="{site}static/images/og-image.jpg">',
        f'<meta property="og:description" content="{e(description)}">',
        '<meta property="og:locale" content="en_US">',
        '<meta name="twitter:card" content="summary_large_image">',
        f'<meta name="twitter:site" content="@{e(handle)}">',
    ]
    return "<head>\n" + "\n".join([*tags, *extra]) + "\n</head>"


def _homepage(p: Profile, now: float) -> HttpResponse:
    head_fp, body_fp, headers = _fingerprints(p)
    e = html.escape
    tagline = _TAGLINES.get(p.vertical, "Official Site")
    description = (
        f"{p.name} {p.summary}. Founded in {p.founded} and headquartered in {p.city}, {p.state}."
    )
    ld = [_script_json(block) for block in _json_ld(p)]
    social = "\n".join(
        f'<li><a href="{e(url)}" rel="noopener">{e(url.split("/")[2])}</a></li>' for url in p.social
    )
    phone_href = "".join(c for c in p.phone if c.isdigit() or c == "+")
    year = month_of(now)[0]
    body = f"""<body>
<header class="site-header">
<a class="logo" href="/">{e(p.name)}</a>
<nav><a href="/products">Products</a> <a href="/about">About Us</a> <a href="careers/">Careers</a>
<a href="/contact">Contact</a></nav>
<form role="search" action="/search" method="get"><input type="search" name="q"
 placeholder="Search {e(p.name)}" aria-label="Search"><button type="submit">Search</button></form>
</header>
<main>
<section class="hero"><h1>{e(p.name)}: {e(tagline)}</h1>
<p>{e(description)}</p></section>
<section class="about"><h2>About {e(p.name)}</h2>
<p>{e(p.legal_name)} {e(p.summary)}. Our {p.employees:,} employees serve customers from
{e(p.city)}, {e(p.state)} and around the world.</p>
<p><a href="careers/">Careers at {e(p.name)}</a> &middot;
<a href="{e(careers_url(p))}">See open positions</a></p></section>
{chr(10).join(body_fp)}
</main>
<footer>
<address>{e(p.legal_name)}, {e(p.street)}, {e(p.city)}, {e(p.state)} {e(p.postcode)},
{e(p.country_name)}</address>
<p><a href="tel:{phone_href}">{e(p.phone)}</a> &middot;
<a href="mailto:{e(p.emails[0])}">{e(p.emails[0])}</a></p>
<ul class="social">
{social}
</ul>
<p>&copy; {year} {e(p.legal_name)}. All rights reserved.</p>
</footer>
</body>"""
    page = (
        f'<!DOCTYPE html>\n<html lang="en">\n'
        f"{_head(p, f'{p.name} | {tagline}', description, [*head_fp, *ld])}\n{body}\n</html>\n"
    )
    base = [
        ("cache-control", "max-age=0, private, must-revalidate"),
        ("x-frame-options", "SAMEORIGIN"),
        ("strict-transport-security", "max-age=31536000; includeSubDomains"),
    ]
    return _page(200, page, [*base, *headers])


def _careers(p: Profile, now: float) -> HttpResponse:
    e = html.escape
    postings = [job(p, i, now) for i in range(min(listed(p), 25))]
    items = "\n".join(
        f'<li><a href="{e(j.url)}">{e(j.role)}</a> <span>{e(j.location)}</span></li>'
        for j in postings
    )
    title = f"Careers at {p.name}"
    body = (
        f'<body><h1>{e(title)}</h1><p class="open-positions">{e(careers_snippet(p))}</p>'
        f'<p><a href="{e(careers_url(p))}">All jobs</a></p><ul class="jobs">\n{items}\n</ul>'
        "</body>"
    )
    return _page(
        200,
        f'<!DOCTYPE html>\n<html lang="en">\n{_head(p, title, careers_snippet(p), [])}'
        f"\n{body}\n</html>\n",
    )
