"""`AnthropicAdapter`: the gateway calling an Anthropic-format provider (`POST /messages`),
wired from the request, response and stream translations of this package."""

import orjson

from proxy.providers.anthropic.request import messages_body
from proxy.providers.anthropic.response import completion_from_message, error_text, load_object
from proxy.providers.anthropic.stream import AnthropicStreamTranslator
from proxy.providers.base import Json, Upstream, UpstreamRequest

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicAdapter:
    def chat_request(self, payload: Json, upstream: Upstream, *, stream: bool) -> UpstreamRequest:
        headers = {"content-type": "application/json", "anthropic-version": ANTHROPIC_VERSION}
        if upstream.api_key:
            headers["x-api-key"] = upstream.api_key
        body = messages_body(payload, model=upstream.model, stream=stream)
        url = f"{upstream.base_url.rstrip('/')}/messages"
        return UpstreamRequest(url=url, headers=headers, body=orjson.dumps(body))

    def chat_response(self, body: bytes) -> Json:
        return completion_from_message(load_object(body))

    def stream_translator(self) -> AnthropicStreamTranslator:
        return AnthropicStreamTranslator()

    def error_message(self, body: bytes) -> str:
        try:
            return error_text(orjson.loads(body))
        except orjson.JSONDecodeError:
            return ""
