"""What each wire format gives the serving code, behind two Protocols: ``WireFormat`` (its
error shapes and SSE framing, which faults use) and ``GenerationFormat`` (its answers, whole
and streamed). One module per format implements them: ``openai_wire`` (chat completions, also
the error shape of embeddings and the control API), ``anthropic_api`` and ``gemini_api``.

A streamed answer is an ``EventStream``: the events before the first token (``head``), one
event per piece of the reply (``body``; each knows how many tokens it carries, which sets its
pacing and where a ``[sim:cut=N]`` falls) and the events after it (``tail``: finish, usage,
end marker). The serving code never sends the last event of a stream that it cuts.
"""

from dataclasses import dataclass
from typing import Protocol

import orjson

from proxy.simulator.prompt import Generation, JsonObject
from proxy.simulator.responder import Completion


@dataclass(frozen=True, slots=True)
class ResponseMeta:
    id: str
    created: int
    model: str
    system_fingerprint: str


@dataclass(frozen=True, slots=True)
class Reply:
    """Everything a format needs to write one answer."""

    generation: Generation
    completion: Completion
    meta: ResponseMeta


@dataclass(frozen=True, slots=True)
class Event:
    data: bytes
    # Completion tokens this event carries.
    tokens: int = 0


@dataclass(frozen=True, slots=True)
class EventStream:
    head: tuple[Event, ...]
    body: tuple[Event, ...]
    tail: tuple[Event, ...]

    @property
    def events(self) -> tuple[Event, ...]:
        return self.head + self.body + self.tail

    def count_before_cut(self, tokens: int) -> int:
        """How many leading events hold the head and at most ``tokens`` completion tokens."""
        sent = count = 0
        for event in self.body:
            if sent + event.tokens > tokens:
                break
            sent += event.tokens
            count += 1
        return len(self.head) + count


class WireFormat(Protocol):
    @property
    def sse_data_prefix(self) -> bytes:
        """What opens a data event (broken and huge fault bodies start with it)."""
        ...

    @property
    def sse_separator(self) -> bytes: ...

    def error_body(self, status: int, message: str) -> JsonObject: ...

    def error_event_body(self) -> JsonObject:
        """The error an ``error_event`` fault sends as a whole 200 body."""
        ...

    def error_event(self) -> bytes:
        """The same error as the one SSE event of a streamed ``error_event`` fault."""
        ...


class GenerationFormat(WireFormat, Protocol):
    @property
    def id_prefix(self) -> str: ...

    def whole(self, reply: Reply) -> JsonObject: ...

    def stream(self, reply: Reply) -> EventStream: ...


def sse_event(
    payload: JsonObject, *, event: str | None = None, separator: bytes = b"\n\n"
) -> bytes:
    name = b"" if event is None else b"event: " + event.encode() + b"\n"
    return name + b"data: " + orjson.dumps(payload) + separator
