"""Parsing an Anthropic Messages request into the canonical ``Generation``.

The conversion, which keeps token counts equal to those of the same conversation in OpenAI's
format:

- ``system`` (a string or text blocks) becomes a leading system message;
- text blocks become text parts, image and document blocks content-free parts;
- an assistant's ``tool_use`` blocks become its ``tool_calls`` (arguments: compact JSON of
  ``input``);
- a user's ``tool_result`` blocks become tool messages (content: the result's text) placed
  before whatever else that user message says;
- ``tools`` with an ``input_schema`` are the tools (server tools are ignored), and
  ``tool_choice`` ``auto`` / ``any`` / ``tool`` (named) / ``none`` maps to auto / required /
  named / none.

``max_tokens`` is required, as by Anthropic. A system prompt that asks for a JSON object (and
perhaps gives its schema) is obeyed: Anthropic has no JSON mode, callers ask in words.
"""

from collections.abc import Mapping

import orjson

from proxy.simulator.prompt import (
    Generation,
    InvalidRequest,
    JsonObject,
    Message,
    Prompt,
    ResponseFormat,
    Tool,
    ToolChoice,
    ToolChoiceMode,
    checked_tool_choice,
    decode_object,
    object_list,
    optional_bool,
    optional_object,
    positive_int,
    required_str,
    string_list,
)
from proxy.simulator.responder import content_text

_TOOL_CHOICE_MODES: dict[str, ToolChoiceMode] = {"auto": "auto", "any": "required", "none": "none"}
_ROLES = ("user", "assistant")


def parse_messages_request(raw: bytes) -> Generation:
    body = decode_object(raw)
    max_tokens = positive_int(body, "max_tokens")
    if max_tokens is None:
        raise InvalidRequest("max_tokens: Field required")
    tools = _tools(body)
    system = _system(body)
    prompt = Prompt(
        messages=system + _messages(body),
        max_tokens=max_tokens,
        tools=tools,
        tool_choice=checked_tool_choice(_tool_choice(body), tools),
        response_format=instructed_format(system),
        stop=string_list(body, "stop_sequences"),
    )
    return Generation(
        model=required_str(body, "model"), prompt=prompt, stream=optional_bool(body, "stream")
    )


# Anthropic has no JSON mode: callers (Switchyard's adapter among them) ask in the system
# prompt, and a simulated Claude obeys, as the real one does.
JSON_INSTRUCTION = "Respond only with a JSON object"
_SCHEMA_INTRODUCTION = "matching this JSON Schema:\n"


def instructed_format(system: tuple[Message, ...]) -> ResponseFormat:
    """JSON mode as the system prompt asks for it: any object, or one matching a schema."""
    text = "\n".join(content_text(message.get("content")) for message in system)
    if JSON_INSTRUCTION not in text:
        return ResponseFormat()
    _, found, rest = text.partition(_SCHEMA_INTRODUCTION)
    try:
        schema = orjson.loads(rest.split("\n", 1)[0]) if found else None
    except orjson.JSONDecodeError:
        schema = None
    if isinstance(schema, dict):
        return ResponseFormat(kind="json_schema", schema=schema)
    return ResponseFormat(kind="json_object")


def _system(body: Mapping[str, object]) -> tuple[Message, ...]:
    system = body.get("system")
    if system is None or system == "":
        return ()
    if isinstance(system, str):
        return ({"role": "system", "content": system},)
    if isinstance(system, list) and all(_is_block(block) for block in system):
        return ({"role": "system", "content": [_part(block) for block in system]},)
    raise InvalidRequest("system: must be a string or an array of text blocks")


def _messages(body: Mapping[str, object]) -> tuple[Message, ...]:
    messages: list[Message] = []
    for message in object_list(body, "messages", required=True):
        role = message.get("role")
        if role not in _ROLES:
            raise InvalidRequest(f"messages: role must be user or assistant, not {role!r}")
        content = message.get("content")
        if isinstance(content, str):
            messages.append({"role": role, "content": content})
        elif isinstance(content, list) and all(_is_block(block) for block in content):
            messages += _assistant(content) if role == "assistant" else _user(content)
        else:
            raise InvalidRequest("messages: content must be a string or an array of blocks")
    return tuple(messages)


def _is_block(block: object) -> bool:
    return isinstance(block, dict) and isinstance(block.get("type"), str)


def _user(blocks: list[JsonObject]) -> list[Message]:
    results: list[Message] = [
        {
            "role": "tool",
            "tool_call_id": block.get("tool_use_id"),
            "content": content_text(_result_parts(block.get("content"))),
        }
        for block in blocks
        if block["type"] == "tool_result"
    ]
    parts = [_part(block) for block in blocks if block["type"] != "tool_result"]
    # A user message of tool results only is just those results.
    return [*results, {"role": "user", "content": parts}] if parts or not results else results


def _result_parts(content: object) -> object:
    if isinstance(content, list):
        return [_part(block) for block in content if _is_block(block)]
    return content


def _assistant(blocks: list[JsonObject]) -> list[Message]:
    message: dict[str, object] = {
        "role": "assistant",
        "content": [_part(block) for block in blocks if block["type"] != "tool_use"],
    }
    calls = [_tool_call(block) for block in blocks if block["type"] == "tool_use"]
    if calls:
        message["tool_calls"] = calls
    return [message]


def _tool_call(block: JsonObject) -> JsonObject:
    arguments = orjson.dumps(block.get("input") or {}).decode()
    function = {"name": block.get("name"), "arguments": arguments}
    return {"id": block.get("id"), "type": "function", "function": function}


def _part(block: JsonObject) -> JsonObject:
    # Only text counts; images and documents keep their place but hold no tokens.
    if block["type"] == "text":
        return {"type": "text", "text": block.get("text")}
    return {"type": str(block["type"])}


def _tools(body: Mapping[str, object]) -> tuple[Tool, ...]:
    tools = object_list(body, "tools", required=False)
    return tuple(
        Tool(
            name=required_str(tool, "name"), parameters=optional_object(tool, "input_schema") or {}
        )
        for tool in tools
        if "input_schema" in tool
    )


def _tool_choice(body: Mapping[str, object]) -> ToolChoice:
    choice = optional_object(body, "tool_choice")
    kind = None if choice is None else choice.get("type")
    if choice is None:
        return ToolChoice()
    if kind == "tool":
        return ToolChoice(mode="required", name=required_str(choice, "name"))
    if isinstance(kind, str) and kind in _TOOL_CHOICE_MODES:
        return ToolChoice(mode=_TOOL_CHOICE_MODES[kind])
    raise InvalidRequest("tool_choice.type must be auto, any, tool or none")
