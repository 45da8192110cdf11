"""The pipeline every simulated API shares: find and count the provider, parse the request
(a 400 in the API's error shape if it cannot), plan the usual answer, and then let a
control-API fault, a ``[sim:...]`` failure directive or a random failure (in that order; see
the package docstring) replace it."""

from collections.abc import Callable

from aiohttp import web

from proxy.simulator.answers import Answer, plan_answer, respond, stream
from proxy.simulator.app_state import CONFIG_KEY, FAULTS_KEY, RNG_KEY, STATS_KEY
from proxy.simulator.fault_serving import hang, malformed_response, serve_fault, status_error
from proxy.simulator.faults import Fault
from proxy.simulator.profiles import SimulatedProvider, provider_by_slug
from proxy.simulator.prompt import Generation, InvalidRequest
from proxy.simulator.responder import Directives, last_user_text, parse_directives
from proxy.simulator.responses import error_response, unknown_provider_response
from proxy.simulator.wire import GenerationFormat, WireFormat

GenerationParser = Callable[[bytes], Generation]


async def serve_generation(
    request: web.Request, wire: GenerationFormat, parse: GenerationParser, *, api: str
) -> web.StreamResponse:
    """Answer one chat request of any format; ``api`` names it in ``/_stats``."""
    provider = provider_by_slug(request.match_info["provider"])
    if provider is None:
        return unknown_provider_response(request.match_info["provider"], wire=wire)
    stats = request.app[STATS_KEY]
    stats.chat_requests[provider.slug] += 1
    stats.by_api[api] += 1
    stats.auth_seen(provider.slug, _credential(request))
    try:
        generation = parse(await request.read())
    except InvalidRequest as exc:
        return error_response(400, str(exc), wire=wire)
    directives = parse_directives(last_user_text(generation.prompt.messages))
    answer = plan_answer(request.app, generation, provider, directives, wire)
    return await serve_answer(request, provider, answer, directives)


def _credential(request: web.Request) -> str:
    """The API key as each wire format sends it (OpenAI, Anthropic, Gemini)."""
    bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
    headers = request.headers
    return bearer or headers.get("x-api-key", "") or headers.get("x-goog-api-key", "")


async def serve_answer(
    request: web.Request, provider: SimulatedProvider, answer: Answer, directives: Directives
) -> web.StreamResponse:
    fault = _take_fault(request.app, provider)
    if fault is not None:
        return await serve_fault(request, answer, fault)
    early = await _forced_or_random_failure(request, provider, directives, answer.wire)
    if early is not None:
        return early
    if answer.events is None:
        return await respond(request, answer, directives.cut)
    # [sim:cut=N] sends what comes before the first token and at most N tokens.
    cut = directives.cut
    return await stream(
        request, answer, None if cut is None else answer.events.count_before_cut(cut)
    )


def _take_fault(app: web.Application, provider: SimulatedProvider) -> Fault | None:
    fault = app[FAULTS_KEY].take(provider.slug)
    if fault is not None:
        app[STATS_KEY].faults_served[provider.slug] += 1
    return fault


async def _forced_or_random_failure(
    request: web.Request, provider: SimulatedProvider, directives: Directives, wire: WireFormat
) -> web.StreamResponse | None:
    if directives.status == 401:
        # Some real providers quote the refused key back: the gateway must never pass it on.
        refused = f"Incorrect API key provided: {_credential(request)}."
        return error_response(401, refused, wire=wire)
    if directives.status is not None:
        return status_error(wire, directives.status)
    if directives.malformed:
        return malformed_response()
    if directives.hang:
        return await hang(wire)
    if _random_fault(request.app, provider):
        return error_response(500, f"Simulated random failure at {provider.name}.", wire=wire)
    return None


def _random_fault(app: web.Application, provider: SimulatedProvider) -> bool:
    probability = provider.error_rate_permille * app[CONFIG_KEY].fault_scale / 1000
    return probability > 0 and app[RNG_KEY].random() < probability
