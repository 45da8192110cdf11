"""`POST /api/v1/completions`: OpenAI's legacy text completions, served through chat.

The prompt becomes one user message; the answer comes back as `choices[].text`. Routing,
billing and streaming are the chat path's own.
"""

import orjson

from proxy.asgi_io import Receive, Scope, Send
from proxy.chat import complete
from proxy.chat_request import ChatRequest, chat_request_parse, json_object_parse
from proxy.client_formats import TextCompletionFormat
from proxy.errors import InvalidRequest
from proxy.gateway import Gateway

# Legacy-only fields: the prompt is turned into messages; the others have no chat equivalent.
_LEGACY_FIELDS = frozenset({"prompt", "suffix", "echo", "best_of", "logprobs"})


def _prompt(value: object) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]  # a batch of one prompt is the same prompt
    if not isinstance(value, str) or not value:
        raise InvalidRequest("'prompt' must be a non-empty string (one prompt per request)")
    return value


def completion_request_parse(body: bytes) -> ChatRequest:
    payload = json_object_parse(body)
    prompt = _prompt(payload.get("prompt"))
    if payload.get("echo"):
        raise InvalidRequest("'echo' is not supported")
    if payload.get("best_of") not in (None, 1):
        raise InvalidRequest("'best_of' is not supported")
    if payload.get("suffix"):
        raise InvalidRequest("'suffix' is not supported")
    chat = {key: value for key, value in payload.items() if key not in _LEGACY_FIELDS}
    chat["messages"] = [{"role": "user", "content": prompt}]
    return chat_request_parse(orjson.dumps(chat))


async def text_completions(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    await complete(
        gateway, scope, receive, send, parse=completion_request_parse, fmt=TextCompletionFormat()
    )
