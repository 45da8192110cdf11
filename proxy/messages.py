"""`POST /api/v1/messages`: the Anthropic Messages API, so clients written for Anthropic (its
official SDK included) work against Switchyard unchanged, whichever provider answers.

The body is translated to the canonical chat request and served by the chat path (routing,
failover, billing); the answer and the stream are written back as Anthropic's.
"""

import orjson

from proxy.asgi_io import Receive, Scope, Send
from proxy.chat import complete
from proxy.chat_request import ChatRequest, chat_request_parse, json_object_parse
from proxy.client_formats import Json, usage_payload
from proxy.gateway import Gateway
from proxy.metering import Bill, Call
from proxy.providers.anthropic import (
    MessagesStreamEncoder,
    canonical_response_to_message,
    message_id,
    messages_request_to_canonical,
)


def messages_request_parse(body: bytes) -> ChatRequest:
    canonical = messages_request_to_canonical(json_object_parse(body))
    return chat_request_parse(orjson.dumps(canonical))


def _canonical_usage(bill: Bill) -> Json:
    return {k: v for k, v in usage_payload(bill).items() if k != "cost"}


class MessagesFormat:
    """Anthropic's Message, and its stream of events (one encoder per request)."""

    def __init__(self) -> None:
        self.encoder = MessagesStreamEncoder()

    def answer_body(self, call: Call, answer: Json, bill: Bill) -> bytes:
        answer = {**answer, "id": call.generation_id, "usage": _canonical_usage(bill)}
        message = canonical_response_to_message(answer, model=call.endpoint.model_slug)
        return orjson.dumps(message)

    def stream_start(self, call: Call) -> bytes:
        return self.encoder.start(call.endpoint.model_slug, message_id(call.generation_id))

    def chunk_events(self, call: Call, chunk: Json) -> bytes:
        return self.encoder.chunk(chunk)

    def stream_end(self, call: Call, bill: Bill, created: int) -> bytes:
        return self.encoder.finish(_canonical_usage(bill))

    def stream_error(self, call: Call, message: str, created: int) -> bytes:
        return self.encoder.error(message)


async def messages(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    await complete(
        gateway, scope, receive, send, parse=messages_request_parse, fmt=MessagesFormat()
    )
