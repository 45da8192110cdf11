"""The Gemini route: generateContent and streamGenerateContent shapes, function calling,
generation settings and Google's error shape."""

from typing import Any

import orjson
import pytest

from proxy.simulator.responder import count_tokens, prompt_tokens, reply_text
from tests.proxy.simulator.helpers import (
    GEMINI_PATH,
    GEMINI_STREAM_PATH,
    NIMBUS,
    WEATHER_ARGUMENTS,
    WEATHER_TOOL_SCHEMA,
    Client,
    JsonDict,
    gemini_body,
    gemini_chunks,
    run_async,
    simulator,
)

TOOLS = [
    {
        "functionDeclarations": [
            {"name": "get_time"},
            {"name": "get_weather", "parameters": WEATHER_TOOL_SCHEMA},
        ]
    }
]


async def generate(client: Client, body: JsonDict) -> JsonDict:
    response = await client.post(GEMINI_PATH, json=body)
    assert (response.status, response.content_type) == (200, "application/json")
    payload: JsonDict = orjson.loads(await response.read())
    return payload


async def stream_generate(client: Client, body: JsonDict) -> list[JsonDict]:
    response = await client.post(GEMINI_STREAM_PATH, json=body)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return gemini_chunks(await response.read())


def only_part(answer: JsonDict) -> JsonDict:
    (candidate,) = answer["candidates"]
    assert candidate["content"]["role"] == "model"
    (part,) = candidate["content"]["parts"]
    return dict(part)


@run_async
async def test_a_whole_answer() -> None:
    body = gemini_body("Hi there!", systemInstruction={"parts": [{"text": "Be brief."}]})
    async with simulator() as client:
        answer = await generate(client, body)
    expected = reply_text([{"role": "user", "content": "Hi there!"}], NIMBUS)
    assert only_part(answer) == {"text": expected}
    assert answer["candidates"][0]["finishReason"] == "STOP"
    prompt = prompt_tokens(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there!"}]
    )
    assert answer["usageMetadata"] == {
        "promptTokenCount": prompt,
        "candidatesTokenCount": count_tokens(expected),
        "totalTokenCount": prompt + count_tokens(expected),
    }
    assert answer["modelVersion"] == "gemini-sim"
    assert isinstance(answer["responseId"], str)
    assert answer["responseId"]


@run_async
async def test_the_stream_splits_the_text_and_counts_usage_as_it_goes() -> None:
    async with simulator() as client:
        whole = await generate(client, gemini_body())
        chunks = await stream_generate(client, gemini_body())
    tokens = whole["usageMetadata"]["candidatesTokenCount"]
    assert len(chunks) == tokens + 1
    texts = [only_part(chunk)["text"] for chunk in chunks]
    assert "".join(texts) == only_part(whole)["text"]
    assert texts[-1] == ""
    counts = [chunk["usageMetadata"]["candidatesTokenCount"] for chunk in chunks]
    assert counts == [*range(1, tokens + 1), tokens]
    assert chunks[-1]["usageMetadata"] == whole["usageMetadata"]
    reasons = [chunk["candidates"][0].get("finishReason") for chunk in chunks]
    assert reasons == [None] * tokens + ["STOP"]
    assert {chunk["responseId"] for chunk in chunks} == {chunks[0]["responseId"]}


@run_async
async def test_a_function_call_whole_and_streamed() -> None:
    config = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    body = gemini_body("Weather?", tools=TOOLS, toolConfig=config)
    async with simulator() as client:
        whole = await generate(client, body)
        chunks = await stream_generate(client, body)
        first_tool = await generate(client, gemini_body("Time?", tools=TOOLS))
        no_call = await generate(
            client,
            gemini_body(tools=TOOLS, toolConfig={"functionCallingConfig": {"mode": "NONE"}}),
        )
    call = {"functionCall": {"name": "get_weather", "args": WEATHER_ARGUMENTS}}
    assert only_part(whole) == call
    assert whole["candidates"][0]["finishReason"] == "STOP"
    tokens = count_tokens(orjson.dumps(WEATHER_ARGUMENTS).decode())
    assert whole["usageMetadata"]["candidatesTokenCount"] == tokens
    (chunk,) = chunks
    assert only_part(chunk) == call
    assert chunk["candidates"][0]["finishReason"] == "STOP"
    assert only_part(first_tool) == {"functionCall": {"name": "get_time", "args": {}}}
    assert "text" in only_part(no_call)


@pytest.mark.parametrize(
    ("response", "text"),
    [
        ({"content": "21 degrees"}, "21 degrees"),
        ({"temp": 21, "sky": "clear"}, '{"temp":21,"sky":"clear"}'),
    ],
)
@run_async
async def test_a_function_response_is_acknowledged(response: JsonDict, text: str) -> None:
    contents = [
        {"role": "user", "parts": [{"text": "Weather?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]},
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": response}}],
        },
    ]
    async with simulator() as client:
        answer = await generate(client, {"contents": contents, "tools": TOOLS})
    assert only_part(answer) == {"text": f"Tool result received: {text}"}


@run_async
async def test_generation_config() -> None:
    schema = {
        "type": "OBJECT",
        "properties": {
            "n": {"type": "INTEGER"},
            "names": {"type": "ARRAY", "items": {"type": "STRING"}},
        },
        "required": ["n", "names"],
    }

    def config(**settings: Any) -> JsonDict:
        return gemini_body("Hi", generationConfig=settings)

    async with simulator() as client:
        short = await generate(client, config(maxOutputTokens=3, temperature=0.2))
        stopped = await generate(client, config(stopSequences=["Cloud"]))
        json_object = await generate(client, config(responseMimeType="application/json"))
        typed = await generate(
            client, config(responseMimeType="application/json", responseSchema=schema)
        )
        json_schema = await generate(
            client,
            config(
                responseMimeType="application/json",
                responseJsonSchema={"type": "object", "properties": {"ok": {"type": "boolean"}}},
            ),
        )
    assert (only_part(short), short["candidates"][0]["finishReason"]) == (
        {"text": "Hello from Nimbus"},
        "MAX_TOKENS",
    )
    assert only_part(stopped) == {"text": "Hello from Nimbus "}
    assert stopped["candidates"][0]["finishReason"] == "STOP"
    expected = reply_text([{"role": "user", "content": "Hi"}], NIMBUS)
    assert orjson.loads(only_part(json_object)["text"]) == {"reply": expected}
    assert orjson.loads(only_part(typed)["text"]) == {"n": 1, "names": ["sim"]}
    assert orjson.loads(only_part(json_schema)["text"]) == {"ok": True}


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"{}",
        orjson.dumps({"contents": []}),
        orjson.dumps({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}),
        orjson.dumps({"contents": [{"role": "user"}]}),
        orjson.dumps(gemini_body(generationConfig={"maxOutputTokens": 0})),
    ],
)
@run_async
async def test_invalid_requests_are_google_400s(body: bytes) -> None:
    async with simulator() as client:
        response = await client.post(GEMINI_PATH, data=body)
        payload = orjson.loads(await response.read())
    assert response.status == 400
    assert payload["error"]["code"] == 400
    assert payload["error"]["status"] == "INVALID_ARGUMENT"
    assert payload["error"]["message"]


@pytest.mark.parametrize(
    ("path", "status", "google_status"),
    [
        ("/nimbus/v1beta/models/gemini-sim:countTokens", 404, "NOT_FOUND"),
        ("/nimbus/v1beta/models/gemini-sim", 404, "NOT_FOUND"),
        ("/nimbus/v1beta/models/gemini-sim:streamGenerateContent", 400, "INVALID_ARGUMENT"),
        ("/nope/v1beta/models/gemini-sim:generateContent", 404, "NOT_FOUND"),
    ],
)
@run_async
async def test_unknown_methods_and_providers(path: str, status: int, google_status: str) -> None:
    async with simulator() as client:
        response = await client.post(path, json=gemini_body())
        payload = orjson.loads(await response.read())
    assert response.status == status
    assert payload["error"]["code"] == status
    assert payload["error"]["status"] == google_status
