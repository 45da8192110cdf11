"""The request: the URL and key header, and how messages, images and a tool round trip
become Gemini contents."""

import pytest

from proxy.errors import InvalidRequest
from proxy.providers.base import Upstream
from proxy.providers.gemini import SKIP_SIGNATURE
from tests.proxy.providers.gemini_adapter.support import (
    KEY,
    UPSTREAM,
    WEATHER_TOOL,
    adapter,
    body_for,
    user,
)


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
