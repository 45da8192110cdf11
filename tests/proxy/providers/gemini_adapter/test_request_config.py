"""The request: tools and their cleaned schemas, response formats, tool choice, generation
parameters and reasoning, as Gemini tools, toolConfig and generationConfig."""

from typing import Any

import pytest

from tests.proxy.providers.gemini_adapter.support import WEATHER_TOOL, body_for, user


def test_tools_become_function_declarations_with_a_cleaned_schema() -> None:
    no_args = {"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}}
    body = body_for({"messages": [user("weather?")], "tools": [WEATHER_TOOL, no_args]})
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "The weather in a city",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "city": {"type": "string"},
                            "unit": {"type": "string", "enum": ["c", "f", None], "nullable": True},
                        },
                        "required": ["city"],
                    },
                },
                {"name": "now"},  # Gemini refuses an OBJECT without properties
            ]
        }
    ]
    assert "toolConfig" not in body


def test_schema_cleaning_keeps_properties_named_like_dropped_keywords_and_inlines_refs() -> None:
    schema = {
        "type": "object",
        "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}},
                            "additionalProperties": False}},
        "properties": {
            "strict": {"type": "boolean"},
            "additionalProperties": {"type": "string"},
            "where": {"$ref": "#/$defs/Point"},
            "kind": {"const": "circle"},
            "shape": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        },
    }  # fmt: skip
    body = body_for(
        {
            "messages": [user("json please")],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "shape", "strict": True, "schema": schema},
            },
        }
    )
    assert body["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseSchema": {
            "type": "object",
            "properties": {
                "strict": {"type": "boolean"},
                "additionalProperties": {"type": "string"},
                "where": {"type": "object", "properties": {"x": {"type": "number"}}},
                "kind": {"enum": ["circle"]},
                "shape": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            },
        },
    }


def test_json_object_mode_sets_only_the_mime_type() -> None:
    body = body_for({"messages": [user("json")], "response_format": {"type": "json_object"}})
    assert body["generationConfig"] == {"responseMimeType": "application/json"}


def test_text_response_format_sets_nothing() -> None:
    body = body_for({"messages": [user("hi")], "response_format": {"type": "text"}})
    assert "generationConfig" not in body


@pytest.mark.parametrize(
    ("tool_choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tool_choice_becomes_a_function_calling_mode(tool_choice: Any, config: Any) -> None:
    body = body_for({"messages": [user("hi")], "tools": [WEATHER_TOOL], "tool_choice": tool_choice})
    assert body["toolConfig"] == {"functionCallingConfig": config}


def test_generation_parameters_are_translated_and_the_rest_dropped() -> None:
    body = body_for(
        {
            "messages": [user("hi")],
            "max_tokens": 100,
            "max_completion_tokens": 200,
            "temperature": 0.2,
            "top_p": 0.9,
            "top_k": 40,
            "stop": "END",
            "seed": 7,
            "presence_penalty": 0.5,
            "frequency_penalty": -0.5,
            "n": 3,
            "logit_bias": {"50256": -100},
            "logprobs": True,
            "top_logprobs": 2,
            "user": "alice",
            "parallel_tool_calls": False,
            "stream_options": {"include_usage": True},
        }
    )
    assert body["generationConfig"] == {
        "maxOutputTokens": 200,
        "temperature": 0.2,
        "topP": 0.9,
        "topK": 40,
        "stopSequences": ["END"],
        "seed": 7,
        "presencePenalty": 0.5,
        "frequencyPenalty": -0.5,
    }
    assert set(body) == {"contents", "generationConfig"}


def test_a_stop_list_is_kept_as_a_list() -> None:
    body = body_for({"messages": [user("hi")], "stop": ["a", "b"], "max_tokens": 5})
    assert body["generationConfig"] == {"maxOutputTokens": 5, "stopSequences": ["a", "b"]}


@pytest.mark.parametrize(
    ("fields", "thinking"),
    [
        ({"reasoning": {"max_tokens": 3000}}, {"thinkingBudget": 3000, "includeThoughts": True}),
        ({"reasoning": {"effort": "high"}}, {"thinkingBudget": 24576, "includeThoughts": True}),
        ({"reasoning_effort": "low"}, {"thinkingBudget": 2048, "includeThoughts": True}),
        (  # thinking shares maxOutputTokens with the answer: the budget leaves room for it
            {"reasoning": {"effort": "medium"}, "max_tokens": 4000},
            {"thinkingBudget": 2000, "includeThoughts": True},
        ),
        (
            {"reasoning": {"max_tokens": 1024, "exclude": True}},
            {"thinkingBudget": 1024, "includeThoughts": False},
        ),
        ({"reasoning": {"enabled": True}}, {"thinkingBudget": -1, "includeThoughts": True}),
        ({"reasoning": {"effort": "none"}}, {"thinkingBudget": 0}),
    ],
)
def test_reasoning_becomes_a_thinking_config(fields: dict[str, Any], thinking: Any) -> None:
    body = body_for({"messages": [user("think")], **fields})
    assert body["generationConfig"]["thinkingConfig"] == thinking
