"""Property tests (hypothesis) for enrichd.domains: what holds for every input, not just examples.

Runs are derandomised (the same examples every time, so CI never flakes on a new one) and keep
no example database. Hypothesis's other caches go to a temporary directory, not the repository.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from enrichd.domains import (
    MAX_LABEL_LENGTH,
    MAX_NAME_LENGTH,
    InvalidDomain,
    _extractor,
    normalize_domain,
    registrable_domain,
)

if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    # Hypothesis caches Unicode tables and source constants under ./.hypothesis by default.
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "enrichd-hypothesis")

# Excerpts of the input in messages are cut at 80 characters, but repr() may spell one character
# as 10 ("\\U0010ffff"): messages stay bounded whatever the input's length, just not tiny.
MAX_MESSAGE = 2000

PROPERTIES = settings(
    derandomize=True,
    database=None,
    max_examples=100,
    # The first call builds the suffix list; a per-example deadline would only measure that.
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

#: The bundled Public Suffix List's ICANN section, as the validator sees it.
SUFFIX_RULES = sorted(_extractor().tlds)
SUFFIXES = [s for s in SUFFIX_RULES if not s.startswith(("*", "!"))]
WILDCARDS = [s[2:] for s in SUFFIX_RULES if s.startswith("*.")]
EXCEPTIONS = {s[1:] for s in SUFFIX_RULES if s.startswith("!")}
# Suffixes under which "<label>.<suffix>" is a registrable name (no wildcard rule below them).
COMMON_SUFFIXES = ["com", "org", "net", "io", "de", "fr", "co.uk", "org.uk", "com.au", "co.jp"]
# Cyrillic, Chinese and Greek country codes, in Unicode.
COMMON_SUFFIXES += [
    "jp",
    "museum",
    "com.br",
    "xn--p1ai",
    "\u0440\u0444",
    "\u4e2d\u56fd",
    "\u03b5\u03bb",
]

_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
ACCEPTED_SHAPE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+$")

ldh_labels = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?", fullmatch=True).filter(
    lambda label: not label.startswith("xn--")
)
long_labels = st.from_regex(r"[a-z][a-z0-9]{55,70}", fullmatch=True)
unicode_labels = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz\u00e4\u00f6\u00fc\u00e9\u00e8\u00e7\u00f1\u00e5\u00f8\u00e6\u00df"
    "\u043a\u0438\u0440\u043b\u0446\u0430\u03b2\u03b3\u03b4\u03bb",
    min_size=1,
    max_size=20,
)
labels = st.one_of(ldh_labels, ldh_labels, unicode_labels, long_labels)


@st.composite
def domain_like(draw: st.DrawFn) -> str:
    """Mostly registrable names: sub-domains, a label and a suffix, in mixed ASCII case."""
    subs = draw(st.lists(labels, max_size=4))
    suffix = draw(st.sampled_from(COMMON_SUFFIXES) | st.sampled_from(SUFFIXES))
    name = ".".join([*subs, draw(labels), suffix])
    name = draw(_ascii_case(name))
    if draw(st.booleans()):
        name += "."
    return name


@st.composite
def _ascii_case(draw: st.DrawFn, text: str) -> str:
    """``text`` with a drawn subset of its ASCII letters upper-cased.

    Only ASCII: Unicode upper case is not always reversible (``"ß".upper() == "SS"``).
    """
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(
        c.upper() if flip and c.isascii() else c for c, flip in zip(text, flips, strict=True)
    )


@st.composite
def accepted(draw: st.DrawFn) -> tuple[str, str]:
    """A ``domain_like`` input that the validator accepts, with its normalised form."""
    raw = draw(domain_like())
    try:
        return raw, normalize_domain(raw)
    except InvalidDomain:
        reject()


# Every character, surrogates and controls included: what a hostile client can put in JSON or
# a percent-encoded path.
any_text = st.text(st.characters(exclude_categories=()), max_size=300)
# Text made of the characters validation cares about, to reach its deeper checks.
hostish_text = st.lists(
    st.sampled_from(
        [
            *"abcxyzABCXYZ0129-._:/\\?#@[]%* \t\n",
            *("\u3002", "\uff0e", "\u200b", "\u200d", "\u00df", "\u00fc", "\x00", "\ud800"),
            *("\U0001f355", "xn--", "www.", "http://", ".com", ".co.uk", "localhost"),
        ]
    ),
    max_size=40,
).map("".join)


def is_public_suffix(name: str) -> bool:
    """Whether ``name`` (lower-case, Unicode or punycode) is itself on the ICANN list."""
    labels_ = name.split(".")
    parent = ".".join(labels_[1:])
    return name in SUFFIXES or (parent in WILDCARDS and name not in EXCEPTIONS)


# -- what every accepted name looks like ----------------------------------------------------------


@PROPERTIES
@given(accepted())
def test_normalisation_is_idempotent(case: tuple[str, str]) -> None:
    _, name = case
    assert normalize_domain(name) == name
    assert normalize_domain(name + ".") == name
    assert normalize_domain(name.upper()) == name  # the output is ASCII: upper() is reversible


@PROPERTIES
@given(accepted())
def test_accepted_names_are_lower_case_ascii_hosts(case: tuple[str, str]) -> None:
    raw, name = case
    assert name.isascii() and name == name.lower()
    assert ACCEPTED_SHAPE.match(name), name
    assert len(name) <= MAX_NAME_LENGTH
    assert all(len(label) <= MAX_LABEL_LENGTH for label in name.split("."))
    assert not any(c in name for c in ":/?#@[]\\ ")
    # The same number of labels as given: nothing is dropped or invented.
    assert name.count(".") == raw.rstrip(".").count(".")


@PROPERTIES
@given(accepted())
def test_accepted_names_have_a_registrable_part(case: tuple[str, str]) -> None:
    _, name = case
    registrable = registrable_domain(name)
    assert name == registrable or name.endswith("." + registrable)
    assert registrable_domain(registrable) == registrable
    assert normalize_domain(registrable) == registrable
    assert registrable_domain(f"www.{name}") == registrable or len(name) + 4 > MAX_NAME_LENGTH
    # What remains once its own label is removed is a public suffix, refused alone; unless an
    # exception rule ("!city.kawasaki.jp") made the registrable name out of a suffix's child.
    label, _, suffix = registrable.partition(".")
    assert label and suffix
    if registrable not in EXCEPTIONS:
        with pytest.raises(InvalidDomain):
            normalize_domain(suffix)


# -- hostile input ---------------------------------------------------------------------------------


@PROPERTIES
@given(st.one_of(any_text, hostish_text))
def test_arbitrary_text_raises_only_invalid_domain(raw: str) -> None:
    for function in (normalize_domain, registrable_domain):
        try:
            result = function(raw)
        except InvalidDomain as exc:
            message = str(exc)
            assert message and "\n" not in message
            assert len(message) < MAX_MESSAGE
        else:
            assert ACCEPTED_SHAPE.match(result)


@settings(PROPERTIES, max_examples=20)
@given(st.text(st.characters(exclude_categories=()), min_size=1025, max_size=3000))
def test_overlong_text_is_refused_with_a_short_message(raw: str) -> None:
    with pytest.raises(InvalidDomain) as excinfo:
        normalize_domain(raw)
    assert len(str(excinfo.value)) < MAX_MESSAGE


@PROPERTIES
@given(st.ip_addresses())
def test_ip_addresses_are_refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    text = str(address)
    forms = [text, text + ".", f"[{text}]", f"{text}:443", f"[{text}]:443"]
    if isinstance(address, ipaddress.IPv4Address):
        forms += [str(int(address)), hex(int(address))]
    for form in forms:
        with pytest.raises(InvalidDomain):
            normalize_domain(form)


@PROPERTIES
@given(st.lists(labels, max_size=3), st.booleans())
def test_localhost_is_refused(subs: list[str], trailing_dot: bool) -> None:
    for last in ("localhost", "LOCALHOST", "LocalHost"):
        name = ".".join([*subs, last]) + ("." if trailing_dot else "")
        with pytest.raises(InvalidDomain):
            normalize_domain(name)


@PROPERTIES
@given(labels, st.booleans())
def test_single_labels_are_refused(label: str, trailing_dot: bool) -> None:
    with pytest.raises(InvalidDomain):
        normalize_domain(label + ("." if trailing_dot else ""))


@pytest.mark.parametrize("variant", [str, str.upper, lambda s: s + "."])
def test_every_public_suffix_alone_is_refused(variant: object) -> None:
    assert callable(variant)
    accepted_suffixes = []
    for suffix in SUFFIXES:
        try:
            normalize_domain(variant(suffix))
        except InvalidDomain:
            continue
        accepted_suffixes.append(suffix)
    assert accepted_suffixes == []


@PROPERTIES
@given(st.sampled_from(WILDCARDS), ldh_labels)
def test_names_under_a_wildcard_rule_are_refused(parent: str, label: str) -> None:
    name = f"{label}.{parent}"
    assume(name not in EXCEPTIONS)
    with pytest.raises(InvalidDomain, match="public suffix"):
        normalize_domain(name)


# -- one company, many spellings ------------------------------------------------------------------


@PROPERTIES
@given(accepted(), st.data())
def test_case_and_trailing_dot_normalise_to_the_same_name(
    case: tuple[str, str], data: st.DataObject
) -> None:
    raw, name = case
    bare = raw.rstrip(".")
    assert normalize_domain(data.draw(_ascii_case(bare))) == name
    assert normalize_domain(bare + ".") == name
    assert normalize_domain(bare) == name


@PROPERTIES
@given(accepted())
def test_www_is_kept_but_names_the_same_company(case: tuple[str, str]) -> None:
    _, name = case
    assume(len(name) + 4 <= MAX_NAME_LENGTH and not is_public_suffix(f"www.{name}"))
    assert normalize_domain(f"WWW.{name}") == f"www.{name}"
    assert registrable_domain(f"www.{name}") == registrable_domain(name)


URL_FORMS = [
    "http://{}",
    "https://{}/",
    "HTTPS://{}/path/to?q=1#frag",
    "https://{}:8443/x",
    "https://{}./",
    "//{}",
    "{}/",
    "{}/about",
    "{}:443",
    "{}?q",
    "{}#top",
]


@PROPERTIES
@given(accepted(), st.sampled_from(URL_FORMS))
def test_urls_are_refused_naming_the_same_domain(case: tuple[str, str], form: str) -> None:
    """URL pieces are refused (the API wants bare host names), but the message suggests the name.

    So "https://Costco.com:8443/x" and "costco.com/" lead a client to the same "costco.com".
    """
    raw, name = case
    url = form.format(raw.rstrip("."))
    with pytest.raises(InvalidDomain) as excinfo:
        normalize_domain(url)
    assert str(excinfo.value).endswith(f"(e.g. {name})"), (url, str(excinfo.value))
