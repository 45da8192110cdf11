"""A stream that fails after it started ends with an error event; a provider's own words in it
(an error event of its own) never show the key the gateway called it with. Before the first
chunk, failover's errors are redacted the same way (tests/marketplace/test_secret_canaries.py)."""

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import orjson

from proxy.client_formats import ChatFormat
from proxy.metering import Outcome
from proxy.streaming import _Client
from tests.proxy.endpoints import endpoint

PROVIDER_KEY = "sk-provider-canary-4f1c"


def call_with_key(api_key: str) -> Any:
    return SimpleNamespace(
        endpoint=endpoint(1),
        generation_id="gen-1",
        outcome=Outcome(),
        upstream_of=lambda e: SimpleNamespace(api_key=api_key),
    )


async def failed_stream_event(call: Any, message: str) -> dict[str, Any]:
    sent: list[Mapping[str, Any]] = []

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)

    await _Client(call, send, ChatFormat()).fail(message, created=1)
    body = b"".join(m.get("body", b"") for m in sent)
    assert body.startswith(b"data: ")
    event: dict[str, Any] = orjson.loads(body.split(b"\n", 1)[0].removeprefix(b"data: "))
    return event


async def test_the_provider_key_quoted_mid_stream_is_redacted():
    event = await failed_stream_event(
        call_with_key(PROVIDER_KEY), f"Nimbus sent an error event: Incorrect key {PROVIDER_KEY}"
    )

    assert event["error"]["message"] == "Nimbus sent an error event: Incorrect key [redacted]"


async def test_without_a_key_the_message_is_unchanged():
    event = await failed_stream_event(
        call_with_key(""), "Nimbus stream failed (ClientPayloadError)"
    )

    assert event["error"]["message"] == "Nimbus stream failed (ClientPayloadError)"
