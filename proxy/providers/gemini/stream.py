"""`GeminiStreamTranslator`: the partial `GenerateContentResponse`s of a Gemini stream
(`streamGenerateContent?alt=sse`) as canonical `chat.completion.chunk`s."""

import time
from typing import Any

from proxy.providers.base import Json
from proxy.providers.gemini.response import (
    answer_load,
    block_reason,
    candidate_choice,
    generated_id,
    usage_from,
)


class GeminiStreamTranslator:
    """Turns the partial `GenerateContentResponse`s of a Gemini stream into canonical chunks.
    Gemini repeats its cumulative usage in every event: only the last one is sent, once, by
    `finish`."""

    def __init__(self) -> None:
        self.id = generated_id()
        self.model = ""
        self.created = int(time.time())
        self.started = False
        self.tool_calls = 0
        self.usage: Json | None = None

    def feed(self, data: bytes) -> list[Json]:
        event = answer_load(data)
        if not self.started:
            self.id = event.get("responseId") or self.id
            self.model = event.get("modelVersion") or self.model
        self.usage = usage_from(event.get("usageMetadata")) or self.usage
        if not event.get("candidates") and not block_reason(event):
            return []  # e.g. a last event with only usage
        return self._chunks(candidate_choice(event, first_call=self.tool_calls))

    def _chunks(self, choice: Json) -> list[Json]:
        message = choice["message"]
        delta: Json = {} if self.started else {"role": "assistant"}
        if message["content"]:
            delta["content"] = message["content"]
        if message.get("reasoning"):
            delta["reasoning"] = message["reasoning"]
        calls = message.get("tool_calls") or []
        if calls:
            delta["tool_calls"] = [
                dict(call, index=self.tool_calls + i) for i, call in enumerate(calls)
            ]
            self.tool_calls += len(calls)
        native = choice["native_finish_reason"]
        finish = None if native is None else choice["finish_reason"]
        if finish == "stop" and self.tool_calls:
            finish = "tool_calls"  # the calls came in earlier events
        if not delta and finish is None:
            return []
        self.started = True
        return [self._chunk([{"index": 0, "delta": delta, "finish_reason": finish,
                              "native_finish_reason": native}])]  # fmt: skip

    def finish(self) -> list[Json]:
        return [] if self.usage is None else [self._chunk([], usage=self.usage)]

    def _chunk(self, choices: list[Json], **extra: Any) -> Json:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "choices": choices, **extra}  # fmt: skip
