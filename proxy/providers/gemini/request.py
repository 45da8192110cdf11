"""The Gemini `GenerateContentRequest` for a canonical chat request: system and developer
messages (wherever they are) as `systemInstruction`, the other messages as alternating
`contents`, function tools as `functionDeclarations` with a `toolConfig`, and the
`generationConfig` (from `generation`). What Gemini cannot express (n, logit_bias, logprobs,
user, parallel_tool_calls...) is dropped.

A tool result needs its function's name, found from the assistant tool call it answers.
Gemini 3 refuses a replayed `functionCall` without its `thoughtSignature`, which OpenAI's
format has no place for: replayed calls carry Google's documented placeholder instead.
"""

import mimetypes
from typing import Any
from urllib.parse import urlsplit

import orjson

from proxy.errors import InvalidRequest
from proxy.providers.base import Json
from proxy.providers.gemini.generation import generation_config
from proxy.providers.gemini.schema import schema_clean

# Google's documented stand-in for a thought signature the client could not keep.
SKIP_SIGNATURE = "skip_thought_signature_validator"
_TOOL_CHOICE_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


def request_body(payload: Json) -> Json:
    """The Gemini `GenerateContentRequest` for a canonical chat request. What Gemini cannot
    express (n, logit_bias, logprobs, user, parallel_tool_calls...) is dropped."""
    system, contents = _contents(payload.get("messages") or [])
    body: Json = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    declarations = _function_declarations(payload.get("tools"))
    if declarations:
        body["tools"] = [{"functionDeclarations": declarations}]
        tool_config = _tool_config(payload.get("tool_choice"))
        if tool_config:
            body["toolConfig"] = tool_config
    config = generation_config(payload)
    if config:
        body["generationConfig"] = config
    return body


def _contents(messages: list[Json]) -> tuple[list[Json], list[Json]]:
    system: list[Json] = []
    contents: list[Json] = []
    tool_names: dict[str, str] = {}
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend({"text": text} for text in _texts(message.get("content")))
            continue
        gemini_role, parts = _turn(message, tool_names)
        if not parts:
            continue  # Gemini refuses a turn without parts
        if contents and contents[-1]["role"] == gemini_role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": gemini_role, "parts": parts})
    return system, contents


def _turn(message: Json, tool_names: dict[str, str]) -> tuple[str, list[Json]]:
    role = message.get("role")
    if role == "assistant":
        parts = _content_parts(message.get("content"))
        return "model", parts + _function_calls(message.get("tool_calls"), tool_names)
    if role in ("tool", "function"):
        return "user", [_function_response(message, tool_names)]
    if role == "user":
        return "user", _content_parts(message.get("content"))
    raise InvalidRequest(f"Gemini cannot take a message with role {role!r}")


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content] if content else []
    if isinstance(content, list):
        texts = (part.get("text") for part in content if isinstance(part, dict))
        return [text for text in texts if isinstance(text, str) and text]
    return []


def _content_parts(content: Any) -> list[Json]:
    if not isinstance(content, list):
        return [{"text": text} for text in _texts(content)]
    parts = (_content_part(part) for part in content if isinstance(part, dict))
    return [part for part in parts if part is not None]


def _content_part(part: Json) -> Json | None:
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        return {"text": text} if isinstance(text, str) and text else None
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return _media_part(url if isinstance(url, str) else "")
    if kind == "input_audio":
        audio = part.get("input_audio") or {}
        mime = f"audio/{audio.get('format') or 'wav'}"
        return {"inlineData": {"mimeType": mime, "data": str(audio.get("data") or "")}}
    if kind == "file":
        file = part.get("file") or {}
        return _media_part(str(file.get("file_data") or file.get("file_url") or ""))
    if kind == "refusal":
        return None
    raise InvalidRequest(f"Gemini cannot take a content part of type {kind!r}")


def _media_part(url: str) -> Json:
    if url.startswith("data:"):
        header, _, data = url[5:].partition(",")
        mime, _, encoding = header.partition(";")
        if encoding != "base64" or not data:
            raise InvalidRequest("A data URL sent to Gemini must be base64-encoded")
        return {"inlineData": {"mimeType": mime or "application/octet-stream", "data": data}}
    if urlsplit(url).scheme in ("http", "https"):
        guessed, _ = mimetypes.guess_type(urlsplit(url).path)
        return {"fileData": {"mimeType": guessed or "image/jpeg", "fileUri": url}}
    raise InvalidRequest("A media URL must be a data: URL or an http(s) URL")


def _function_calls(tool_calls: Any, tool_names: dict[str, str]) -> list[Json]:
    parts: list[Json] = []
    for call in tool_calls if isinstance(tool_calls, list) else []:
        function = call.get("function") or {}
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest("A tool call has no function name")
        tool_names[str(call.get("id") or "")] = name
        part: Json = {"functionCall": {"name": name, "args": _arguments(function)}}
        if not parts:
            part["thoughtSignature"] = SKIP_SIGNATURE  # Gemini 3 checks the first call only
        parts.append(part)
    return parts


def _arguments(function: Json) -> Json:
    arguments = function.get("arguments")
    if arguments is None or arguments == "":
        return {}
    try:
        args = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError:
        args = None
    if not isinstance(args, dict):
        name = function.get("name")
        raise InvalidRequest(f"The arguments of tool call {name!r} are not a JSON object")
    return args


def _function_response(message: Json, tool_names: dict[str, str]) -> Json:
    name = tool_names.get(str(message.get("tool_call_id") or "-")) or message.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("A tool message answers no earlier tool call")
    content = message.get("content")
    text = content if isinstance(content, str) else "".join(_texts(content))
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        parsed = None
    response = parsed if isinstance(parsed, dict) else {"content": text}
    return {"functionResponse": {"name": name, "response": response}}


def _function_declarations(tools: Any) -> list[Json]:
    declarations: list[Json] = []
    for tool in tools if isinstance(tools, list) else []:
        is_function = isinstance(tool, dict) and tool.get("type") == "function"
        function = tool.get("function") if is_function else None
        if not isinstance(function, dict):
            continue  # Gemini's built-in tools have no OpenAI spelling
        if not isinstance(function.get("name"), str) or not function["name"]:
            raise InvalidRequest("A function tool has no name")
        declaration: Json = {"name": function["name"]}
        if function.get("description"):
            declaration["description"] = function["description"]
        parameters = schema_clean(function.get("parameters"))
        # An object without properties is refused ("should be non-empty for OBJECT type").
        if isinstance(parameters, dict) and parameters.get("properties"):
            declaration["parameters"] = parameters
        declarations.append(declaration)
    return declarations


def _tool_config(tool_choice: Any) -> Json | None:
    if isinstance(tool_choice, str) and tool_choice in _TOOL_CHOICE_MODES:
        return {"functionCallingConfig": {"mode": _TOOL_CHOICE_MODES[tool_choice]}}
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        name = (tool_choice.get("function") or {}).get("name")
        if isinstance(name, str) and name:
            return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    return None
