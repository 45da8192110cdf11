"""Answering from the cache (a whole answer, or the same answer replayed as a stream), and
keeping a finished answer in it."""

import time
from typing import Any

from billing.money import Usage
from proxy.asgi_io import JSON_HEADERS, Send, end_stream, send_chunk, send_response, start_stream
from proxy.client_formats import ClientFormat
from proxy.failover import answer_headers
from proxy.metering import Bill, Call, Outcome
from proxy.response_cache.collect import answer_finished, replay_chunks
from proxy.response_cache.store import CachedAnswer


def cached_endpoint_take(call: Call, entry: CachedAnswer) -> bool:
    """Put the call on the endpoint that gave the cached answer; False when this request's
    route no longer includes it (then the answer is not served)."""
    endpoint = next((e for e in call.attempts if e.endpoint_id == entry.endpoint_id), None)
    if endpoint is None:
        return False
    now = time.monotonic()
    call.endpoint = endpoint
    call.outcome = Outcome(
        usage=Usage(entry.prompt_tokens, entry.completion_tokens),
        native_finish_reason=_native_finish_reason(entry),
        upstream_id=str(entry.answer.get("id", "")),
        first_token_at=now,
        ended_at=now,
        cached=True,
    )
    return True


def _native_finish_reason(entry: CachedAnswer) -> str:
    choices = entry.answer.get("choices") or [{}]
    reason = choices[0].get("native_finish_reason") or choices[0].get("finish_reason")
    return str(reason or "stop")


async def cached_answer_send(
    call: Call, entry: CachedAnswer, send: Send, fmt: ClientFormat
) -> None:
    """Settle the hit (at cost 0) and send it as the request asked: whole or streamed."""
    headers = answer_headers(call)
    if not call.request.stream:
        bill = await call.settle()
        body = fmt.answer_body(call, entry.answer, bill)
        await send_response(send, 200, body, headers=(*JSON_HEADERS, *headers))
        return
    await start_stream(send, extra_headers=headers)
    events = [
        fmt.stream_start(call),
        *(fmt.chunk_events(call, c) for c in replay_chunks(entry.answer)),
    ]
    await send_chunk(send, b"".join(events))
    bill = await call.settle()
    await send_chunk(send, fmt.stream_end(call, bill, int(entry.answer.get("created", 0))))
    await end_stream(send)


async def cached_answer_keep(call: Call, answer: dict[str, Any], bill: Bill) -> None:
    """Store a finished answer (canonical: before it is written for the client, which changes
    it) under the request's key; anything else is never stored."""
    slot = call.cache
    if slot is None or slot.hit or call.outcome.failed or call.outcome.cancelled:
        return
    if not answer_finished(answer):
        return
    entry = CachedAnswer(
        endpoint_id=call.endpoint.endpoint_id,
        answer={k: v for k, v in answer.items() if k != "usage"},
        prompt_tokens=bill.usage.prompt_tokens,
        completion_tokens=bill.usage.completion_tokens,
    )
    await call.gateway.response_cache.keep(slot.key, entry, ttl_s=slot.ttl_s)
