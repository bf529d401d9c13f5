"""OpenAI-compatible chat completions: ``POST /v1/chat/completions`` (and ``GET /v1/models``).

The "model" writes its answer from the messages: with a ``json_schema`` response format the
content is a JSON string valid against the schema, with ``json_object`` a JSON object, and
otherwise plain text. Errors use OpenAI's ``{"error": {...}}`` envelope.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._http import HttpRequest, HttpResponse, json_response
from ._schema import Facts, fill
from ._util import hex_id, iso_date

_CHARS_PER_TOKEN = 4


def _error(
    status: int,
    message: str,
    code: str | None = None,
    param: str | None = None,
    kind: str = "invalid_request_error",
) -> HttpResponse:
    return json_response(
        {"error": {"message": message, "type": kind, "param": param, "code": code}}, status
    )


def handle(request: HttpRequest, now: float) -> HttpResponse:
    """Answer a request under ``/openai/v1``."""
    path = request.path.removeprefix("/openai").rstrip("/")
    auth = request.headers.get("authorization", "")
    key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    if not key:
        return _error(
            401,
            "You didn't provide an API key. You need to provide your API key in "
            "an Authorization header using Bearer auth (i.e. Authorization: Bearer "
            "YOUR_KEY).",
        )
    if key.startswith("bad"):
        return _error(401, "Incorrect API key provided.", "invalid_api_key")
    if path == "/v1/models" and request.method == "GET":
        return json_response(
            {
                "object": "list",
                "data": [
                    {
                        "id": "sandbox-model",
                        "object": "model",
                        "created": 1700000000,
                        "owned_by": "enrichd-sandbox",
                    }
                ],
            }
        )
    if path != "/v1/chat/completions":
        return _error(404, f"Invalid URL ({request.method} {request.path})")
    if request.method != "POST":
        return _error(405, f"Invalid method for URL ({request.method} {request.path})")
    try:
        body = msgspec.json.decode(request.body)
    except msgspec.DecodeError:
        return _error(
            400,
            "We could not parse the JSON body of your request. (HINT: This "
            "likely means you aren't using your HTTP library correctly.)",
        )
    if not isinstance(body, dict):
        return _error(400, "The request body must be a JSON object.")
    return _complete(body, now)


def _text_of(messages: list[Any]) -> str | None:
    """The messages' text, or ``None`` if they are malformed."""
    parts: list[str] = []
    for message in messages:
        if not isinstance(message, dict) or "role" not in message:
            return None
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [p.get("text", "") for p in content if isinstance(p, dict)]
    return "\n".join(parts)


def _complete(body: dict[str, Any], now: float) -> HttpResponse:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _error(400, "you must provide a model parameter", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _error(400, "'messages' must be a non-empty array", param="messages")
    text = _text_of(messages)
    if text is None:
        return _error(400, "Each message must be an object with a 'role'.", param="messages")
    if body.get("stream"):
        return _error(400, "Streaming is not supported by the sandbox.", param="stream")
    facts = Facts.of(text, iso_date(now))
    response_format = body.get("response_format") or {"type": "text"}
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
            return _error(
                400,
                "Missing required parameter: 'response_format.json_schema.schema'.",
                param="response_format",
            )
        content = msgspec.json.encode(fill(spec["schema"], facts)).decode()
    elif kind == "json_object":
        if "json" not in text.lower():
            return _error(
                400,
                "'messages' must contain the word 'json' in some form, to use "
                "'response_format' of type 'json_object'.",
                param="messages",
            )
        content = msgspec.json.encode(_summary_object(facts)).decode()
    elif kind == "text":
        content = _prose(facts)
    else:
        return _error(
            400,
            f"Invalid value for 'response_format.type': {kind!r}.",
            param="response_format.type",
        )
    return json_response(_envelope(body, model, text, content, now))


def _envelope(
    body: dict[str, Any], model: str, prompt: str, content: str, now: float
) -> dict[str, Any]:
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    finish = "stop"
    if isinstance(limit, int) and limit > 0 and len(content) > limit * _CHARS_PER_TOKEN:
        content, finish = content[: limit * _CHARS_PER_TOKEN], "length"
    prompt_tokens = max(1, len(prompt) // _CHARS_PER_TOKEN)
    completion_tokens = max(1, len(content) // _CHARS_PER_TOKEN)
    return {
        "id": f"chatcmpl-{hex_id(29, prompt, content, int(now))}",
        "object": "chat.completion",
        "created": int(now),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": "fp_sandbox01",
    }


def _summary_object(facts: Facts) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {
            "company_name": {"type": "string"},
            "industry": {"type": "string"},
            "summary": {"type": "string"},
            "talking_points": {"type": "array", "items": {"type": "string"}},
            "sources": {"type": "array", "items": {"type": "string", "format": "uri"}},
        },
    }
    answer: dict[str, Any] = fill(schema, facts)
    return answer


def _prose(facts: Facts) -> str:
    answer = _summary_object(facts)
    points = "\n".join(f"- {point}" for point in answer["talking_points"])
    return f"{answer['summary']}\n\nTalking points:\n{points}"
