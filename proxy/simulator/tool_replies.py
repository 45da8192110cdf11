"""Tool calls and JSON mode, decided from the canonical request: pure and deterministic.

- **Tool call.** A request with tools, whose tool choice is not "none" and whose last message
  is the user's, is answered with one tool call and no text: the tool the choice names, else
  the first tool. Its id is ``call_sim_<n>``, ``n`` counting from 1 the tool calls already in
  the conversation (so each round of a loop gets a new id); its arguments are
  ``schema_instance`` of the tool's parameters (an object whatever the schema says), as
  compact JSON. It costs ``count_tokens`` of that JSON.
- **Tool result.** A request whose last message is a tool result is answered
  ``Tool result received: <its content>`` (tools or not).
- **JSON mode.** ``json_object`` answers ``{"reply": <the reply text>}``; ``json_schema``
  answers ``schema_instance`` of its schema (the reply text is then unused). Both are compact
  JSON, and ``max_tokens`` truncates them like any text (leaving invalid JSON).

``schema_instance`` builds the first instance of a JSON schema a reader would think of:
objects hold every ``required`` property (only those; every property when ``required`` is
absent), strings are ``"sim"``, integers 1, numbers 1.5, booleans true, null null, an ``enum``
its first value, a ``const`` itself, an array one item of its ``items`` schema, ``anyOf`` /
``oneOf`` / ``allOf`` their first schema, and local ``$ref``\\ s are followed. Types are read
case-insensitively (Gemini writes ``STRING``), and a schema without a type is a string unless
it has ``properties`` (object) or ``items`` (array).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from proxy.simulator.prompt import JsonObject, Message, Prompt, ResponseFormat, Tool

TOOL_RESULT_PREFIX = "Tool result received: "
_SCALARS: dict[str, object] = {
    "string": "sim",
    "integer": 1,
    "number": 1.5,
    "boolean": True,
    "null": None,
}
# Deep enough for any real schema; a recursive one stops here with empty containers.
_MAX_DEPTH = 12


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    # The complete arguments, compact JSON of an object.
    arguments: str

    @property
    def input(self) -> JsonObject:
        parsed = orjson.loads(self.arguments)
        assert isinstance(parsed, dict)
        return parsed


def planned_tool_call(prompt: Prompt) -> ToolCall | None:
    """The tool call that answers ``prompt``, or None when it is answered with text."""
    if not prompt.tools or prompt.tool_choice.mode == "none":
        return None
    if not prompt.messages or prompt.messages[-1].get("role") != "user":
        return None
    tool = _chosen_tool(prompt)
    return ToolCall(
        id=f"call_sim_{_earlier_tool_calls(prompt.messages) + 1}",
        name=tool.name,
        arguments=orjson.dumps(tool_arguments(tool)).decode(),
    )


def tool_arguments(tool: Tool) -> JsonObject:
    instance = schema_instance(tool.parameters or {"type": "object"})
    return instance if isinstance(instance, dict) else {}


def _chosen_tool(prompt: Prompt) -> Tool:
    named = prompt.tool_choice.name
    return next((tool for tool in prompt.tools if tool.name == named), prompt.tools[0])


def _earlier_tool_calls(messages: Sequence[Message]) -> int:
    calls = (message.get("tool_calls") for message in messages)
    return sum(len(call_list) for call_list in calls if isinstance(call_list, list))


def tool_result_text(content: str) -> str:
    return f"{TOOL_RESULT_PREFIX}{content}"


def json_mode_text(response_format: ResponseFormat, text: str) -> str:
    if response_format.kind == "json_object":
        return orjson.dumps({"reply": text}).decode()
    if response_format.kind == "json_schema":
        return orjson.dumps(schema_instance(response_format.schema or {})).decode()
    return text


# --- schema instances ------------------------------------------------------------------


def schema_instance(schema: object) -> object:
    """The deterministic instance of a JSON schema (rules in the module docstring)."""
    return _instance(schema, root=schema, depth=0)


def _instance(schema: object, *, root: object, depth: int) -> object:
    if not isinstance(schema, dict):
        return _SCALARS["string"]
    if depth > _MAX_DEPTH:
        return None  # only a loop of references or alternatives gets here
    if isinstance(schema.get("$ref"), str):
        return _instance(_resolved(schema["$ref"], root), root=root, depth=depth + 1)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return _instance(options[0], root=root, depth=depth + 1)
    kind = _type(schema)
    if kind == "object":
        return _object_instance(schema, root=root, depth=depth)
    if kind == "array":
        return (
            []
            if depth >= _MAX_DEPTH
            else [_instance(schema.get("items"), root=root, depth=depth + 1)]
        )
    return _SCALARS.get(kind or "string", _SCALARS["string"])


def _object_instance(schema: JsonObject, *, root: object, depth: int) -> JsonObject:
    if depth >= _MAX_DEPTH:
        return {}
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = schema.get("required")
    names = (
        [name for name in required if isinstance(name, str)]
        if isinstance(required, list)
        else list(properties)
    )
    return {name: _instance(properties.get(name, {}), root=root, depth=depth + 1) for name in names}


def _type(schema: JsonObject) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        # ["string", "null"] and the like: the first real type.
        named = [item for item in kind if isinstance(item, str)]
        kind = next((item for item in named if item.lower() != "null"), "null" if named else None)
    if isinstance(kind, str):
        return kind.lower()
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return None


def _resolved(ref: str, root: object) -> object:
    """A local reference (``#/$defs/Name``, ``#/definitions/Name``...); others are {}."""
    if not ref.startswith("#"):
        return {}
    target = root
    for step in (part for part in ref[1:].split("/") if part):
        if not isinstance(target, dict):
            return {}
        target = target.get(step.replace("~1", "/").replace("~0", "~"), {})
    return target
