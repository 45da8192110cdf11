"""The official `openai` and `anthropic` SDKs against a live gateway, routed to each of the
three wire formats the simulated providers speak (OpenAI, Anthropic Messages, Gemini): plain
answers, streams, a tools round trip, JSON schema output and embeddings."""

import asyncio
import json
from typing import Any

import anthropic
import httpx
import openai
import pytest

from proxy.simulator.embeddings import embedding_vector
from proxy.simulator.profiles import SimulatedProvider, provider_by_slug
from proxy.simulator.responder import plan_completion, reply_text
from proxy.simulator.tool_replies import TOOL_RESULT_PREFIX
from tests.conformance import assert_conforms

pytestmark = pytest.mark.django_db(transaction=True)

# (wire format, model, the provider that speaks it)
FORMATS = [
    pytest.param("openai/gpt-4o-mini", "nimbus", id="openai-format"),
    pytest.param("anthropic/claude-3.5-haiku", "lumen", id="anthropic-format"),
    pytest.param("anthropic/claude-3.5-haiku", "atlas", id="gemini-format"),
]
MESSAGES: Any = [{"role": "user", "content": "Tell me about the three wire formats"}]
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}


def simulated(slug: str) -> SimulatedProvider:
    provider = provider_by_slug(slug)
    assert provider is not None
    return provider


def text_of(message: Any) -> str:
    """The text of an Anthropic message's first block (which must be text)."""
    block = message.content[0]
    assert block.type == "text"
    return str(block.text)


def only(provider: str) -> dict[str, Any]:
    return {"provider": {"only": [provider], "allow_fallbacks": False}}


@pytest.fixture
def client(gateway_url, make_account) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway_url}/api/v1",
                         api_key=make_account("5").api_key, max_retries=0)  # fmt: skip


@pytest.fixture
def claude(gateway_url, make_account) -> anthropic.Anthropic:
    # The anthropic SDK appends /v1/messages itself.
    return anthropic.Anthropic(base_url=f"{gateway_url}/api",
                               api_key=make_account("5").api_key, max_retries=0)  # fmt: skip


@pytest.mark.parametrize(("model", "provider"), FORMATS)
def test_openai_sdk_plain_answer(client, model, provider):
    completion = client.chat.completions.create(
        model=model, messages=MESSAGES, extra_body=only(provider)
    )
    assert completion.choices[0].message.content == reply_text(MESSAGES, simulated(provider))
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == model
    assert completion.model_extra["provider"] == simulated(provider).name
    planned = plan_completion(MESSAGES, simulated(provider), None)
    assert completion.usage.completion_tokens == planned.completion_tokens
    assert completion.usage.prompt_tokens > 0
    assert float(completion.usage.model_extra["cost"]) > 0


@pytest.mark.parametrize(("model", "provider"), FORMATS)
def test_openai_sdk_async_stream(gateway_url, make_account, model, provider):
    key = make_account("5").api_key

    async def read() -> list[Any]:
        async with openai.AsyncOpenAI(base_url=f"{gateway_url}/api/v1", api_key=key) as client:
            stream = await client.chat.completions.create(
                model=model, messages=MESSAGES, stream=True, extra_body=only(provider)
            )
            return [chunk async for chunk in stream]

    chunks = asyncio.run(read())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reply_text(MESSAGES, simulated(provider))
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert (
        chunks[-1].usage.completion_tokens
        == plan_completion(MESSAGES, simulated(provider), None).completion_tokens
    )


@pytest.mark.parametrize(("model", "provider"), FORMATS)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_openai_sdk_tools_round_trip(client, model, provider, stream):
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    call = _tool_call(client, model, provider, messages, stream=stream)
    assert call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"city": "sim"}

    messages += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call["id"], "type": "function",
             "function": {"name": call["name"], "arguments": call["arguments"]}}]},
        {"role": "tool", "tool_call_id": call["id"], "content": "22C and sunny"},
    ]  # fmt: skip
    answer = client.chat.completions.create(
        model=model, messages=messages, tools=[WEATHER_TOOL], extra_body=only(provider)
    )
    assert answer.choices[0].message.content == TOOL_RESULT_PREFIX + "22C and sunny"


def _tool_call(client, model, provider, messages, *, stream: bool) -> dict[str, str]:
    if not stream:
        answer = client.chat.completions.create(
            model=model, messages=messages, tools=[WEATHER_TOOL], extra_body=only(provider)
        )
        assert answer.choices[0].finish_reason == "tool_calls"
        tool_call = answer.choices[0].message.tool_calls[0]
        return {"id": tool_call.id, "name": tool_call.function.name,
                "arguments": tool_call.function.arguments}  # fmt: skip
    call = {"id": "", "name": "", "arguments": ""}
    finish = None
    for chunk in client.chat.completions.create(
        model=model, messages=messages, tools=[WEATHER_TOOL], stream=True,
        extra_body=only(provider),
    ):  # fmt: skip
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                call["id"] = delta.id or call["id"]
                call["name"] = (delta.function and delta.function.name) or call["name"]
                call["arguments"] += (delta.function and delta.function.arguments) or ""
    assert finish == "tool_calls"
    return call


@pytest.mark.parametrize(("model", "provider"), FORMATS)
def test_openai_sdk_json_schema_output(client, model, provider):
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "score": {"type": "integer"}},
        "required": ["answer", "score"],
        "additionalProperties": False,
    }
    answer = client.chat.completions.create(
        model=model, messages=MESSAGES, extra_body=only(provider),
        response_format={"type": "json_schema",
                         "json_schema": {"name": "verdict", "schema": schema, "strict": True}},
    )  # fmt: skip
    assert json.loads(answer.choices[0].message.content) == {"answer": "sim", "score": 1}


@pytest.mark.parametrize("provider", ["nimbus", "quanta"])
def test_openai_sdk_embeddings(client, provider):
    result = client.embeddings.create(
        model="openai/text-embedding-3-small", input=["first text", "second text"],
        extra_body=only(provider),
    )  # fmt: skip
    assert [item.index for item in result.data] == [0, 1]
    for item, text in zip(result.data, ["first text", "second text"], strict=True):
        expected = embedding_vector(model="text-embedding-3-small", text=text)
        assert item.embedding == pytest.approx(expected)
    assert result.usage.prompt_tokens > 0
    assert result.model == "openai/text-embedding-3-small"


@pytest.mark.parametrize(("model", "provider"), FORMATS)
def test_anthropic_sdk_messages(claude, model, provider):
    message = claude.messages.create(
        model=model, max_tokens=200, messages=MESSAGES, extra_body=only(provider)
    )
    assert text_of(message) == reply_text(MESSAGES, simulated(provider))
    assert message.stop_reason == "end_turn"
    planned = plan_completion(MESSAGES, simulated(provider), None)
    assert message.usage.output_tokens == planned.completion_tokens
    assert message.usage.input_tokens > 0


@pytest.mark.parametrize(("model", "provider"), FORMATS)
def test_anthropic_sdk_stream(claude, model, provider):
    with claude.messages.stream(
        model=model, max_tokens=200, messages=MESSAGES, extra_body=only(provider)
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == reply_text(MESSAGES, simulated(provider))
    assert final.stop_reason == "end_turn"
    assert (
        final.usage.output_tokens
        == plan_completion(MESSAGES, simulated(provider), None).completion_tokens
    )


@pytest.mark.parametrize(("model", "provider"), FORMATS)
def test_anthropic_sdk_tools_round_trip(claude, model, provider):
    tool = {"name": "get_weather", "description": "The weather in a city",
            "input_schema": WEATHER_TOOL["function"]["parameters"]}  # fmt: skip
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = claude.messages.create(
        model=model, max_tokens=200, messages=messages, tools=[tool], extra_body=only(provider)
    )
    assert first.stop_reason == "tool_use"
    use = next(block for block in first.content if block.type == "tool_use")
    assert (use.name, use.input) == ("get_weather", {"city": "sim"})

    messages += [
        {"role": "assistant", "content": [block.model_dump() for block in first.content]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": use.id, "content": "22C and sunny"}]},
    ]  # fmt: skip
    second = claude.messages.create(
        model=model, max_tokens=200, messages=messages, tools=[tool], extra_body=only(provider)
    )
    assert text_of(second) == TOOL_RESULT_PREFIX + "22C and sunny"


def test_anthropic_sdk_sends_its_key_as_x_api_key(gateway_url, make_account):
    # The SDK's default header; the same key as a bearer token works too.
    key = make_account("5").api_key
    client = anthropic.Anthropic(base_url=f"{gateway_url}/api", api_key=key, max_retries=0)
    bearer = anthropic.Anthropic(base_url=f"{gateway_url}/api", auth_token=key, max_retries=0)
    for sdk in (client, bearer):
        message = sdk.messages.create(model="openai/gpt-4o-mini", max_tokens=50, messages=MESSAGES)
        assert text_of(message)
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=f"{gateway_url}/api", api_key="sk-sy-v1-" + "0" * 64,
                            max_retries=0).messages.create(
            model="openai/gpt-4o-mini", max_tokens=50, messages=MESSAGES)  # fmt: skip


@pytest.mark.parametrize(("model", "provider"), FORMATS)
@pytest.mark.parametrize("tools", [False, True], ids=["text", "tools"])
def test_answers_from_every_format_fit_openais_schemas(gateway_url, make_account, model,
                                                       provider, tools):  # fmt: skip
    body: dict[str, Any] = {"model": model, "messages": MESSAGES, **only(provider)}
    if tools:
        body["tools"] = [WEATHER_TOOL]
    headers = {"authorization": f"Bearer {make_account('5').api_key}"}
    url = f"{gateway_url}/api/v1/chat/completions"

    answer = httpx.post(url, json=body, headers=headers, timeout=30).json()
    assert_conforms(answer, "CreateChatCompletionResponse")
    assert bool(answer["choices"][0]["message"].get("tool_calls")) is tools

    streamed = httpx.post(url, json={**body, "stream": True}, headers=headers, timeout=30)
    events = [line[6:] for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    for event in events[:-1]:
        assert_conforms(json.loads(event), "CreateChatCompletionStreamResponse")
