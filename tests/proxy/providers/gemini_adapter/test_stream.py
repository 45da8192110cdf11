"""The stream: Gemini SSE events as canonical chunks, with one usage chunk at the end."""

import orjson
import pytest

from proxy.providers.base import ProviderFormatError
from proxy.providers.gemini import GeminiStreamTranslator
from tests.proxy.providers.gemini_adapter.support import adapter, event, translate


def test_a_text_stream_becomes_chunks_with_one_usage_chunk_at_the_end() -> None:
    chunks = translate(
        [
            event([{"text": "Thinking...", "thought": True}], thoughtsTokenCount=40),
            event([{"text": "The answer"}], candidatesTokenCount=2, thoughtsTokenCount=40),
            event([{"text": " is 42."}], "STOP", candidatesTokenCount=5, thoughtsTokenCount=40),
        ]
    )
    assert [chunk["choices"][0]["delta"] for chunk in chunks[:-1]] == [
        {"role": "assistant", "reasoning": "Thinking..."},
        {"content": "The answer"},
        {"content": " is 42."},
    ]
    assert [chunk["choices"][0]["finish_reason"] for chunk in chunks[:-1]] == [None, None, "stop"]
    assert chunks[2]["choices"][0]["native_finish_reason"] == "STOP"
    usage_chunks = [chunk for chunk in chunks if "usage" in chunk]
    assert usage_chunks == [chunks[-1]]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 20,
        "completion_tokens": 45,  # the LAST usageMetadata: 5 answer + 40 thinking tokens
        "total_tokens": 65,
        "completion_tokens_details": {"reasoning_tokens": 40},
    }
    assert {chunk["id"] for chunk in chunks} == {"stream-1"}
    assert {chunk["model"] for chunk in chunks} == {"gemini-2.5-flash"}
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}


def test_function_calls_in_a_stream_arrive_whole_and_finish_as_tool_calls() -> None:
    chunks = translate(
        [
            event([{"text": "Checking both."}], candidatesTokenCount=3),
            event([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "Cv8BAXLI2nw..."}], candidatesTokenCount=9),
            event([{"functionCall": {"name": "get_time", "args": {}}}], candidatesTokenCount=12),
            event([{"text": ""}], "STOP", candidatesTokenCount=12),
        ]
    )  # fmt: skip
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]
    assert deltas[1] == {
        "tool_calls": [
            {"index": 0, "id": "call_0", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
        ]
    }  # fmt: skip
    assert deltas[2]["tool_calls"] == [
        {"index": 1, "id": "call_1", "type": "function",
         "function": {"name": "get_time", "arguments": "{}"}}
    ]  # fmt: skip
    last = chunks[-2]["choices"][0]
    assert (last["delta"], last["finish_reason"], last["native_finish_reason"]) == (
        {},
        "tool_calls",
        "STOP",
    )
    assert chunks[-1]["usage"]["completion_tokens"] == 12


def test_a_usage_only_event_after_the_finish_updates_the_final_usage() -> None:
    usage_only = orjson.dumps(
        {
            "usageMetadata": {
                "promptTokenCount": 20,
                "candidatesTokenCount": 8,
                "totalTokenCount": 28,
            }
        }
    )
    chunks = translate([event([{"text": "Hi"}], "MAX_TOKENS", candidatesTokenCount=3), usage_only])
    assert len(chunks) == 2
    assert chunks[0]["choices"][0]["finish_reason"] == "length"
    assert chunks[1]["usage"]["completion_tokens"] == 8


def test_a_stream_without_usage_sends_no_usage_chunk() -> None:
    translator = GeminiStreamTranslator()
    data = orjson.dumps({"candidates": [{"content": {"parts": [{"text": "a"}]}}]})
    assert len(translator.feed(data)) == 1
    assert translator.finish() == []


def test_a_blocked_prompt_in_a_stream_finishes_with_content_filter() -> None:
    data = orjson.dumps(
        {"promptFeedback": {"blockReason": "SAFETY"},
         "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}}
    )  # fmt: skip
    chunks = translate([data])
    assert chunks[0]["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant"},
            "finish_reason": "content_filter",
            "native_finish_reason": "SAFETY",
        }
    ]
    assert chunks[1]["usage"]["prompt_tokens"] == 5


@pytest.mark.parametrize(
    "data",
    [
        b'{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}',
        b"[1, 2]",
        b"garbage",
        b'{"candidates": [{"content": {"parts": ["not a part"]}}]}',
    ],
)
def test_an_error_event_in_a_stream_raises(data: bytes) -> None:
    translator = adapter.stream_translator()
    translator.feed(event([{"text": "partial"}]))
    with pytest.raises(ProviderFormatError):
        translator.feed(data)
