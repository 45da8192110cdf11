"""The Anthropic Messages request for a canonical chat request: the conversation (from
`conversation`), `max_tokens` and the thinking budget, sampling, tools, stop sequences, and
JSON mode as a system-prompt instruction (Anthropic has none). Canonical parameters with no
Anthropic form (seed, penalties, logit_bias, logprobs, n, ...) are dropped."""

from typing import Any

import orjson

from proxy.errors import InvalidRequest
from proxy.providers.anthropic._values import is_int, is_number
from proxy.providers.anthropic.conversation import conversation, system_value
from proxy.providers.base import Json

DEFAULT_MAX_TOKENS = 4096
MIN_THINKING_BUDGET = 1024  # Anthropic refuses smaller budgets
_EFFORT_BUDGETS = {
    "minimal": 1024, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 32768, "max": 32768
}  # fmt: skip
_JSON_INSTRUCTION = "Respond only with a JSON object, without any other text or code fences"


def messages_body(payload: Json, *, model: str, stream: bool) -> Json:
    """The Anthropic Messages request for a canonical chat request."""
    system, turns = conversation(payload.get("messages"))
    instruction = _json_instruction(payload.get("response_format"))
    if instruction:
        system.append({"type": "text", "text": instruction})
    max_tokens, thinking = _limits(payload)
    body: Json = {"model": model, "max_tokens": max_tokens, "messages": turns}
    if system:
        body["system"] = system_value(system)
    if thinking:
        # Anthropic refuses sampling changes while thinking.
        body["thinking"] = thinking
    else:
        body.update(_sampling(payload))
    body.update(_tool_fields(payload))
    stop = payload.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    if sequences := [s for s in stops if isinstance(s, str) and s.strip()]:
        body["stop_sequences"] = sequences
    if isinstance(payload.get("user"), str) and payload["user"]:
        body["metadata"] = {"user_id": payload["user"]}
    if stream:
        body["stream"] = True
    return body


def _tool_fields(payload: Json) -> Json:
    tools = payload.get("tools")
    if not isinstance(tools, list):
        return {}
    # Only function tools have an Anthropic form; OpenAI's others are dropped.
    specs = [_tool_spec(t, f"tools[{i}]") for i, t in enumerate(tools) if _is_function(t)]
    if not specs:
        return {}
    fields: Json = {"tools": specs}
    choice = _tool_choice(payload.get("tool_choice"), payload.get("parallel_tool_calls"))
    if choice:
        fields["tool_choice"] = choice
    return fields


def _is_function(tool: Any) -> bool:
    return isinstance(tool, dict) and tool.get("type") == "function"


def _tool_spec(tool: Json, where: str) -> Json:
    function = tool.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise InvalidRequest(f"{where}.function.name must be a string")
    schema = function.get("parameters") or {"type": "object", "properties": {}}
    spec: Json = {"name": function["name"], "input_schema": schema}
    if isinstance(function.get("description"), str) and function["description"]:
        spec["description"] = function["description"]
    return spec


def _tool_choice(choice: Any, parallel: Any) -> Json | None:
    if choice == "none":
        return {"type": "none"}
    if choice is None or choice == "auto":
        picked: Json = {"type": "auto"}
    elif choice == "required":
        picked = {"type": "any"}
    elif (name := _function_name(choice)) is not None:
        picked = {"type": "tool", "name": name}
    else:
        raise InvalidRequest("'tool_choice' must be none, auto, required or a named function")
    if parallel is False:
        picked["disable_parallel_tool_use"] = True
    elif choice is None:
        return None  # Anthropic's default is the same
    return picked


def _function_name(choice: Any) -> str | None:
    function = choice.get("function") if isinstance(choice, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    return name if isinstance(name, str) else None


def _limits(payload: Json) -> tuple[int, Json | None]:
    """`max_tokens` and the thinking config. The caller's bound is kept (it bounds the cost);
    the budget shrinks below it, and thinking is left out when the bound is too small for it."""
    bounds = (payload.get("max_completion_tokens"), payload.get("max_tokens"))
    max_tokens = next((bound for bound in bounds if is_int(bound)), None)
    budget = _thinking_budget(payload)
    if budget is None:
        return max_tokens or DEFAULT_MAX_TOKENS, None
    if max_tokens is None:
        return budget + DEFAULT_MAX_TOKENS, {"type": "enabled", "budget_tokens": budget}
    budget = min(budget, max_tokens - 1)
    if budget < MIN_THINKING_BUDGET:
        return max_tokens, None
    return max_tokens, {"type": "enabled", "budget_tokens": budget}


def _thinking_budget(payload: Json) -> int | None:
    reasoning = payload.get("reasoning")
    effort = payload.get("reasoning_effort")
    if isinstance(reasoning, dict):
        if reasoning.get("enabled") is False:
            return None
        budget = reasoning.get("max_tokens")
        if is_int(budget):
            return max(budget, MIN_THINKING_BUDGET)
        effort = reasoning.get("effort", effort)
        if effort is None and reasoning.get("enabled") is True:
            effort = "medium"
    return _EFFORT_BUDGETS.get(effort) if isinstance(effort, str) else None


def _sampling(payload: Json) -> Json:
    sampling: Json = {}
    temperature = payload.get("temperature")
    if is_number(temperature):
        sampling["temperature"] = min(max(temperature, 0), 1)  # Anthropic's range is 0..1
    if is_number(payload.get("top_p")):
        sampling["top_p"] = payload["top_p"]
    if is_int(payload.get("top_k")):
        sampling["top_k"] = payload["top_k"]
    return sampling


def _json_instruction(response_format: Any) -> str | None:
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        return _JSON_INSTRUCTION + "."
    if kind != "json_schema":
        return None
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if schema is None:
        return _JSON_INSTRUCTION + "."
    return f"{_JSON_INSTRUCTION}, matching this JSON Schema:\n{orjson.dumps(schema).decode()}"
