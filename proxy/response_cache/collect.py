"""A stream's canonical chunks folded into the whole answer a non-streamed request would get."""

from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


@dataclass
class _Choice:
    role: str = "assistant"
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: dict[int, Json] = field(default_factory=dict)
    finish_reason: str | None = None
    native_finish_reason: str | None = None

    def add(self, choice: Json) -> None:
        delta = choice.get("delta") or {}
        self.role = delta.get("role") or self.role
        for parts, text in ((self.content, delta.get("content")),
                            (self.reasoning, delta.get("reasoning"))):  # fmt: skip
            if isinstance(text, str):
                parts.append(text)
        for position, call in enumerate(delta.get("tool_calls") or []):
            self._add_tool_call(call.get("index", position), call)
        if choice.get("finish_reason") is not None:
            self.finish_reason = str(choice["finish_reason"])
            self.native_finish_reason = choice.get("native_finish_reason")

    def _add_tool_call(self, index: int, delta: Json) -> None:
        call = self.tool_calls.setdefault(
            index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
        )
        call["id"] = delta.get("id") or call["id"]
        call["type"] = delta.get("type") or call["type"]
        function = delta.get("function") or {}
        call["function"]["name"] += function.get("name") or ""
        call["function"]["arguments"] += function.get("arguments") or ""

    def message(self) -> Json:
        message: Json = {"role": self.role, "content": "".join(self.content) or None}
        if self.reasoning:
            message["reasoning"] = "".join(self.reasoning)
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        return message


class AnswerCollector:
    def __init__(self) -> None:
        self.upstream_id = ""
        self.created = 0
        self._choices: dict[int, _Choice] = {}

    def add(self, chunk: Json) -> None:
        """One canonical chunk, before it is written for the client."""
        self.upstream_id = self.upstream_id or str(chunk.get("id", ""))
        self.created = chunk.get("created") or self.created
        for position, choice in enumerate(chunk.get("choices") or []):
            self._choices.setdefault(choice.get("index", position), _Choice()).add(choice)

    def answer(self) -> Json:
        choices = [
            {"index": index, "message": choice.message(), "finish_reason": choice.finish_reason,
             "native_finish_reason": choice.native_finish_reason}
            for index, choice in sorted(self._choices.items())
        ]  # fmt: skip
        return {"id": self.upstream_id, "created": self.created, "choices": choices}


def answer_finished(answer: Json) -> bool:
    """Whether every choice of an answer came to a proper end (what may be cached)."""
    choices = answer.get("choices") or []
    return bool(choices) and all(c.get("finish_reason") not in (None, "error") for c in choices)


def replay_chunks(answer: Json) -> list[Json]:
    """A cached answer as stream chunks: each choice's whole message in one delta."""
    chunks: list[Json] = []
    created = answer.get("created", 0)
    for position, choice in enumerate(answer.get("choices") or []):
        index = choice.get("index", position)
        delta = dict(choice.get("message") or {})
        if delta.get("tool_calls"):
            delta["tool_calls"] = [
                {**call, "index": i} for i, call in enumerate(delta["tool_calls"])
            ]
        chunks.append({"created": created, "choices": [
            {"index": index, "delta": delta, "finish_reason": choice.get("finish_reason"),
             "native_finish_reason": choice.get("native_finish_reason")}
        ]})  # fmt: skip
    return chunks
