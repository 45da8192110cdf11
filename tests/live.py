"""Real processes for end-to-end tests: the simulator and the gateway, over real HTTP."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings

from billing.money import Prices, hold_bound_nanos
from catalog.models import Endpoint
from catalog.selectors import price_rank

ROOT = Path(__file__).resolve().parent.parent
# The webhook secret of the tests' own settings and of every gateway they start.
TEST_WEBHOOK_SECRET = "whsec_switchyard_tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A server started as a child process, stopped (and its log closed) on `stop()`."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_until_ready(self, url: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (loopback)
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not become ready at {url}:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def child_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    # Browser tests allow the ORM next to Playwright's event loop; servers keep Django's check.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(overrides)
    return env


def python_args(*args: str) -> list[str]:
    return [sys.executable, *args]


def database_url(settings_dict: dict[str, object], vendor: str) -> str:
    """A DATABASE_URL for the test database Django has just created."""
    if vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(str(settings_dict.get("USER") or ""))
    password = quote(str(settings_dict.get("PASSWORD") or ""))
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{settings_dict['NAME']}"


def eventually[T](check: Callable[[], T | None], *, timeout_s: float = 5.0, what: str = "") -> T:
    """Poll `check` until it returns something truthy, and return that; fail after a deadline.

    For effects that happen asynchronously in another process (a settle after a disconnect)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what or check}; last: {result!r}")
        time.sleep(0.05)


def simulator_stats(simulator_url: str) -> dict[str, Any]:
    """The simulator's counters: chat_requests, by_provider, abandoned_streams."""
    with urllib.request.urlopen(f"{simulator_url}/_stats", timeout=5) as response:  # noqa: S310
        stats: dict[str, Any] = json.load(response)
    return stats


def paid_endpoints(model_slug: str) -> list[Endpoint]:
    """The active endpoints a plain model slug (no `:free`) routes to."""
    return list(
        Endpoint.objects.filter(
            model__slug=model_slug, variant="", is_active=True, provider__is_active=True
        ).select_related("provider")
    )


def endpoint_fee_bps(endpoint: Endpoint) -> int:
    own_fee = endpoint.provider.inference_fee_bps
    return settings.INFERENCE_FEE_BPS if own_fee is None else own_fee


def request_hold_nanos(model_slug: str, *, body: bytes, max_tokens: int) -> int:
    """What the gateway holds for a request: enough for whichever endpoint of the model may end
    up answering it (it fails over to pricier ones)."""
    return max(
        hold_bound_nanos(
            prompt_tokens_bound=len(body),
            completion_tokens_bound=max_tokens,
            prices=Prices(e.prompt_usd_per_mtok, e.completion_usd_per_mtok, e.request_usd),
            fee_bps=endpoint_fee_bps(e),
        )
        for e in paid_endpoints(model_slug)
    )


def cheapest_endpoint(model_slug: str) -> Endpoint:
    """The endpoint the gateway routes a model to: the active one with the lowest price rank."""
    endpoints = paid_endpoints(model_slug)
    return min(
        endpoints,
        key=lambda e: price_rank(e.prompt_usd_per_mtok, e.completion_usd_per_mtok, e.request_usd),
    )


def read_events(lines: Iterator[str], count: int) -> list[str]:
    """The next `count` SSE `data:` lines of a stream being read (other lines skipped)."""
    events: list[str] = []
    while len(events) < count:
        line = next(lines)
        if line.startswith("data: "):
            events.append(line)
    return events
