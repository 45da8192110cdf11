"""An Anthropic Messages request (Switchyard's own `POST /api/v1/messages`) as the canonical
(OpenAI chat) request that is routed like any other. The gateway's own fields pass through.

Not carried across (no canonical form): thinking blocks in the history (their signatures only
mean something to the provider that made them), `is_error` on tool results, server tools,
documents, `cache_control` on assistant text, `container`, `service_tier` and other
Anthropic-only fields.
"""

from typing import Any

import orjson

from proxy.chat_request import GATEWAY_FIELDS
from proxy.errors import InvalidRequest
from proxy.providers.anthropic._values import is_int
from proxy.providers.base import Json


def messages_request_to_canonical(body: Json) -> Json:
    """The canonical chat request for an Anthropic Messages request; InvalidRequest if it is
    not one. The gateway's own fields (`provider`, `models`, ...) pass through untouched."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model is required")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise InvalidRequest("max_tokens is required")
    if not is_int(max_tokens) or max_tokens < 1:
        raise InvalidRequest("max_tokens must be a positive integer")
    messages = _system(body.get("system")) + _messages(body.get("messages"))
    canonical: Json = {"model": model, "messages": messages, "max_tokens": max_tokens}
    for name in ("temperature", "top_p", "top_k"):
        if body.get(name) is not None:
            canonical[name] = body[name]
    canonical.update(_options(body))
    canonical.update(_tools(body.get("tools"), body.get("tool_choice")))
    canonical.update({name: body[name] for name in GATEWAY_FIELDS if name in body})
    return canonical


def _options(body: Json) -> Json:
    options: Json = {}
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise InvalidRequest("stop_sequences must be an array of strings")
        options["stop"] = stops
    if (reasoning := _reasoning(body.get("thinking"))) is not None:
        options["reasoning"] = reasoning
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        options["user"] = metadata["user_id"]
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidRequest("stream must be a boolean")
    if stream:
        options["stream"] = True
    output_config = body.get("output_config")
    output_format = output_config.get("format") if isinstance(output_config, dict) else None
    if isinstance(output_format, dict) and output_format.get("type") == "json_schema":
        schema = {"name": "output", "schema": output_format.get("schema")}
        options["response_format"] = {"type": "json_schema", "json_schema": schema}
    return options


def _reasoning(thinking: Any) -> Json | None:
    if thinking is None:
        return None
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "enabled" and is_int(thinking.get("budget_tokens")):
        return {"max_tokens": thinking["budget_tokens"]}
    if kind == "adaptive":
        return {"enabled": True}
    if kind == "disabled":
        return None
    raise InvalidRequest("thinking must be {type: enabled, budget_tokens}, adaptive or disabled")


def _system(system: Any) -> list[Json]:
    if system is None or system == "":
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}]
    if not isinstance(system, list):
        raise InvalidRequest("system must be a string or an array of text blocks")
    parts = [_part(block, f"system[{i}]") for i, block in enumerate(system)]
    if any(part["type"] != "text" for part in parts):
        raise InvalidRequest("system can only hold text blocks")
    return [{"role": "system", "content": parts}]


def _messages(messages: Any) -> list[Json]:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages must be a non-empty array")
    canonical: list[Json] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{where} must be an object")
        role, content = message.get("role"), message.get("content")
        if not isinstance(content, str | list):
            raise InvalidRequest(f"{where}.content must be a string or an array of blocks")
        if role == "user":
            canonical.extend(_user(content, where))
        elif role == "assistant":
            canonical.append(_assistant(content, where))
        else:
            raise InvalidRequest(f"{where}.role must be 'user' or 'assistant', not {role!r}")
    return canonical


def _user(content: str | list[Any], where: str) -> list[Json]:
    """Tool results become tool messages (first, as the canonical format wants them right
    after the assistant's calls); the rest stays one user message."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tool_messages: list[Json] = []
    parts: list[Json] = []
    for i, block in enumerate(content):
        block_where = f"{where}.content[{i}]"
        if isinstance(block, dict) and block.get("type") == "tool_result":
            tool_messages.append(_tool_message(block, block_where))
        else:
            parts.append(_part(block, block_where))
    return tool_messages + ([{"role": "user", "content": parts}] if parts else [])


def _assistant(content: str | list[Any], where: str) -> Json:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[Json] = []
    for i, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "tool_use":
            calls.append(_tool_call(block, f"{where}.content[{i}]"))
        elif kind not in ("thinking", "redacted_thinking"):
            raise InvalidRequest(
                f"{where}.content[{i}]: an assistant block must be text or tool_use"
            )
    message: Json = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_call(block: Json, where: str) -> Json:
    call_id, name, arguments = block.get("id"), block.get("name"), block.get("input", {})
    if not isinstance(call_id, str) or not isinstance(name, str) or not isinstance(arguments, dict):
        raise InvalidRequest(f"{where}: a tool_use block needs an id, a name and an input object")
    function = {"name": name, "arguments": orjson.dumps(arguments).decode()}
    return {"id": call_id, "type": "function", "function": function}


def _tool_message(block: Json, where: str) -> Json:
    call_id, content = block.get("tool_use_id"), block.get("content", "")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(f"{where}.tool_use_id must be a non-empty string")
    if isinstance(content, list):
        content = [_part(item, f"{where}.content[{i}]") for i, item in enumerate(content)]
    elif not isinstance(content, str):
        raise InvalidRequest(f"{where}.content must be a string or an array of blocks")
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def _part(block: Any, where: str) -> Json:
    """A text or image block as a canonical content part."""
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "text" and isinstance(block.get("text"), str):
        part: Json = {"type": "text", "text": block["text"]}
    elif kind == "image":
        part = {"type": "image_url", "image_url": {"url": _image_url(block.get("source"), where)}}
    else:
        raise InvalidRequest(f"{where}: content block type {kind!r} is not supported here")
    if block.get("cache_control") is not None:
        part["cache_control"] = block["cache_control"]
    return part


def _image_url(source: Any, where: str) -> str:
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "base64" and isinstance(source.get("media_type"), str):
        return f"data:{source['media_type']};base64,{source.get('data', '')}"
    if kind == "url" and isinstance(source.get("url"), str):
        return str(source["url"])
    raise InvalidRequest(f"{where}.source must be a base64 or url image source")


def _tools(tools: Any, tool_choice: Any) -> Json:
    if tools is None:
        return {}
    if not isinstance(tools, list):
        raise InvalidRequest("tools must be an array")
    fields: Json = {"tools": [_function_tool(tool, f"tools[{i}]") for i, tool in enumerate(tools)]}
    if tool_choice is None:
        return fields
    kind = tool_choice.get("type") if isinstance(tool_choice, dict) else None
    if kind == "tool" and isinstance(tool_choice.get("name"), str):
        fields["tool_choice"] = {"type": "function", "function": {"name": tool_choice["name"]}}
    elif kind in ("auto", "none", "any"):
        fields["tool_choice"] = "required" if kind == "any" else kind
    else:
        raise InvalidRequest("tool_choice.type must be auto, any, tool or none")
    if tool_choice.get("disable_parallel_tool_use") is True:
        fields["parallel_tool_calls"] = False
    return fields


def _function_tool(tool: Any, where: str) -> Json:
    if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
        kind = tool.get("type") if isinstance(tool, dict) else None
        raise InvalidRequest(f"{where}: only client tools are supported, not {kind!r}")
    name, schema = tool.get("name"), tool.get("input_schema")
    if not isinstance(name, str) or not isinstance(schema, dict):
        raise InvalidRequest(f"{where} needs a name and an input_schema object")
    function: Json = {"name": name, "parameters": schema}
    if isinstance(tool.get("description"), str):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}
