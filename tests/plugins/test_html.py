"""Company facts and fingerprinting inputs from homepage HTML (``extract_facts``)."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest

from enrichd.plugins.builtin._html import (
    Address,
    ContactPoint,
    EmployeeRange,
    Organization,
    PageFacts,
    extract_facts,
    parse_json_ld,
)

URL = "https://www.acme.example/"


def ld(*values: Any) -> str:
    """JSON-LD script tags, one per value (a string is used verbatim)."""
    return "".join(
        '<script type="application/ld+json">'
        + (value if isinstance(value, str) else json.dumps(value))
        + "</script>"
        for value in values
    )


def org_of(*values: Any, url: str = URL) -> Organization:
    organization = extract_facts(ld(*values), url).organization
    assert organization is not None
    return organization


# -- head: title, meta, OpenGraph ----------------------------------------------------------------

HEAD = """<!DOCTYPE html>
<html lang="en-US"><head>
<meta charset="utf-8">
<title>
  Acme   Corp &amp; Sons | Home
</title>
<meta name="description" content=" Anvils since 1949. ">
<meta name="generator" content="WordPress 6.6.2">
<meta name="generator" content="WooCommerce 9.1.0">
<meta property="og:site_name" content="Acme">
<meta property="og:title" content="Acme Corp">
<meta property="og:description" content="The anvil people">
<meta property="og:image" content="https://www.acme.example/og.png">
<meta property="og:url" content="https://www.acme.example/">
<meta property="og:locale" content="en_US">
<meta name="twitter:site" content="@acme">
<meta name="enrichd-sandbox" content="simulated">
<link rel="canonical" href="/">
<link rel="shortcut icon" href="/favicon.ico">
<link rel="stylesheet" href="/wp-content/themes/acme/style.css?ver=6.6.2">
</head><body><svg><title>Icon title</title></svg></body></html>"""


def test_head_facts() -> None:
    facts = extract_facts(HEAD, URL)
    assert facts.url == URL
    assert facts.lang == "en-US"
    assert facts.title == "Acme Corp & Sons | Home"
    assert facts.description == "Anvils since 1949."
    assert facts.generator == "WordPress 6.6.2"
    assert facts.meta["generator"] == ["WordPress 6.6.2", "WooCommerce 9.1.0"]
    assert facts.meta["enrichd-sandbox"] == ["simulated"]
    assert facts.canonical == URL
    assert facts.icon == "https://www.acme.example/favicon.ico"
    assert facts.opengraph == {
        "site_name": "Acme",
        "title": "Acme Corp",
        "description": "The anvil people",
        "image": "https://www.acme.example/og.png",
        "url": "https://www.acme.example/",
        "locale": "en_US",
    }
    assert facts.twitter_site == "@acme"
    assert facts.organization is None
    assert "https://www.acme.example/wp-content/themes/acme/style.css?ver=6.6.2" in (
        facts.link_hrefs
    )


def test_svg_title_is_not_the_page_title() -> None:
    facts = extract_facts("<body><svg><title>Logo</title></svg><title>Real</title>", URL)
    assert facts.title == "Real"


def test_empty_page() -> None:
    facts = extract_facts("", URL)
    assert facts == PageFacts(url=URL)


def test_base_href_resolves_relative_urls() -> None:
    page = (
        '<base href="https://cdn.acme.example/site/">'
        '<script src="js/app.js"></script><a href="careers/">Work</a>'
    )
    facts = extract_facts(page, URL)
    assert facts.script_srcs == ["https://cdn.acme.example/site/js/app.js"]
    assert facts.careers_urls == ["https://cdn.acme.example/site/careers/"]


# -- scripts and markup --------------------------------------------------------------------------


def test_scripts_are_collected() -> None:
    page = (
        '<script src="//cdn.shopify.com/s/theme.js"></script>'
        '<script src="/app.js"></script><script src="/app.js"></script>'
        "<script>Shopify.shop = 'acme.myshopify.com';</script>"
        '<script type="text/x-magento-init">{"*": {"Magento_Ui/js/core/app": {}}}</script>'
        + ld({"@type": "Organization", "name": "Acme"})
        + "<script>   </script><!-- Start of HubSpot Embed Code -->"
    )
    facts = extract_facts(page, URL)
    assert facts.script_srcs == [
        "https://cdn.shopify.com/s/theme.js",
        "https://www.acme.example/app.js",
    ]
    assert facts.inline_scripts == [
        "Shopify.shop = 'acme.myshopify.com';",
        '{"*": {"Magento_Ui/js/core/app": {}}}',
    ]
    assert "<!-- Start of HubSpot Embed Code -->" in facts.markup
    assert '<script type="text/x-magento-init">' in facts.markup
    assert "Shopify.shop" not in facts.markup  # script bodies are not markup


def test_inline_scripts_are_capped() -> None:
    big = "x" * 100_000
    facts = extract_facts(f"<script>{big}</script>" * 30, URL)
    assert all(len(s) <= 32 * 1024 for s in facts.inline_scripts)
    assert sum(map(len, facts.inline_scripts)) <= 512 * 1024


# -- links: social, contacts, careers, ATS -------------------------------------------------------

LINKS = """<body>
<a href="https://www.linkedin.com/in/jane-doe">Jane</a>
<a href="https://www.linkedin.com/company/acme/?trk=footer">LinkedIn</a>
<a href="https://twitter.com/intent/tweet?text=hi">Tweet this</a>
<a href="https://x.com/AcmeCorp">X</a>
<a href="https://www.facebook.com/sharer/sharer.php?u=x">Share</a>
<a href="https://www.facebook.com/acmecorp/">Facebook</a>
<a href="https://www.instagram.com/p/Cx123/">A post</a>
<a href="https://www.instagram.com/acme/">Instagram</a>
<a href="https://www.youtube.com/watch?v=abc">A video</a>
<a href="https://www.youtube.com/@acme">YouTube</a>
<a href="https://www.tiktok.com/@acme">TikTok</a>
<a href="https://github.com/acme-corp/website">GitHub</a>
<a href="tel:+1%20(555)%20010-0100">Call us</a>
<a href="tel:123">Too short</a>
<a href="TEL:+1-555-010-0100">Same number</a>
<a href="mailto:Sales@Acme.example,press@acme.example?subject=Hi">Mail</a>
<a href="mailto:not-an-address">Broken</a>
<a href="/about/careers/">Careers</a>
<a href="/team">Join our team</a>
<a href="https://careers.acme.example/">Work here</a>
<a href="/jobs-board?x=1">Board</a>
<a href="/products/jobsite-boots">Boots</a>
<a href="https://boards.greenhouse.io/acme">Open roles</a>
<a href="https://jobs.lever.co/acme">Lever</a>
<a href="https://jobs.ashbyhq.com/acme">Ashby</a>
<a href="https://apply.workable.com/acme/">Workable</a>
<a href="https://www.workable.com/">The Workable product</a>
<a href="https://jobs.smartrecruiters.com/Acme">SmartRecruiters</a>
<a href="https://acme.wd5.myworkdayjobs.com/External">Workday</a>
<a href="javascript:void(0)">Nothing</a>
<a href="#top">Top</a>
</body>"""


def test_links() -> None:
    facts = extract_facts(LINKS, URL)
    assert facts.social_profiles == {
        "facebook": "https://www.facebook.com/acmecorp",
        "github": "https://github.com/acme-corp/website",
        "instagram": "https://www.instagram.com/acme",
        "linkedin": "https://www.linkedin.com/company/acme",
        "tiktok": "https://www.tiktok.com/@acme",
        "twitter": "https://x.com/AcmeCorp",
        "youtube": "https://www.youtube.com/@acme",
    }
    assert facts.phones == ["+1 (555) 010-0100"]
    assert facts.emails == ["sales@acme.example", "press@acme.example"]
    assert facts.careers_urls == [
        "https://www.acme.example/about/careers/",
        "https://www.acme.example/team",
        "https://careers.acme.example/",
        "https://www.acme.example/jobs-board?x=1",
        "https://boards.greenhouse.io/acme",
        "https://jobs.lever.co/acme",
        "https://jobs.ashbyhq.com/acme",
        "https://apply.workable.com/acme/",
        "https://jobs.smartrecruiters.com/Acme",
        "https://acme.wd5.myworkdayjobs.com/External",
    ]
    assert facts.ats == {
        "Greenhouse": "https://boards.greenhouse.io/acme",
        "Lever": "https://jobs.lever.co/acme",
        "Ashby": "https://jobs.ashbyhq.com/acme",
        "Workable": "https://apply.workable.com/acme/",
        "SmartRecruiters": "https://jobs.smartrecruiters.com/Acme",
        "Workday": "https://acme.wd5.myworkdayjobs.com/External",
    }


def test_ats_from_embedded_scripts_and_iframes() -> None:
    page = (
        '<script src="https://boards.greenhouse.io/embed/job_board/js?for=acme"></script>'
        '<iframe src="https://jobs.lever.co/acme?embed=1"></iframe>'
    )
    facts = extract_facts(page, URL)
    assert set(facts.ats) == {"Greenhouse", "Lever"}
    assert facts.careers_urls == []  # embeds are not links to follow


def test_same_as_profiles_come_first() -> None:
    page = (
        ld(
            {
                "@type": "Organization",
                "name": "Acme",
                "url": URL,
                "sameAs": ["https://x.com/acme_official", "https://www.crunchbase.com/x"],
            }
        )
        + '<a href="https://twitter.com/acme_footer">t</a><link rel="me" href="https://github.com/acme">'
    )
    facts = extract_facts(page, URL)
    assert facts.social_profiles == {
        "github": "https://github.com/acme",
        "twitter": "https://x.com/acme_official",
    }


# -- JSON-LD: decoding ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', [{"a": 1}]),
        ('[{"a": 1}, {"b": 2}]', [[{"a": 1}, {"b": 2}]]),
        ('{"a": [1, 2,], "b": {"c": 3,},}', [{"a": [1, 2], "b": {"c": 3}}]),
        ('<!-- {"a": 1} -->', [{"a": 1}]),
        ('//<![CDATA[\n{"a": 1}\n//]]>', [{"a": 1}]),
        ('<![CDATA[{"a": 1}]]>', [{"a": 1}]),
        ('{"a": 1}\n{"b": 2}', [{"a": 1}, {"b": 2}]),
        ('{"a": 1};{"b": 2};', [{"a": 1}, {"b": 2}]),
        ('{"a": "line\nbreak"}', [{"a": "line\nbreak"}]),
        ('{"a": "it\\\'s"}', [{"a": "it\\'s"}]),
        ("", None),
        ("   ", None),
        ("{not json", None),
        ('{"a": 1} trailing garbage', None),
    ],
)
def test_parse_json_ld(text: str, expected: list[Any] | None) -> None:
    assert parse_json_ld(text) == expected


def test_json_ld_blocks_and_errors_are_reported() -> None:
    facts = extract_facts(ld({"@type": "WebSite"}, "{broken", [{"@type": "Thing"}]), URL)
    assert facts.json_ld == [{"@type": "WebSite"}, [{"@type": "Thing"}]]
    assert facts.json_ld_errors == 1


# -- JSON-LD: the Organization -------------------------------------------------------------------

GRAPH = {
    "@context": "https://schema.org",
    "@graph": [
        {
            "@type": "WebSite",
            "@id": "https://www.acme.example/#website",
            "url": URL,
            "publisher": {"@id": "https://www.acme.example/#organization"},
        },
        {
            "@type": ["Organization", "Corporation"],
            "@id": "https://www.acme.example/#organization",
            "name": " Acme  Corp ",
            "legalName": "Acme Corporation Inc.",
            "alternateName": ["Acme", "ACME Co"],
            "url": "/",
            "logo": {"@id": "https://www.acme.example/#logo"},
            "description": "We make anvils.",
            "foundingDate": "1949-03-01",
            "founder": [{"@type": "Person", "name": "Wile E. Coyote"}, "Road Runner"],
            "numberOfEmployees": {"@type": "QuantitativeValue", "minValue": 201, "maxValue": 500},
            "address": {"@id": "https://www.acme.example/#address"},
            "sameAs": "https://www.linkedin.com/company/acme",
            "telephone": ["+1-555-0100", "+1-555-0100"],
            "email": "mailto:info@acme.example",
            "contactPoint": [
                {"@type": "ContactPoint", "telephone": "+1-555-0199", "contactType": "sales"},
                {
                    "@type": "ContactPoint",
                    "email": "support@acme.example",
                    "contactType": "customer support",
                },
                {"@type": "ContactPoint", "contactType": "nothing useful"},
            ],
            "tickerSymbol": "NASDAQ: ACME",
            "naics": "332999",
            "industry": {"@type": "DefinedTerm", "name": "Manufacturing"},
            "parentOrganization": {"@type": "Organization", "name": "Acme Holdings"},
            "duns": "123456789",
            "leiCode": "5493001KJTIIGC8Y1R12",
        },
        {
            "@type": "ImageObject",
            "@id": "https://www.acme.example/#logo",
            "contentUrl": "/img/logo.png",
        },
        {
            "@type": "PostalAddress",
            "@id": "https://www.acme.example/#address",
            "streetAddress": ["1 Main St", "Suite 5"],
            "addressLocality": "Springfield",
            "addressRegion": "IL",
            "postalCode": "62701",
            "addressCountry": {"@type": "Country", "name": "US"},
        },
    ],
}


def test_organization_from_a_graph_with_references() -> None:
    org = org_of(GRAPH)
    assert org == Organization(
        types=["Organization", "Corporation"],
        name="Acme Corp",
        legal_name="Acme Corporation Inc.",
        alternate_names=["Acme", "ACME Co"],
        url=URL,
        logo="https://www.acme.example/img/logo.png",
        description="We make anvils.",
        founding_date="1949-03-01",
        founding_year=1949,
        founders=["Wile E. Coyote", "Road Runner"],
        address=Address(
            street="1 Main St, Suite 5",
            city="Springfield",
            region="IL",
            postal_code="62701",
            country="US",
        ),
        employees=EmployeeRange(min=201, max=500),
        same_as=["https://www.linkedin.com/company/acme"],
        telephones=["+1-555-0100", "+1-555-0199"],
        emails=["info@acme.example", "support@acme.example"],
        contact_points=[
            ContactPoint(contact_type="sales", telephone="+1-555-0199"),
            ContactPoint(contact_type="customer support", email="support@acme.example"),
        ],
        ticker_symbol="NASDAQ: ACME",
        industry="Manufacturing",
        naics="332999",
        parent_organization="Acme Holdings",
        identifiers={"duns": "123456789", "leiCode": "5493001KJTIIGC8Y1R12"},
    )


def test_page_lists_organization_phones_and_emails_first() -> None:
    facts = extract_facts(
        ld(GRAPH) + '<a href="tel:+15550100">x</a><a href="tel:555 0123 45">y</a>'
        '<a href="mailto:INFO@acme.example">z</a>',
        URL,
    )
    assert facts.phones == ["+1-555-0100", "+1-555-0199", "555 0123 45"]
    assert facts.emails == ["info@acme.example", "support@acme.example"]


def test_organization_in_a_top_level_array_with_an_iri_type() -> None:
    org = org_of([{"@type": "WebPage"}, {"@type": "http://schema.org/Corporation", "name": "A"}])
    assert org.types == ["Corporation"]
    assert org.name == "A"


@pytest.mark.parametrize(
    "type_", ["LocalBusiness", "OnlineStore", "Store", "ClothingStore", "NGO", "schema:NGO"]
)
def test_organization_subtypes(type_: str) -> None:
    assert org_of({"@type": type_, "name": "Shop"}).name == "Shop"


def test_non_organizations_are_ignored() -> None:
    facts = extract_facts(ld({"@type": "Person", "name": "Jane"}, {"@type": "Brand"}), URL)
    assert facts.organization is None


def test_the_sites_own_organization_wins() -> None:
    partner = {"@type": "Organization", "name": "Payment Partner", "url": "https://pay.example/"}
    own = {"@type": "Organization", "name": "Acme", "url": "https://acme.example/"}
    assert org_of(partner, own).name == "Acme"  # url on the page's host (www. ignored)


def test_the_websites_publisher_wins() -> None:
    website = {"@type": "WebSite", "publisher": {"@id": "#org"}}
    other = {"@type": "Organization", "name": "Other"}
    publisher = {"@type": "Organization", "@id": "#org", "name": "Publisher"}
    assert org_of({"@graph": [other, website, publisher]}).name == "Publisher"


def test_nested_organization_is_found() -> None:
    product = {
        "@type": "Product",
        "name": "Anvil",
        "offers": {"@type": "Offer", "seller": {"@type": "Organization", "name": "Acme"}},
    }
    assert org_of(product).name == "Acme"


def test_split_definitions_of_one_id_are_merged() -> None:
    org = org_of(
        {"@type": "Organization", "@id": "#o", "name": "Acme"},
        {"@id": "#o", "telephone": "+1-555-0100"},
    )
    assert org.name == "Acme"
    assert org.telephones == ["+1-555-0100"]


def test_invalid_json_ld_is_tolerated() -> None:
    text = '<!-- {"@type": "Organization", "name": "Acme", "sameAs": ["https://x.com/a",],} -->'
    org = org_of(text)
    assert org.name == "Acme"
    assert org.same_as == ["https://x.com/a"]


@pytest.mark.parametrize(
    ("value", "year"),
    [
        ("1949", 1949),
        ("1949-03-01", 1949),
        ("March 1949", 1949),
        (1949, 1949),
        ("unknown", None),
        ("12345", None),
    ],
)
def test_founding_year(value: Any, year: int | None) -> None:
    assert org_of({"@type": "Organization", "foundingDate": value}).founding_year == year


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1200, 1200),
        (1200.0, 1200),
        ("1200", 1200),
        ("1,200", 1200),
        ("12.500", 12500),
        ({"@type": "QuantitativeValue", "value": 350}, 350),
        ({"@type": "QuantitativeValue", "value": "1,200"}, 1200),
        (
            {"@type": "QuantitativeValue", "minValue": 201, "maxValue": 500},
            EmployeeRange(min=201, max=500),
        ),
        (
            {"@type": "QuantitativeValue", "minValue": "201", "maxValue": "500"},
            EmployeeRange(min=201, max=500),
        ),
        ({"@type": "QuantitativeValue", "minValue": 10000}, EmployeeRange(min=10000, max=None)),
        ({"minValue": 50, "maxValue": 50}, 50),
        ("201-500", EmployeeRange(min=201, max=500)),
        ("201 \u2013 500", EmployeeRange(min=201, max=500)),
        ("10,000+", EmployeeRange(min=10000, max=None)),
        ("over 5000", EmployeeRange(min=5000, max=None)),
        ([{"value": 77}], 77),
        ("many", None),
        (0, None),
        (True, None),
        ("500-100", None),
        (None, None),
    ],
)
def test_number_of_employees(value: Any, expected: Any) -> None:
    org = org_of({"@type": "Organization", "numberOfEmployees": value})
    assert org.employees == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1 Main St, Springfield, IL", Address(text="1 Main St, Springfield, IL")),
        (
            {"@type": "PostalAddress", "addressLocality": "Paris", "addressCountry": "FR"},
            Address(city="Paris", country="FR"),
        ),
        ([{"@type": "PostalAddress", "addressLocality": "Oslo"}], Address(city="Oslo")),
        ({"@type": "PostalAddress"}, None),
        (42, None),
    ],
)
def test_address(value: Any, expected: Address | None) -> None:
    assert org_of({"@type": "Organization", "address": value}).address == expected


def test_address_from_location() -> None:
    org = org_of(
        {
            "@type": "LocalBusiness",
            "location": {
                "@type": "Place",
                "address": {"@type": "PostalAddress", "addressLocality": "Rome"},
            },
        }
    )
    assert org.address == Address(city="Rome")


@pytest.mark.parametrize(
    ("logo", "expected"),
    [
        ("/logo.png", "https://www.acme.example/logo.png"),
        ({"@type": "ImageObject", "url": "https://cdn.example/l.svg"}, "https://cdn.example/l.svg"),
        ([{"@type": "ImageObject", "contentUrl": "l.png"}], "https://www.acme.example/l.png"),
        ({"@type": "ImageObject"}, None),
    ],
)
def test_logo(logo: Any, expected: str | None) -> None:
    assert org_of({"@type": "Organization", "logo": logo}).logo == expected


# -- robustness and speed ------------------------------------------------------------------------

BROKEN = [
    "<html><head><title>Unclosed",
    "<p a=1 b='2 <b>c</p></div></span>",
    "<![foo[ weird ]]><title>After</title>",
    "<!x-bogus decl><title>After</title>",
    "<a href=/careers>Careers<a href=/jobs>Jobs",
    "<script>var x = '</p>';",
    '<script type="application/ld+json">{"@type": "Organization", "name": "A"',
    "<\x00p>\x00<title>\x00</title>",
    "<meta name=description content=unquoted><meta content=no-name>",
    "<!-- never closed <title>Hidden</title>",
    "</</</<<<>>>&&&#x;&#99999999;",
    "<svg><svg></svg><title>x</title>",
]


@pytest.mark.parametrize("page", BROKEN)
def test_broken_html_never_raises(page: str) -> None:
    facts = extract_facts(page, URL)
    assert isinstance(facts, PageFacts)


def test_broken_html_keeps_what_it_can() -> None:
    assert extract_facts(BROKEN[2], URL).title == "After"
    assert extract_facts(BROKEN[8], URL).description == "unquoted"
    facts = extract_facts(BROKEN[4], URL)
    assert facts.careers_urls == [
        "https://www.acme.example/careers",
        "https://www.acme.example/jobs",
    ]


def test_random_fragments_never_raise() -> None:
    source = HEAD + LINKS + ld(GRAPH) + "".join(BROKEN)
    rng = random.Random(7)
    for _ in range(300):
        start = rng.randrange(len(source))
        fragment = source[start : start + rng.randrange(1, 400)]
        if rng.random() < 0.3:
            fragment = "".join(rng.sample(fragment, len(fragment)))
        extract_facts(fragment, URL)


def test_two_mebibyte_page_is_fast() -> None:
    rng = random.Random(1)
    parts = [HEAD]
    size = len(HEAD)
    while size < 2 * 1024 * 1024:
        n = rng.randrange(10**6)
        parts.append(
            f'<div class="card c{n % 97}" data-id="{n}"><a href="/p/{n}">Product {n}</a>'
            f'<span class="price">$12.99</span><img src="/img/{n}.jpg" alt=""></div>\n'
        )
        size += len(parts[-1])
    page = "".join(parts) + LINKS
    started = time.perf_counter()
    facts = extract_facts(page, URL)
    elapsed = time.perf_counter() - started
    assert facts.title == "Acme Corp & Sons | Home"
    assert "linkedin" in facts.social_profiles
    assert len(facts.markup) <= 1024 * 1024 + 4096
    assert elapsed < 5.0  # about 0.3 s on a developer laptop
