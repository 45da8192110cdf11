"""SIGTERM drains a gateway process: it stops taking connections at once, lets streams in
flight finish within DRAIN_TIMEOUT_S, ends those still open then with an error chunk once
they are billed, and exits 0. Every request is settled exactly once and the ledger balances."""

import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from io import StringIO

import httpx
import openai
import orjson
import pytest
from django.core.management import call_command

from billing.models import Generation, Hold, Wallet
from billing.money import usd_to_nanos
from marketplace.serve import SETTLE_GRACE_S
from tests.conftest import LiveGateway
from tests.live import eventually

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"
LONG_PROMPT = "please keep talking " * 20


@dataclass
class StreamRead:
    """One stream read through the SDK's raw response: its `data:` payloads, in order."""

    started: threading.Event = field(default_factory=threading.Event)
    generation_id: str = ""
    data: list[str] = field(default_factory=list)

    @property
    def chunks(self) -> list[dict[str, object]]:
        return [orjson.loads(d) for d in self.data if d != "[DONE]"]


def _sdk(gateway: LiveGateway, api_key: str) -> openai.OpenAI:
    # No retries: a refused or cut request must show as it is.
    return openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=api_key, max_retries=0)


def _read_stream(client: openai.OpenAI, read: StreamRead, *, delay_ms: int, tokens: int) -> None:
    with client.chat.completions.with_streaming_response.create(
        model=MODEL,
        messages=[{"role": "user", "content": f"[sim:delay={delay_ms}] {LONG_PROMPT}"}],
        stream=True,
        max_tokens=tokens,
    ) as response:
        read.generation_id = response.headers["x-generation-id"]
        for line in response.iter_lines():
            if line.startswith("data: "):
                read.data.append(line.removeprefix("data: "))
                read.started.set()


def _open_streams(
    pool: ThreadPoolExecutor, client: openai.OpenAI, count: int, *, delay_ms: int, tokens: int
) -> tuple[list[StreamRead], list[Future[None]]]:
    reads = [StreamRead() for _ in range(count)]
    futures = [
        pool.submit(_read_stream, client, read, delay_ms=delay_ms, tokens=tokens) for read in reads
    ]
    for read in reads:
        assert read.started.wait(timeout=15), "every stream has its first chunk"
    return reads, futures


def _refuses_connections(url: str) -> bool:
    """Whether the gateway takes no new request: the connection is refused (the listener is
    closed), reset unanswered (accepted just as the listener closed), or answered 503 (it
    arrived in between)."""
    try:
        response = httpx.get(f"{url}/api/v1/models", timeout=2)
    except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):
        return True
    return response.status_code == 503 and response.json()["error"]["code"] == 503


def _terminate(gateway: LiveGateway) -> float:
    gateway.server.process.send_signal(signal.SIGTERM)
    return time.monotonic()


def _assert_settled_once(user_id: int, generation_ids: list[str]) -> None:
    """One generation per request, no hold open, the wallet and the ledger in agreement."""
    for generation_id in generation_ids:
        assert Generation.objects.filter(id=generation_id).count() == 1
    holds = Hold.objects.filter(wallet__user_id=user_id)
    assert sorted(holds.values_list("id", flat=True)) == sorted(generation_ids)
    assert not holds.filter(status=Hold.Status.OPEN).exists()
    assert Wallet.objects.get(user_id=user_id).reserved_nanos == 0
    out = StringIO()
    call_command("ledger_check", stdout=out)
    assert "ledger check passed" in out.getvalue()


def test_streams_that_finish_within_the_drain_time_complete_normally(
    start_gateway, live_catalog, make_account, wallet_balance
):
    gateway = start_gateway(DRAIN_TIMEOUT_S="20")
    alice = make_account("1")
    client = _sdk(gateway, alice.api_key)

    with ThreadPoolExecutor(3) as pool:
        # 30 tokens 100 ms apart: about 3 s each, well within the drain time.
        reads, futures = _open_streams(pool, client, 3, delay_ms=100, tokens=30)
        signalled_at = _terminate(gateway)
        eventually(lambda: _refuses_connections(gateway.url), what="new connections refused")
        assert not any(f.done() for f in futures), "the streams were still running meanwhile"
        for future in futures:
            future.result(timeout=20)

    assert gateway.server.process.wait(timeout=10) == 0
    assert time.monotonic() - signalled_at < 20  # it left once the streams were done
    for read in reads:
        assert read.data[-1] == "[DONE]"
        usage_chunk = read.chunks[-1]
        assert usage_chunk["choices"] == []
        assert usage_chunk["usage"]["completion_tokens"] == 30  # type: ignore[index]
        finishes = [c["choices"][0]["finish_reason"] for c in read.chunks if c["choices"]]  # type: ignore[index]
        assert finishes[-1] == "length"
        assert "error" not in finishes
    generations = Generation.objects.filter(id__in=[r.generation_id for r in reads])
    assert {g.finish_reason for g in generations} == {"length"}
    spent = sum(g.cost_nanos for g in generations)
    assert spent > 0
    assert wallet_balance(alice.user_id) == usd_to_nanos("1") - spent
    _assert_settled_once(alice.user_id, [r.generation_id for r in reads])
    assert "Draining" in gateway.server.log()


def test_streams_longer_than_the_drain_time_end_with_an_error_chunk_and_are_billed(
    start_gateway, live_catalog, make_account, wallet_balance
):
    drain_timeout_s = 2
    gateway = start_gateway(DRAIN_TIMEOUT_S=str(drain_timeout_s))
    alice = make_account("1")
    client = _sdk(gateway, alice.api_key)

    with ThreadPoolExecutor(4) as pool:
        # 100 tokens 300 ms apart: 30 s each, far past the drain time.
        reads, futures = _open_streams(pool, client, 3, delay_ms=300, tokens=100)
        sdk_started = threading.Event()
        sdk_error = pool.submit(_iterate_with_the_sdk, client, sdk_started, delay_ms=300)
        assert sdk_started.wait(timeout=15)
        signalled_at = _terminate(gateway)
        eventually(lambda: _refuses_connections(gateway.url), what="new connections refused")
        for future in futures:
            future.result(timeout=drain_timeout_s + SETTLE_GRACE_S + 5)
        raised = sdk_error.result(timeout=drain_timeout_s + SETTLE_GRACE_S + 5)

    assert gateway.server.process.wait(timeout=drain_timeout_s + SETTLE_GRACE_S + 5) == 0
    took_s = time.monotonic() - signalled_at
    assert drain_timeout_s <= took_s < drain_timeout_s + SETTLE_GRACE_S
    assert isinstance(raised, openai.APIError)
    assert "shutting down" in raised.message
    for read in reads:
        assert "[DONE]" not in read.data
        last = read.chunks[-1]
        assert last["choices"][0]["finish_reason"] == "error"  # type: ignore[index]
        assert "shutting down" in last["error"]["message"]  # type: ignore[index]
    ids = [r.generation_id for r in reads]
    generations = list(Generation.objects.filter(id__in=ids))
    assert len(generations) == 3
    for generation in generations:
        assert generation.finish_reason == "error"
        assert not generation.cancelled
        # Billed for what was generated before the drain ended (about 2 s of 300 ms tokens).
        assert 0 < generation.completion_tokens < 100
        assert generation.cost_nanos > 0
    all_ids = list(Hold.objects.filter(wallet__user_id=alice.user_id).values_list("id", flat=True))
    assert len(all_ids) == 4  # the SDK's stream too
    spent = sum(Generation.objects.filter(id__in=all_ids).values_list("cost_nanos", flat=True))
    assert wallet_balance(alice.user_id) == usd_to_nanos("1") - spent
    _assert_settled_once(alice.user_id, all_ids)


def test_a_stream_still_waiting_for_its_provider_gets_a_503_when_the_drain_ends(
    start_gateway, live_catalog, make_account
):
    drain_timeout_s = 1
    gateway = start_gateway(DRAIN_TIMEOUT_S=str(drain_timeout_s))
    alice = make_account("1")
    client = _sdk(gateway, alice.api_key)
    asked = threading.Event()

    def ask_a_silent_provider() -> BaseException | None:
        asked.set()
        try:
            client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "[sim:hang] hello"}], stream=True
            )
        except openai.APIStatusError as error:
            return error
        return None

    with ThreadPoolExecutor(1) as pool:
        refused = pool.submit(ask_a_silent_provider)
        asked.wait(timeout=5)
        eventually(lambda: Hold.objects.filter(wallet__user_id=alice.user_id).exists(),
                   what="the request is held and waiting")  # fmt: skip
        _terminate(gateway)
        error = refused.result(timeout=drain_timeout_s + SETTLE_GRACE_S + 5)

    assert gateway.server.process.wait(timeout=drain_timeout_s + SETTLE_GRACE_S + 5) == 0
    assert isinstance(error, openai.APIStatusError)
    assert error.status_code == 503
    assert error.response.headers["connection"] == "close"
    assert "shutting down" in error.message
    hold = Hold.objects.get(wallet__user_id=alice.user_id)
    generation = Generation.objects.get(id=hold.id)
    assert (generation.finish_reason, generation.cost_nanos) == ("error", 0)
    _assert_settled_once(alice.user_id, [hold.id])


def _iterate_with_the_sdk(
    client: openai.OpenAI, started: threading.Event, *, delay_ms: int
) -> BaseException | None:
    """A stream read as applications read it: the SDK raises on the error chunk."""
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": f"[sim:delay={delay_ms}] {LONG_PROMPT}"}],
        stream=True,
        max_tokens=100,
    )
    try:
        for _ in stream:
            started.set()
    except openai.APIError as error:
        return error
    return None
