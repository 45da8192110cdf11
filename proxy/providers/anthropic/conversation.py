"""Canonical messages as an Anthropic conversation: system messages lifted into the top-level
system prompt, turns made to alternate (consecutive same-role messages merged, tool results
riding in a user turn), content parts and tool calls as Anthropic content blocks."""

import re
from typing import Any

import orjson

from proxy.errors import InvalidRequest
from proxy.providers.base import Json

_TOOL_ID_FORBIDDEN = re.compile(r"[^A-Za-z0-9_-]")


def tool_id(raw: str) -> str:
    """An id Anthropic accepts (`^[A-Za-z0-9_-]+$`); other providers' ids may hold `.` or `:`."""
    return _TOOL_ID_FORBIDDEN.sub("_", raw)


def conversation(messages: Any) -> tuple[list[Json], list[Json]]:
    """The system blocks and the alternating turns of canonical `messages`."""
    if not isinstance(messages, list):
        raise InvalidRequest("'messages' must be an array")
    system: list[Json] = []
    turns: list[Json] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{where} must be an object")
        if message.get("role") in ("system", "developer"):
            system.extend(_system_blocks(message.get("content"), where))
            continue
        role, blocks = _turn(message, where)
        if not blocks:
            continue  # Anthropic refuses empty turns
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def system_value(blocks: list[Json]) -> str | list[Json]:
    # A plain string unless a block asks for prompt caching, which only the block form carries.
    if any("cache_control" in block for block in blocks):
        return blocks
    return "\n\n".join(block["text"] for block in blocks)


def _system_blocks(content: Any, where: str) -> list[Json]:
    blocks = _blocks(content, where)
    if any(block["type"] != "text" for block in blocks):
        raise InvalidRequest(f"{where}: a system message can only hold text")
    return blocks


def _turn(message: Json, where: str) -> tuple[str, list[Json]]:
    role = message.get("role")
    if role == "user":
        return "user", _blocks(message.get("content"), where)
    if role == "assistant":
        calls = _tool_uses(message.get("tool_calls"), where)
        return "assistant", _blocks(message.get("content"), where) + calls
    if role == "tool":
        return "user", [_tool_result(message, where)]
    raise InvalidRequest(f"{where}.role {role!r} cannot be sent to an Anthropic-format provider")


def _blocks(content: Any, where: str) -> list[Json]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}.content must be a string or an array of parts")
    blocks = (_block(part, f"{where}.content[{i}]") for i, part in enumerate(content))
    return [block for block in blocks if block is not None]


def _block(part: Any, where: str) -> Json | None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        text = part.get("text")
        if not isinstance(text, str):
            raise InvalidRequest(f"{where}.text must be a string")
        if not text:
            return None  # Anthropic refuses empty text blocks
        block: Json = {"type": "text", "text": text}
    elif kind == "image_url":
        block = {"type": "image", "source": _image_source(part.get("image_url"), where)}
    else:
        raise InvalidRequest(f"{where}: content part type {kind!r} is not supported by this model")
    if "cache_control" in part:
        block["cache_control"] = part["cache_control"]
    return block


def _image_source(image_url: Any, where: str) -> Json:
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    if not isinstance(url, str):
        raise InvalidRequest(f"{where}.image_url.url must be a string")
    if url.startswith("data:"):
        header, comma, data = url.removeprefix("data:").partition(",")
        params = header.split(";")
        if not comma or params[-1] != "base64" or not params[0]:
            raise InvalidRequest(f"{where}: an image data URL must be data:<type>;base64,<data>")
        return {"type": "base64", "media_type": params[0], "data": data}
    if url.startswith(("https://", "http://")):
        return {"type": "url", "url": url}
    raise InvalidRequest(f"{where}: an image URL must be http(s) or a base64 data URL")


def _tool_uses(tool_calls: Any, where: str) -> list[Json]:
    if tool_calls is None:
        return []
    if not isinstance(tool_calls, list):
        raise InvalidRequest(f"{where}.tool_calls must be an array")
    blocks = []
    for i, call in enumerate(tool_calls):
        call_where = f"{where}.tool_calls[{i}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidRequest(f"{call_where}.function.name must be a string")
        if not isinstance(call.get("id"), str) or not call["id"]:
            raise InvalidRequest(f"{call_where}.id must be a non-empty string")
        arguments = _arguments(function.get("arguments"), call_where)
        blocks.append(
            {"type": "tool_use", "id": tool_id(call["id"]), "name": function["name"],
             "input": arguments}
        )  # fmt: skip
    return blocks


def _arguments(raw: Any, where: str) -> Json:
    if raw is None or raw == "":
        return {}
    try:
        arguments = orjson.loads(raw) if isinstance(raw, str) else raw
    except orjson.JSONDecodeError:
        raise InvalidRequest(f"{where}.function.arguments is not valid JSON") from None
    if not isinstance(arguments, dict):
        raise InvalidRequest(f"{where}.function.arguments must be a JSON object")
    return arguments


def _tool_result(message: Json, where: str) -> Json:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(f"{where}.tool_call_id must be a non-empty string")
    block: Json = {"type": "tool_result", "tool_use_id": tool_id(call_id)}
    content = message.get("content")
    if isinstance(content, str):
        block["content"] = content
    elif parts := _blocks(content, where):
        block["content"] = parts
    return block
