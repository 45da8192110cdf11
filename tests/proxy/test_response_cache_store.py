"""The response cache's pieces: keys, the in-process store's bounds, and collecting a stream."""

import asyncio
from typing import Any

import pytest

from proxy.chat_request import chat_request_parse
from proxy.response_cache.collect import AnswerCollector, answer_finished, replay_chunks
from proxy.response_cache.keys import cache_key
from proxy.response_cache.store import CachedAnswer, MemoryResponseCacheStore, ResponseCache


def key(user_id: int, body: bytes) -> str:
    return cache_key(user_id=user_id, request=chat_request_parse(body))


BODY = b'{"model": "a/b", "messages": [{"role": "user", "content": "hi"}]}'


def test_the_key_ignores_key_order_and_streaming_but_not_the_account():
    reordered = b'{"messages": [{"content": "hi", "role": "user"}], "model": "a/b", "stream": true}'
    assert key(1, BODY) == key(1, reordered)
    assert key(1, BODY) != key(2, BODY)
    assert key(1, BODY) != key(1, BODY.replace(b"a/b", b"a/c"))
    with_provider = BODY[:-1] + b', "provider": {"only": ["x", "y"], "ignore": ["z"]}}'
    assert key(1, with_provider) != key(1, BODY)
    reordered_provider = b', "provider": {"ignore": ["z"], "only": ["y", "x"]}}'
    assert key(1, with_provider) == key(1, BODY[:-1] + reordered_provider)


def test_the_memory_store_evicts_the_least_recently_used():
    async def run() -> list[bytes | None]:
        store = MemoryResponseCacheStore(max_entries=2)
        await store.put("a", b"1", ttl_s=60)
        await store.put("b", b"2", ttl_s=60)
        await store.get("a")
        await store.put("c", b"3", ttl_s=60)
        return [await store.get(k) for k in ("a", "b", "c")]

    assert asyncio.run(run()) == [b"1", None, b"3"]


def test_an_entry_too_large_is_not_kept():
    async def run() -> CachedAnswer | None:
        cache = ResponseCache(MemoryResponseCacheStore(), max_entry_bytes=100)
        entry = CachedAnswer(1, {"choices": [{"message": {"content": "x" * 200}}]}, 1, 1)
        await cache.keep("k", entry, ttl_s=60)
        return await cache.lookup("k")

    assert asyncio.run(run()) is None


@pytest.mark.parametrize("reason", [None, "error"])
def test_an_unfinished_answer_is_not_finished(reason):
    assert not answer_finished({"choices": [{"message": {}, "finish_reason": reason}]})


def test_a_collected_stream_replays_to_the_same_answer():
    collector = AnswerCollector()
    first = {"role": "assistant", "content": "Hel"}
    call = {"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"a"'}}
    rest = {"index": 0, "function": {"arguments": ": 1}"}}
    chunks: list[dict[str, Any]] = [
        {"id": "up", "created": 5, "choices": [{"index": 0, "delta": first}]},
        {"choices": [{"index": 0, "delta": {"content": "lo", "tool_calls": [call]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [rest]},
                      "finish_reason": "tool_calls", "native_finish_reason": "tool_use"}]},
    ]  # fmt: skip
    for chunk in chunks:
        collector.add(chunk)
    answer = collector.answer()
    assert answer_finished(answer)
    message = answer["choices"][0]["message"]
    assert message["content"] == "Hello"
    assert message["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a": 1}'}
    again = AnswerCollector()
    for chunk in replay_chunks(answer):
        again.add(chunk)
    assert again.answer()["choices"] == answer["choices"]
