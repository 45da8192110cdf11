"""The answer: Gemini responses (text, function calls, thoughts, finish reasons, blocked
prompts, errors) as canonical chat completions."""

import orjson
import pytest

from proxy.providers.base import FINISH_REASONS, ProviderFormatError
from tests.proxy.providers.gemini_adapter.support import adapter, answer


def test_a_text_answer_becomes_a_chat_completion() -> None:
    completion = adapter.chat_response(answer([{"text": "Hello"}, {"text": " there"}]))
    assert completion["id"] == "resp-abc"
    assert completion["object"] == "chat.completion"
    assert completion["model"] == "gemini-2.5-flash"
    assert isinstance(completion["created"], int)
    assert completion["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there"},
            "finish_reason": "stop",
            "native_finish_reason": "STOP",
        }
    ]
    assert completion["usage"] == {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}


def test_an_answer_without_a_response_id_gets_a_generated_one() -> None:
    body = orjson.loads(answer([{"text": "x"}]))
    del body["responseId"]
    completion = adapter.chat_response(orjson.dumps(body))
    assert completion["id"].startswith("gen-")
    assert len(completion["id"]) > 10


def test_function_calls_become_tool_calls() -> None:
    parts = [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
         "thoughtSignature": "CiQBVKhc7q..."},
        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
    ]  # fmt: skip
    choice = adapter.chat_response(answer(parts))["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["native_finish_reason"] == "STOP"
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_0", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
        ],
    }  # fmt: skip


def test_thoughts_become_reasoning_and_count_as_completion_tokens() -> None:
    parts = [{"text": "Let me think about primes.", "thought": True}, {"text": "7 is prime."}]
    usage = {"promptTokenCount": 10, "candidatesTokenCount": 4, "thoughtsTokenCount": 30,
             "cachedContentTokenCount": 6, "totalTokenCount": 44}  # fmt: skip
    completion = adapter.chat_response(answer(parts, usageMetadata=usage))
    assert completion["choices"][0]["message"] == {
        "role": "assistant",
        "content": "7 is prime.",
        "reasoning": "Let me think about primes.",
    }
    assert completion["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 34,
        "total_tokens": 44,
        "prompt_tokens_details": {"cached_tokens": 6},
        "completion_tokens_details": {"reasoning_tokens": 30},
    }


@pytest.mark.parametrize(
    ("native", "finish"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("LANGUAGE", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("OTHER", "error"),
        ("MALFORMED_FUNCTION_CALL", "error"),
        ("FINISH_REASON_UNSPECIFIED", "error"),
        ("SOMETHING_NEW", "error"),
    ],
)
def test_each_finish_reason_is_normalized(native: str, finish: str) -> None:
    choice = adapter.chat_response(answer([{"text": "partial"}], finish=native))["choices"][0]
    assert choice["finish_reason"] == finish
    assert choice["finish_reason"] in FINISH_REASONS
    assert choice["native_finish_reason"] == native


def test_a_candidate_stopped_for_safety_without_content_has_empty_content() -> None:
    body = {"candidates": [{"finishReason": "SAFETY", "index": 0,
                            "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT",
                                               "probability": "HIGH"}]}],
            "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}}  # fmt: skip
    completion = adapter.chat_response(orjson.dumps(body))
    assert completion["choices"][0]["message"] == {"role": "assistant", "content": ""}
    assert completion["choices"][0]["finish_reason"] == "content_filter"
    assert completion["usage"] == {"prompt_tokens": 9, "completion_tokens": 0, "total_tokens": 9}


def test_a_blocked_prompt_is_an_empty_content_filtered_answer() -> None:
    body = {
        "promptFeedback": {
            "blockReason": "PROHIBITED_CONTENT",
            "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}
            ],
        },
        "usageMetadata": {"promptTokenCount": 15, "totalTokenCount": 15},
        "modelVersion": "gemini-2.5-flash",
    }
    completion = adapter.chat_response(orjson.dumps(body))
    assert completion["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": ""},
            "finish_reason": "content_filter",
            "native_finish_reason": "PROHIBITED_CONTENT",
        }
    ]
    assert completion["usage"]["prompt_tokens"] == 15


@pytest.mark.parametrize(
    "body",
    [
        b'{"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}',
        b'[{"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}}]',
        b"[]",
        b'"ok"',
        b"not json",
        b"{}",
        b'{"candidates": "nope"}',
    ],
)
def test_a_body_that_is_not_an_answer_raises(body: bytes) -> None:
    with pytest.raises(ProviderFormatError):
        adapter.chat_response(body)


def test_error_message_reads_the_error_object_or_a_list_wrapping_it() -> None:
    error = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                       "status": "INVALID_ARGUMENT"}}  # fmt: skip
    expected = "API key not valid. Please pass a valid API key."
    assert adapter.error_message(orjson.dumps(error)) == expected
    assert adapter.error_message(orjson.dumps([error])) == expected
    assert adapter.error_message(b"<html>502</html>") == ""
    assert adapter.error_message(b'{"candidates": []}') == ""
