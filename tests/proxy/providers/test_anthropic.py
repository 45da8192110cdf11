"""The Anthropic Messages format, both ways. Shapes are checked against the official SDKs'
own models (Anthropic's for its side, OpenAI's for the canonical side), and the inbound skin is
driven by the real `anthropic` client over a mock transport."""

import copy
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai.types.chat as openai_chat
import orjson
import pytest
from anthropic._streaming import SSEDecoder
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from pydantic import TypeAdapter

from proxy.errors import InvalidRequest
from proxy.providers.anthropic import (
    AnthropicAdapter,
    MessagesStreamEncoder,
    canonical_response_to_message,
    messages_body,
    messages_request_to_canonical,
)
from proxy.providers.base import Adapter, ProviderFormatError, Upstream

ADAPTER: Adapter = AnthropicAdapter()
UPSTREAM = Upstream(base_url="https://api.anthropic.test/v1/", model="claude-x", api_key="sk-ant")
CREATE_PARAMS = TypeAdapter(MessageCreateParamsNonStreaming)
STREAM_EVENT = TypeAdapter(anthropic.types.RawMessageStreamEvent)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


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


# --- Outbound: the request -----------------------------------------------------------------


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


# --- Outbound: the answer ------------------------------------------------------------------

ANTHROPIC_MESSAGE: dict[str, Any] = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "thinking", "thinking": "The user wants weather.", "signature": "EqQBCgIYAhIM"},
        {"type": "text", "text": "Let me check "},
        {"type": "text", "text": "the weather."},
        {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {"city": "Paris", "unit": "celsius"},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 30,
        "output_tokens": 57,
        "cache_read_input_tokens": 2000,
        "cache_creation_input_tokens": 100,
    },
}


def test_the_recorded_message_is_a_valid_anthropic_message() -> None:
    anthropic.types.Message.model_validate(ANTHROPIC_MESSAGE, strict=True)


def test_chat_response_translates_a_message() -> None:
    completion = ADAPTER.chat_response(orjson.dumps(ANTHROPIC_MESSAGE))
    openai_chat.ChatCompletion.model_validate(completion)
    assert completion["id"] == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert completion["object"] == "chat.completion"
    assert completion["model"] == "claude-sonnet-4-5"
    (choice,) = completion["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["native_finish_reason"] == "tool_use"
    assert choice["message"] == {
        "role": "assistant",
        "content": "Let me check the weather.",
        "reasoning": "The user wants weather.",
        "tool_calls": [
            {
                "id": "toolu_01A09q90qw90lq917835lq9",
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "arguments": '{"city":"Paris","unit":"celsius"}',
                },
            }
        ],
    }
    assert completion["usage"] == {
        "prompt_tokens": 2130,
        "completion_tokens": 57,
        "total_tokens": 2187,
        "prompt_tokens_details": {"cached_tokens": 2000, "cache_write_tokens": 100},
    }


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
    ],
)
def test_chat_response_normalizes_the_stop_reason(stop_reason: str, finish_reason: str) -> None:
    message = ANTHROPIC_MESSAGE | {
        "stop_reason": stop_reason,
        "content": [{"type": "text", "text": "x"}],
    }
    (choice,) = ADAPTER.chat_response(orjson.dumps(message))["choices"]
    assert (choice["finish_reason"], choice["native_finish_reason"]) == (finish_reason, stop_reason)
    assert "tool_calls" not in choice["message"]
    assert "reasoning" not in choice["message"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}',
        b'{"id": "x", "choices": []}',
        b"[1, 2]",
        b"<html>Bad gateway</html>",
    ],
)
def test_chat_response_refuses_what_is_not_a_message(body: bytes) -> None:
    with pytest.raises(ProviderFormatError):
        ADAPTER.chat_response(body)


def test_error_message_reads_anthropic_errors() -> None:
    error = {"type": "invalid_request_error", "message": "max_tokens: too big"}
    body = orjson.dumps({"type": "error", "error": error})
    assert ADAPTER.error_message(body) == "max_tokens: too big"
    assert ADAPTER.error_message(b"not json") == ""


# --- Outbound: the stream ------------------------------------------------------------------

TEXT = "Let me check the weather in Paris."
MESSAGE_START = {
    "type": "message_start",
    "message": {
        "id": "msg_014p7gG3wDgGV9EUtLvnow3U",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 472,
            "output_tokens": 2,
            "cache_read_input_tokens": 1000,
            "cache_creation_input_tokens": 50,
        },
    },
}


def _start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def _delta(index: int, kind: str, **fields: str) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": {"type": kind, **fields}}


def _stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def _tool_block(tool_id: str, name: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": {}}


# As Anthropic streams a text and two tool calls (the first one's JSON in fragments).
RECORDED_STREAM: list[dict[str, Any]] = [
    MESSAGE_START,
    {"type": "ping"},
    _start(0, {"type": "text", "text": ""}),
    _delta(0, "text_delta", text="Let me check"),
    _delta(0, "text_delta", text=" the weather"),
    _delta(0, "text_delta", text=" in Paris."),
    _stop(0),
    _start(1, _tool_block("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather")),
    _delta(1, "input_json_delta", partial_json=""),
    _delta(1, "input_json_delta", partial_json='{"city": "Pa'),
    _delta(1, "input_json_delta", partial_json='ris", "unit"'),
    _delta(1, "input_json_delta", partial_json=': "celsius"}'),
    _stop(1),
    _start(2, _tool_block("toolu_02", "get_time")),
    _delta(2, "input_json_delta", partial_json='{"tz": "CET"}'),
    _stop(2),
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 89},
    },
    {"type": "message_stop"},
]


def _translate(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    translator = ADAPTER.stream_translator()
    chunks = [chunk for event in events for chunk in translator.feed(orjson.dumps(event))]
    return chunks + translator.finish()


def test_the_recorded_stream_is_made_of_anthropic_events() -> None:
    for event in RECORDED_STREAM:
        if event["type"] != "ping":
            STREAM_EVENT.validate_python(event)


def test_the_stream_translator_rebuilds_text_tool_calls_and_usage() -> None:
    chunks = _translate(RECORDED_STREAM)
    for chunk in chunks:
        openai_chat.ChatCompletionChunk.model_validate(chunk)
        assert chunk["id"] == "msg_014p7gG3wDgGV9EUtLvnow3U"
        assert chunk["model"] == "claude-sonnet-4-5"
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert "".join(d.get("content", "") for d in deltas) == TEXT
    calls = [call for d in deltas for call in d.get("tool_calls", [])]
    assert [(c["index"], c["id"], c["function"]["name"]) for c in calls if "id" in c] == [
        (0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather"),
        (1, "toolu_02", "get_time"),
    ]
    arguments = [
        "".join(c["function"]["arguments"] for c in calls if c["index"] == i) for i in (0, 1)
    ]
    assert [json.loads(a) for a in arguments] == [
        {"city": "Paris", "unit": "celsius"},
        {"tz": "CET"},
    ]
    finishes = [
        c["choices"][0] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]
    ]
    assert [(f["finish_reason"], f["native_finish_reason"]) for f in finishes] == [
        ("tool_calls", "tool_use")
    ]
    *_, last = chunks
    assert last["choices"] == []
    assert last["usage"] == {
        "prompt_tokens": 1522,
        "completion_tokens": 89,
        "total_tokens": 1611,
        "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 50},
    }
    assert sum(1 for chunk in chunks if "usage" in chunk) == 1


def test_the_stream_translator_passes_thinking_on_as_reasoning() -> None:
    events = [
        MESSAGE_START,
        _start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        _delta(0, "thinking_delta", thinking="Hmm, "),
        _delta(0, "thinking_delta", thinking="Paris."),
        _delta(0, "signature_delta", signature="EqQB"),
        _stop(0),
    ]
    for event in events:
        STREAM_EVENT.validate_python(event)
    deltas = [chunk["choices"][0]["delta"] for chunk in _translate(events)]
    assert "".join(d.get("reasoning", "") for d in deltas) == "Hmm, Paris."


def test_an_error_event_fails_the_stream() -> None:
    translator = ADAPTER.stream_translator()
    translator.feed(orjson.dumps(MESSAGE_START))
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(ProviderFormatError, match="Overloaded"):
        translator.feed(orjson.dumps(error))


def test_finish_owes_usage_only_once_the_stop_reason_came() -> None:
    without_stop = _translate(RECORDED_STREAM[:-1])  # message_stop lost
    assert without_stop[-1]["usage"]["completion_tokens"] == 89
    assert sum(1 for chunk in without_stop if "usage" in chunk) == 1
    cut = _translate(RECORDED_STREAM[:6])  # cut off mid-answer
    assert not any("usage" in chunk for chunk in cut)


# --- Inbound: the request ------------------------------------------------------------------


def _sdk_client(handler: Any) -> anthropic.Anthropic:
    transport = httpx2.MockTransport(handler)
    return anthropic.Anthropic(
        api_key="sk-or-test",
        base_url="http://switchyard.test/api",
        http_client=httpx2.Client(transport=transport),
        max_retries=0,
        _strict_response_validation=True,
    )


def _captured_request(**params: Any) -> dict[str, Any]:
    """The body the official SDK sends for `messages.create(**params)`."""
    seen: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(json.loads(request.content))
        return httpx2.Response(200, json=canonical_response_to_message(COMPLETION, model="m"))

    _sdk_client(handler).messages.create(**params)
    return seen[0]


def test_the_sdk_request_becomes_a_canonical_request() -> None:
    body = _captured_request(
        model="anthropic/claude-sonnet-4.5",
        max_tokens=2048,
        system=[{"type": "text", "text": "Manual", "cache_control": {"type": "ephemeral"}}],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"},
                    },
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/a.jpg"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Use the tool.", "signature": "EqQB"},
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": [{"type": "text", "text": "n/a"}],
                    },
                    {"type": "text", "text": "Thanks"},
                ],
            },
        ],
        tools=[
            {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}
        ],
        tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        stop_sequences=["END"],
        thinking={"type": "enabled", "budget_tokens": 1024},
        metadata={"user_id": "u-1"},
        extra_body={
            "temperature": 0.5,
            "top_k": 5,
            "provider": {"order": ["anthropic"]},
            "models": ["openai/gpt-4o"],
        },
    )
    assert messages_request_to_canonical(body) == {
        "model": "anthropic/claude-sonnet-4.5",
        "max_tokens": 2048,
        "messages": [
            {
                "role": "system",
                "content": [
                    {"type": "text", "text": "Manual", "cache_control": {"type": "ephemeral"}}
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
            {
                "role": "tool",
                "tool_call_id": "toolu_2",
                "content": [{"type": "text", "text": "n/a"}],
            },
            {"role": "user", "content": [{"type": "text", "text": "Thanks"}]},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather",
                    "parameters": {"type": "object"},
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "stop": ["END"],
        "reasoning": {"max_tokens": 1024},
        "user": "u-1",
        "temperature": 0.5,
        "top_k": 5,
        "provider": {"order": ["anthropic"]},
        "models": ["openai/gpt-4o"],
    }


def test_structured_output_and_adaptive_thinking_have_canonical_forms() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "Count"}],
        "output_config": {"format": {"type": "json_schema", "schema": schema}},
        "thinking": {"type": "adaptive"},
    }
    canonical = messages_request_to_canonical(body)
    assert canonical["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema},
    }
    assert canonical["reasoning"] == {"enabled": True}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": None}, "model is required"),
        ({"max_tokens": None}, "max_tokens is required"),
        ({"max_tokens": "10"}, "max_tokens must be a positive integer"),
        ({"messages": []}, "messages must be a non-empty array"),
        ({"messages": [{"role": "system", "content": "x"}]}, "role must be 'user' or 'assistant'"),
        ({"messages": [{"role": "user", "content": 5}]}, "content must be a string"),
        (
            {"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
            "'document' is not supported",
        ),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "only client tools"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type must be"),
        ({"stream": "yes"}, "stream must be a boolean"),
    ],
)
def test_a_bad_messages_request_is_refused(change: dict[str, Any], message: str) -> None:
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}
    body |= {"tools": [{"name": "t", "input_schema": {"type": "object"}}]}
    body = {k: v for k, v in (body | change).items() if v is not None}
    with pytest.raises(InvalidRequest, match=message) as caught:
        messages_request_to_canonical(body)
    assert caught.value.status == 400


def _normalized(canonical: dict[str, Any]) -> dict[str, Any]:
    """A canonical request with user text as parts and arguments parsed: what both ways keep."""
    messages = []
    for message in copy.deepcopy(canonical["messages"]):
        if message["role"] == "user" and isinstance(message["content"], str):
            message["content"] = [{"type": "text", "text": message["content"]}]
        for call in message.get("tool_calls", []):
            call["function"]["arguments"] = json.loads(call["function"]["arguments"])
        messages.append(message)
    return canonical | {"messages": messages}


def test_a_canonical_request_survives_the_trip_through_anthropic() -> None:
    canonical = {
        "model": "claude-x",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "user", "content": "Thanks. Tomorrow?"},
        ],
        "tools": [WEATHER_TOOL],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "max_tokens": 3000,
        "reasoning": {"max_tokens": 2048},
        "top_p": 0.9,
        "stop": ["END"],
        "user": "u-1",
        "stream": True,
    }
    anthropic_body = messages_body(canonical, model="claude-x", stream=True)
    back = _normalized(messages_request_to_canonical(anthropic_body))
    # top_p is the one loss: Anthropic refuses sampling changes while thinking.
    assert back == {k: v for k, v in _normalized(canonical).items() if k != "top_p"}


def test_an_anthropic_request_survives_the_trip_through_canonical() -> None:
    body = {
        "model": "claude-x",
        "max_tokens": 1000,
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                    {"type": "text", "text": "And tomorrow?"},
                ],
            },
        ],
        "tools": [
            {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "temperature": 0.2,
        "top_k": 3,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
        "stream": True,
    }
    canonical = messages_request_to_canonical(body)
    assert messages_body(canonical, model="claude-x", stream=True) == body


# --- Inbound: the answer -------------------------------------------------------------------

COMPLETION: dict[str, Any] = {
    "id": "gen-1700000000-abc",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "anthropic/claude-sonnet-4.5",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Let me check.",
                "reasoning": "Use the tool.",
                "tool_calls": [
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
            "native_finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 1200,
        "completion_tokens": 40,
        "total_tokens": 1240,
        "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 150},
    },
}


def test_a_completion_becomes_an_anthropic_message() -> None:
    message = canonical_response_to_message(COMPLETION, model="anthropic/claude-sonnet-4.5")
    parsed = anthropic.types.Message.model_validate(message, strict=True)
    assert parsed.id == "msg_gen-1700000000-abc"
    assert parsed.model == "anthropic/claude-sonnet-4.5"
    assert [block.type for block in parsed.content] == ["thinking", "text", "tool_use"]
    assert message["content"][1:] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "call_9", "name": "get_weather", "input": {"city": "Paris"}},
    ]
    assert parsed.stop_reason == "tool_use"
    assert message["usage"] == {
        "input_tokens": 50,
        "output_tokens": 40,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 150,
    }


@pytest.mark.parametrize(
    ("finish_reason", "native", "stop_reason"),
    [
        ("stop", "stop", "end_turn"),
        ("length", "length", "max_tokens"),
        ("content_filter", "content_filter", "refusal"),
        ("error", "error", "end_turn"),
        ("stop", "stop_sequence", "stop_sequence"),  # an Anthropic provider's own word is kept
        (None, None, "end_turn"),
    ],
)
def test_the_stop_reason_is_mapped_back(finish_reason: Any, native: Any, stop_reason: str) -> None:
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": "x"},
        "finish_reason": finish_reason,
        "native_finish_reason": native,
    }
    message = canonical_response_to_message(COMPLETION | {"choices": [choice]}, model="m")
    assert anthropic.types.Message.model_validate(message, strict=True).stop_reason == stop_reason


def test_broken_tool_arguments_become_an_empty_input() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"cut'}}
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": None, "tool_calls": [call]},
        "finish_reason": "tool_calls",
    }
    message = canonical_response_to_message(COMPLETION | {"choices": [choice]}, model="m")
    assert message["content"] == [{"type": "tool_use", "id": "c", "name": "f", "input": {}}]


@pytest.mark.parametrize(
    "stop_reason", ["end_turn", "tool_use", "max_tokens", "stop_sequence", "pause_turn"]
)
def test_an_anthropic_answer_survives_the_trip_through_canonical(stop_reason: str) -> None:
    original = ANTHROPIC_MESSAGE | {"stop_reason": stop_reason}
    completion = ADAPTER.chat_response(orjson.dumps(original))
    back = canonical_response_to_message(completion, model=original["model"])
    anthropic.types.Message.model_validate(back, strict=True)
    thinking, text, tool_use = back["content"]
    assert thinking == {"type": "thinking", "thinking": "The user wants weather.", "signature": ""}
    assert text == {"type": "text", "text": "Let me check the weather."}
    assert tool_use == original["content"][3]
    assert back["stop_reason"] == stop_reason
    assert back["usage"] == original["usage"]


def test_the_sdk_reads_the_answer() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/api/v1/messages"
        return httpx2.Response(200, json=canonical_response_to_message(COMPLETION, model="m"))

    message = _sdk_client(handler).messages.create(
        model="m", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
    )
    assert isinstance(message.content[2], anthropic.types.ToolUseBlock)
    assert message.content[2].input == {"city": "Paris"}
    assert message.usage.cache_read_input_tokens == 1000


# --- Inbound: the stream -------------------------------------------------------------------


def _chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    choice["native_finish_reason"] = finish_reason
    return {"id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "m"} | {
        "choices": [choice]
    }


def _call(index: int, arguments: str, *, call_id: str = "", name: str = "") -> dict[str, Any]:
    delta: dict[str, Any] = {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}
    if call_id:
        delta["tool_calls"][0] |= {"id": call_id, "type": "function"}
        delta["tool_calls"][0]["function"]["name"] = name
    return _chunk(delta)


USAGE = {
    "prompt_tokens": 300,
    "completion_tokens": 25,
    "total_tokens": 325,
    "prompt_tokens_details": {"cached_tokens": 200, "cache_write_tokens": 0},
}
# As the gateway relays an answer with reasoning, text and two tool calls.
CANONICAL_STREAM = [
    _chunk({"role": "assistant", "content": ""}),
    _chunk({"reasoning": "Two "}),
    _chunk({"reasoning": "cities."}),
    _chunk({"content": "Checking "}),
    _chunk({"content": "both."}),
    _call(0, "", call_id="call_a", name="get_weather"),
    _call(0, '{"city": '),
    _call(0, '"Paris"}'),
    _call(1, '{"city": "Rome"}', call_id="call_b", name="get_weather"),
    _chunk({}, "tool_calls"),
    _chunk({}) | {"choices": [], "usage": USAGE},
]


def _encoded(chunks: list[dict[str, Any]]) -> bytes:
    encoder = MessagesStreamEncoder()
    body = encoder.start("anthropic/claude", "msg_gen-1")
    body += b"".join(encoder.chunk(chunk) for chunk in chunks)
    return body + encoder.finish(USAGE)


def _events(body: bytes) -> Iterator[tuple[str | None, Any]]:
    for sse in SSEDecoder().iter_bytes(iter([body])):
        yield sse.event, sse.json()


def test_every_encoded_event_is_an_anthropic_stream_event() -> None:
    indexes = []
    for name, payload in _events(_encoded(CANONICAL_STREAM)):
        event = STREAM_EVENT.validate_python(payload)
        assert name == event.type
        if event.type == "content_block_start":
            indexes.append(event.index)
    assert indexes == [0, 1, 2, 3]


def test_the_sdk_rebuilds_the_streamed_message() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        assert json.loads(request.content)["stream"] is True
        headers = {"content-type": "text/event-stream"}
        return httpx2.Response(200, content=_encoded(CANONICAL_STREAM), headers=headers)

    client = _sdk_client(handler)
    with client.messages.stream(
        model="m", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
        message = stream.get_final_message()
    assert text == "Checking both."
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert message.content[0].thinking == "Two cities."  # type: ignore[union-attr]
    tool_uses = [
        (b.id, b.input) for b in message.content if isinstance(b, anthropic.types.ToolUseBlock)
    ]
    assert tool_uses == [("call_a", {"city": "Paris"}), ("call_b", {"city": "Rome"})]
    assert message.stop_reason == "tool_use"
    assert message.usage.input_tokens == 100
    assert message.usage.cache_read_input_tokens == 200
    assert message.usage.output_tokens == 25


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"), [("stop", "end_turn"), ("length", "max_tokens")]
)
def test_the_stream_ends_with_the_mapped_stop_reason(finish_reason: str, stop_reason: str) -> None:
    body = _encoded([_chunk({"content": "Hi"}), _chunk({}, finish_reason)])
    events = list(_events(body))
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[-2][1]["delta"] == {"stop_reason": stop_reason, "stop_sequence": None}


def test_an_error_reaches_the_sdk_as_an_api_error() -> None:
    encoder = MessagesStreamEncoder()
    body = encoder.start("m", "msg_1") + encoder.chunk(_chunk({"content": "Hel"}))
    body += encoder.error("the provider went away")
    _, payload = list(_events(body))[-1]
    anthropic.types.ErrorResponse.model_validate(payload, strict=True)

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

    client = _sdk_client(handler)
    with (
        pytest.raises(anthropic.APIStatusError, match="the provider went away"),
        client.messages.stream(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
        ) as stream,
    ):
        stream.until_done()
