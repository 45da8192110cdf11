"""Pure, deterministic planning of a simulated answer: tokens, reply text, directives.

Gateway tests assert on these exact values, so everything here is a plain function of its
inputs (ids and timestamps are made by the serving code, never here). ``plan_reply`` answers
the canonical request of any wire format (see ``prompt.py``); tool calls and JSON mode follow
the rules in ``tool_replies.py``.

Token accounting: a token is a word (``\\w+``) or one punctuation character. A prompt costs
the tokens of its messages' text (string contents and text parts; tool definitions, images
and tool calls' arguments are free) plus 3 per message and 3 for the reply. A reply costs one
token per streamed piece: the pieces are the reply's tokens, each with the whitespace before
it, so they add up to exactly the reply text.

Stop sequences cut the reply text before the first one found (OpenAI ``stop``, Anthropic
``stop_sequences``, Gemini ``stopSequences``); ``max_tokens`` then truncates what is left.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from proxy.simulator.profiles import SimulatedProvider
from proxy.simulator.prompt import Message, Prompt
from proxy.simulator.tool_replies import (
    ToolCall,
    json_mode_text,
    planned_tool_call,
    tool_result_text,
)

TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]")
_PIECE_PATTERN = re.compile(r"\s*(?:\w+|[^\w\s])")
DIRECTIVE_PATTERN = re.compile(
    r"\[sim:(?:status=(?P<status>\d{3})|cut=(?P<cut>\d+)|slow=(?P<slow>\d+)"
    r"|delay=(?P<delay>\d+)|(?P<flag>hang|malformed))\]"
)
# Every message carries a few tokens of role/separator framing, as in OpenAI's accounting.
_MESSAGE_OVERHEAD_TOKENS = 3
_REPLY_PRIMING_TOKENS = 3

FinishReason = Literal["stop", "length", "tool_calls"]


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
    """A planned reply. ``deltas`` are its streamed pieces, one token each: the text, or the
    tool call's arguments (then cut short, with finish reason "length", by ``max_tokens``)."""

    deltas: tuple[str, ...]
    finish_reason: FinishReason
    prompt_tokens: int
    tool_call: ToolCall | None = None
    # The stop sequence that ended the text, when one did.
    stop_sequence: str | None = None

    @property
    def content(self) -> str:
        """The reply text ("" for a tool call)."""
        return "" if self.tool_call else "".join(self.deltas)

    @property
    def arguments(self) -> str:
        """The tool call's arguments as sent: complete, or cut short by ``max_tokens``."""
        return "".join(self.deltas) if self.tool_call else ""

    @property
    def completion_tokens(self) -> int:
        return len(self.deltas)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


# --- text and tokens -------------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    return TOKEN_PATTERN.findall(text)


def count_tokens(text: str) -> int:
    return len(tokenize(text))


def text_pieces(text: str) -> tuple[str, ...]:
    """One piece per token, each with the whitespace before it; trailing whitespace joins the
    last piece, so the pieces add up to ``text`` (unless it has no token at all)."""
    pieces = _PIECE_PATTERN.findall(text)
    rest = text[sum(len(piece) for piece in pieces) :]
    if pieces and rest:
        pieces[-1] += rest
    return tuple(pieces)


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
    """The reply wording: a tool result is acknowledged, anything else echoes the user."""
    if messages and messages[-1].get("role") == "tool":
        return tool_result_text(content_text(messages[-1].get("content")))
    said = strip_directives(last_user_text(messages)) or "nothing"
    return f"Hello from {provider.name}. You said: {said}"


# --- planning --------------------------------------------------------------------------


def plan_reply(prompt: Prompt, provider: SimulatedProvider) -> Completion:
    """The whole reply to a canonical request: a tool call, or text (JSON in JSON mode)."""
    call = planned_tool_call(prompt)
    if call is not None:
        return _limited(text_pieces(call.arguments), prompt, tool_call=call)
    text = json_mode_text(prompt.response_format, reply_text(prompt.messages, provider))
    text, stop_sequence = _cut_at_stop(text, prompt.stop)
    return _limited(text_pieces(text), prompt, stop_sequence=stop_sequence)


def plan_completion(
    messages: Sequence[Message], provider: SimulatedProvider, max_tokens: int | None
) -> Completion:
    """The reply to a plain chat request (no tools, JSON mode or stop sequences)."""
    return plan_reply(Prompt(messages=tuple(messages), max_tokens=max_tokens), provider)


def _limited(
    pieces: tuple[str, ...],
    prompt: Prompt,
    *,
    tool_call: ToolCall | None = None,
    stop_sequence: str | None = None,
) -> Completion:
    limit = prompt.max_tokens
    truncated = limit is not None and limit < len(pieces)
    natural: FinishReason = "tool_calls" if tool_call else "stop"
    return Completion(
        deltas=pieces[:limit] if truncated else pieces,
        finish_reason="length" if truncated else natural,
        prompt_tokens=prompt_tokens(prompt.messages),
        tool_call=tool_call,
        stop_sequence=None if truncated else stop_sequence,
    )


def _cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, str | None]:
    found = [(text.find(sequence), sequence) for sequence in stop if sequence and sequence in text]
    if not found:
        return text, None
    index, sequence = min(found)
    return text[:index], sequence


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
