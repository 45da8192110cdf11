"""Outbound, the request: a canonical request becomes an Anthropic Messages body, checked
against the Anthropic SDK's own request type."""

import json
from typing import Any

import orjson
import pytest
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from pydantic import TypeAdapter

from proxy.errors import InvalidRequest
from proxy.providers.anthropic import messages_body
from proxy.providers.base import Upstream
from tests.proxy.providers.anthropic_adapter.support import ADAPTER, WEATHER_TOOL

UPSTREAM = Upstream(base_url="https://api.anthropic.test/v1/", model="claude-x", api_key="sk-ant")
CREATE_PARAMS = TypeAdapter(MessageCreateParamsNonStreaming)


def _outbound(payload: dict[str, Any], *, stream: bool = False) -> dict[str, Any]:
    """The body sent upstream, checked against the SDK's own request type."""
    body: dict[str, Any] = orjson.loads(ADAPTER.chat_request(payload, UPSTREAM, stream=stream).body)
    _materialize(CREATE_PARAMS.validate_python({k: v for k, v in body.items() if k != "stream"}))
    return body


def _materialize(value: Any) -> Any:
    # pydantic validates `Iterable` fields lazily: walking them forces the check.
    if isinstance(value, dict):
        return {k: _materialize(v) for k, v in value.items()}
    if isinstance(value, list) or hasattr(value, "__next__"):
        return [_materialize(v) for v in value]
    return value


def test_it_posts_to_messages_with_anthropic_headers() -> None:
    request = ADAPTER.chat_request({"messages": []}, UPSTREAM, stream=False)
    assert request.url == "https://api.anthropic.test/v1/messages"
    assert request.headers == {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": "sk-ant",
    }
    keyless = Upstream(base_url="http://sim/v1", model="m", api_key="")
    request = ADAPTER.chat_request({"messages": []}, keyless, stream=False)
    assert "x-api-key" not in request.headers


def test_it_lifts_system_messages_and_merges_consecutive_turns() -> None:
    body = _outbound(
        {
            "model": "anthropic/claude",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
                {"role": "user", "content": "Hello"},
                {"role": "user", "content": [{"type": "text", "text": "Anyone?"}]},
                {"role": "assistant", "content": "Bonjour"},
            ],
        }
    )
    assert body["model"] == "claude-x"
    assert body["system"] == "Be brief.\n\nUse French."
    assert body["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "Anyone?"}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Bonjour"}]},
    ]


def test_it_keeps_the_system_blocks_that_ask_for_caching() -> None:
    cached = {"type": "text", "text": "A long manual", "cache_control": {"type": "ephemeral"}}
    body = _outbound(
        {"messages": [{"role": "system", "content": [cached]}, {"role": "user", "content": "Hi"}]}
    )
    assert body["system"] == [cached]


def test_it_translates_images_tool_calls_and_tool_results() -> None:
    body = _outbound(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Compare"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,iVBORw0K"},
                        },
                        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        },
                        {
                            "id": "functions.get_weather:1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                {
                    "role": "tool",
                    "tool_call_id": "functions.get_weather:1",
                    "content": [{"type": "text", "text": "unknown"}],
                },
                {"role": "user", "content": "So?"},
            ],
            "tools": [WEATHER_TOOL],
        }
    )
    user, assistant, results = body["messages"]
    assert user["content"][1:] == [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]
    # The empty text is left out (Anthropic refuses it); ids get Anthropic's alphabet.
    assert assistant["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "functions_get_weather_1", "name": "get_weather", "input": {}},
    ]
    assert results == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
            {
                "type": "tool_result",
                "tool_use_id": "functions_get_weather_1",
                "content": [{"type": "text", "text": "unknown"}],
            },
            {"type": "text", "text": "So?"},
        ],
    }
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    assert "tool_choice" not in body


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [("{not json", "is not valid JSON"), ("[1, 2]", "must be a JSON object")],
)
def test_it_refuses_tool_call_arguments_that_are_not_a_json_object(
    arguments: str, problem: str
) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
    payload = {"messages": [{"role": "assistant", "content": None, "tool_calls": [call]}]}
    with pytest.raises(InvalidRequest, match=problem) as caught:
        messages_body(payload, model="m", stream=False)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "part",
    [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
        {"type": "image_url", "image_url": {"url": "data:image/png,not-base64"}},
        {"type": "image_url", "image_url": {"url": "ftp://example.com/cat.png"}},
    ],
)
def test_it_refuses_content_it_cannot_carry(part: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        messages_body({"messages": [{"role": "user", "content": [part]}]}, model="m", stream=False)


@pytest.mark.parametrize(
    ("tool_choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    ],
)
def test_it_translates_tool_choice(
    tool_choice: Any, parallel: Any, expected: dict[str, Any]
) -> None:
    payload = {"messages": [{"role": "user", "content": "Hi"}], "tools": [WEATHER_TOOL]}
    payload |= {"tool_choice": tool_choice, "parallel_tool_calls": parallel}
    assert _outbound(payload)["tool_choice"] == expected


def test_it_maps_sampling_limits_and_metadata_and_drops_the_rest() -> None:
    body = _outbound(
        {
            "messages": [{"role": "user", "content": "Hi"}],
            "temperature": 1.7,
            "top_p": 0.9,
            "top_k": 40,
            "stop": "END",
            "user": "user-42",
            "seed": 7,
            "frequency_penalty": 0.5,
            "logit_bias": {"50256": -100},
            "logprobs": True,
            "n": 2,
            "stream_options": {"include_usage": True},
        },
        stream=True,
    )
    assert body == {
        "model": "claude-x",
        "max_tokens": 4096,  # required by Anthropic: the default when the caller sets none
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "temperature": 1,  # clamped to Anthropic's range
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "user-42"},
        "stream": True,
    }


@pytest.mark.parametrize(
    ("limits", "max_tokens", "budget"),
    [
        ({"reasoning": {"effort": "low"}}, 1024 + 4096, 1024),
        ({"reasoning": {"effort": "medium"}}, 4096 + 4096, 4096),
        ({"reasoning_effort": "high"}, 16384 + 4096, 16384),
        ({"reasoning": {"max_tokens": 3000}, "max_tokens": 8000}, 8000, 3000),
        # The caller's bound is kept: the budget shrinks below it ...
        ({"reasoning": {"effort": "high"}, "max_completion_tokens": 5000}, 5000, 4999),
        # ... and thinking is left out when no budget Anthropic accepts fits.
        ({"reasoning": {"effort": "low"}, "max_tokens": 1000}, 1000, None),
        ({"reasoning": {"effort": "none"}}, 4096, None),
    ],
)
def test_reasoning_becomes_a_thinking_budget_below_max_tokens(
    limits: dict[str, Any], max_tokens: int, budget: int | None
) -> None:
    body = _outbound({"messages": [{"role": "user", "content": "Hi"}], "temperature": 0.3} | limits)
    assert body["max_tokens"] == max_tokens
    if budget is None:
        assert "thinking" not in body
        assert body["temperature"] == 0.3
    else:
        assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
        assert "temperature" not in body  # Anthropic refuses sampling changes while thinking


def test_json_response_formats_are_emulated_in_the_system_prompt() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}}
    json_schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}
    messages = [{"role": "system", "content": "Be exact."}, {"role": "user", "content": "2+2?"}]
    system = _outbound({"messages": messages, "response_format": json_schema})["system"]
    assert system.startswith("Be exact.\n\nRespond only with a JSON object")
    assert json.dumps(schema, separators=(",", ":")) in system
    plain = _outbound({"messages": messages[1:], "response_format": {"type": "json_object"}})
    assert plain["system"].startswith("Respond only with a JSON object")
    assert "system" not in _outbound(
        {"messages": messages[1:], "response_format": {"type": "text"}}
    )
