"""Tests for enrichd.domains: domain validation, normalisation and registrable domains."""

from __future__ import annotations

import pytest

from enrichd.domains import InvalidDomain, normalize_domain, registrable_domain

# A name of exactly 253 octets: 63 + 1 + 63 + 1 + 63 + 1 + 57 + 1 + 3.
LONGEST_NAME = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57, "com"])

VALID = [
    ("costco.com", "costco.com"),
    ("Costco.COM", "costco.com"),
    ("costco.com.", "costco.com"),
    ("www.costco.com", "www.costco.com"),
    ("WWW.Costco.Com.", "www.costco.com"),
    ("shop.costco.co.uk", "shop.costco.co.uk"),
    ("costco.co.uk.", "costco.co.uk"),
    ("a.b.c.example.co.uk", "a.b.c.example.co.uk"),
    ("bücher.de", "xn--bcher-kva.de"),
    ("BÜCHER.DE", "xn--bcher-kva.de"),
    ("xn--bcher-kva.de", "xn--bcher-kva.de"),
    ("XN--BCHER-KVA.DE", "xn--bcher-kva.de"),
    ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
    ("xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai"),
    ("例え.jp", "xn--r8jz45g.jp"),
    ("faß.de", "xn--fa-hia.de"),  # non-transitional: ß is kept, not mapped to ss
    # Full-width letters and dot are UTS #46 mapped.
    ("\uff43\uff4f\uff53\uff54\uff43\uff4f\uff0e\uff43\uff4f\uff4d", "costco.com"),
    ("costco。com", "costco.com"),  # ideographic full stop is a label separator
    ("163.com", "163.com"),  # numeric labels are fine if the TLD is not numeric
    ("1a.com", "1a.com"),
    ("my-company.com", "my-company.com"),
    ("r3---sn-abc.googlevideo.com", "r3---sn-abc.googlevideo.com"),  # LDH, not IDNA2008-valid
    ("a" * 63 + ".com", "a" * 63 + ".com"),
    (LONGEST_NAME, LONGEST_NAME),
    (LONGEST_NAME + ".", LONGEST_NAME),
    ("foo.blogspot.com", "foo.blogspot.com"),  # private PSL entries are not suffixes here
    ("city.kawasaki.jp", "city.kawasaki.jp"),  # exception rule !city.kawasaki.jp
    ("foo.bar.kawasaki.jp", "foo.bar.kawasaki.jp"),  # wildcard rule *.kawasaki.jp
    ("www.ck", "www.ck"),  # exception rule !www.ck
    ("costco.museum", "costco.museum"),
]

# (input, substring that the message must contain)
INVALID = [
    ("", "empty"),
    (" costco.com", "leading whitespace"),
    ("costco.com ", "trailing whitespace"),
    ("cost co.com", "whitespace"),
    ("costco.com\n", "whitespace"),
    ("\tcostco.com", "whitespace"),
    ("costco\u00a0.com", "whitespace"),  # no-break space
    ("costco.com\u3000", "whitespace"),  # ideographic space
    ("cost\x00co.com", "control character"),
    ("cost\x7fco.com", "control character"),
    ("cost\u200bco.com", "invisible character"),
    ("cost\u00adco.com", "invisible character"),  # soft hyphen
    ("\ufeffcostco.com", "invisible character"),  # byte-order mark
    ("http://costco.com", "scheme"),
    ("https://costco.com", "scheme"),
    ("HTTPS://Costco.com:443/x?y#z", "scheme"),
    ("ftp://costco.com", "scheme"),
    ("//costco.com", "'//'"),
    ("costco.com/", "path"),
    ("costco.com/x", "path"),
    ("costco.com\\x", "path"),
    ("costco.com?a", "query"),
    ("costco.com?", "query"),
    ("costco.com#frag", "fragment"),
    ("a@b.com", "'@'"),
    ("bob@costco.com", "e-mail"),
    ("user:pw@costco.com", "'@'"),
    ("[::1]", "IPv6"),
    ("[2001:db8::1]:443", "IPv6"),
    ("::1", "IPv6"),
    ("2001:db8::1", "IPv6"),
    ("fe80::1%eth0", "IPv6"),
    ("costco.com:443", "port"),
    ("costco.com:", "port"),
    ("costco.com:abc", "':'"),
    ("http:costco.com", "':'"),
    ("127.0.0.1", "IPv4"),
    ("1.2.3.4.", "IPv4"),
    ("127.1", "IPv4"),
    ("0x7f.1", "IPv4"),
    ("0x7f000001", "IPv4"),
    ("2130706433", "IPv4"),
    ("0177.0.0.1", "IPv4"),
    ("1.2.3", "IPv4"),
    ("a.0x", "IPv4"),
    ("localhost", "localhost"),
    ("LOCALHOST.", "localhost"),
    ("foo.localhost", "localhost"),
    ("intranet", "single label"),
    ("com", "single label"),
    ("a..com", "empty label"),
    (".com", "starts with a dot"),
    (".", "only a dot"),
    ("..", "dot"),
    ("costco.com..", "more than one dot"),
    ("-costco.com", "starts with a hyphen"),
    ("costco-.com", "ends with a hyphen"),
    ("www.-costco.com", "starts with a hyphen"),
    ("-.com", "hyphen"),
    ("a_b.com", "'_'"),
    ("_dmarc.costco.com", "'_'"),
    ("cost*co.com", "'*'"),
    ("*.costco.com", "'*'"),
    ("cost,co.com", "','"),
    ("cost!co.com", "'!'"),
    ("a<b.com", "'<'"),
    ("a" * 64 + ".com", "at most 63"),
    ("ü" * 60 + ".de", "longer than 63"),
    (LONGEST_NAME + "x", "at most 253"),
    ("a." * 127 + "com", "at most 253"),
    ("x" * 5000, "characters long"),
    ("🍕.com", "not a valid internationalised label"),
    ("i❤.ws", "not a valid internationalised label"),
    ("xn--i-7iq.ws", "not a valid punycode"),  # same name as above, as an A-label
    ("xn--zz.com", "not a valid punycode"),
    ("xn--.com", "hyphen"),
    ("a\ufffd.com", "not allowed in a domain name"),
    ("co.uk", "public suffix"),
    ("com.", "single label"),
    ("foo.ck", "public suffix"),  # wildcard rule *.ck
    ("bar.kawasaki.jp", "public suffix"),  # wildcard rule *.kawasaki.jp
    ("foo.invalidtld", "'.invalidtld' is not a public top-level domain"),
    ("example.local", "'.local' is not a public top-level domain"),
    ("x.internal", "'.internal' is not a public top-level domain"),
    ("www.example", "'.example' is not a public top-level domain"),
    ("foo.test", "'.test' is not a public top-level domain"),
    ("foo.invalid", "'.invalid' is not a public top-level domain"),
    ("router.home.arpa", "'.arpa'"),
    ("1.0.0.127.in-addr.arpa", "'.arpa'"),
    ("abc.onion", "'.onion'"),
]

# Inputs from which the host name the client meant can be recovered, and that host name.
SUGGESTIONS = [
    ("http://costco.com", "costco.com"),
    ("https://www.Costco.com/path?q=1", "www.costco.com"),
    ("costco.com/x", "costco.com"),
    ("costco.com:443", "costco.com"),
    ("bob@costco.com", "costco.com"),
    (" costco.com ", "costco.com"),
    ("https://bücher.de/", "xn--bcher-kva.de"),
]


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_valid_domains_are_normalised(raw: str, expected: str) -> None:
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(("raw", "problem"), INVALID)
def test_invalid_domains_are_refused_with_the_problem_named(raw: str, problem: str) -> None:
    with pytest.raises(InvalidDomain) as excinfo:
        normalize_domain(raw)
    message = str(excinfo.value)
    assert problem in message
    assert "\n" not in message
    assert "(e.g. " in message or "such as" in message  # always says what to send instead


@pytest.mark.parametrize(("raw", "problem"), INVALID)
def test_registrable_domain_refuses_invalid_names(raw: str, problem: str) -> None:
    with pytest.raises(InvalidDomain, match=r"is not a domain|is empty"):
        registrable_domain(raw)


def test_invalid_domain_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        normalize_domain("http://costco.com")


def test_scheme_message_is_actionable() -> None:
    with pytest.raises(InvalidDomain) as excinfo:
        normalize_domain("http://costco.com")
    assert str(excinfo.value) == (
        "'http://costco.com' is not a domain: it is a URL with a scheme ('http://'); "
        "send the bare host name, without scheme (e.g. costco.com)"
    )


@pytest.mark.parametrize(("raw", "host"), SUGGESTIONS)
def test_message_suggests_the_intended_host(raw: str, host: str) -> None:
    with pytest.raises(InvalidDomain) as excinfo:
        normalize_domain(raw)
    assert str(excinfo.value).endswith(f"(e.g. {host})")


def test_public_suffix_message_suggests_a_name_under_it() -> None:
    with pytest.raises(InvalidDomain) as excinfo:
        normalize_domain("co.uk")
    assert str(excinfo.value).endswith("(e.g. example.co.uk)")


def test_long_input_is_quoted_shortened() -> None:
    with pytest.raises(InvalidDomain) as excinfo:
        normalize_domain("x" * 5000)
    assert len(str(excinfo.value)) < 300


@pytest.mark.parametrize("raw", [None, 42, b"costco.com"])
def test_non_string_is_refused(raw: object) -> None:
    with pytest.raises(InvalidDomain, match="must be a string"):
        normalize_domain(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("hostname", "expected"),
    [
        ("costco.com", "costco.com"),
        ("www.costco.com", "costco.com"),
        ("shop.costco.co.uk", "costco.co.uk"),
        ("costco.co.uk", "costco.co.uk"),
        ("a.b.c.example.co.uk", "example.co.uk"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("www.xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("foo.blogspot.com", "blogspot.com"),
        ("foo.bar.kawasaki.jp", "foo.bar.kawasaki.jp"),
        ("x.foo.bar.kawasaki.jp", "foo.bar.kawasaki.jp"),
        ("www.city.kawasaki.jp", "city.kawasaki.jp"),
        ("www.ck", "www.ck"),
    ],
)
def test_registrable_domain(hostname: str, expected: str) -> None:
    assert registrable_domain(hostname) == expected


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_normalize_domain_is_idempotent(raw: str, expected: str) -> None:
    once = normalize_domain(raw)
    assert normalize_domain(once) == once
    assert normalize_domain(once + ".") == once


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_normalised_output_shape(raw: str, expected: str) -> None:
    out = normalize_domain(raw)
    assert out.isascii()
    assert out == out.lower()
    assert not out.endswith(".")
    assert len(out) <= 253
    assert all(0 < len(label) <= 63 for label in out.split("."))
    registrable = registrable_domain(out)
    assert out == registrable or out.endswith("." + registrable)
    assert registrable_domain(registrable) == registrable
