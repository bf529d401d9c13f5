"""The OpenAI-compatible chat-completions client against a canned loopback upstream.

The response body is the reference document's example (upstream-apis.md section 5) verbatim; the
source is resolved from ``[sources.llm]`` as the engine does and runs as a real source actor.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio

from enrichd.config import Config, ConfigError
from enrichd.daemon._engine import resolve_sources
from enrichd.daemon._sources import SourceActor, SourceHandle
from enrichd.plugins import ModuleError, SourceError, load_plugins
from enrichd.plugins.builtin._llm import (
    LlmOptions,
    chat_json,
    strip_fences,
    validate_json,
)
from enrichd.sandbox import HttpResponse, json_response
from tests.canned import CannedServer

CHAT = "/openai/v1/chat/completions"

#: upstream-apis.md 5, the request's schema.
SCHEMA: dict[str, Any] = {
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

MESSAGES = [
    {"role": "system", "content": "Extract company facts. Answer with JSON only."},
    {"role": "user", "content": "Homepage text: ..."},
]

#: upstream-apis.md 5, "Response", verbatim.
COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1760000000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": '{"company_name":"Acme Corp","industry":"Industrial IoT",'
                '"employee_count_estimate":250,"hiring_signals":["VP Engineering opening"]}',
                "refusal": None,
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 812, "completion_tokens": 41, "total_tokens": 853},
    "system_fingerprint": "fp_0123456789",
}

ANSWER = {
    "company_name": "Acme Corp",
    "industry": "Industrial IoT",
    "employee_count_estimate": 250,
    "hiring_signals": ["VP Engineering opening"],
}


def completion(content: str | None, **changes: Any) -> dict[str, Any]:
    """The reference completion with another content (and message/choice fields)."""
    body = copy.deepcopy(COMPLETION)
    choice = body["choices"][0]
    choice["message"]["content"] = content
    for key, value in changes.items():
        if key in choice:
            choice[key] = value
        else:
            choice["message"][key] = value
    return body


def openai_error(message: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error envelope."""
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    }


REJECT_SCHEMA = openai_error(
    "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
    None,
    "response_format",
)
REJECT_OBJECT = openai_error(
    "Invalid parameter: 'response_format' of type 'json_object' is not supported with this model.",
    None,
    "response_format",
)


def llm_actor(canned: CannedServer, **table: Any) -> SourceActor:
    """The ``llm`` source actor as the engine builds it from ``[sources.llm]``."""
    raw = {"base_url": f"{canned.url}/openai/v1", "api_key": "sk-test", **table}
    config = msgspec.convert({"sources": {"llm": raw}}, Config)
    spec, settings = resolve_sources(load_plugins(), config)["llm"]
    return SourceActor(spec, settings)


@asynccontextmanager
async def llm(canned: CannedServer, **table: Any) -> AsyncIterator[SourceHandle]:
    """A running ``llm`` actor on the canned server's ``/openai/v1`` prefix."""
    actor = llm_actor(canned, **table)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run)
            yield actor.handle()
            nursery.cancel_scope.cancel(reason="test finished")
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1 and isinstance(group.exceptions[0], Exception):
            raise group.exceptions[0] from None
        raise


async def ask(canned: CannedServer, **table: Any) -> tuple[dict[str, Any], str]:
    """One ``chat_json`` call through a fresh actor."""
    async with llm(canned, **table) as source:
        return await chat_json(source, MESSAGES, SCHEMA, name="company_profile")


def bodies(canned: CannedServer) -> list[dict[str, Any]]:
    """The JSON bodies the server received."""
    return [json.loads(r.body) for r in canned.requests]


async def expect_error(canned: CannedServer, code: str, **table: Any) -> ModuleError:
    with pytest.raises(ModuleError) as caught:
        await ask(canned, **table)
    assert caught.value.code == code
    assert caught.value.source == "llm"
    return caught.value


# -- the happy path ------------------------------------------------------------------------------


async def test_reference_completion(autojump: Any, canned: CannedServer) -> None:
    canned.json("POST", CHAT, COMPLETION)
    answer, model = await ask(canned)

    assert answer == ANSWER
    assert model == "gpt-4o-mini-2024-07-18"  # the model the server reported
    (request,) = canned.requests
    assert request.headers["authorization"] == "Bearer sk-test"
    assert bodies(canned)[0] == {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "temperature": 0.0,
        "max_tokens": 800,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "company_profile", "strict": True, "schema": SCHEMA},
        },
    }


async def test_options_come_from_the_source_table(autojump: Any, canned: CannedServer) -> None:
    body = completion('{"a": 1}')
    del body["model"]
    canned.json("POST", CHAT, body)
    answer, model = await ask(canned, model="llama3.1:8b", temperature=0.2, max_tokens=100)
    assert answer == {"a": 1}
    assert model == "llama3.1:8b"  # a server that does not echo the model: the one asked for
    (body,) = bodies(canned)
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("llama3.1:8b", 0.2, 100)


async def test_unknown_option_is_refused(autojump: Any, canned: CannedServer) -> None:
    with pytest.raises(ConfigError, match="modle"):
        llm_actor(canned, modle="gpt-4o")


async def test_default_options() -> None:
    assert LlmOptions() == LlmOptions(model="gpt-4o-mini", temperature=0.0, max_tokens=800)


@pytest.mark.parametrize(
    "content",
    [
        '```json\n{"a": 1}\n```',
        '```\n{"a": 1}\n```',
        '  ```json{"a": 1}```  ',
        '\n{"a": 1}\n',
    ],
)
async def test_fences_are_stripped(autojump: Any, canned: CannedServer, content: str) -> None:
    canned.json("POST", CHAT, completion(content))
    assert (await ask(canned))[0] == {"a": 1}


def test_strip_fences_keeps_plain_text() -> None:
    assert strip_fences('{"a": "```"}') == '{"a": "```"}'


async def test_schema_name_is_sanitised(autojump: Any, canned: CannedServer) -> None:
    canned.json("POST", CHAT, COMPLETION)
    async with llm(canned) as source:
        await chat_json(source, MESSAGES, SCHEMA, name="sales angle/v2")
    assert bodies(canned)[0]["response_format"]["json_schema"]["name"] == "sales_angle_v2"


# -- answers that are not usable -----------------------------------------------------------------


async def test_refusal(autojump: Any, canned: CannedServer) -> None:
    canned.json("POST", CHAT, completion(None, refusal="I can't help with that."))
    error = await expect_error(canned, "llm_refused")
    assert "I can't help with that." in error.message


async def test_content_null_without_refusal(autojump: Any, canned: CannedServer) -> None:
    canned.json("POST", CHAT, completion(None))
    await expect_error(canned, "llm_refused")


async def test_content_filter(autojump: Any, canned: CannedServer) -> None:
    canned.json("POST", CHAT, completion(None, finish_reason="content_filter"))
    await expect_error(canned, "llm_refused")


async def test_truncated(autojump: Any, canned: CannedServer) -> None:
    canned.json("POST", CHAT, completion('{"company_name": "Ac', finish_reason="length"))
    error = await expect_error(canned, "llm_truncated")
    assert "max_tokens" in error.message


async def test_not_json(autojump: Any, canned: CannedServer) -> None:
    canned.json("POST", CHAT, completion("Acme Corp is an industrial IoT company."))
    await expect_error(canned, "malformed_response")


async def test_json_that_is_not_an_object(autojump: Any, canned: CannedServer) -> None:
    canned.json("POST", CHAT, completion("[1, 2]"))
    error = await expect_error(canned, "malformed_response")
    assert "not an object" in error.message


async def test_no_choices(autojump: Any, canned: CannedServer) -> None:
    canned.json("POST", CHAT, {"id": "x", "choices": []})
    await expect_error(canned, "malformed_response")


async def test_body_not_json(autojump: Any, canned: CannedServer) -> None:
    canned.add("POST", CHAT, HttpResponse(body=b"<html>gateway</html>"))
    await expect_error(canned, "malformed_response")


# -- response-format fallback --------------------------------------------------------------------


async def test_400_on_json_schema_falls_back_to_json_object(
    autojump: Any, canned: CannedServer
) -> None:
    canned.add("POST", CHAT, json_response(REJECT_SCHEMA, 400), json_response(COMPLETION))
    async with llm(canned) as source:
        assert (await chat_json(source, MESSAGES, SCHEMA, name="p"))[0] == ANSWER
        # The server's limits are remembered: the next call goes straight to json_object.
        await chat_json(source, MESSAGES, SCHEMA, name="p")

    first, second, third = bodies(canned)
    assert first["response_format"]["type"] == "json_schema"
    assert second["response_format"] == {"type": "json_object"}
    assert third["response_format"] == {"type": "json_object"}
    # JSON mode carries no schema: the prompt does (and says "JSON", as OpenAI requires).
    instruction = second["messages"][0]
    assert instruction["role"] == "system"
    assert "JSON" in instruction["content"]
    assert '"hiring_signals"' in instruction["content"]
    assert second["messages"][1:] == MESSAGES


async def test_then_falls_back_to_plain_prompting(autojump: Any, canned: CannedServer) -> None:
    canned.add(
        "POST",
        CHAT,
        json_response(REJECT_SCHEMA, 400),
        json_response(REJECT_OBJECT, 400),
        json_response(completion('```json\n{"a": 1}\n```')),
    )
    assert (await ask(canned))[0] == {"a": 1}
    formats = [body.get("response_format", {}).get("type") for body in bodies(canned)]
    assert formats == ["json_schema", "json_object", None]


async def test_plain_rejected_too_is_invalid_request(autojump: Any, canned: CannedServer) -> None:
    canned.add("POST", CHAT, json_response(REJECT_SCHEMA, 400))
    error = await expect_error(canned, "invalid_request")
    assert "response_format" in error.message
    assert len(canned.requests) == 3  # json_schema, json_object, plain: then it gives up


async def test_other_400_is_not_retried(autojump: Any, canned: CannedServer) -> None:
    body = openai_error("'messages' must contain at least one message.", None, "messages")
    canned.json("POST", CHAT, body, status=400)
    error = await expect_error(canned, "invalid_request")
    assert "'messages' must contain" in error.message
    assert len(canned.requests) == 1


async def test_max_tokens_rejected_uses_max_completion_tokens(
    autojump: Any, canned: CannedServer
) -> None:
    rejected = openai_error(
        "Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead.",
        "unsupported_parameter",
        "max_tokens",
    )
    canned.add("POST", CHAT, json_response(rejected, 400), json_response(COMPLETION))
    assert (await ask(canned))[0] == ANSWER
    first, second = bodies(canned)
    assert "max_tokens" in first
    assert second["max_completion_tokens"] == 800
    assert "max_tokens" not in second
    assert second["response_format"]["type"] == "json_schema"


# -- HTTP errors ---------------------------------------------------------------------------------


async def test_401_is_auth_failed(autojump: Any, canned: CannedServer) -> None:
    body = openai_error("Incorrect API key provided.", "invalid_api_key")
    canned.json("POST", CHAT, body, status=401)
    error = await expect_error(canned, "auth_failed")
    assert "Incorrect API key provided." in error.message
    assert "sk-test" not in error.message


async def test_404_names_the_model(autojump: Any, canned: CannedServer) -> None:
    body = openai_error(
        "The model `gpt-9` does not exist or you do not have access to it.", "model_not_found"
    )
    canned.json("POST", CHAT, body, status=404)
    error = await expect_error(canned, "invalid_request", model="gpt-9")
    assert "'gpt-9'" in error.message
    assert "[sources.llm] model" in error.message


async def test_ollama_style_404(autojump: Any, canned: CannedServer) -> None:
    canned.json("POST", CHAT, {"error": "model 'llama9' not found"}, status=404)
    error = await expect_error(canned, "invalid_request", model="llama9")
    assert "model 'llama9' not found" in error.message


async def test_429_is_retried_by_the_actor(autojump: Any, canned: CannedServer) -> None:
    limited = openai_error("Rate limit reached for requests", "rate_limit_exceeded")
    canned.add(
        "POST", CHAT, json_response(limited, 429, [("retry-after", "3")]), json_response(COMPLETION)
    )
    start = trio.current_time()
    assert (await ask(canned))[0] == ANSWER
    assert len(canned.requests) == 2
    assert trio.current_time() - start >= 3.0


async def test_persistent_5xx_is_a_source_error(autojump: Any, canned: CannedServer) -> None:
    canned.json("POST", CHAT, openai_error("The server had an error", None), status=500)
    with pytest.raises(SourceError) as caught:
        await ask(canned, max_retries=1)
    assert caught.value.code == "upstream_error"
    assert len(canned.requests) == 2


# -- validation helper ---------------------------------------------------------------------------


class Profile(msgspec.Struct, forbid_unknown_fields=True):
    company_name: str
    industry: str | None
    employee_count_estimate: int | None
    hiring_signals: list[str]


def test_validate_json() -> None:
    profile = validate_json(ANSWER, Profile)
    assert profile.employee_count_estimate == 250


def test_validate_json_names_the_problem() -> None:
    with pytest.raises(ModuleError) as caught:
        validate_json({**ANSWER, "employee_count_estimate": "many"}, Profile)
    assert caught.value.code == "malformed_response"
    assert "employee_count_estimate" in caught.value.message
    assert "Profile" in caught.value.message
