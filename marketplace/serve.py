"""The server: `python -m marketplace.serve [--host H] [--port P]`.

uvicorn (uvloop, httptools, no access log) serving `marketplace.asgi`, with a graceful drain
on SIGTERM or Ctrl-C, so that a rolling deploy loses no request and leaks no money:

1. the gateway is marked draining: readiness fails, and a request that still arrives on a
   connection opened before gets a 503 with `Connection: close`;
2. uvicorn stops accepting connections and closes the idle ones;
3. requests in flight run on for up to DRAIN_TIMEOUT_S; streams still open then end with an
   error chunk once what they generated is settled (proxy.streaming);
4. SETTLE_GRACE_S later, whatever still runs is cancelled (a hold it leaves open expires and
   the sweeper releases it), the gateway's connections are closed and the process exits 0.

A second Ctrl-C quits at once.
"""

import argparse
import logging
import math
import signal
import socket
import sys
from types import FrameType

import uvicorn
from django.conf import settings
from uvicorn.config import STARTUP_FAILURE

from marketplace.asgi import application
from proxy.app import GatewayApp

logger = logging.getLogger("uvicorn.error")

# After the drain time: for the streams it ended to settle and send their last chunk (a
# database write and one event: milliseconds). With the default DRAIN_TIMEOUT_S the whole
# shutdown stays under Kubernetes' default grace period of 30 s before it kills the process.
SETTLE_GRACE_S = 3


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, app: GatewayApp, drain_timeout_s: float) -> None:
        super().__init__(config)
        self.app = app
        self.drain_timeout_s = drain_timeout_s

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not uvicorn's own handler: that one raises the signal again once the server has shut
        # down, so the process would die of it (status 143) after draining cleanly.
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Draining before uvicorn closes the listener: no request is taken in between.
        if not self.force_exit:
            logger.info("Draining: requests in flight get up to %g s", self.drain_timeout_s)
            await self.app.drain_begin(timeout_s=self.drain_timeout_s)
        await super().shutdown(sockets)


def server_create(*, host: str, port: int) -> DrainingServer:
    drain_timeout_s = settings.DRAIN_TIMEOUT_S
    config = uvicorn.Config(
        application,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        # No X-Forwarded-* rewriting of the client address: nothing here needs it, and /metrics
        # trusts loopback clients, which a forwarded header must not be able to claim.
        proxy_headers=False,
        timeout_graceful_shutdown=math.ceil(drain_timeout_s + SETTLE_GRACE_S),
    )
    return DrainingServer(config, app=application, drain_timeout_s=drain_timeout_s)


def logging_lean() -> None:
    """Skip what every log record gathers and our formatters never show: the caller's file and
    line (a walk up the stack), thread and process names. The request log line is written once
    per request, and this was a fifth of its cost (Python's logging docs, "Optimization")."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def main(argv: list[str] | None = None) -> None:
    logging_lean()
    parser = argparse.ArgumentParser(prog="python -m marketplace.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    server = server_create(host=args.host, port=args.port)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
