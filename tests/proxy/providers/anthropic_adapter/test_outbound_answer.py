"""Outbound, the answer: an Anthropic message comes back as a canonical chat completion,
checked against the OpenAI SDK's own models."""

import anthropic
import openai.types.chat as openai_chat
import orjson
import pytest

from proxy.providers.base import ProviderFormatError
from tests.proxy.providers.anthropic_adapter.support import ADAPTER, ANTHROPIC_MESSAGE


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
