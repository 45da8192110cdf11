"""Tools, tool results, JSON mode and stop sequences on the OpenAI chat route, over HTTP and
through the official OpenAI SDK."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from pydantic import BaseModel

from proxy.simulator.responder import count_tokens, prompt_tokens, reply_text
from proxy.simulator.tool_replies import schema_instance
from tests.proxy.simulator.helpers import (
    NIMBUS,
    WEATHER_ARGUMENTS,
    WEATHER_TOOL_SCHEMA,
    Client,
    JsonDict,
    chat,
    post_chat,
    run_async,
    simulator,
    stream_chat,
)

TOOLS: list[ChatCompletionToolParam] = [
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_TOOL_SCHEMA}},
]
WEATHER_CHOICE = {"type": "function", "function": {"name": "get_weather"}}
ARGUMENTS = orjson.dumps(WEATHER_ARGUMENTS).decode()


def tool_chat(text: str = "Weather in Paris?", **extra: Any) -> JsonDict:
    return chat(text, tools=TOOLS, tool_choice=WEATHER_CHOICE, **extra)


@run_async
async def test_a_tool_call_answers_a_request_with_tools() -> None:
    async with simulator() as client:
        body = await post_chat(client, tool_chat())
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_sim_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ARGUMENTS},
        }
    ]
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    assert body["usage"] == {
        "prompt_tokens": prompt_tokens(messages),
        "completion_tokens": count_tokens(ARGUMENTS),
        "total_tokens": prompt_tokens(messages) + count_tokens(ARGUMENTS),
    }


@run_async
async def test_without_a_named_choice_the_first_tool_is_called_and_none_means_text() -> None:
    async with simulator() as client:
        first = await post_chat(client, chat("now?", tools=TOOLS))
        text = await post_chat(client, chat("now?", tools=TOOLS, tool_choice="none"))
    call = first["choices"][0]["message"]["tool_calls"][0]
    assert (call["function"]["name"], call["function"]["arguments"]) == ("get_time", "{}")
    assert text["choices"][0]["message"]["content"] == "Hello from Nimbus Cloud. You said: now?"


@run_async
async def test_a_streamed_tool_call_opens_with_the_call_then_argument_fragments() -> None:
    body = tool_chat(stream_options={"include_usage": True})
    async with simulator() as client:
        whole = await post_chat(client, body)
        payloads = await stream_chat(client, body)
    assert payloads[-1] == b"[DONE]"
    chunks = [orjson.loads(payload) for payload in payloads[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "index": 0,
                "id": "call_sim_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ],
    }
    fragments = [chunk["choices"][0]["delta"]["tool_calls"][0] for chunk in chunks[1:-2]]
    assert len(fragments) >= 2
    assert all(fragment.keys() == {"index", "function"} for fragment in fragments)
    assert "".join(fragment["function"]["arguments"] for fragment in fragments) == ARGUMENTS
    finish = chunks[-2]["choices"][0]
    assert (finish["delta"], finish["finish_reason"]) == ({}, "tool_calls")
    assert chunks[-1]["usage"] == whole["usage"]


@run_async
async def test_a_tool_result_is_acknowledged() -> None:
    messages: list[JsonDict] = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_sim_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ARGUMENTS},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_sim_1", "content": "21 degrees, sunny"},
    ]
    async with simulator() as client:
        body = await post_chat(client, {"model": "m", "messages": messages, "tools": TOOLS})
    message = body["choices"][0]["message"]
    assert message["content"] == "Tool result received: 21 degrees, sunny"
    assert "tool_calls" not in message
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == prompt_tokens(messages)


@run_async
async def test_json_object_mode() -> None:
    async with simulator() as client:
        body = await post_chat(client, chat("Hi!", response_format={"type": "json_object"}))
    content = body["choices"][0]["message"]["content"]
    expected = reply_text([{"role": "user", "content": "Hi!"}], NIMBUS)
    assert orjson.loads(content) == {"reply": expected}
    assert body["usage"]["completion_tokens"] == count_tokens(content)


@run_async
async def test_json_schema_mode_streams_the_instance() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "ok": {"type": "boolean"}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    async with simulator() as client:
        payloads = await stream_chat(client, chat(response_format=response_format))
    chunks = [orjson.loads(payload) for payload in payloads[1:-2]]
    streamed = "".join(chunk["choices"][0]["delta"]["content"] for chunk in chunks)
    assert orjson.loads(streamed) == {"n": 1, "ok": True} == schema_instance(schema)


@run_async
async def test_stop_sequences_cut_the_reply() -> None:
    async with simulator() as client:
        body = await post_chat(client, chat("Hi!", stop=["You"]))
    assert body["choices"][0]["message"]["content"] == "Hello from Nimbus Cloud. "
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 5


@pytest.mark.parametrize(
    "extra",
    [
        {"tools": [{"type": "function", "function": {}}]},
        {"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
        {"tools": TOOLS, "tool_choice": "sometimes"},
        {"response_format": {"type": "yaml"}},
        {"stop": [1]},
    ],
)
@run_async
async def test_invalid_tool_and_format_fields_are_400s(extra: JsonDict) -> None:
    async with simulator() as client:
        response = await client.post("/nimbus/v1/chat/completions", json=chat(**extra))
        assert response.status == 400
        assert orjson.loads(await response.read())["error"]["type"] == "invalid_request_error"


# --- the official SDK ------------------------------------------------------------------


@asynccontextmanager
async def openai_sdk(client: Client) -> AsyncIterator[AsyncOpenAI]:
    sdk = AsyncOpenAI(base_url=str(client.make_url("/nimbus/v1")), api_key="x", max_retries=0)
    try:
        yield sdk
    finally:
        await sdk.close()


@run_async
async def test_sdk_tool_round_trip() -> None:
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Paris?"}]
    async with simulator() as client, openai_sdk(client) as sdk:
        first = await sdk.chat.completions.create(model="m", messages=messages, tools=TOOLS)
        call = first.choices[0].message.tool_calls
        assert call is not None
        assert call[0].type == "function"
        messages.append(first.choices[0].message.model_dump(exclude_none=True))  # type: ignore[arg-type]
        messages.append({"role": "tool", "tool_call_id": call[0].id, "content": "Rainy."})
        second = await sdk.chat.completions.create(model="m", messages=messages, tools=TOOLS)
    assert (call[0].id, call[0].function.name, call[0].function.arguments) == (
        "call_sim_1",
        "get_time",
        "{}",
    )
    assert first.choices[0].finish_reason == "tool_calls"
    assert second.choices[0].message.content == "Tool result received: Rainy."


@run_async
async def test_sdk_stream_helper_assembles_a_streamed_tool_call() -> None:
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Paris?"}]
    async with simulator() as client, openai_sdk(client) as sdk:
        stream_manager = sdk.chat.completions.stream(model="m", messages=messages, tools=TOOLS[1:])
        async with stream_manager as stream:
            final = await stream.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert calls is not None
    assert calls[0].function.name == "get_weather"
    assert orjson.loads(calls[0].function.arguments) == WEATHER_ARGUMENTS


class Forecast(BaseModel):
    city: str
    days: int
    rain: bool
    hourly: list[float]


@run_async
async def test_sdk_parses_a_json_schema_reply_into_its_model() -> None:
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Forecast?"}]
    async with simulator() as client, openai_sdk(client) as sdk:
        completion = await sdk.chat.completions.parse(
            model="m", messages=messages, response_format=Forecast
        )
    assert completion.choices[0].message.parsed == Forecast(
        city="sim", days=1, rain=True, hourly=[1.5]
    )
