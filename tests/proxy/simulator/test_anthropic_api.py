"""The Anthropic Messages route: shapes checked against the official SDK's types, streaming
event order, tools, and the official SDK itself against the simulator."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from anthropic import AsyncAnthropic
from anthropic.types import Message, MessageParam, RawMessageStreamEvent, ToolParam
from pydantic import TypeAdapter

from proxy.simulator.responder import count_tokens, prompt_tokens, reply_text
from tests.proxy.simulator.helpers import (
    ANTHROPIC_PATH,
    NIMBUS,
    WEATHER_ARGUMENTS,
    WEATHER_TOOL_SCHEMA,
    Client,
    JsonDict,
    messages_body,
    named_events,
    run_async,
    simulator,
)

STREAM_EVENT = TypeAdapter[RawMessageStreamEvent](RawMessageStreamEvent)
TOOLS: list[ToolParam] = [
    {"name": "get_weather", "description": "Weather", "input_schema": WEATHER_TOOL_SCHEMA}
]


async def post_messages(client: Client, body: JsonDict) -> Message:
    response = await client.post(ANTHROPIC_PATH, json=body)
    assert (response.status, response.content_type) == (200, "application/json")
    return Message.model_validate(orjson.loads(await response.read()))


async def stream_messages(client: Client, body: JsonDict) -> list[tuple[str, JsonDict]]:
    response = await client.post(ANTHROPIC_PATH, json={**body, "stream": True})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = named_events(await response.read())
    for name, data in events:
        if name != "ping":
            STREAM_EVENT.validate_python(data)
    return events


def canonical_tokens(system: str | None, text: str) -> int:
    messages = [{"role": "user", "content": text}]
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    return prompt_tokens(messages)


@run_async
async def test_a_whole_message() -> None:
    async with simulator() as client:
        message = await post_messages(client, messages_body("Hi there!", system="Be brief."))
    expected = reply_text([{"role": "user", "content": "Hi there!"}], NIMBUS)
    assert message.id.startswith("msg_sim_")
    assert (message.role, message.model, message.stop_reason) == (
        "assistant",
        "claude-sim",
        "end_turn",
    )
    assert [block.model_dump(exclude_none=True) for block in message.content] == [
        {"type": "text", "text": expected}
    ]
    assert message.stop_sequence is None
    assert message.usage.input_tokens == canonical_tokens("Be brief.", "Hi there!")
    assert message.usage.output_tokens == count_tokens(expected)


@run_async
async def test_system_blocks_and_content_blocks_count_like_plain_strings() -> None:
    body = messages_body(
        system=[{"type": "text", "text": "Be"}, {"type": "text", "text": "brief."}],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look"},
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
                    {"type": "text", "text": "here!"},
                ],
            }
        ],
    )
    async with simulator() as client:
        message = await post_messages(client, body)
    assert message.usage.input_tokens == canonical_tokens("Be brief.", "Look here!")
    assert message.content[0].type == "text"
    assert message.content[0].text.endswith("You said: Look here!")


@run_async
async def test_the_stream_is_the_real_event_sequence() -> None:
    async with simulator() as client:
        whole = await post_messages(client, messages_body())
        events = await stream_messages(client, messages_body())
    names = [name for name, _ in events]
    tokens = whole.usage.output_tokens
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * tokens,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0][1]["message"]
    assert (start["content"], start["stop_reason"]) == ([], None)
    assert start["usage"]["input_tokens"] == whole.usage.input_tokens
    assert events[1][1]["content_block"] == {"type": "text", "text": ""}
    deltas = [data["delta"] for _, data in events[3:-3]]
    assert all(delta["type"] == "text_delta" for delta in deltas)
    assert whole.content[0].type == "text"
    assert "".join(delta["text"] for delta in deltas) == whole.content[0].text
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"] == {"output_tokens": tokens}


@run_async
async def test_a_tool_use_whole_and_streamed() -> None:
    body = messages_body("Weather?", tools=TOOLS)
    async with simulator() as client:
        message = await post_messages(client, body)
        events = await stream_messages(client, body)
    block = message.content[0]
    assert block.type == "tool_use"
    assert (block.id, block.name, block.input) == ("call_sim_1", "get_weather", WEATHER_ARGUMENTS)
    assert message.stop_reason == "tool_use"
    arguments = orjson.dumps(WEATHER_ARGUMENTS).decode()
    assert message.usage.output_tokens == count_tokens(arguments)
    opened = events[1][1]["content_block"]
    assert opened == {"type": "tool_use", "id": "call_sim_1", "name": "get_weather", "input": {}}
    fragments = [data["delta"] for name, data in events if name == "content_block_delta"]
    assert len(fragments) >= 2
    assert all(fragment["type"] == "input_json_delta" for fragment in fragments)
    assert "".join(fragment["partial_json"] for fragment in fragments) == arguments
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    ("tool_choice", "kind"),
    [({"type": "none"}, "text"), ({"type": "any"}, "tool_use"), ({"type": "auto"}, "tool_use")],
)
@run_async
async def test_tool_choice(tool_choice: JsonDict, kind: str) -> None:
    async with simulator() as client:
        message = await post_messages(client, messages_body(tools=TOOLS, tool_choice=tool_choice))
    assert message.content[0].type == kind


@pytest.mark.parametrize(
    "result", ["21 degrees", [{"type": "text", "text": "21"}, {"type": "text", "text": "degrees"}]]
)
@run_async
async def test_a_tool_result_is_acknowledged(result: Any) -> None:
    messages = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "call_sim_1", "name": "get_weather", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "call_sim_1", "content": result}],
        },
    ]
    async with simulator() as client:
        message = await post_messages(client, messages_body(messages=messages, tools=TOOLS))
    assert message.content[0].type == "text"
    assert message.content[0].text == "Tool result received: 21 degrees"
    assert message.stop_reason == "end_turn"


@run_async
async def test_max_tokens_and_stop_sequences() -> None:
    async with simulator() as client:
        short = await post_messages(client, messages_body(max_tokens=2))
        stopped = await post_messages(client, messages_body(stop_sequences=["Cloud", "zz"]))
        events = await stream_messages(client, messages_body(stop_sequences=["Cloud"]))
    assert (short.stop_reason, short.usage.output_tokens) == ("max_tokens", 2)
    assert (stopped.stop_reason, stopped.stop_sequence) == ("stop_sequence", "Cloud")
    assert stopped.content[0].type == "text"
    assert stopped.content[0].text == "Hello from Nimbus "
    assert events[-2][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "Cloud"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        (messages_body(max_tokens=0), "max_tokens"),
        (messages_body(messages=[]), "messages"),
        (messages_body(messages=[{"role": "system", "content": "x"}]), "role"),
        (messages_body(messages=[{"role": "user", "content": [{"text": "x"}]}]), "content"),
        (messages_body(system=7), "system"),
        (messages_body(tool_choice={"type": "tool", "name": "nope"}, tools=TOOLS), "nope"),
    ],
)
@run_async
async def test_invalid_requests_are_anthropic_400s(body: JsonDict, message: str) -> None:
    async with simulator() as client:
        response = await client.post(ANTHROPIC_PATH, json=body)
        payload = orjson.loads(await response.read())
    assert response.status == 400
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "invalid_request_error"
    assert message in payload["error"]["message"]


@run_async
async def test_an_unknown_provider_is_an_anthropic_404() -> None:
    async with simulator() as client:
        response = await client.post("/nope/v1/messages", json=messages_body())
        payload = orjson.loads(await response.read())
    assert response.status == 404
    assert payload == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "Unknown simulated provider 'nope'."},
    }


# --- the official SDK ------------------------------------------------------------------


@asynccontextmanager
async def anthropic_sdk(client: Client) -> AsyncIterator[AsyncAnthropic]:
    sdk = AsyncAnthropic(base_url=str(client.make_url("/nimbus")), api_key="x", max_retries=0)
    try:
        yield sdk
    finally:
        await sdk.close()


USER_TURN: list[MessageParam] = [{"role": "user", "content": "Hello, SDK!"}]


@run_async
async def test_sdk_create_and_stream_text() -> None:
    async with simulator() as client, anthropic_sdk(client) as sdk:
        created = await sdk.messages.create(model="claude-sim", max_tokens=64, messages=USER_TURN)
        async with sdk.messages.stream(
            model="claude-sim", max_tokens=64, messages=USER_TURN
        ) as stream:
            texts = [text async for text in stream.text_stream]
            final = await stream.get_final_message()
    assert created.content[0].type == "text"
    assert created.content[0].text == "Hello from Nimbus Cloud. You said: Hello, SDK!"
    assert "".join(texts) == created.content[0].text
    assert final.content[0].type == "text"
    assert final.content[0].text == created.content[0].text
    assert final.usage.output_tokens == created.usage.output_tokens
    assert final.usage.input_tokens == created.usage.input_tokens
    assert final.stop_reason == "end_turn"


@run_async
async def test_sdk_tool_round_trip_streamed() -> None:
    async with simulator() as client, anthropic_sdk(client) as sdk:
        async with sdk.messages.stream(
            model="claude-sim", max_tokens=64, messages=USER_TURN, tools=TOOLS
        ) as stream:
            asked = await stream.get_final_message()
        block = asked.content[0]
        assert block.type == "tool_use"
        answered = await sdk.messages.create(
            model="claude-sim",
            max_tokens=64,
            tools=TOOLS,
            messages=[
                *USER_TURN,
                {"role": "assistant", "content": asked.content},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": block.id, "content": "Hot"}],
                },
            ],
        )
    assert (block.name, block.input, asked.stop_reason) == (
        "get_weather",
        WEATHER_ARGUMENTS,
        "tool_use",
    )
    assert answered.content[0].type == "text"
    assert answered.content[0].text == "Tool result received: Hot"


def test_a_system_prompt_asking_for_json_is_obeyed() -> None:
    from proxy.simulator.anthropic_request import instructed_format
    from proxy.simulator.prompt import ResponseFormat

    schema: dict[str, object] = {
        "type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]
    }  # fmt: skip
    asked = "Respond only with a JSON object, matching this JSON Schema:\n" + json.dumps(schema)
    assert instructed_format(({"role": "system", "content": asked},)) == ResponseFormat(
        kind="json_schema", schema=schema
    )
    plain = "Respond only with a JSON object."
    assert instructed_format(({"role": "system", "content": plain},)).kind == "json_object"
    assert instructed_format(({"role": "system", "content": "Be nice."},)) == ResponseFormat()
