"""The aiohttp application: ``make_app`` builds its state and routes (listed in the package
docstring), plus the small handlers for health, stats and the model list."""

import random

from aiohttp import web

from proxy.simulator.anthropic_api import anthropic_messages
from proxy.simulator.app_state import (
    CONFIG_KEY,
    FAULTS_KEY,
    RNG_KEY,
    STATS_KEY,
    SimulatorConfig,
    SimulatorStats,
)
from proxy.simulator.chat import chat_completions, embeddings
from proxy.simulator.control import control_clear, control_clear_all, control_list, control_put
from proxy.simulator.faults import FaultBoard
from proxy.simulator.gemini_api import generate_content
from proxy.simulator.model_list import provider_models
from proxy.simulator.profiles import provider_by_slug
from proxy.simulator.responses import json_response, unknown_provider_response

_MAX_BODY_BYTES = 16 * 1024 * 1024


def make_app(
    *, latency_scale: float = 1.0, fault_scale: float = 1.0, seed: int = 0
) -> web.Application:
    if latency_scale < 0 or fault_scale < 0:
        raise ValueError("latency_scale and fault_scale must be non-negative")
    app = web.Application(client_max_size=_MAX_BODY_BYTES)
    app[CONFIG_KEY] = SimulatorConfig(latency_scale=latency_scale, fault_scale=fault_scale)
    # One seeded generator per app makes the sequence of random faults reproducible.
    app[RNG_KEY] = random.Random(seed)
    app[STATS_KEY] = SimulatorStats()
    app[FAULTS_KEY] = FaultBoard()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/_stats", stats)
    app.router.add_get("/_control/providers", control_list)
    app.router.add_delete("/_control/providers", control_clear_all)
    app.router.add_put("/_control/providers/{slug}", control_put)
    app.router.add_delete("/_control/providers/{slug}", control_clear)
    app.router.add_post("/{provider}/v1/chat/completions", chat_completions)
    app.router.add_post("/{provider}/v1/messages", anthropic_messages)
    app.router.add_post("/{provider}/v1beta/models/{model_action}", generate_content)
    app.router.add_post("/{provider}/v1/embeddings", embeddings)
    app.router.add_get("/{provider}/v1/models", list_models)
    return app


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def stats(request: web.Request) -> web.Response:
    counts = request.app[STATS_KEY]
    return json_response(
        {
            "chat_requests": counts.chat_requests.total(),
            "by_provider": dict(counts.chat_requests),
            "by_api": dict(counts.by_api),
            "embedding_requests": dict(counts.embedding_requests),
            "faults_served": dict(counts.faults_served),
            "abandoned_streams": counts.abandoned_streams,
            "auth_sha256": {slug: list(seen) for slug, seen in counts.auth_sha256.items()},
        }
    )


async def list_models(request: web.Request) -> web.Response:
    provider = provider_by_slug(request.match_info["provider"])
    if provider is None:
        return unknown_provider_response(request.match_info["provider"])
    return json_response({"object": "list", "data": provider_models(provider.slug)})
