"""Validation and normalisation of the company domains that clients send to enrichd.

A valid domain is a *registrable public hostname*: letters, digits and hyphens in dot-separated
labels, under a suffix on the ICANN section of the Public Suffix List, with at least one label
of its own. Sub-domains (``www.costco.com``) are kept as given. Internationalised names are
converted to punycode with UTS #46 mapping (``bücher.de`` -> ``xn--bcher-kva.de``).

Anything else (URLs, e-mail addresses, IP literals, ports, ``localhost``, intranet names, bare
public suffixes...) raises :class:`InvalidDomain`, whose message says what is wrong and what to
send instead; the API returns it verbatim to the client.

The suffix list is the snapshot bundled with ``tldextract``: nothing here touches the network
or the disk cache.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import urllib.parse
from contextvars import ContextVar
from functools import cache
from typing import NoReturn

import idna
import tldextract

__all__ = ["InvalidDomain", "normalize_domain", "registrable_domain"]

#: Longest host name, in octets, without the trailing dot (RFC 1035 section 2.3.4).
MAX_NAME_LENGTH = 253
#: Longest label, in octets (RFC 1035 section 2.3.4).
MAX_LABEL_LENGTH = 63
# Inputs longer than this are refused before any Unicode processing, to bound the work per call.
_MAX_RAW_LENGTH = 1024
# Longest excerpt of the client's input quoted back in an error message.
_MAX_QUOTE_LENGTH = 80

_FALLBACK_EXAMPLE = "example.com"
_NOT_IP = "send a domain name, not an IP address"
_PUBLIC = "send a public domain name"
# Zero-width joiner / non-joiner are legitimate in some scripts (IDNA2008 CONTEXTJ).
_ALLOWED_FORMAT_CHARS = frozenset("\u200c\u200d")
# Public-suffix-list TLDs that are special-use (RFC 6761, RFC 7686): never a company's domain.
_SPECIAL_USE_TLDS = {
    "arpa": "is reserved for DNS infrastructure such as reverse lookups",
    "onion": "is a Tor hidden-service name, not reachable through public DNS",
}

# Set while _suggest re-validates a guessed host name, so that a failure there does not recurse.
_suggesting: ContextVar[bool] = ContextVar("_suggesting", default=False)

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_LDH_LABEL_RE = re.compile(r"^[a-z0-9-]+$")
_NUMERIC_LABEL_RE = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")
_PORT_RE = re.compile(r"^[0-9]*$")


class InvalidDomain(ValueError):
    """The input is not a registrable public hostname.

    ``str(exc)`` is a single line explaining what is wrong and what to send instead.
    """


@cache
def _extractor() -> tldextract.TLDExtract:
    """Return the shared extractor, built on first use from the bundled suffix list only."""
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=False
    )


def normalize_domain(raw: str) -> str:
    """Return ``raw`` as a normalised registrable public hostname, or raise InvalidDomain.

    Normalisation lower-cases the name, removes one trailing dot and converts internationalised
    labels to punycode (UTS #46 mapping, IDNA2008 validation). Sub-domains are kept as given:
    ``normalize_domain("WWW.Costco.com.") == "www.costco.com"``. Whitespace is never stripped:
    any whitespace in the input is an error. The result is a fixed point:
    ``normalize_domain(normalize_domain(x)) == normalize_domain(x)``.

    Raises:
        InvalidDomain: with a one-line message for the client.
    """
    hostname, _ = _normalize(raw)
    return hostname


def registrable_domain(hostname: str) -> str:
    """Return the registered domain that ``hostname`` belongs to.

    ``registrable_domain("shop.costco.co.uk") == "costco.co.uk"``. The argument is expected to be
    the output of :func:`normalize_domain`; it is validated again all the same, so any input that
    :func:`normalize_domain` accepts is accepted here.

    Raises:
        InvalidDomain: if ``hostname`` is not a valid domain.
    """
    _, registrable = _normalize(hostname)
    return registrable


def _normalize(raw: str) -> tuple[str, str]:
    """Validate ``raw``; return its normalised form and the registrable domain it belongs to."""
    if not isinstance(raw, str):
        raise InvalidDomain(
            f"the domain must be a string, not {type(raw).__name__}: "
            f"send a host name such as {_FALLBACK_EXAMPLE}"
        )
    if raw == "":
        raise InvalidDomain(f"the domain is empty: send a host name such as {_FALLBACK_EXAMPLE}")
    if len(raw) > _MAX_RAW_LENGTH:
        _fail(
            raw,
            f"it is {len(raw)} characters long; a host name is at most {MAX_NAME_LENGTH}",
            example=_FALLBACK_EXAMPLE,
        )
    _check_characters(raw)
    _check_url_parts(raw)

    try:
        mapped = idna.uts46_remap(raw, std3_rules=False)
    except idna.IDNAError as exc:
        _fail(raw, f"it contains a character that is not allowed in a domain name ({exc})")

    name = mapped[:-1] if mapped.endswith(".") else mapped
    labels = name.split(".")
    _check_shape(raw, name, labels)
    hostname = ".".join(_to_ascii_label(raw, label) for label in labels)
    if len(hostname) > MAX_NAME_LENGTH:
        _fail(
            raw,
            f"it is {len(hostname)} characters long (in punycode); "
            f"a host name is at most {MAX_NAME_LENGTH}",
        )
    return hostname, _check_public(raw, hostname)


def _fail(
    raw: str,
    problem: str,
    *,
    advice: str = "send the bare host name",
    example: str | None = None,
) -> NoReturn:
    """Raise InvalidDomain: ``'<raw>' is not a domain: <problem>; <advice> (e.g. <example>)``.

    Without an explicit ``example``, the host name the client probably meant is suggested when it
    can be recovered from ``raw`` (``https://costco.com/`` -> ``costco.com``).
    """
    if example is None:
        example = (None if _suggesting.get() else _suggest(raw)) or _FALLBACK_EXAMPLE
    raise InvalidDomain(f"{_quote(raw)} is not a domain: {problem}; {advice} (e.g. {example})")


def _quote(raw: str) -> str:
    """Quote the client's input for a message: repr (so it stays on one line), shortened."""
    if len(raw) > _MAX_QUOTE_LENGTH:
        return repr(raw[: _MAX_QUOTE_LENGTH - 1]) + "…"
    return repr(raw)


def _suggest(raw: str) -> str | None:
    """Guess the host name the client meant, e.g. ``costco.com`` for ``https://costco.com/x``.

    Returns a valid normalised name different from ``raw``, or None.
    """
    text = "".join(
        "/" if ch == "\\" else ch
        for ch in raw
        if not (ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf"))
    )
    if not _SCHEME_RE.match(text):
        text = "//" + text.lstrip("/")
    try:
        host = urllib.parse.urlsplit(text).hostname
    except ValueError:
        return None
    if not host or host == raw:
        return None
    token = _suggesting.set(True)
    try:
        suggestion, _ = _normalize(host)
    except InvalidDomain:
        return None
    finally:
        _suggesting.reset(token)
    return suggestion


def _describe(ch: str) -> str:
    """Name one character for a message, e.g. ``U+0020 SPACE``."""
    name = unicodedata.name(ch, "") or repr(ch)
    return f"U+{ord(ch):04X} {name}"


def _check_characters(raw: str) -> None:
    """Refuse whitespace, control characters and invisible formatting characters."""
    for pos, ch in enumerate(raw, start=1):
        category = unicodedata.category(ch)
        if ch.isspace() or category in ("Zs", "Zl", "Zp"):
            where = "leading " if pos == 1 else "trailing " if pos == len(raw) else ""
            _fail(raw, f"it contains {where}whitespace ({_describe(ch)}) at position {pos}")
        if category == "Cc":
            _fail(raw, f"it contains the control character {_describe(ch)} at position {pos}")
        if category == "Cf" and ch not in _ALLOWED_FORMAT_CHARS:
            _fail(raw, f"it contains the invisible character {_describe(ch)} at position {pos}")


def _check_url_parts(raw: str) -> None:
    """Refuse URLs and URL pieces: scheme, path/query/fragment, userinfo, IPv6 literal, port."""
    if _SCHEME_RE.match(raw):
        scheme = raw.split(":", 1)[0]
        _fail(
            raw,
            f"it is a URL with a scheme ('{scheme}://')",
            advice="send the bare host name, without scheme",
        )
    if raw.startswith("//"):
        _fail(raw, "it starts with '//' like a URL", advice="send the bare host name, without '//'")
    for ch, part in (("/", "path"), ("\\", "path"), ("?", "query"), ("#", "fragment")):
        if ch in raw:
            index = raw.index(ch)
            extra = raw[index:]
            _fail(
                raw,
                f"it has a {part} ({_quote(extra)}) after the host name",
                advice=f"send the bare host name, without the {part}",
            )
    if "@" in raw:
        _fail(
            raw,
            "it contains '@', like an e-mail address or URL user info",
            advice="send only the host name after the '@'",
        )
    if "[" in raw or "]" in raw:
        _fail(raw, "it is a bracketed IPv6 address or contains brackets", advice=_NOT_IP)
    if ":" in raw:
        try:
            ipaddress.IPv6Address(raw)
        except ValueError:
            pass
        else:
            _fail(raw, "it is an IPv6 address", advice=_NOT_IP)
        host, _, port = raw.rpartition(":")
        if ":" not in host and _PORT_RE.match(port):
            _fail(
                raw,
                f"it includes a port (':{port}')",
                advice="send the bare host name, without port",
            )
        _fail(raw, "it contains ':', which cannot appear in a host name")


def _check_shape(raw: str, name: str, labels: list[str]) -> None:
    """Refuse empty labels, IP addresses, localhost and single-label names."""
    if name == "":
        _fail(raw, "it has no labels, only a dot")
    if name.endswith("."):
        _fail(raw, "it ends with more than one dot")
    if name.startswith("."):
        _fail(raw, "it starts with a dot")
    if "" in labels:
        _fail(raw, "it contains an empty label (two dots in a row)")
    # Anything whose last label is a number is parsed as IPv4 by browsers (WHATWG URL),
    # which catches odd forms such as 127.1, 0x7f.1 and 2130706433.
    if _NUMERIC_LABEL_RE.match(labels[-1]):
        _fail(raw, "it is an IPv4 address or looks like one", advice=_NOT_IP)
    if labels[-1] == "localhost":
        _fail(raw, "'localhost' names the local machine", advice=_PUBLIC)
    if len(labels) == 1:
        _fail(raw, "it is a single label with no public suffix such as .com", advice=_PUBLIC)


def _to_ascii_label(raw: str, label: str) -> str:
    """Validate one (UTS #46 mapped) label and return its ASCII form."""
    shown = _quote(label)
    for ch in label:
        if ch.isascii() and not (ch.isalnum() or ch == "-"):
            _fail(
                raw,
                f"label {shown} contains {ch!r}, but only letters, digits and hyphens are allowed",
            )
    if label.startswith("-"):
        _fail(raw, f"label {shown} starts with a hyphen")
    if label.endswith("-"):
        _fail(raw, f"label {shown} ends with a hyphen")
    if label.isascii():
        # Plain LDH labels skip IDNA2008 checks: names such as r3---sn-abc are valid hosts.
        if label.startswith("xn--"):
            try:
                idna.ulabel(label)
            except idna.IDNAError as exc:
                _fail(raw, f"label {shown} is not a valid punycode (xn--) label ({exc})")
        ascii_label = label
    else:
        try:
            ascii_label = idna.alabel(label).decode("ascii")
        except idna.IDNAError as exc:
            if "too long" in str(exc).lower():
                _fail(
                    raw,
                    f"label {shown} is longer than {MAX_LABEL_LENGTH} characters in punycode",
                )
            _fail(raw, f"label {shown} is not a valid internationalised label ({exc})")
    if not _LDH_LABEL_RE.match(ascii_label):  # pragma: no cover - guaranteed by the checks above
        _fail(raw, f"label {shown} contains characters other than letters, digits and hyphens")
    if len(ascii_label) > MAX_LABEL_LENGTH:
        _fail(
            raw,
            f"label {shown} is {len(ascii_label)} characters long; "
            f"a label is at most {MAX_LABEL_LENGTH}",
        )
    return ascii_label


def _check_public(raw: str, hostname: str) -> str:
    """Check ``hostname`` against the Public Suffix List; return its registrable domain."""
    tld = hostname.rsplit(".", 1)[-1]
    if tld in _SPECIAL_USE_TLDS:
        _fail(raw, f"'.{tld}' {_SPECIAL_USE_TLDS[tld]}", advice=_PUBLIC)
    result = _extractor()(hostname)
    if not result.suffix:
        _fail(
            raw,
            f"'.{tld}' is not a public top-level domain (not on the Public Suffix List)",
            advice=_PUBLIC,
        )
    if not result.domain:
        _fail(
            raw,
            "it is only a public suffix, under which domains are registered",
            advice="send a domain registered under it",
            example=f"example.{hostname}",
        )
    registrable: str = result.top_domain_under_public_suffix
    return registrable
