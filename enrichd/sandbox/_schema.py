"""Fill a JSON schema with plausible values drawn from a chat's messages (the fake model).

Supports the structured-output subset: ``type`` (string or list), ``properties``,
``required``, ``items``, ``enum``, ``const``, ``anyOf``/``oneOf``, ``$ref`` into ``$defs`` /
``definitions``, ``minItems``/``maxItems``, ``minimum``/``maximum``, ``minLength``/``maxLength``.
Strings come from the facts of the company the messages are about (the same simulated world as
the other upstreams) and URLs only from the messages themselves, so a client that drops cited
URLs it never supplied keeps them all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ._catalog import SEARCH_VENDORS
from ._model import Profile
from ._profile import profile_for
from ._util import find_domain, money

_URL_RE = re.compile(r"https?://[^\s\"'<>\\)\]}]+")
_TITLE_RE = re.compile(r'"(?:title|headline)"\s*:\s*"([^"]{5,200})"')
_QUOTE_RE = re.compile(r"[\u201c\"]([^\u201c\u201d\"]{20,300})[\u201d\"]")
_LIFT = {
    None: "15-30%",
    "Solr": "10-20%",
    "Elasticsearch": "5-15%",
    "OpenSearch": "5-15%",
    "Searchspring": "5-10%",
    "Klevu": "5-10%",
    "Doofinder": "5-10%",
}
_HIGH_THREAT = ("Constructor", "Bloomreach", "Coveo")
_MEDIUM_THREAT = ("Elasticsearch", "Lucidworks", "OpenSearch")
_MAX_DEPTH = 12


@dataclass
class Facts:
    """What the fake model knows when answering: the messages and the company they name."""

    text: str
    day: str  # today, ISO
    urls: list[str]
    quotes: list[str]
    titles: list[str]
    profile: Profile | None
    vendor: str | None
    used: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, text: str, day: str) -> Facts:
        """Facts read from the concatenated message text; ``day`` is today (ISO)."""
        urls = list(dict.fromkeys(u.rstrip(".,;:") for u in _URL_RE.findall(text)))
        domain = find_domain(_URL_RE.sub(" ", text))
        profile = profile_for(domain) if domain else None
        vendor = (
            profile.search_vendor
            if profile is not None
            else next((v for v in SEARCH_VENDORS if v.lower() in text.lower()), None)
        )
        return cls(
            text, day, urls, _QUOTE_RE.findall(text), _TITLE_RE.findall(text), profile, vendor
        )

    @property
    def name(self) -> str:
        """The company\'s name, or a neutral subject when the messages name none."""
        return self.profile.name if self.profile is not None else "The company"

    def next_url(self, key: str) -> str:
        """The next message URL for ``key`` (cycling), or the company's homepage."""
        if not self.urls:
            return f"https://www.{self.profile.domain}/" if self.profile is not None else ""
        index = self.used.get(key, 0)
        self.used[key] = index + 1
        return self.urls[index % len(self.urls)]


def difficulty(vendor: str | None) -> str:
    """Displacement difficulty by incumbent vendor."""
    return "high" if vendor in _HIGH_THREAT else "medium" if vendor in _MEDIUM_THREAT else "low"


def _sentences(facts: Facts) -> dict[str, list[str]]:
    p, vendor, name = facts.profile, facts.vendor, facts.name
    visits = f"{p.visits / 1e6:.1f}M visits a month" if p else "steady traffic"
    size = f"{money(p.revenue)} in revenue" if p else "a growing business"
    incumbent = (
        f"It runs {vendor} for site search today, so the case is a measurable lift over {vendor}."
        if vendor
        else "It has no dedicated site-search vendor today: a greenfield opportunity."
    )
    vertical = p.vertical.lower() if p else "digital"
    return {
        "angle": [
            f"{name} draws {visits} and reports {size}. {incumbent} Recent news gives a "
            "timely reason to reach out."
        ],
        "point": [
            f"Search drives a large share of revenue at {visits}",
            f"Proven lift over {vendor or 'native search'} in comparable {vertical} deployments",
            "Relevance tuning and merchandising controls for the e-commerce team",
            "AI personalization on top of the existing product catalog",
            f"Case studies from similar {vertical} companies",
        ],
        "risk": [
            f"Timing of the {vendor or 'current'} contract renewal is unknown",
            "Migration effort on the current commerce platform",
            "Budget may already be committed to other digital projects",
            "Several stakeholders across IT and e-commerce",
        ],
        "signal": [f"High traffic ({visits})", f"Scale: {size}", incumbent],
        "action": ["Immediate outreach: book a discovery call this week"],
    }


_TEXT_KEYS = (
    (
        "angle",
        (
            "angle",
            "summary",
            "pitch",
            "description",
            "reasoning",
            "rationale",
            "explanation",
            "overview",
            "analysis",
            "text",
            "content",
            "message",
        ),
    ),
    ("point", ("talking", "point", "benefit", "highlight")),
    ("risk", ("risk", "objection", "concern")),
    ("signal", ("signal", "trigger", "reason", "evidence")),
    ("action", ("action", "recommend", "next_step")),
)


def _string(facts: Facts, name: str, schema: dict[str, Any], index: int) -> str:
    p = facts.profile
    key = name.lower()
    fmt = schema.get("format", "")
    if fmt == "uri" or any(w in key for w in ("url", "link", "href", "source")):
        return facts.next_url(key)
    if fmt in ("date", "date-time") or key.endswith(("date", "_at")):
        return f"{p.founded}-01-01" if p is not None and "found" in key else facts.day
    direct = {
        "competitor": facts.vendor or "none",
        "incumbent": facts.vendor or "none",
        "vendor": facts.vendor or "none",
        "difficulty": difficulty(facts.vendor),
        "lift": _LIFT.get(facts.vendor, "3-8%"),
        "quote": facts.quotes[index % len(facts.quotes)] if facts.quotes else "",
        "industry": p.vertical if p else "",
        "vertical": p.vertical if p else "",
        "speaker": p.execs[0].name if p else "",
        "ticker": (p.ticker or "") if p else "",
        "symbol": (p.ticker or "") if p else "",
        "phone": p.phone if p else "",
        "email": p.emails[0] if p else "",
        "country": p.country if p else "",
        "generated": "llm",
        "hq": f"{p.city}, {p.state}" if p else "",
        "headquarter": f"{p.city}, {p.state}" if p else "",
        "location": f"{p.city}, {p.state}" if p else "",
        "company": facts.name,
        "organization": facts.name,
    }
    for word, value in direct.items():
        if word in key:
            return value
    if key == "name":
        return facts.name
    if key in ("title", "headline"):
        return facts.titles[index % len(facts.titles)] if facts.titles else f"{facts.name} update"
    sentences = _sentences(facts)
    for group, words in _TEXT_KEYS:
        if any(w in key for w in words):
            options = sentences[group]
            return options[index % len(options)]
    label = key.replace("_", " ").strip() or "detail"
    return f"{facts.name}: {label}"


def _number(facts: Facts, name: str, schema: dict[str, Any], integer: bool) -> float | int:
    p = facts.profile
    key = name.lower()
    value: float = 1
    if p is not None and "employee" in key:
        value = p.employees
    elif p is not None and ("founded" in key or "year" in key):
        value = p.founded
    elif p is not None and "visit" in key:
        value = p.visits
    elif p is not None and "revenue" in key:
        value = p.revenue
    elif "confidence" in key or "probability" in key:
        value = 0.8
    elif "score" in key:
        value = 72
    elif key.startswith("min") or key.endswith("min"):
        # A range's low end, e.g. an estimated lift in percent: small but plausible.
        value = 5
    elif key.startswith("max") or key.endswith("max"):
        value = 15
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is not None and value < low:
        value = low + (1 if "exclusiveMinimum" in schema else 0)
    if high is not None and value > high:
        value = high - (1 if "exclusiveMaximum" in schema else 0)
    return int(value) if integer else float(value)


def fill(
    schema: Any,
    facts: Facts,
    root: dict[str, Any] | None = None,
    name: str = "",
    index: int = 0,
    depth: int = 0,
) -> Any:
    """A value valid against ``schema`` (within the supported subset)."""
    root = root if root is not None else schema
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    if "$ref" in schema:
        return fill(_resolve(root, schema["$ref"]), facts, root, name, index, depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return _enum(schema["enum"], facts, name)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            options = [o for o in schema[combinator] if o.get("type") != "null"] or [{}]
            return fill(options[0], facts, root, name, index, depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        return {
            prop: fill(sub, facts, root, prop, index, depth + 1)
            for prop, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        return _array(schema, facts, root, name, depth)
    if kind in ("integer", "number"):
        return _number(facts, name, schema, kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    text = _string(facts, name, schema, index)
    if len(text) < schema.get("minLength", 0):
        text = text.ljust(schema["minLength"], ".")
    return text[: schema["maxLength"]] if "maxLength" in schema else text


def _enum(values: list[Any], facts: Facts, name: str) -> Any:
    wanted = {"difficulty": difficulty(facts.vendor), "threat": difficulty(facts.vendor)}
    for word, choice in wanted.items():
        if word in name.lower() and choice in values:
            return choice
    present = [v for v in values if isinstance(v, str) and v and v.lower() in facts.text.lower()]
    return present[0] if present else values[0]


def _array(
    schema: dict[str, Any], facts: Facts, root: dict[str, Any], name: str, depth: int
) -> list[Any]:
    items = schema.get("items", {})
    wants_urls = any(w in name.lower() for w in ("url", "citation", "source", "link"))
    count = min(len(facts.urls), 3) if wants_urls else 3
    if isinstance(items, dict) and items.get("type") == "object":
        count = min(count, 2)
    count = max(schema.get("minItems", 0), min(count, schema.get("maxItems", count)))
    singular = name[:-1] if name.endswith("s") else name
    return [fill(items, facts, root, singular, i, depth + 1) for i in range(count)]


def _resolve(root: dict[str, Any], ref: str) -> Any:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node
