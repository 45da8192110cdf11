"""Pure, deterministic parts of a simulated answer: parsing, tokens, reply text, payloads.

Gateway tests assert on these exact values, so everything here is a plain function of
its inputs (ids and timestamps are passed in, never generated here).
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import orjson

from proxy.simulator.profiles import SimulatedProvider

TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]")
_PUNCTUATION = re.compile(r"[^\w\s]")
DIRECTIVE_PATTERN = re.compile(
    r"\[sim:(?:status=(?P<status>\d{3})|cut=(?P<cut>\d+)|slow=(?P<slow>\d+)"
    r"|delay=(?P<delay>\d+)|(?P<flag>hang|malformed))\]"
)
# Every message carries a few tokens of role/separator framing, as in OpenAI's accounting.
_MESSAGE_OVERHEAD_TOKENS = 3
_REPLY_PRIMING_TOKENS = 3

FinishReason = Literal["stop", "length"]
Message = Mapping[str, object]
JsonObject = dict[str, object]


class InvalidChatRequest(ValueError):
    """The request body is not a chat-completions request we can answer (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: tuple[Message, ...]
    max_tokens: int | None
    stream: bool
    include_usage: bool


@dataclass(frozen=True, slots=True)
class Directives:
    status: int | None = None
    hang: bool = False
    cut: int | None = None
    malformed: bool = False
    slow_ms: int = 0
    # Milliseconds between streamed tokens (on top of the profile's generation speed).
    delay_ms: int = 0


@dataclass(frozen=True, slots=True)
class Completion:
    deltas: tuple[str, ...]
    finish_reason: FinishReason
    prompt_tokens: int

    @property
    def content(self) -> str:
        return "".join(self.deltas)

    @property
    def completion_tokens(self) -> int:
        return len(self.deltas)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class ResponseMeta:
    id: str
    created: int
    model: str
    system_fingerprint: str


# --- request parsing -------------------------------------------------------------------


def parse_chat_request(raw: bytes) -> ChatRequest:
    body = _decode_object(raw)
    return ChatRequest(
        model=_model(body),
        messages=_messages(body),
        max_tokens=_max_tokens(body),
        stream=_optional_bool(body, "stream"),
        include_usage=_include_usage(body),
    )


def _decode_object(raw: bytes) -> Mapping[str, object]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidChatRequest(f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidChatRequest("Request body must be a JSON object.")
    return body


def _model(body: Mapping[str, object]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidChatRequest("you must provide a model parameter")
    return model


def _messages(body: Mapping[str, object]) -> tuple[Message, ...]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidChatRequest("'messages' must be a non-empty array")
    if not all(isinstance(message, dict) for message in messages):
        raise InvalidChatRequest("every entry of 'messages' must be an object")
    return tuple(messages)


def _max_tokens(body: Mapping[str, object]) -> int | None:
    # max_completion_tokens supersedes the deprecated max_tokens in the OpenAI API.
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidChatRequest(f"'{key}' must be a positive integer")
        return value
    return None


def _optional_bool(body: Mapping[str, object], key: str) -> bool:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidChatRequest(f"'{key}' must be a boolean")
    return value is True


def _include_usage(body: Mapping[str, object]) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, dict):
        raise InvalidChatRequest("'stream_options' must be an object")
    return _optional_bool(options, "include_usage")


# --- text and tokens -------------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    return TOKEN_PATTERN.findall(text)


def count_tokens(text: str) -> int:
    return len(tokenize(text))


def content_text(content: object) -> str:
    """Text of a message's content: a plain string, or the text parts of a parts list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        # Joining with a space keeps part boundaries from merging two words into one token.
        return " ".join(_text_part(part) for part in content)
    return ""


def _text_part(part: object) -> str:
    if isinstance(part, dict) and part.get("type") == "text":
        text = part.get("text")
        return text if isinstance(text, str) else ""
    return ""


def prompt_tokens(messages: Sequence[Message]) -> int:
    per_message = (
        count_tokens(content_text(message.get("content"))) + _MESSAGE_OVERHEAD_TOKENS
        for message in messages
    )
    return sum(per_message) + _REPLY_PRIMING_TOKENS


def last_user_text(messages: Sequence[Message]) -> str:
    """Raw text (directives included) of the last user message, or "" if there is none."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def strip_directives(text: str) -> str:
    return " ".join(DIRECTIVE_PATTERN.sub(" ", text).split())


def reply_text(messages: Sequence[Message], provider: SimulatedProvider) -> str:
    said = strip_directives(last_user_text(messages)) or "nothing"
    return f"Hello from {provider.name}. You said: {said}"


def delta_texts(tokens: Sequence[str]) -> tuple[str, ...]:
    """Streamed pieces whose concatenation is the re-joined text of ``tokens``."""
    return tuple(
        token if index == 0 or _PUNCTUATION.fullmatch(token) else f" {token}"
        for index, token in enumerate(tokens)
    )


def join_tokens(tokens: Sequence[str]) -> str:
    return "".join(delta_texts(tokens))


def plan_completion(
    messages: Sequence[Message], provider: SimulatedProvider, max_tokens: int | None
) -> Completion:
    tokens = tokenize(reply_text(messages, provider))
    truncated = max_tokens is not None and max_tokens < len(tokens)
    emitted = tokens[:max_tokens] if truncated else tokens
    return Completion(
        deltas=delta_texts(emitted),
        finish_reason="length" if truncated else "stop",
        prompt_tokens=prompt_tokens(messages),
    )


# --- fault directives ------------------------------------------------------------------


def parse_directives(text: str) -> Directives:
    """Read ``[sim:...]`` directives; when one repeats, the last occurrence wins."""
    directives = Directives()
    for match in DIRECTIVE_PATTERN.finditer(text):
        directives = _apply_directive(directives, match)
    return directives


def _apply_directive(directives: Directives, match: re.Match[str]) -> Directives:
    status, cut, slow, delay, flag = match.group("status", "cut", "slow", "delay", "flag")
    if status is not None:
        # Only error statuses make sense to force; anything else is ignored (but stripped).
        return replace(directives, status=int(status)) if 400 <= int(status) <= 599 else directives
    if cut is not None:
        return replace(directives, cut=int(cut))
    if slow is not None:
        return replace(directives, slow_ms=int(slow))
    if delay is not None:
        return replace(directives, delay_ms=int(delay))
    if flag == "hang":
        return replace(directives, hang=True)
    return replace(directives, malformed=True)


# --- wire payloads ---------------------------------------------------------------------


def completion_body(meta: ResponseMeta, completion: Completion) -> JsonObject:
    message = {"role": "assistant", "content": completion.content, "refusal": None}
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": completion.finish_reason,
    }
    return {
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [choice],
        "usage": usage_body(completion),
        "system_fingerprint": meta.system_fingerprint,
    }


def usage_body(completion: Completion) -> dict[str, int]:
    return {
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "total_tokens": completion.total_tokens,
    }


def chunk_body(
    meta: ResponseMeta, delta: Mapping[str, str], finish_reason: FinishReason | None = None
) -> JsonObject:
    choice = {"index": 0, "delta": dict(delta), "logprobs": None, "finish_reason": finish_reason}
    return _chunk_envelope(meta) | {"choices": [choice]}


def usage_chunk_body(meta: ResponseMeta, completion: Completion) -> JsonObject:
    return _chunk_envelope(meta) | {"choices": [], "usage": usage_body(completion)}


def _chunk_envelope(meta: ResponseMeta) -> JsonObject:
    return {
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "system_fingerprint": meta.system_fingerprint,
    }


def sse_event(payload: JsonObject) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"


def error_body(status: int, message: str) -> JsonObject:
    return {"error": {"message": message, "type": error_type(status), "code": None}}


def error_type(status: int) -> str:
    if status >= 500:
        return "server_error"
    return _CLIENT_ERROR_TYPES.get(status, "invalid_request_error")


_CLIENT_ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
}
