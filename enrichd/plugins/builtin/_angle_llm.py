"""m15's model path: a language model writes the angle from a compact summary of the inputs.

The model answers a strict ``json_schema`` (:data:`SCHEMA`, the hand-written twin of
:class:`ModelAngle`); the answer is validated with msgspec plus checks of our own, and an invalid
one is asked again once with the error appended. Every URL the model cites must be one of the
inputs' citations: others are dropped and counted. Failures raise :class:`ModuleError` for the
caller to fall back to the rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

import msgspec

from .._types import Citation, ModuleError, Source
from . import _llm
from ._angle_rules import (
    M01,
    M02,
    M03,
    M07,
    M10,
    M11,
    M12,
    M14,
    MAX_RISKS,
    MAX_TALKING_POINTS,
    Facts,
    Inputs,
    Written,
    input_citations,
    url_key,
)

SCHEMA_NAME: Final = "displacement_angle"
#: Longest angle and talking point / risk we accept, in characters (a paragraph, a line).
MAX_ANGLE_CHARS: Final = 1200
MAX_POINT_CHARS: Final = 300
#: How many items of each list the summary shows the model.
_SUMMARY_ITEMS: Final = 5
_URL_RE = re.compile(r"https?://[^\s\"'<>)\]}]+")

Point = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_POINT_CHARS)]
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]


class LiftRange(msgspec.Struct, kw_only=True):
    """The estimated conversion lift, in percent."""

    min: Percent
    max: Percent


class ModelAngle(msgspec.Struct, kw_only=True):
    """What the model writes (unknown extra keys are ignored)."""

    angle: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ANGLE_CHARS)]
    talking_points: Annotated[list[Point], msgspec.Meta(max_length=MAX_TALKING_POINTS)]
    risks: Annotated[list[Point], msgspec.Meta(max_length=MAX_RISKS)]
    difficulty: Literal["low", "medium", "high"]
    estimated_conversion_lift: LiftRange
    cited_urls: list[str]


def _strings(description: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "description": description}


#: :class:`ModelAngle` as an OpenAI strict-mode schema: every property required, no others
#: allowed, and only keywords strict mode accepts (the length limits are checked afterwards).
SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "angle": {
            "type": "string",
            "description": "Two or three sentences the salesperson can say.",
        },
        "talking_points": _strings(f"At most {MAX_TALKING_POINTS} short talking points."),
        "risks": _strings(f"At most {MAX_RISKS} short risks or objections."),
        "difficulty": {
            "type": "string",
            "enum": ["low", "medium", "high"],
            "description": "How hard displacing the incumbent is.",
        },
        "estimated_conversion_lift": {
            "type": "object",
            "description": "Expected conversion lift in percent.",
            "properties": {"min": {"type": "number"}, "max": {"type": "number"}},
            "required": ["min", "max"],
            "additionalProperties": False,
        },
        "cited_urls": _strings("URLs from the input, exactly as given, that back the claims."),
    },
    "required": [
        "angle",
        "talking_points",
        "risks",
        "difficulty",
        "estimated_conversion_lift",
        "cited_urls",
    ],
    "additionalProperties": False,
}


# -- the prompt ------------------------------------------------------------------------------


def system_prompt(domain: str, seller: str) -> str:
    """The instructions. The target's domain comes first: it names the company being discussed."""
    return (
        f"Target: {domain}. You write the sales angle an account executive uses to sell {seller} "
        "to this company. The user message is a JSON summary of what is known about it; facts "
        "carry the URLs they came from (sources, source_url, url). Use only these facts: never "
        "invent numbers, names, events or URLs. "
        "angle: two or three sentences the salesperson can say, built on the strongest facts "
        "(traffic, size, the incumbent product to displace or a greenfield, the freshest "
        "trigger event, the best case study). "
        f"talking_points: at most {MAX_TALKING_POINTS} short points. "
        f"risks: at most {MAX_RISKS} short risks or objections. "
        "difficulty (low, medium or high) and estimated_conversion_lift (percent, min and max): "
        "the playbook gives the seller's estimates for this incumbent; keep to them unless the "
        "facts argue otherwise. "
        "cited_urls: the input URLs, exactly as given, that back your claims. "
        f"If playbook.existing_customer is true the company already uses {seller}: write an "
        "expansion angle, not a displacement one. Answer with one JSON object."
    )


def _compact(value: Any) -> Any:
    """``value`` without empty entries (None, "", [], {}), so the prompt stays short."""
    if isinstance(value, Mapping):
        kept = {k: _compact(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        items = [_compact(v) for v in value]
        return [v for v in items if v not in (None, "", [], {})]
    return value


def _pick(data: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {key: data.get(key) for key in keys}


def _sources(inputs: Inputs, module_id: str) -> list[str]:
    return [c.url for c in inputs.citations.get(module_id, [])]


def _section(inputs: Inputs, module_id: str, *keys: str) -> dict[str, Any] | None:
    if not inputs.has(module_id):
        return None
    return {**_pick(inputs.get(module_id), *keys), "sources": _sources(inputs, module_id)}


def _items(value: Any, *keys: str) -> list[dict[str, Any]]:
    records = value if isinstance(value, list) else []
    return [_pick(r, *keys) for r in records[:_SUMMARY_ITEMS] if isinstance(r, Mapping)]


def summary(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    """What the model needs to know, each item with its source URL."""
    hiring = _section(inputs, M10, "open_roles", "velocity", "hiring_signal_strength")
    if hiring is not None:
        hiring["relevant_roles"] = _items(inputs.get(M10).get("relevant_roles"), "title", "url")
    profile = facts.incumbent.profile
    doc = {
        "domain": inputs.domain,
        "seller_product": facts.seller,
        "company": _section(
            inputs, M01, "company_name", "industry", "employees", "country", "description"
        ),
        "traffic": _section(inputs, M03, "monthly_visits", "visits_change", "global_rank"),
        "tech_stack": _section(
            inputs, M02, "search_provider", "commerce_platform", "cms", "monthly_spend_usd"
        ),
        "financials": _section(inputs, M07, "public", "revenue", "currency", "revenue_growth"),
        "stock": _section(inputs, "m08_stock_info", "ticker", "market_cap", "currency"),
        "hiring": hiring,
        "exec_quotes": _items(
            inputs.get(M11).get("quotes"), "text", "speaker", "title", "source_url", "date"
        ),
        "events": _items(inputs.get(M12).get("events"), "type", "title", "date", "source_url"),
        "case_studies": facts.case_studies[:_SUMMARY_ITEMS],
        "icp": _section(inputs, M14, "score", "tier"),
        "playbook": {
            "current_competitor": facts.incumbent.name,
            "existing_customer": facts.existing_customer,
            "partner_platform": facts.partner,
            "difficulty": profile.difficulty,
            "threat": profile.threat,
            "conversion_lift_percent": {"min": profile.lift[0], "max": profile.lift[1]},
        },
    }
    compact: dict[str, Any] = _compact(doc)
    return compact


def messages(inputs: Inputs, facts: Facts) -> list[dict[str, str]]:
    """The chat: the instructions and the summary."""
    facts_json = json.dumps(
        summary(inputs, facts), ensure_ascii=False, separators=(",", ":"), default=str
    )
    return [
        {"role": "system", "content": system_prompt(inputs.domain, facts.seller)},
        {"role": "user", "content": facts_json},
    ]


# -- validation ------------------------------------------------------------------------------


def check(answer: Any) -> ModelAngle:
    """``answer`` as a :class:`ModelAngle`, or ``malformed_response`` saying what is wrong."""
    angle = _llm.validate_json(answer, ModelAngle)
    problems = []
    if not angle.angle.strip():
        problems.append("angle is blank")
    if not angle.talking_points:
        problems.append("talking_points is empty")
    if any(not text.strip() for text in (*angle.talking_points, *angle.risks)):
        problems.append("a talking point or risk is blank")
    lift = angle.estimated_conversion_lift
    if lift.min > lift.max:
        problems.append("estimated_conversion_lift.min is above max")
    if problems:
        raise ModuleError("malformed_response", "; ".join(problems), source="llm")
    return angle


# -- cited URLs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vetted:
    """The model's text with URLs it was not given removed, and what it cited."""

    angle: str
    talking_points: list[str]
    risks: list[str]
    citations: list[Citation]
    dropped: int


def vet_urls(angle: ModelAngle, known: Mapping[str, Citation]) -> Vetted:
    """Keep the cited URLs that are inputs' citations; drop the rest, also from the text."""
    dropped: set[str] = set()
    cited: dict[str, Citation] = {}
    for url in angle.cited_urls:
        citation = known.get(url_key(url))
        if citation is None:
            dropped.add(url_key(url))
        else:
            cited.setdefault(url_key(url), citation)

    def clean(text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            url = match.group(0).rstrip(".,;:")
            if url_key(url) in known:
                return match.group(0)
            dropped.add(url_key(url))
            return match.group(0)[len(url) :]

        return " ".join(_URL_RE.sub(replace, text).split())

    text = clean(angle.angle)
    points = [p for p in map(clean, angle.talking_points) if p]
    risks = [r for r in map(clean, angle.risks) if r]
    return Vetted(text, points, risks, list(cited.values()), len(dropped))


# -- the call --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelResult:
    """The model's angle and who wrote it."""

    written: Written
    model: str
    warnings: list[str]


def _retry_messages(
    chat: list[dict[str, str]], answer: Mapping[str, Any] | None, error: ModuleError
) -> list[dict[str, str]]:
    extra = []
    if answer is not None:
        extra.append({"role": "assistant", "content": json.dumps(answer, ensure_ascii=False)})
    extra.append(
        {
            "role": "user",
            "content": f"That answer is invalid: {error.message}. Answer again with one JSON "
            "object that fixes it.",
        }
    )
    return [*chat, *extra]


async def ask(source: Source, chat: list[dict[str, str]]) -> tuple[ModelAngle, str]:
    """The model's valid angle and its name, asking again once if the first answer is invalid.

    Raises :class:`ModuleError`: ``malformed_response`` after two invalid answers, or whatever
    the client raised (auth, HTTP, refusal, truncation, retries exhausted).
    """
    answer: Mapping[str, Any] | None = None
    try:
        answer, model = await _llm.chat_json(source, chat, SCHEMA, name=SCHEMA_NAME)
        return check(answer), model
    except ModuleError as exc:
        if exc.code != "malformed_response":
            raise
        first = exc
    try:
        answer, model = await _llm.chat_json(
            source, _retry_messages(chat, answer, first), SCHEMA, name=SCHEMA_NAME
        )
        return check(answer), model
    except ModuleError as exc:
        if exc.code != "malformed_response":
            raise
        raise ModuleError(
            "malformed_response",
            f"two invalid answers: {first.message}; then: {exc.message}",
            source="llm",
        ) from exc


async def write_with_model(source: Source, inputs: Inputs, facts: Facts) -> ModelResult:
    """The angle written by the model behind ``source`` (raises :class:`ModuleError`)."""
    angle, model = await ask(source, messages(inputs, facts))
    vetted = vet_urls(angle, input_citations(inputs))
    if not vetted.angle:
        raise ModuleError("malformed_response", "the angle was nothing but URLs", source="llm")
    warnings = []
    if vetted.dropped:
        warnings.append(
            f"dropped {vetted.dropped} URL(s) the model cited that are not among the inputs' "
            "citations"
        )
    lift = angle.estimated_conversion_lift
    written = Written(
        angle=vetted.angle,
        talking_points=vetted.talking_points,
        risks=vetted.risks,
        difficulty=angle.difficulty,
        lift=(lift.min, lift.max),
        citations=vetted.citations,
    )
    return ModelResult(written, model, warnings)
