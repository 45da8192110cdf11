"""The control API under ``/_control/providers``, answering loopback peers only: set, list and
clear the faults on the app's :class:`~proxy.simulator.faults.FaultBoard`."""

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from proxy.simulator.app_state import FAULTS_KEY
from proxy.simulator.faults import InvalidFault, is_loopback, parse_fault
from proxy.simulator.profiles import provider_by_slug
from proxy.simulator.responses import error_response, json_response, unknown_provider_response

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def loopback_only(handler: _Handler) -> _Handler:
    """403 for any peer but this machine: a fault set here changes what every client sees."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        if not is_loopback(request.remote):
            return error_response(403, "The control API answers loopback peers only.")
        return await handler(request)

    return guarded


@loopback_only
async def control_list(request: web.Request) -> web.StreamResponse:
    return _fault_listing(request.app)


@loopback_only
async def control_put(request: web.Request) -> web.StreamResponse:
    slug = request.match_info["slug"]
    if provider_by_slug(slug) is None:
        return unknown_provider_response(slug)
    try:
        fault = parse_fault(await request.read())
    except InvalidFault as exc:
        return error_response(400, str(exc))
    request.app[FAULTS_KEY].put(slug, fault)
    return json_response(fault.as_json())


@loopback_only
async def control_clear(request: web.Request) -> web.StreamResponse:
    slug = request.match_info["slug"]
    if provider_by_slug(slug) is None:
        return unknown_provider_response(slug)
    request.app[FAULTS_KEY].clear(slug)
    return _fault_listing(request.app)


@loopback_only
async def control_clear_all(request: web.Request) -> web.StreamResponse:
    request.app[FAULTS_KEY].clear_all()
    return _fault_listing(request.app)


def _fault_listing(app: web.Application) -> web.Response:
    faults = app[FAULTS_KEY].faults()
    listing: dict[str, object] = {slug: fault.as_json() for slug, fault in faults.items()}
    return json_response(listing)
