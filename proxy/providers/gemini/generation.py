"""Gemini's `generationConfig` for a canonical chat request: the output cap, sampling, stop
sequences, JSON output (with a cleaned `responseSchema`) and the thinking budget."""

from typing import Any

from proxy.providers.base import Json
from proxy.providers.gemini.schema import schema_clean

_GENERATION_FIELDS = {
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}
# Thinking budgets (tokens) for an effort level; never more than a share of the output cap.
_EFFORT_BUDGETS = {"minimal": 512, "low": 2048, "medium": 8192, "high": 24576}
_EFFORT_SHARES = {"minimal": 0.1, "low": 0.2, "medium": 0.5, "high": 0.8}


def generation_config(payload: Json) -> Json:
    config: Json = {}
    max_tokens = payload.get("max_completion_tokens") or payload.get("max_tokens")
    if max_tokens:
        config["maxOutputTokens"] = max_tokens
    for name, gemini_name in _GENERATION_FIELDS.items():
        if payload.get(name) is not None:
            config[gemini_name] = payload[name]
    stop = payload.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    config.update(_response_format(payload.get("response_format")))
    thinking = _thinking_config(payload, max_tokens if isinstance(max_tokens, int) else None)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _response_format(response_format: Any) -> Json:
    if not isinstance(response_format, dict):
        return {}
    kind = response_format.get("type")
    if kind not in ("json_object", "json_schema"):
        return {}
    config: Json = {"responseMimeType": "application/json"}
    schema = (response_format.get("json_schema") or {}).get("schema")
    if kind == "json_schema" and isinstance(schema, dict):
        config["responseSchema"] = schema_clean(schema)
    return config


def _thinking_config(payload: Json, max_tokens: int | None) -> Json:
    reasoning = payload.get("reasoning")
    reasoning = reasoning if isinstance(reasoning, dict) else {}
    effort = reasoning.get("effort") or payload.get("reasoning_effort")
    include = not reasoning.get("exclude", False)
    if reasoning.get("enabled") is False or effort == "none":
        return {"thinkingBudget": 0}
    if isinstance(reasoning.get("max_tokens"), int):
        return {"thinkingBudget": reasoning["max_tokens"], "includeThoughts": include}
    if effort in _EFFORT_BUDGETS:
        budget = _EFFORT_BUDGETS[effort]
        if max_tokens is not None:  # thinking counts against maxOutputTokens
            budget = min(budget, int(max_tokens * _EFFORT_SHARES[effort]))
        return {"thinkingBudget": budget, "includeThoughts": include}
    if reasoning.get("enabled") or payload.get("include_reasoning"):
        return {"thinkingBudget": -1, "includeThoughts": include}  # -1: the model decides
    return {}
