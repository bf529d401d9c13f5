"""An OpenAI-compatible chat-completions client (the ``llm`` source; m15 uses it).

Works with OpenAI and with local servers that speak the same API (Ollama, vLLM, llama.cpp): the
source's ``base_url`` includes the ``/v1`` prefix, and ``[sources.llm]`` takes ``model``,
``temperature`` and ``max_tokens`` besides the common keys. The source actor sends the key as
``Authorization: Bearer``, rate-limits, and retries 429/5xx.

:func:`chat_json` asks for a JSON object. It sends a strict ``json_schema`` response format; a
server that rejects it (HTTP 400 naming the response format) is asked again with ``json_object``,
then with plain prompting, and the mode that worked is remembered for the source's lifetime.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, TypeVar

import msgspec

from .._types import ModuleError, Source, SourceResponse, SourceSpec

T = TypeVar("T")

ResponseMode = Literal["json_schema", "json_object", "plain"]

CHAT_PATH: Final = "chat/completions"
_MODES: Final[tuple[ResponseMode, ...]] = ("json_schema", "json_object", "plain")
#: Key in ``source.state`` remembering the best response format the server accepted.
_MODE_STATE: Final = "llm_response_mode"
_TOKENS_STATE: Final = "llm_max_tokens_param"
_FENCE_RE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
_NAME_RE = re.compile(r"[^a-zA-Z0-9_-]")
_FORMAT_WORDS: Final = ("response_format", "json_schema", "json_object", "structured output")


class LlmOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The keys of ``[sources.llm]`` beyond the common ones."""

    model: str = "gpt-4o-mini"
    temperature: float = 0.0
    max_tokens: int = 800


SOURCE = SourceSpec(
    name="llm",
    description="OpenAI-compatible chat completions",
    base_url="https://api.openai.com/v1",
    auth=("bearer", "Authorization"),
    rate_per_second=2.0,
    burst=2,
    # Completions take seconds: enough in flight to use the rate.
    max_concurrency=8,
    timeout_seconds=60.0,
    homepage="",
    options_type=LlmOptions,
)


def options_of(source: Source) -> LlmOptions:
    """The source's :class:`LlmOptions` (the defaults when none were configured)."""
    options = source.settings.options
    return options if isinstance(options, LlmOptions) else LlmOptions()


def strip_fences(text: str) -> str:
    """``text`` without a surrounding Markdown code fence (```` ```json ... ``` ````)."""
    match = _FENCE_RE.match(text)
    return match.group(1).strip() if match else text.strip()


def _schema_instruction(schema: Mapping[str, Any]) -> dict[str, str]:
    # json_object and plain modes do not carry the schema, so the prompt must; OpenAI's JSON mode
    # also insists that the word "JSON" appears in the messages.
    return {
        "role": "system",
        "content": "Answer with a single JSON object only, no prose, matching this JSON Schema: "
        + json.dumps(schema, separators=(",", ":")),
    }


def build_body(
    options: LlmOptions,
    messages: Sequence[Mapping[str, Any]],
    schema: Mapping[str, Any],
    *,
    name: str,
    mode: ResponseMode,
    tokens_param: str = "max_tokens",
) -> dict[str, Any]:
    """The chat-completions request body for ``mode``."""
    body: dict[str, Any] = {
        "model": options.model,
        "messages": [dict(m) for m in messages],
        "temperature": options.temperature,
        tokens_param: options.max_tokens,
    }
    if mode == "json_schema":
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": _NAME_RE.sub("_", name)[:64] or "answer",
                "strict": True,
                "schema": dict(schema),
            },
        }
    else:
        body["messages"] = [_schema_instruction(schema), *body["messages"]]
        if mode == "json_object":
            body["response_format"] = {"type": "json_object"}
    return body


def _error_record(response: SourceResponse) -> dict[str, Any]:
    try:
        body = response.json()
    except ModuleError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error
    # Some local servers answer {"error": "message"} or {"detail": "..."}.
    if isinstance(error, str):
        return {"message": error}
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return {"message": body["detail"]}
    return {}


def _rejects(error: Mapping[str, Any], words: Sequence[str]) -> bool:
    text = f"{error.get('param') or ''} {error.get('message') or ''}".lower()
    return any(word in text for word in words)


def _failure(source: str, model: str, response: SourceResponse) -> ModuleError:
    status = response.status_code
    error = _error_record(response)
    message = str(error.get("message") or "").strip()
    code = str(error.get("code") or error.get("type") or "")
    said = f"LLM server answered HTTP {status}" + (f" ({code})" if code else "")
    said += f": {message}" if message else ""
    if status in (401, 403):
        return ModuleError(
            "auth_failed", f"{said} (check [sources.{source}] api_key)", source=source
        )
    if status == 404:
        return ModuleError(
            "invalid_request",
            f"model {model!r} is unknown to the LLM server (set [sources.{source}] model); {said}",
            source=source,
        )
    if status in (400, 422):
        return ModuleError("invalid_request", said, source=source)
    return ModuleError("upstream_error", said, source=source)


def parse_completion(response: SourceResponse, *, source: str, model: str) -> tuple[Any, str]:
    """The parsed JSON answer of a 200 chat-completions response and the model that wrote it."""
    try:
        body = response.json()
    except ModuleError as exc:
        raise ModuleError(exc.code, exc.message, source=source) from exc
    choices = body.get("choices") if isinstance(body, dict) else None
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(choice, dict) or not isinstance(message, dict):
        raise ModuleError(
            "malformed_response", "LLM answer has no choices[0].message", source=source
        )
    served_by = body.get("model")
    served_by = served_by if isinstance(served_by, str) and served_by else model
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        raise ModuleError("llm_refused", f"{served_by} refused: {refusal}", source=source)
    finish = choice.get("finish_reason")
    if finish == "length":
        raise ModuleError(
            "llm_truncated",
            f"{served_by} stopped at the token limit; raise [sources.{source}] max_tokens",
            source=source,
        )
    if finish == "content_filter":
        raise ModuleError("llm_refused", f"{served_by}'s content filter stopped it", source=source)
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        raise ModuleError("llm_refused", f"{served_by} gave no answer", source=source)
    try:
        return json.loads(strip_fences(content)), served_by
    except ValueError as exc:
        raise ModuleError(
            "malformed_response", f"{served_by} did not answer JSON: {exc}", source=source
        ) from exc


async def chat_json(
    source: Source,
    messages: Sequence[Mapping[str, Any]],
    schema: Mapping[str, Any],
    *,
    name: str,
) -> tuple[dict[str, Any], str]:
    """Ask ``source`` for a JSON object matching ``schema``; return it and the model's name.

    ``name`` names the schema (OpenAI's ``json_schema.name``). The object is parsed but not
    validated against ``schema``: see :func:`validate_json`. Raises :class:`ModuleError`:
    ``auth_failed``, ``invalid_request`` (bad request, unknown model), ``llm_refused``,
    ``llm_truncated``, ``malformed_response`` or ``upstream_error``; the source actor raises
    ``rate_limited`` and the like after its retries.
    """
    options = options_of(source)
    start = _MODES.index(source.state.get(_MODE_STATE, "json_schema"))
    tokens_param = source.state.get(_TOKENS_STATE, "max_tokens")
    modes = list(_MODES[start:])
    while True:
        mode = modes[0]
        body = build_body(
            options, messages, schema, name=name, mode=mode, tokens_param=tokens_param
        )
        response = await source.post(CHAT_PATH, json=body)
        if response.status_code == 200:
            break
        error = _error_record(response) if response.status_code == 400 else {}
        if error and tokens_param == "max_tokens" and _rejects(error, ("max_tokens",)):
            # Newer OpenAI models take max_completion_tokens only.
            tokens_param = source.state[_TOKENS_STATE] = "max_completion_tokens"
            continue
        if error and len(modes) > 1 and _rejects(error, _FORMAT_WORDS):
            modes.pop(0)
            source.state[_MODE_STATE] = modes[0]
            continue
        raise _failure(source.name, options.model, response)
    answer, served_by = parse_completion(response, source=source.name, model=options.model)
    if not isinstance(answer, dict):
        raise ModuleError(
            "malformed_response",
            f"{served_by} answered JSON {type(answer).__name__}, not an object",
            source=source.name,
        )
    return answer, served_by


def validate_json(obj: Any, struct_type: type[T], *, source: str = "llm") -> T:
    """``obj`` converted to ``struct_type`` (msgspec); ``malformed_response`` if it does not fit."""
    try:
        return msgspec.convert(obj, struct_type)
    except msgspec.ValidationError as exc:
        raise ModuleError(
            "malformed_response",
            f"LLM answer does not match {getattr(struct_type, '__name__', struct_type)}: {exc}",
            source=source,
        ) from exc
