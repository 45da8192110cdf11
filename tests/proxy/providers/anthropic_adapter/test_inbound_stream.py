"""Inbound, the stream: canonical chunks are encoded as Anthropic stream events that the real
`anthropic` client rebuilds, errors included."""

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic._streaming import SSEDecoder

from proxy.providers.anthropic import MessagesStreamEncoder
from tests.proxy.providers.anthropic_adapter.support import STREAM_EVENT, sdk_client


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

    client = sdk_client(handler)
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

    client = sdk_client(handler)
    with (
        pytest.raises(anthropic.APIStatusError, match="the provider went away"),
        client.messages.stream(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
        ) as stream,
    ):
        stream.until_done()
