"""The gateway's SSE reader: the standard's rules, and streams of every wire format (recorded
from the live simulator) read the same however the network splits them."""

from typing import Any

import httpx
import orjson
import pytest

from proxy.providers import ADAPTERS
from proxy.providers.base import Json, ProviderFormatError, Upstream
from proxy.sse import SseParser

LIMIT = 1024 * 1024


def events_of(*chunks: bytes) -> list[bytes]:
    parser = SseParser(line_limit=LIMIT)
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    return events + parser.close()


@pytest.mark.parametrize(
    ("stream", "events"),
    [
        (b"data: a\n\ndata: b\n\n", [b"a", b"b"]),
        (b"data:no-space\n\n", [b"no-space"]),
        (b"data: one\ndata: two\n\n", [b"one\ntwo"]),  # one event, lines joined
        (b": keep-alive\n\ndata: x\n\n", [b"x"]),  # comments are skipped
        (b"event: message_start\nid: 7\ndata: {}\n\n", [b"{}"]),
        (b"data: crlf\r\n\r\ndata: cr\r\rdata: lf\n\n", [b"crlf", b"cr", b"lf"]),
        (b"data: no end", [b"no end"]),  # the last blank line is missing
        (b"\n\n\n", []),
        (b"data: [DONE]\n\n", [b"[DONE]"]),
    ],
)
def test_sse_rules(stream, events):
    assert events_of(stream) == events


def test_a_crlf_split_between_reads_ends_one_line_not_two():
    # Read alone, the \r would end the line and the \n would be a blank line ending the event.
    assert events_of(b"data: a\r", b"\ndata: b\r\n\r\n") == [b"a\nb"]


def test_an_endless_line_fails_instead_of_filling_memory():
    parser = SseParser(line_limit=10)
    with pytest.raises(ProviderFormatError, match="larger than 10 bytes"):
        parser.feed(b"data: " + b"x" * 20)


TOOLS = [{"type": "function", "function": {
    "name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}},
                                     "required": ["q"]}}}]  # fmt: skip
REQUESTS: dict[str, Json] = {
    "text": {"messages": [{"role": "user", "content": "Split me at every byte, please"}]},
    "tool call": {"messages": [{"role": "user", "content": "Look it up"}], "tools": TOOLS},
}
FORMATS = {"openai": ("nimbus", "v1"), "anthropic": ("lumen", "v1"), "gemini": ("atlas", "v1beta")}


def recorded_stream(simulator_url: str, adapter: str, request: Json) -> bytes:
    provider, path = FORMATS[adapter]
    upstream = Upstream(f"{simulator_url}/{provider}/{path}", "gpt-4o-mini", "")
    outgoing = ADAPTERS[adapter].chat_request(dict(request, max_tokens=200), upstream, stream=True)
    response = httpx.post(outgoing.url, content=outgoing.body, headers=outgoing.headers)
    assert response.status_code == 200, response.text
    return response.content


def canonical(adapter: str, chunks: list[bytes]) -> list[Any]:
    translator = ADAPTERS[adapter].stream_translator()
    result: list[Any] = []
    for event in events_of(*chunks):
        if event != b"[DONE]":
            result += translator.feed(event)
    result += translator.finish()
    for chunk in result:
        chunk.pop("created", None)  # some translators stamp the time they saw the chunk
    return [orjson.dumps(chunk) for chunk in result]


@pytest.mark.parametrize("adapter", list(FORMATS))
@pytest.mark.parametrize("request_kind", list(REQUESTS))
def test_a_stream_split_at_every_byte_boundary_reads_the_same(simulator_url, adapter, request_kind):
    stream = recorded_stream(simulator_url, adapter, REQUESTS[request_kind])
    whole = canonical(adapter, [stream])
    assert len(whole) >= 2  # a real stream: chunks, then usage

    for split in range(1, len(stream)):
        assert canonical(adapter, [stream[:split], stream[split:]]) == whole, split
    assert canonical(adapter, [stream[i : i + 1] for i in range(len(stream))]) == whole
