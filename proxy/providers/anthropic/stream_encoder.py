"""`MessagesStreamEncoder`: canonical chunks, as the gateway relays them, written as Anthropic
SSE events for `POST /api/v1/messages`.

`message_start` reports 0 input tokens: the gateway learns the counts at the end, and
`message_delta` carries them (the SDKs take its cumulative counts over those of
`message_start`).
"""

from typing import Any

import orjson

from proxy.providers.anthropic._values import as_object
from proxy.providers.anthropic.inbound_response import message_usage, stop_reason_from
from proxy.providers.base import Json


class MessagesStreamEncoder:
    """Canonical chunks, as the gateway relays them, to Anthropic SSE events. One content block
    is open at a time; a change of kind (thinking, text, another tool call) closes it and
    opens the next, numbered from 0 as Anthropic's SDKs expect."""

    def __init__(self) -> None:
        self._next_index = 0
        self._open: str | None = None  # "thinking", "text" or "tool_use"
        self._tool_key: Any = None  # the canonical index (or id) of the open tool call
        self._finish_reason: str | None = None
        self._native: str | None = None

    def start(self, model: str, message_id: str) -> bytes:
        message: Json = {
            "id": message_id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }  # fmt: skip
        return _event("message_start", {"type": "message_start", "message": message})

    def chunk(self, chunk: Json) -> bytes:
        choices = chunk.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(choice, dict):
            return b""  # the usage chunk: its counts come with finish()
        delta = as_object(choice.get("delta"))
        events: list[bytes] = []
        if isinstance(delta.get("reasoning"), str) and delta["reasoning"]:
            events += self._switch_to(
                "thinking", {"type": "thinking", "thinking": "", "signature": ""}
            )
            events.append(self._delta({"type": "thinking_delta", "thinking": delta["reasoning"]}))
        if isinstance(delta.get("content"), str) and delta["content"]:
            events += self._switch_to("text", {"type": "text", "text": ""})
            events.append(self._delta({"type": "text_delta", "text": delta["content"]}))
        for call in delta.get("tool_calls") or []:
            if isinstance(call, dict):
                events += self._tool_call(call)
        if choice.get("finish_reason"):
            self._finish_reason = choice["finish_reason"]
            self._native = choice.get("native_finish_reason")
        return b"".join(events)

    def finish(self, usage: Json) -> bytes:
        stop_reason = stop_reason_from(self._finish_reason, self._native)
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": message_usage(usage),
        }
        events = [*self._close(), _event("message_delta", delta)]
        events.append(_event("message_stop", {"type": "message_stop"}))
        return b"".join(events)

    def error(self, message: str) -> bytes:
        return _event(
            "error", {"type": "error", "error": {"type": "api_error", "message": message}}
        )

    def _tool_call(self, call: Json) -> list[bytes]:
        function = as_object(call.get("function"))
        key = call.get("index", call.get("id"))
        events: list[bytes] = []
        if self._open != "tool_use" or (key is not None and key != self._tool_key):
            call_id = call.get("id") or f"toolu_{self._next_index}"
            name = str(function.get("name") or "")
            block = {"type": "tool_use", "id": str(call_id), "name": name, "input": {}}
            events += self._switch_to("tool_use", block, force=True)
            self._tool_key = key
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            events.append(self._delta({"type": "input_json_delta", "partial_json": arguments}))
        return events

    def _switch_to(self, kind: str, block: Json, *, force: bool = False) -> list[bytes]:
        if self._open == kind and not force:
            return []
        events = self._close()
        self._open = kind
        start = {"type": "content_block_start", "index": self._next_index, "content_block": block}
        events.append(_event("content_block_start", start))
        return events

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        self._open = None
        index, self._next_index = self._next_index, self._next_index + 1
        return [_event("content_block_stop", {"type": "content_block_stop", "index": index})]

    def _delta(self, delta: Json) -> bytes:
        payload = {"type": "content_block_delta", "index": self._next_index, "delta": delta}
        return _event("content_block_delta", payload)


def _event(kind: str, payload: Json) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
