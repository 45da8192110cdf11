"""The official openai SDK against a live gateway backed by live simulated providers."""

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from openai import AsyncOpenAI, OpenAI
from openai.types.chat import ChatCompletionMessageParam

from billing.money import Prices, Usage, usage_charge, usd_to_nanos
from catalog.models import Endpoint
from proxy.simulator.profiles import provider_by_slug
from proxy.simulator.responder import prompt_tokens, reply_text
from tests.conformance import assert_conforms

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"
MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is the capital of France?"},
]


def cost_nanos(value: float | None) -> int:
    """The SDK parses `usage.cost` as a float; its shortest repr is the decimal we sent."""
    assert value is not None
    return usd_to_nanos(Decimal(repr(value)))


@pytest.fixture
def cheapest(live_catalog):
    endpoint = (
        Endpoint.objects.filter(model__slug=MODEL)
        .select_related("provider")
        .order_by("prompt_usd_per_mtok")
        .first()
    )
    assert endpoint is not None
    return endpoint


def expected_charge(endpoint: Endpoint, completion_tokens: int) -> int:
    prices = Prices(endpoint.prompt_usd_per_mtok, endpoint.completion_usd_per_mtok)
    usage = Usage(prompt_tokens=prompt_tokens(MESSAGES), completion_tokens=completion_tokens)
    return usage_charge(usage, prices, fee_bps=0).total_nanos


def test_sync_completion_is_charged_exactly_what_it_reports(
    gateway_url, make_account, wallet_balance, cheapest
):
    alice = make_account("5")
    client = OpenAI(base_url=f"{gateway_url}/api/v1", api_key=alice.api_key, max_retries=0)

    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    completion = raw.parse()

    simulated = provider_by_slug(cheapest.provider.slug)
    assert simulated is not None
    assert completion.choices[0].message.content == reply_text(MESSAGES, simulated)
    assert completion.model == MODEL
    assert completion.id.startswith("gen-")
    assert raw.headers["x-generation-id"] == completion.id
    body = raw.http_response.json()
    assert body["provider"] == cheapest.provider.name
    assert_conforms(body, "CreateChatCompletionResponse")
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == prompt_tokens(MESSAGES)
    charged = cost_nanos(body["usage"]["cost"])
    assert charged == expected_charge(cheapest, completion.usage.completion_tokens)
    assert wallet_balance(alice.user_id) == usd_to_nanos("5") - charged


def test_sync_stream_relays_every_token_and_charges_the_reported_cost(
    gateway_url, make_account, wallet_balance, cheapest
):
    alice = make_account("5")
    client = OpenAI(base_url=f"{gateway_url}/api/v1", api_key=alice.api_key, max_retries=0)

    chunks = list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))

    for chunk in chunks:
        assert_conforms(chunk.model_dump(exclude_unset=True), "CreateChatCompletionStreamResponse")
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    simulated = provider_by_slug(cheapest.provider.slug)
    assert simulated is not None
    assert text == reply_text(MESSAGES, simulated)
    assert len({c.id for c in chunks}) == 1
    finals = [c for c in chunks if c.usage is not None]
    assert len(finals) == 1
    assert finals[0] is chunks[-1]
    assert finals[0].choices == []
    usage = finals[0].usage
    assert usage is not None
    charged = cost_nanos(usage.model_extra["cost"])  # type: ignore[index]
    assert charged == expected_charge(cheapest, usage.completion_tokens)
    assert wallet_balance(alice.user_id) == usd_to_nanos("5") - charged


@pytest.fixture
def alice(gateway_url, make_account):
    return make_account("2")


async def test_async_completion_and_stream_charge_the_wallet(alice, gateway_url, wallet_balance):
    client = AsyncOpenAI(base_url=f"{gateway_url}/api/v1", api_key=alice.api_key, max_retries=0)

    completion = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    stream = await client.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, max_tokens=3
    )
    chunks = [chunk async for chunk in stream]
    await client.close()

    assert completion.usage is not None
    first = cost_nanos(completion.usage.model_extra["cost"])  # type: ignore[index]
    final = chunks[-1]
    assert final.usage is not None
    assert final.usage.completion_tokens == 3
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish == ["length"]
    second = cost_nanos(final.usage.model_extra["cost"])  # type: ignore[index]
    assert 0 < second < first
    balance = await sync_to_async(wallet_balance)(alice.user_id)
    assert balance == usd_to_nanos("2") - first - second


def test_requests_go_to_the_cheapest_provider(gateway_url, make_account):
    alice = make_account("1")
    client = OpenAI(base_url=f"{gateway_url}/api/v1", api_key=alice.api_key, max_retries=0)
    for model in ("meta-llama/llama-3.1-70b-instruct", "mistralai/mistral-small"):
        endpoints = list(Endpoint.objects.filter(model__slug=model).select_related("provider"))
        cheapest = min(endpoints, key=lambda e: e.prompt_usd_per_mtok + e.completion_usd_per_mtok)
        raw = client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES)
        assert raw.http_response.json()["provider"] == cheapest.provider.name
