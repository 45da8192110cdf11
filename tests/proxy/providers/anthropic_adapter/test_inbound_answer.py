"""Inbound, the answer: a canonical completion becomes an Anthropic message that the real
`anthropic` client reads."""

from typing import Any

import anthropic
import httpx2
import orjson
import pytest

from proxy.providers.anthropic import canonical_response_to_message
from tests.proxy.providers.anthropic_adapter.support import (
    ADAPTER,
    ANTHROPIC_MESSAGE,
    COMPLETION,
    sdk_client,
)


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

    message = sdk_client(handler).messages.create(
        model="m", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
    )
    assert isinstance(message.content[2], anthropic.types.ToolUseBlock)
    assert message.content[2].input == {"city": "Paris"}
    assert message.usage.cache_read_input_tokens == 1000
