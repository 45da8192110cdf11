"""localstripe (a Stripe-compatible server with a Stripe.js stand-in) for development and tests.

Two changes to how it runs by default: it listens on the chosen host only (its own command
binds every interface), and it keeps its state in memory (its own command pickles everything
to one fixed file in /tmp on every write, which two instances would share and which slows
with every request).
"""

import argparse
import urllib.request

import orjson


def serve(host: str, port: int) -> None:
    import localstripe.resources as resources
    from aiohttp import web

    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None
    from localstripe.server import app

    print(f"localstripe listening on http://{host}:{port}", flush=True)
    web.run_app(app, host=host, port=port, access_log=None, print=None)


def webhook_register(api_base: str, *, url: str, secret: str, name: str = "switchyard") -> None:
    """Make localstripe send its events to `url`, signed with `secret`."""
    body = orjson.dumps({"url": url, "secret": secret})
    request = urllib.request.Request(  # noqa: S310 (a loopback URL from our settings)
        f"{api_base.rstrip('/')}/_config/webhooks/{name}",
        data=body,
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args(argv)
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
