"""`GeminiAdapter`: the gateway calling Google's Gemini API (`generateContent`,
`streamGenerateContent?alt=sse`), wired from the request, response and stream translations of
this package."""

import orjson

from proxy.providers.base import Json, Upstream, UpstreamRequest
from proxy.providers.gemini.request import request_body
from proxy.providers.gemini.response import answer_load, completion_from_answer, error_text
from proxy.providers.gemini.stream import GeminiStreamTranslator


class GeminiAdapter:
    def chat_request(self, payload: Json, upstream: Upstream, *, stream: bool) -> UpstreamRequest:
        model = upstream.model.removeprefix("models/")
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        headers = {"content-type": "application/json"}
        if upstream.api_key:
            headers["x-goog-api-key"] = upstream.api_key  # never in the URL: URLs get logged
        return UpstreamRequest(
            url=f"{upstream.base_url.rstrip('/')}/models/{model}:{method}",
            headers=headers,
            body=orjson.dumps(request_body(payload)),
        )

    def chat_response(self, body: bytes) -> Json:
        return completion_from_answer(answer_load(body))

    def stream_translator(self) -> GeminiStreamTranslator:
        return GeminiStreamTranslator()

    def error_message(self, body: bytes) -> str:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return ""
        return error_text(payload) or ""
