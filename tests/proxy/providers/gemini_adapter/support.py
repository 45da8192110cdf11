"""What the Gemini adapter tests share: the adapter, an upstream with a key, a tool, usage,
and builders for request bodies, Gemini answers and stream events."""

from typing import Any

import orjson

from proxy.providers.base import Adapter, Upstream
from proxy.providers.gemini import GeminiAdapter

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
