"""The OpenAI routes: ``POST /{provider}/v1/chat/completions`` and
``POST /{provider}/v1/embeddings``. Faults, directives and random failures apply to both
(an embedding request's directives are read from its inputs)."""

import orjson
from aiohttp import web

from proxy.simulator.answers import Answer, Timing
from proxy.simulator.app_state import CONFIG_KEY, STATS_KEY
from proxy.simulator.embeddings import embeddings_body, parse_embedding_request
from proxy.simulator.openai_request import parse_chat_request
from proxy.simulator.openai_wire import OPENAI
from proxy.simulator.profiles import provider_by_slug
from proxy.simulator.prompt import InvalidRequest
from proxy.simulator.responder import parse_directives
from proxy.simulator.responses import error_response, unknown_provider_response
from proxy.simulator.serving import serve_answer, serve_generation


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await serve_generation(request, OPENAI, parse_chat_request, api="chat_completions")


async def embeddings(request: web.Request) -> web.StreamResponse:
    provider = provider_by_slug(request.match_info["provider"])
    if provider is None:
        return unknown_provider_response(request.match_info["provider"])
    stats = request.app[STATS_KEY]
    stats.embedding_requests[provider.slug] += 1
    stats.by_api["embeddings"] += 1
    try:
        parsed = parse_embedding_request(await request.read())
    except InvalidRequest as exc:
        return error_response(400, str(exc))
    directives = parse_directives(" ".join(parsed.texts))
    answer = Answer(
        wire=OPENAI,
        timing=Timing.of(request.app[CONFIG_KEY], provider, directives),
        completion_tokens=0,
        json_bytes=orjson.dumps(embeddings_body(parsed)),
    )
    return await serve_answer(request, provider, answer, directives)
