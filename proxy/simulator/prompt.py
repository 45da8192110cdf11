"""The canonical view of a generation request, whatever wire format it came in, and the
field checks the three request parsers share.

Messages stay OpenAI chat messages (``role``, ``content`` as a string or a list of parts,
``tool_calls``, ``tool_call_id``) because token counting and the reply wording read them;
everything else is typed. The Anthropic and Gemini parsers convert into this view, so one
planner (``responder.plan_reply``) answers all three formats alike.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeGuard

import orjson

Message = Mapping[str, object]
JsonObject = dict[str, object]
ToolChoiceMode = Literal["auto", "none", "required"]
ResponseKind = Literal["text", "json_object", "json_schema"]


class InvalidRequest(ValueError):
    """A request body we cannot answer (HTTP 400, in the format's own error shape)."""


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    # The JSON schema of the tool's arguments ({} when the tool declares none).
    parameters: JsonObject


@dataclass(frozen=True, slots=True)
class ToolChoice:
    mode: ToolChoiceMode = "auto"
    # A tool the caller named: the reply must call it (mode is then "required").
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    kind: ResponseKind = "text"
    # json_schema only: the schema the reply must be an instance of.
    schema: JsonObject | None = None


@dataclass(frozen=True, slots=True)
class Prompt:
    messages: tuple[Message, ...]
    max_tokens: int | None = None
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice = ToolChoice()
    response_format: ResponseFormat = ResponseFormat()
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Generation:
    """One parsed generation request: the prompt, plus how the answer travels."""

    model: str
    prompt: Prompt
    stream: bool
    # OpenAI's stream_options.include_usage (the other formats always report usage).
    include_usage: bool = False


# --- shared field checks ---------------------------------------------------------------


def decode_object(raw: bytes) -> Mapping[str, object]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("Request body must be a JSON object.")
    return body


def is_int(value: object) -> TypeGuard[int]:
    # JSON true/false decode to bool, a subclass of int; they are not numbers here.
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(body: Mapping[str, object], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not is_int(value) or value < 1:
        raise InvalidRequest(f"'{key}' must be a positive integer")
    return value


def optional_bool(body: Mapping[str, object], key: str) -> bool:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidRequest(f"'{key}' must be a boolean")
    return value is True


def required_str(body: Mapping[str, object], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{key}' must be a non-empty string")
    return value


def object_list(body: Mapping[str, object], key: str, *, required: bool) -> list[JsonObject]:
    """``body[key]`` as a list of objects; absent is [] unless ``required`` (then non-empty)."""
    value = body.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        raise InvalidRequest(
            f"'{key}' must be a non-empty array" if required else f"'{key}' must be an array"
        )
    if not all(isinstance(entry, dict) for entry in value):
        raise InvalidRequest(f"every entry of '{key}' must be an object")
    return value


def optional_object(body: Mapping[str, object], key: str) -> JsonObject | None:
    value = body.get(key)
    if value is not None and not isinstance(value, dict):
        raise InvalidRequest(f"'{key}' must be an object")
    return value


def string_list(body: Mapping[str, object], key: str) -> tuple[str, ...]:
    """A list of strings (a lone string counts as a list of one); absent is ()."""
    value = body.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequest(f"'{key}' must be a string or an array of strings")
    return tuple(value)


def checked_tool_choice(choice: ToolChoice, tools: tuple[Tool, ...]) -> ToolChoice:
    if choice.name is not None and all(tool.name != choice.name for tool in tools):
        raise InvalidRequest(f"The tool choice names an unknown tool '{choice.name}'.")
    return choice
