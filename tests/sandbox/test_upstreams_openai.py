"""The simulated chat-completions API: envelope, errors, and schema-valid structured output."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from enrichd.sandbox._http import HttpRequest, HttpResponse
from enrichd.sandbox._upstreams import Upstreams

NOW = 1_780_000_000.0
_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
    "integer": int,
    "number": (int, float),
}


def validate(
    value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None, path: str = "$"
) -> None:
    """A tiny JSON-schema checker for the structured-output subset; raises on a mismatch."""
    root = root or schema
    if "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        return validate(value, node, root, path)
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                return validate(value, option, root, path)
            except AssertionError as exc:
                errors.append(exc)
        raise AssertionError(f"{path}: matches no anyOf option: {errors}")
    if "const" in schema:
        assert value == schema["const"], path
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        ok = any(
            isinstance(value, _TYPES[k])
            and not (k in ("integer", "number") and isinstance(value, bool))
            for k in kinds
        )
        assert ok, f"{path}: {value!r} is not {kinds}"
    if isinstance(value, dict):
        for name in schema.get("required", []):
            assert name in value, f"{path}: missing {name}"
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            assert set(value) <= set(properties), f"{path}: extra {set(value) - set(properties)}"
        for name, sub in properties.items():
            if name in value:
                validate(value[name], sub, root, f"{path}.{name}")
    if isinstance(value, list):
        assert len(value) >= schema.get("minItems", 0), path
        assert len(value) <= schema.get("maxItems", len(value)), path
        for index, item in enumerate(value):
            validate(item, schema.get("items", {}), root, f"{path}[{index}]")
    return None


def test_validator_catches_mistakes() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "additionalProperties": False,
        "properties": {"a": {"type": "string", "enum": ["x"]}},
    }
    validate({"a": "x"}, schema)
    for wrong in ({}, {"a": "y"}, {"a": "x", "b": 1}, {"a": 1}, []):
        with pytest.raises(AssertionError):
            validate(wrong, schema)


ANGLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "angle",
        "talking_points",
        "risks",
        "current_competitor",
        "difficulty",
        "estimated_conversion_lift",
        "timing_signals",
        "citations",
        "confidence",
    ],
    "properties": {
        "angle": {"type": "string"},
        "talking_points": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        "risks": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
        "current_competitor": {"type": "string"},
        "difficulty": {"type": "string", "enum": ["low", "medium", "high"]},
        "estimated_conversion_lift": {"type": "string"},
        "timing_signals": {"type": "array", "items": {"$ref": "#/$defs/signal"}},
        "citations": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/citation"}},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "$defs": {
        "signal": {
            "type": "object",
            "additionalProperties": False,
            "required": ["title", "url", "type"],
            "properties": {
                "title": {"type": "string"},
                "url": {"type": "string"},
                "type": {"type": "string", "enum": ["executive_change", "funding", "other"]},
            },
        },
        "citation": {
            "type": "object",
            "additionalProperties": False,
            "required": ["url", "title"],
            "properties": {
                "url": {"type": "string"},
                "title": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
        },
    },
}
PROFILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "company_name": {"type": "string"},
        "industry": {"type": ["string", "null"]},
        "employee_count_estimate": {"type": ["integer", "null"]},
        "hiring_signals": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["company_name", "industry", "employee_count_estimate", "hiring_signals"],
    "additionalProperties": False,
}
FACTS = {
    "domain": "costco.com",
    "m12_trigger_events": {
        "events": [
            {
                "title": "Costco Wholesale names Dana Whitfield as new Chief Digital Officer",
                "url": "https://www.reuters.com/business/costco-names-cdo-2026-05-01/",
            }
        ]
    },
    "citations": [{"url": "https://builtwith.com/costco.com", "title": "BuiltWith"}],
}


def chat_body(schema: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    response_format: dict[str, Any] = {"type": "text"}
    if schema is not None:
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "strict": True, "schema": schema},
        }
    return {
        "model": "gpt-4o-mini",
        "temperature": 0,
        "response_format": response_format,
        "messages": [
            {"role": "system", "content": "You write sales angles. Answer in JSON."},
            {"role": "user", "content": json.dumps(FACTS)},
        ],
        **extra,
    }


async def post(
    payload: Any,
    key: str | None = "sk-test",
    path: str = "/openai/v1/chat/completions",
    raw: bytes | None = None,
) -> HttpResponse:
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    data = raw if raw is not None else json.dumps(payload).encode()
    req = HttpRequest(method="POST", path=path, query={}, headers=headers, body=data, target=path)
    return await Upstreams(now=lambda: NOW).handle("llm", req, "http://sandbox")


async def content_of(payload: Any) -> tuple[dict[str, Any], str]:
    response = await post(payload)
    assert response.status == 200, response.body
    answer = json.loads(response.body)
    assert answer["object"] == "chat.completion" and answer["id"].startswith("chatcmpl-")
    assert answer["model"] == payload["model"] and answer["created"] == int(NOW)
    [choice] = answer["choices"]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    usage = answer["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    content: str = choice["message"]["content"]
    return answer, content


async def test_json_schema_output_validates_and_cites_only_given_urls() -> None:
    _, content = await content_of(chat_body(ANGLE_SCHEMA))
    data = json.loads(content)
    validate(data, ANGLE_SCHEMA)
    given = set(re.findall(r"https?://[^\s\"]+", json.dumps(FACTS)))
    used = {c["url"] for c in data["citations"]} | {s["url"] for s in data["timing_signals"]}
    assert used and used <= given
    # The "model" knows the simulated world: Costco runs Elasticsearch in every upstream.
    assert data["current_competitor"] == "Elasticsearch" and data["difficulty"] == "medium"
    assert "Costco Wholesale" in data["angle"]


async def test_company_profile_schema() -> None:
    _, content = await content_of(chat_body(PROFILE_SCHEMA))
    data = json.loads(content)
    validate(data, PROFILE_SCHEMA)
    assert data["company_name"] == "Costco Wholesale"
    assert data["employee_count_estimate"] == 333000 and data["industry"] == "Retail"


@pytest.mark.parametrize(
    "schema",
    [
        {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 2,
                    "items": {"type": "integer", "minimum": 5},
                }
            },
            "required": ["items"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "x": {"const": "fixed"},
                "y": {"type": "boolean"},
                "z": {"type": "null"},
            },
            "required": ["x", "y", "z"],
        },
        {
            "type": "array",
            "items": {"type": "object", "properties": {"n": {"type": "string", "maxLength": 5}}},
        },
    ],
)
async def test_other_schemas(schema: dict[str, Any]) -> None:
    _, content = await content_of(chat_body(schema))
    validate(json.loads(content), schema)


async def test_json_object_and_text() -> None:
    _, content = await content_of(chat_body(None, response_format={"type": "json_object"}))
    assert isinstance(json.loads(content), dict)
    _, text = await content_of(chat_body(None))
    assert "Costco Wholesale" in text and not text.startswith("{")


async def test_errors() -> None:
    bad_key = await post(chat_body(), key="bad-key")
    assert bad_key.status == 401
    assert json.loads(bad_key.body) == {
        "error": {
            "message": "Incorrect API key provided.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    assert (await post(chat_body(), key=None)).status == 401
    assert (await post(None, raw=b"{not json")).status == 400
    assert (await post({"model": "m", "messages": []})).status == 400
    assert (await post({"messages": [{"role": "user", "content": "hi"}]})).status == 400
    no_json_word = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_object"},
    }
    assert (await post(no_json_word)).status == 400
    assert (await post(chat_body(), path="/openai/v1/completions")).status == 404


async def test_max_tokens_truncates() -> None:
    response = await post(chat_body(ANGLE_SCHEMA, max_tokens=10))
    choice = json.loads(response.body)["choices"][0]
    assert choice["finish_reason"] == "length" and len(choice["message"]["content"]) <= 40
