"""`AnthropicStreamTranslator`: an Anthropic Messages event stream as canonical
`chat.completion.chunk`s."""

import time

import orjson

from proxy.providers.anthropic.response import (
    error_text,
    finish_reason_from,
    load_object,
    usage_from,
)
from proxy.providers.base import Json, ProviderFormatError


class AnthropicStreamTranslator:
    """Anthropic stream events to canonical chunks. Tool calls are numbered from 0 in the order
    their `tool_use` blocks start. Usage is sent once, on `message_stop`; if the stream ends
    after `message_delta` (the stop reason and final counts) without it, `finish` sends it."""

    def __init__(self) -> None:
        self._id = ""
        self._model = ""
        self._created = int(time.time())
        self._usage: Json = {}  # Anthropic's counts so far; message_delta's are cumulative
        self._tools: dict[int, int] = {}  # Anthropic block index -> canonical tool_calls index
        self._started = False
        self._stopped = False
        self._usage_sent = False

    def feed(self, data: bytes) -> list[Json]:
        event = load_object(data)
        match event.get("type"):
            case "message_start":
                return self._message_start(event)
            case "content_block_start":
                return self._block_start(event)
            case "content_block_delta":
                return self._block_delta(event)
            case "message_delta":
                return self._message_delta(event)
            case "message_stop":
                return self._usage_chunk() if self._started else []
            case "error":
                raise ProviderFormatError(f"Anthropic error: {error_text(event) or 'no message'}")
        return []  # ping, content_block_stop and event types added later

    def finish(self) -> list[Json]:
        return self._usage_chunk() if self._stopped else []

    def _usage_chunk(self) -> list[Json]:
        if self._usage_sent:
            return []
        self._usage_sent = True
        usage = usage_from({"input_tokens": 0, "output_tokens": 0, **self._usage})
        return [dict(self._chunk_base(), choices=[], usage=usage)] if usage else []

    def _message_start(self, event: Json) -> list[Json]:
        message = event.get("message")
        if not isinstance(message, dict):
            raise ProviderFormatError("message_start without a message")
        self._started = True
        self._id = str(message.get("id", ""))
        self._model = str(message.get("model", ""))
        if isinstance(message.get("usage"), dict):
            self._usage.update(message["usage"])
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, event: Json) -> list[Json]:
        block = event.get("content_block")
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and block and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if kind != "tool_use" or not block:
            return []
        index = self._tools[event.get("index", -1)] = len(self._tools)
        # Anthropic sends the input as input_json_delta fragments; a whole one here is a courtesy
        # of some compatible providers.
        start_input = block.get("input")
        arguments = orjson.dumps(start_input).decode() if start_input else ""
        function = {"name": str(block.get("name", "")), "arguments": arguments}
        call = {"index": index, "id": str(block.get("id", "")), "type": "function",
                "function": function}  # fmt: skip
        return [self._chunk({"tool_calls": [call]})]

    def _block_delta(self, event: Json) -> list[Json]:
        delta = event.get("delta")
        kind = delta.get("type") if isinstance(delta, dict) else None
        if kind == "text_delta" and delta and delta.get("text"):
            return [self._chunk({"content": str(delta["text"])})]
        if kind == "thinking_delta" and delta and delta.get("thinking"):
            return [self._chunk({"reasoning": str(delta["thinking"])})]
        if kind == "input_json_delta" and delta and delta.get("partial_json"):
            index = self._tools.get(event.get("index", -1))
            if index is None:
                raise ProviderFormatError("input_json_delta outside a tool_use block")
            call = {"index": index, "function": {"arguments": str(delta["partial_json"])}}
            return [self._chunk({"tool_calls": [call]})]
        return []  # signature and citation deltas have no canonical form

    def _message_delta(self, event: Json) -> list[Json]:
        if isinstance(event.get("usage"), dict):
            counts = {k: v for k, v in event["usage"].items() if v is not None}
            self._usage.update(counts)
        delta = event.get("delta")
        stop_reason = delta.get("stop_reason") if isinstance(delta, dict) else None
        if not isinstance(stop_reason, str):
            return []
        self._stopped = True
        return [self._chunk({}, finish_reason=finish_reason_from(stop_reason), native=stop_reason)]

    def _chunk_base(self) -> Json:
        return {"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                "model": self._model}  # fmt: skip

    def _chunk(
        self, delta: Json, *, finish_reason: str | None = None, native: str | None = None
    ) -> Json:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason,
                  "native_finish_reason": native}  # fmt: skip
        return dict(self._chunk_base(), choices=[choice])
