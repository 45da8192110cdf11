"""The Gemini adapter, as pure translation: canonical requests out, Gemini answers and stream
events (shaped like the real API's) back in."""

from typing import Any

import orjson
import pytest

from proxy.errors import InvalidRequest
from proxy.providers.base import FINISH_REASONS, Adapter, ProviderFormatError, Upstream
from proxy.providers.gemini import SKIP_SIGNATURE, GeminiAdapter, GeminiStreamTranslator

KEY = "AIzaSy-test-key-123"
UPSTREAM = Upstream(
    base_url="https://generativelanguage.googleapis.com/v1beta/",
    model="gemini-2.5-flash",
    api_key=KEY,
)
adapter: Adapter = GeminiAdapter()  # mypy checks the class against the protocol
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": ["string", "null"], "enum": ["c", "f", None]},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
USAGE = {"promptTokenCount": 12, "candidatesTokenCount": 7, "totalTokenCount": 19}


def body_for(payload: dict[str, Any], *, stream: bool = False) -> dict[str, Any]:
    request = adapter.chat_request(payload, UPSTREAM, stream=stream)
    result: dict[str, Any] = orjson.loads(request.body)
    return result


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def answer(parts: list[Any], finish: str = "STOP", **extra: Any) -> bytes:
    candidate = {"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}
    body = {
        "candidates": [candidate],
        "usageMetadata": USAGE,
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-abc",
        **extra,
    }
    return orjson.dumps(body)


# --- the request ---------------------------------------------------------------------------


def test_it_posts_to_generate_content_with_the_key_in_a_header_only() -> None:
    request = adapter.chat_request({"messages": [user("hi")]}, UPSTREAM, stream=False)
    assert request.url == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    )
    assert request.headers == {"content-type": "application/json", "x-goog-api-key": KEY}
    assert KEY not in request.url
    assert KEY.encode() not in request.body


def test_it_streams_with_alt_sse_and_never_puts_the_key_in_the_url() -> None:
    request = adapter.chat_request({"messages": [user("hi")]}, UPSTREAM, stream=True)
    assert request.url.endswith("/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
    assert "key=" not in request.url
    assert KEY not in request.url


def test_it_sends_no_key_header_without_a_key() -> None:
    keyless = Upstream(base_url="http://sim:8000/v1beta", model="models/gemini-x", api_key="")
    request = adapter.chat_request({"messages": [user("hi")]}, keyless, stream=False)
    assert request.url == "http://sim:8000/v1beta/models/gemini-x:generateContent"
    assert request.headers == {"content-type": "application/json"}


def test_system_and_developer_messages_become_the_system_instruction() -> None:
    body = body_for(
        {
            "model": "google/gemini-2.5-flash",
            "messages": [
                {"role": "system", "content": "Be terse."},
                {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
                user("Hello"),
            ],
        }
    )
    assert body["systemInstruction"] == {"parts": [{"text": "Be terse."}, {"text": "Use French."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hello"}]}]
    assert "model" not in body
    assert "messages" not in body


def test_consecutive_turns_of_one_role_are_merged_and_assistant_is_model() -> None:
    body = body_for(
        {
            "messages": [
                user("one"),
                user("two"),
                {"role": "assistant", "content": "three"},
                {"role": "assistant", "content": ""},  # an empty turn is skipped
                {"role": "assistant", "content": "four"},
                user("five"),
            ]
        }
    )
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "one"}, {"text": "two"}]},
        {"role": "model", "parts": [{"text": "three"}, {"text": "four"}]},
        {"role": "user", "parts": [{"text": "five"}]},
    ]


def test_images_become_inline_data_or_file_data() -> None:
    content = [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp?size=2"}},
        {"type": "image_url", "image_url": "https://example.com/photo"},
    ]
    body = body_for({"messages": [{"role": "user", "content": content}]})
    assert body["contents"][0]["parts"] == [
        {"text": "Compare"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp?size=2"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/photo"}},
    ]


@pytest.mark.parametrize(
    "url", ["data:image/png,notbase64", "ftp://example.com/a.png", "file:///etc/passwd"]
)
def test_it_refuses_image_urls_gemini_cannot_take(url: str) -> None:
    content = [{"type": "image_url", "image_url": {"url": url}}]
    with pytest.raises(InvalidRequest):
        body_for({"messages": [{"role": "user", "content": content}]})


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


def test_a_tool_round_trip_becomes_function_call_and_function_response_parts() -> None:
    messages = [
        user("Weather in Paris and Rome?"),
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {"id": "call_a", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                {"id": "call_b", "type": "function",
                 "function": {"name": "lookup", "arguments": ""}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": '{"temp_c": 21}'},
        {"role": "tool", "tool_call_id": "call_b", "content": "sunny"},
        user("Thanks"),
    ]  # fmt: skip
    body = body_for({"messages": messages, "tools": [WEATHER_TOOL]})
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Let me check."},
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": SKIP_SIGNATURE,
                },
                {"functionCall": {"name": "lookup", "args": {}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}},
                {"functionResponse": {"name": "lookup", "response": {"content": "sunny"}}},
                {"text": "Thanks"},
            ],
        },
    ]


def test_a_tool_result_that_is_json_but_not_an_object_is_wrapped() -> None:
    messages = [
        user("list"),
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "[1, 2]"},
    ]  # fmt: skip
    body = body_for({"messages": messages})
    response = body["contents"][2]["parts"][0]["functionResponse"]
    assert response == {"name": "ls", "response": {"content": "[1, 2]"}}


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]", '"a string"'])
def test_tool_call_arguments_that_are_not_a_json_object_are_refused(arguments: str) -> None:
    messages = [
        user("go"),
        {"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}]},
    ]  # fmt: skip
    with pytest.raises(InvalidRequest):
        body_for({"messages": messages})


def test_a_tool_message_answering_no_known_call_is_refused() -> None:
    messages = [user("go"), {"role": "tool", "tool_call_id": "call_nowhere", "content": "x"}]
    with pytest.raises(InvalidRequest):
        body_for({"messages": messages})


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


# --- the answer ----------------------------------------------------------------------------


def test_a_text_answer_becomes_a_chat_completion() -> None:
    completion = adapter.chat_response(answer([{"text": "Hello"}, {"text": " there"}]))
    assert completion["id"] == "resp-abc"
    assert completion["object"] == "chat.completion"
    assert completion["model"] == "gemini-2.5-flash"
    assert isinstance(completion["created"], int)
    assert completion["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there"},
            "finish_reason": "stop",
            "native_finish_reason": "STOP",
        }
    ]
    assert completion["usage"] == {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}


def test_an_answer_without_a_response_id_gets_a_generated_one() -> None:
    body = orjson.loads(answer([{"text": "x"}]))
    del body["responseId"]
    completion = adapter.chat_response(orjson.dumps(body))
    assert completion["id"].startswith("gen-")
    assert len(completion["id"]) > 10


def test_function_calls_become_tool_calls() -> None:
    parts = [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
         "thoughtSignature": "CiQBVKhc7q..."},
        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
    ]  # fmt: skip
    choice = adapter.chat_response(answer(parts))["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["native_finish_reason"] == "STOP"
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_0", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
        ],
    }  # fmt: skip


def test_thoughts_become_reasoning_and_count_as_completion_tokens() -> None:
    parts = [{"text": "Let me think about primes.", "thought": True}, {"text": "7 is prime."}]
    usage = {"promptTokenCount": 10, "candidatesTokenCount": 4, "thoughtsTokenCount": 30,
             "cachedContentTokenCount": 6, "totalTokenCount": 44}  # fmt: skip
    completion = adapter.chat_response(answer(parts, usageMetadata=usage))
    assert completion["choices"][0]["message"] == {
        "role": "assistant",
        "content": "7 is prime.",
        "reasoning": "Let me think about primes.",
    }
    assert completion["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 34,
        "total_tokens": 44,
        "prompt_tokens_details": {"cached_tokens": 6},
        "completion_tokens_details": {"reasoning_tokens": 30},
    }


@pytest.mark.parametrize(
    ("native", "finish"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("LANGUAGE", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("OTHER", "error"),
        ("MALFORMED_FUNCTION_CALL", "error"),
        ("FINISH_REASON_UNSPECIFIED", "error"),
        ("SOMETHING_NEW", "error"),
    ],
)
def test_each_finish_reason_is_normalized(native: str, finish: str) -> None:
    choice = adapter.chat_response(answer([{"text": "partial"}], finish=native))["choices"][0]
    assert choice["finish_reason"] == finish
    assert choice["finish_reason"] in FINISH_REASONS
    assert choice["native_finish_reason"] == native


def test_a_candidate_stopped_for_safety_without_content_has_empty_content() -> None:
    body = {"candidates": [{"finishReason": "SAFETY", "index": 0,
                            "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT",
                                               "probability": "HIGH"}]}],
            "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}}  # fmt: skip
    completion = adapter.chat_response(orjson.dumps(body))
    assert completion["choices"][0]["message"] == {"role": "assistant", "content": ""}
    assert completion["choices"][0]["finish_reason"] == "content_filter"
    assert completion["usage"] == {"prompt_tokens": 9, "completion_tokens": 0, "total_tokens": 9}


def test_a_blocked_prompt_is_an_empty_content_filtered_answer() -> None:
    body = {
        "promptFeedback": {
            "blockReason": "PROHIBITED_CONTENT",
            "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}
            ],
        },
        "usageMetadata": {"promptTokenCount": 15, "totalTokenCount": 15},
        "modelVersion": "gemini-2.5-flash",
    }
    completion = adapter.chat_response(orjson.dumps(body))
    assert completion["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": ""},
            "finish_reason": "content_filter",
            "native_finish_reason": "PROHIBITED_CONTENT",
        }
    ]
    assert completion["usage"]["prompt_tokens"] == 15


@pytest.mark.parametrize(
    "body",
    [
        b'{"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}',
        b'[{"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}}]',
        b"[]",
        b'"ok"',
        b"not json",
        b"{}",
        b'{"candidates": "nope"}',
    ],
)
def test_a_body_that_is_not_an_answer_raises(body: bytes) -> None:
    with pytest.raises(ProviderFormatError):
        adapter.chat_response(body)


def test_error_message_reads_the_error_object_or_a_list_wrapping_it() -> None:
    error = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                       "status": "INVALID_ARGUMENT"}}  # fmt: skip
    expected = "API key not valid. Please pass a valid API key."
    assert adapter.error_message(orjson.dumps(error)) == expected
    assert adapter.error_message(orjson.dumps([error])) == expected
    assert adapter.error_message(b"<html>502</html>") == ""
    assert adapter.error_message(b'{"candidates": []}') == ""


# --- the stream ----------------------------------------------------------------------------


def event(parts: list[dict[str, Any]] | None, finish: str | None = None, **usage: int) -> bytes:
    candidate: dict[str, Any] = {"index": 0}
    if parts is not None:
        candidate["content"] = {"role": "model", "parts": parts}
    if finish:
        candidate["finishReason"] = finish
    payload: dict[str, Any] = {
        "candidates": [candidate],
        "modelVersion": "gemini-2.5-flash",
        "responseId": "stream-1",
        "usageMetadata": {"promptTokenCount": 20, "totalTokenCount": 20 + sum(usage.values()),
                          **usage},
    }  # fmt: skip
    return orjson.dumps(payload)


def translate(events: list[bytes]) -> list[dict[str, Any]]:
    translator = adapter.stream_translator()
    chunks = [chunk for data in events for chunk in translator.feed(data)]
    return chunks + translator.finish()


def test_a_text_stream_becomes_chunks_with_one_usage_chunk_at_the_end() -> None:
    chunks = translate(
        [
            event([{"text": "Thinking...", "thought": True}], thoughtsTokenCount=40),
            event([{"text": "The answer"}], candidatesTokenCount=2, thoughtsTokenCount=40),
            event([{"text": " is 42."}], "STOP", candidatesTokenCount=5, thoughtsTokenCount=40),
        ]
    )
    assert [chunk["choices"][0]["delta"] for chunk in chunks[:-1]] == [
        {"role": "assistant", "reasoning": "Thinking..."},
        {"content": "The answer"},
        {"content": " is 42."},
    ]
    assert [chunk["choices"][0]["finish_reason"] for chunk in chunks[:-1]] == [None, None, "stop"]
    assert chunks[2]["choices"][0]["native_finish_reason"] == "STOP"
    usage_chunks = [chunk for chunk in chunks if "usage" in chunk]
    assert usage_chunks == [chunks[-1]]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 20,
        "completion_tokens": 45,  # the LAST usageMetadata: 5 answer + 40 thinking tokens
        "total_tokens": 65,
        "completion_tokens_details": {"reasoning_tokens": 40},
    }
    assert {chunk["id"] for chunk in chunks} == {"stream-1"}
    assert {chunk["model"] for chunk in chunks} == {"gemini-2.5-flash"}
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}


def test_function_calls_in_a_stream_arrive_whole_and_finish_as_tool_calls() -> None:
    chunks = translate(
        [
            event([{"text": "Checking both."}], candidatesTokenCount=3),
            event([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "Cv8BAXLI2nw..."}], candidatesTokenCount=9),
            event([{"functionCall": {"name": "get_time", "args": {}}}], candidatesTokenCount=12),
            event([{"text": ""}], "STOP", candidatesTokenCount=12),
        ]
    )  # fmt: skip
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]
    assert deltas[1] == {
        "tool_calls": [
            {"index": 0, "id": "call_0", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
        ]
    }  # fmt: skip
    assert deltas[2]["tool_calls"] == [
        {"index": 1, "id": "call_1", "type": "function",
         "function": {"name": "get_time", "arguments": "{}"}}
    ]  # fmt: skip
    last = chunks[-2]["choices"][0]
    assert (last["delta"], last["finish_reason"], last["native_finish_reason"]) == (
        {},
        "tool_calls",
        "STOP",
    )
    assert chunks[-1]["usage"]["completion_tokens"] == 12


def test_a_usage_only_event_after_the_finish_updates_the_final_usage() -> None:
    usage_only = orjson.dumps(
        {
            "usageMetadata": {
                "promptTokenCount": 20,
                "candidatesTokenCount": 8,
                "totalTokenCount": 28,
            }
        }
    )
    chunks = translate([event([{"text": "Hi"}], "MAX_TOKENS", candidatesTokenCount=3), usage_only])
    assert len(chunks) == 2
    assert chunks[0]["choices"][0]["finish_reason"] == "length"
    assert chunks[1]["usage"]["completion_tokens"] == 8


def test_a_stream_without_usage_sends_no_usage_chunk() -> None:
    translator = GeminiStreamTranslator()
    data = orjson.dumps({"candidates": [{"content": {"parts": [{"text": "a"}]}}]})
    assert len(translator.feed(data)) == 1
    assert translator.finish() == []


def test_a_blocked_prompt_in_a_stream_finishes_with_content_filter() -> None:
    data = orjson.dumps(
        {"promptFeedback": {"blockReason": "SAFETY"},
         "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}}
    )  # fmt: skip
    chunks = translate([data])
    assert chunks[0]["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant"},
            "finish_reason": "content_filter",
            "native_finish_reason": "SAFETY",
        }
    ]
    assert chunks[1]["usage"]["prompt_tokens"] == 5


@pytest.mark.parametrize(
    "data",
    [
        b'{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}',
        b"[1, 2]",
        b"garbage",
        b'{"candidates": [{"content": {"parts": ["not a part"]}}]}',
    ],
)
def test_an_error_event_in_a_stream_raises(data: bytes) -> None:
    translator = adapter.stream_translator()
    translator.feed(event([{"text": "partial"}]))
    with pytest.raises(ProviderFormatError):
        translator.feed(data)
