"""Parsing a Gemini ``GenerateContentRequest`` into the canonical ``Generation`` (the model
and whether to stream come from the URL).

The conversion, which keeps token counts equal to those of the same conversation in OpenAI's
format:

- ``systemInstruction`` becomes a leading system message of its text parts;
- ``user`` (or legacy ``function``) contents: ``functionResponse`` parts become tool
  messages, placed before the rest, whose content is the response's ``content`` when that is
  its only field (as a gateway wraps a plain-text result), else the compact JSON of the
  response; text parts become text parts, ``inlineData`` / ``fileData`` content-free parts;
- ``model`` contents: text parts and ``functionCall`` parts (its tool calls);
- ``tools[].functionDeclarations`` (``parameters`` or ``parametersJsonSchema``) are the tools;
  ``toolConfig.functionCallingConfig`` mode NONE is "none", ``allowedFunctionNames`` names the
  first of them, anything else is "auto";
- ``generationConfig``: ``maxOutputTokens``, ``stopSequences``, and ``responseMimeType``
  ``application/json`` for JSON mode (``responseSchema`` or ``responseJsonSchema`` makes it a
  schema); other settings (temperature...) are accepted and ignored.
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
    checked_tool_choice,
    decode_object,
    object_list,
    optional_object,
    positive_int,
    required_str,
    string_list,
)


def parse_generate_request(raw: bytes, *, model: str, stream: bool) -> Generation:
    body = decode_object(raw)
    config = optional_object(body, "generationConfig") or {}
    tools = _tools(body)
    prompt = Prompt(
        messages=_system(body) + _contents(body),
        max_tokens=positive_int(config, "maxOutputTokens"),
        tools=tools,
        tool_choice=checked_tool_choice(_tool_choice(body), tools),
        response_format=_response_format(config),
        stop=string_list(config, "stopSequences"),
    )
    return Generation(model=model, prompt=prompt, stream=stream)


def _system(body: Mapping[str, object]) -> tuple[Message, ...]:
    instruction = optional_object(body, "systemInstruction")
    if instruction is None:
        return ()
    parts = object_list(instruction, "parts", required=False)
    return ({"role": "system", "content": [_part(part) for part in parts]},)


def _contents(body: Mapping[str, object]) -> tuple[Message, ...]:
    messages: list[Message] = []
    for content in object_list(body, "contents", required=True):
        role = content.get("role", "user")
        parts = object_list(content, "parts", required=True)
        if role == "model":
            messages.append(_model_turn(parts))
        elif role in ("user", "function"):
            messages += _user_turn(parts)
        else:
            raise InvalidRequest(f"Please use a valid role: user, model (not {role!r}).")
    return tuple(messages)


def _user_turn(parts: list[JsonObject]) -> list[Message]:
    results: list[Message] = []
    others = []
    for part in parts:
        response = optional_object(part, "functionResponse")
        if response is None:
            others.append(_part(part))
        else:
            name = response.get("name")
            results.append({"role": "tool", "tool_call_id": name, "content": _result(response)})
    return [*results, {"role": "user", "content": others}] if others or not results else results


def _result(function_response: JsonObject) -> str:
    response = function_response.get("response")
    content = response.get("content") if isinstance(response, dict) else None
    if isinstance(content, str) and isinstance(response, dict) and len(response) == 1:
        return content
    return orjson.dumps(response).decode()


def _model_turn(parts: list[JsonObject]) -> Message:
    calls = [
        {"id": call.get("name"), "type": "function", "function": call}
        for part in parts
        if (call := optional_object(part, "functionCall")) is not None
    ]
    message: dict[str, object] = {"role": "assistant", "content": [_part(part) for part in parts]}
    if calls:
        message["tool_calls"] = calls
    return message


def _part(part: JsonObject) -> JsonObject:
    # Only text counts (a model's thought summaries too); data and calls hold no tokens.
    text = part.get("text")
    if isinstance(text, str):
        return {"type": "text", "text": text}
    return {"type": next(iter(part), "empty")}


def _tools(body: Mapping[str, object]) -> tuple[Tool, ...]:
    declarations = [
        declaration
        for tool in object_list(body, "tools", required=False)
        for declaration in object_list(tool, "functionDeclarations", required=False)
    ]
    return tuple(
        Tool(
            name=required_str(declaration, "name"),
            parameters=optional_object(declaration, "parameters")
            or optional_object(declaration, "parametersJsonSchema")
            or {},
        )
        for declaration in declarations
    )


def _tool_choice(body: Mapping[str, object]) -> ToolChoice:
    tool_config = optional_object(body, "toolConfig") or {}
    config = optional_object(tool_config, "functionCallingConfig") or {}
    if config.get("mode") == "NONE":
        return ToolChoice(mode="none")
    allowed = string_list(config, "allowedFunctionNames")
    return ToolChoice(mode="required", name=allowed[0]) if allowed else ToolChoice()


def _response_format(config: Mapping[str, object]) -> ResponseFormat:
    if config.get("responseMimeType") != "application/json":
        return ResponseFormat()
    schema = optional_object(config, "responseSchema") or optional_object(
        config, "responseJsonSchema"
    )
    if schema is None:
        return ResponseFormat(kind="json_object")
    return ResponseFormat(kind="json_schema", schema=schema)
