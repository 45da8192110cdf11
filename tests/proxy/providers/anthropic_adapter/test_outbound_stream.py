"""Outbound, the stream: Anthropic's streamed events become canonical chat completion chunks,
checked against both SDKs' own models."""

import json
from typing import Any

import openai.types.chat as openai_chat
import orjson
import pytest

from proxy.providers.base import ProviderFormatError
from tests.proxy.providers.anthropic_adapter.support import ADAPTER, STREAM_EVENT

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
