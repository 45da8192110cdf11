"""Parsing an OpenAI chat-completions request into the canonical ``Generation``.

Understood besides the messages: ``max_completion_tokens`` (or the older ``max_tokens``),
``stream`` and ``stream_options.include_usage``, function ``tools`` (others are ignored),
``tool_choice``, ``response_format`` and ``stop``; every other field is accepted and ignored.
"""

from collections.abc import Mapping

from proxy.simulator.prompt import (
    Generation,
    InvalidRequest,
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

_TOOL_CHOICE_MODES: dict[str, ToolChoiceMode] = {
    "auto": "auto",
    "none": "none",
    "required": "required",
}


def parse_chat_request(raw: bytes) -> Generation:
    body = decode_object(raw)
    tools = _tools(body)
    prompt = Prompt(
        messages=_messages(body),
        max_tokens=_max_tokens(body),
        tools=tools,
        tool_choice=checked_tool_choice(_tool_choice(body), tools),
        response_format=_response_format(body),
        stop=string_list(body, "stop"),
    )
    return Generation(
        model=_model(body),
        prompt=prompt,
        stream=optional_bool(body, "stream"),
        include_usage=_include_usage(body),
    )


def _model(body: Mapping[str, object]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("you must provide a model parameter")
    return model


def _messages(body: Mapping[str, object]) -> tuple[Message, ...]:
    return tuple(object_list(body, "messages", required=True))


def _max_tokens(body: Mapping[str, object]) -> int | None:
    # max_completion_tokens supersedes the deprecated max_tokens in the OpenAI API.
    return positive_int(body, "max_completion_tokens") or positive_int(body, "max_tokens")


def _include_usage(body: Mapping[str, object]) -> bool:
    options = optional_object(body, "stream_options")
    return options is not None and optional_bool(options, "include_usage")


def _tools(body: Mapping[str, object]) -> tuple[Tool, ...]:
    tools = []
    for entry in object_list(body, "tools", required=False):
        if entry.get("type") != "function":
            continue  # custom and built-in tools have no schema to answer
        function = optional_object(entry, "function") or {}
        tools.append(
            Tool(
                name=required_str(function, "name"),
                parameters=optional_object(function, "parameters") or {},
            )
        )
    return tuple(tools)


def _tool_choice(body: Mapping[str, object]) -> ToolChoice:
    choice = body.get("tool_choice")
    if choice is None:
        return ToolChoice()
    if isinstance(choice, str) and choice in _TOOL_CHOICE_MODES:
        return ToolChoice(mode=_TOOL_CHOICE_MODES[choice])
    if isinstance(choice, dict) and choice.get("type") == "function":
        function = optional_object(choice, "function") or {}
        return ToolChoice(mode="required", name=required_str(function, "name"))
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        return ToolChoice()
    raise InvalidRequest("'tool_choice' must be none, auto, required or a named function")


def _response_format(body: Mapping[str, object]) -> ResponseFormat:
    response_format = optional_object(body, "response_format")
    kind = None if response_format is None else response_format.get("type")
    if response_format is None or kind == "text":
        return ResponseFormat()
    if kind == "json_object":
        return ResponseFormat(kind="json_object")
    if kind == "json_schema":
        json_schema = optional_object(response_format, "json_schema") or {}
        schema = optional_object(json_schema, "schema") or {"type": "object"}
        return ResponseFormat(kind="json_schema", schema=schema)
    raise InvalidRequest("'response_format.type' must be text, json_object or json_schema")
