"""The production layout on one machine (DESIGN.md section 2): two gateway replicas, a Celery
worker and exactly one beat, as separate processes sharing one database and Redis.

A replica killed mid-traffic loses only its own in-flight request: the other keeps serving,
the killed one serves again once restarted in its place, the worker releases the dead
request's hold when beat says so, and the ledger balances. Needs Redis (the broker); CI runs it
on PostgreSQL."""

import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import httpx
import openai
import pytest
import redis
from django.db import connection
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from billing.models import Generation, Hold, Wallet
from billing.selectors import ledger_mismatches
from tests.live import (
    ROOT,
    ServerProcess,
    child_env,
    database_url,
    eventually,
    python_args,
)

# About 30 s; the timeout leaves room for slow starts on a busy machine.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

MODEL = "openai/gpt-4o-mini"
# Short, so that the sweeper frees the killed request's hold within the test.
HOLD_TTL_S = 3
QUESTION: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What is the capital of France?"}
]
# Slow tokens: the request is still streaming when its replica is killed.
SLOW_QUESTION: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "[sim:delay=200] " + "tell me more " * 20}
]


@pytest.fixture
def deployment_env(redis_url: str, redis_prefix: str) -> Iterator[dict[str, str]]:
    """What every process of the deployment shares: the database, Redis and its keys, a Celery
    queue of this test's own, and the hold settings."""
    queue = f"{redis_prefix}:celery"
    yield {
        "DATABASE_URL": database_url(dict(connection.settings_dict), connection.vendor),
        "REDIS_URL": redis_url,
        "CELERY_QUEUE": queue,
        "HEALTH_REDIS_PREFIX": f"{redis_prefix}:health",
        "RATE_LIMIT_REDIS_PREFIX": f"{redis_prefix}:ratelimit",
        "RESPONSE_CACHE_REDIS_PREFIX": f"{redis_prefix}:cache",
        "HOLD_TTL_S": str(HOLD_TTL_S),
        "HOLD_SWEEP_INTERVAL_S": "1",
    }
    with redis.Redis.from_url(redis_url) as client:
        client.delete(f"_kombu.binding.{queue}")  # the queue itself goes with the prefix


def celery_start(
    name: str, args: list[str], env: dict[str, str], logs_dir: Path, *, ready: str
) -> ServerProcess:
    # Unbuffered, so that the log shows how far a slow start got.
    process = ServerProcess(
        name,
        python_args("-m", "celery", "-A", "marketplace", *args),
        child_env(PYTHONUNBUFFERED="1", **env),
        logs_dir,
    )
    try:
        # Generous: on a machine busy with other test runs, importing everything takes a while.
        eventually(
            lambda: ready in process.log() or process.process.poll() is not None,
            timeout_s=90,
            what=f"{name} started",
        )
        assert process.process.poll() is None, process.log()
    except BaseException:
        process.stop()
        raise
    return process


@pytest.fixture
def worker_and_beat(
    deployment_env: dict[str, str], logs_dir: Path, tmp_path: Path
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    worker = celery_start(
        "celery-worker",
        ["worker", "--loglevel=INFO", "--concurrency=2", "--without-heartbeat", "--without-gossip",
         "--without-mingle", "--hostname", f"replicas-test-{tmp_path.name}@%h"],
        deployment_env, logs_dir, ready=" ready.",
    )  # fmt: skip
    try:
        beat = celery_start(
            "celery-beat",
            ["beat", "--loglevel=INFO", "--schedule", str(tmp_path / "celerybeat-schedule")],
            deployment_env, logs_dir, ready="beat: Starting...",
        )  # fmt: skip
    except BaseException:
        worker.stop()
        raise
    try:
        yield worker, beat
    finally:
        beat.stop()
        worker.stop()


def client(url: str, api_key: str) -> OpenAI:
    return OpenAI(base_url=f"{url}/api/v1", api_key=api_key, max_retries=0, timeout=15)


def ask(sdk: OpenAI, *, stream: bool) -> str:
    """One question through the SDK; the answer's text."""
    if not stream:
        completion = sdk.chat.completions.create(model=MODEL, messages=QUESTION)
        return completion.choices[0].message.content or ""
    chunks = sdk.chat.completions.create(model=MODEL, messages=QUESTION, stream=True)
    return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)


class Traffic:
    """Requests to one replica from a thread, streamed and not in turn, until the block ends."""

    def __init__(self, sdk: OpenAI) -> None:
        self.sdk = sdk
        self.answered = 0
        self.failures: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                assert ask(self.sdk, stream=self.answered % 2 == 0)
            except Exception as exc:  # recorded and asserted on by the test
                self.failures.append(exc)
            else:
                self.answered += 1

    def __enter__(self) -> "Traffic":
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def test_a_replica_killed_mid_traffic_costs_only_its_own_request(
    live_catalog, start_gateway, make_account, deployment_env, worker_and_beat
):
    worker, beat = worker_and_beat
    replica_a = start_gateway(**deployment_env)
    replica_b = start_gateway(**deployment_env)
    alice = make_account("5")  # one wallet, charged through both replicas
    sdk_a, sdk_b = client(replica_a.url, alice.api_key), client(replica_b.url, alice.api_key)
    for sdk in (sdk_a, sdk_b):
        assert ask(sdk, stream=False)
        assert ask(sdk, stream=True)

    with Traffic(sdk_b) as traffic:
        slow = sdk_a.chat.completions.create(model=MODEL, messages=SLOW_QUESTION, stream=True)
        chunks = iter(slow)
        next(chunks), next(chunks)  # the role chunk and the first token
        replica_a.server.process.send_signal(signal.SIGKILL)
        assert replica_a.server.process.wait(timeout=10) == -signal.SIGKILL
        with pytest.raises((httpx.TransportError, openai.APIConnectionError)):
            for _ in chunks:
                pass
        with pytest.raises(openai.APIConnectionError):
            ask(sdk_a, stream=False)  # what a load balancer's health check sees, too
        answered_at_kill = traffic.answered
        eventually(lambda: traffic.answered >= answered_at_kill + 6, timeout_s=20,
                   what="the surviving replica kept answering")  # fmt: skip
    assert traffic.failures == []

    port = urlsplit(replica_a.url).port
    restarted = start_gateway(port=port, **deployment_env)
    assert restarted.url == replica_a.url
    assert ask(sdk_a, stream=False)
    assert ask(sdk_a, stream=True)

    # The killed request's hold: expired after HOLD_TTL_S, released by the worker on beat's
    # schedule (nobody else sweeps here).
    eventually(lambda: not Hold.objects.filter(status=Hold.Status.OPEN).exists(),
               timeout_s=HOLD_TTL_S + 15, what="every hold closed")  # fmt: skip
    [dead] = Hold.objects.filter(wallet__user_id=alice.user_id, status=Hold.Status.EXPIRED)
    assert dead.charge_nanos == 0
    assert re.search(r"Sending due task holds-expire \(billing\.tasks\.holds_expire_task\)",
                     beat.log())  # fmt: skip
    assert re.search(r"billing\.tasks\.holds_expire_task\[[\w-]+\] succeeded in [\d.e-]+s: 1",
                     worker.log()), worker.log()  # fmt: skip

    answered = 4 + traffic.answered + 2
    assert Hold.objects.filter(status=Hold.Status.SETTLED).count() == answered
    assert Generation.objects.filter(user_id=alice.user_id).count() == answered
    assert Wallet.objects.get(user_id=alice.user_id).reserved_nanos == 0
    assert ledger_mismatches() == []
    check = subprocess.run(
        python_args("manage.py", "ledger_check"), cwd=ROOT, env=child_env(**deployment_env),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    assert "ledger check passed" in check.stdout
