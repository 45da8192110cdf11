"""The limiter on free models: per minute and per day per account, more once $10 are bought."""

import dataclasses

from proxy.rate_limits import FREE_PER_MIN
from tests.proxy.rate_limits.support import (
    ALICE,
    FREE,
    KEY,
    MIDNIGHT,
    TEN_USD,
    WALLET,
    Clock,
    FakeDb,
    chat,
    limiter,
    refusal_of,
)


async def test_free_models_are_limited_per_minute_per_account() -> None:
    db, limits = FakeDb(), limiter(rpm=0, free_rpm=2, free_rpd=50)
    other_key = dataclasses.replace(ALICE, api_key_id=KEY + 1)
    await limits.admit(db, ALICE, chat(FREE))
    await limits.admit(db, other_key, chat(FREE))
    refused = await refusal_of(limits, db, chat(FREE))
    assert refused.message.startswith(f"Rate limit exceeded: {FREE_PER_MIN}.")
    await limits.admit(db, ALICE, chat())  # paid models are not counted


async def test_a_request_naming_a_free_model_among_others_counts_as_free() -> None:
    db, limits = FakeDb(), limiter(free_rpm=1)
    await limits.admit(db, ALICE, chat(models=[FREE]))
    await refusal_of(limits, db, chat(FREE))


async def test_free_models_take_fifty_requests_a_day_until_ten_dollars_are_bought() -> None:
    db, clock = FakeDb(), Clock(MIDNIGHT)
    limits = limiter(clock=clock, free_rpm=0, cache_ttl_s=5)
    for _ in range(50):
        await limits.admit(db, ALICE, chat(FREE))
    refused = await refusal_of(limits, db, chat(FREE))
    assert refused.message == (
        "Rate limit exceeded: free-models-per-day. "
        "Add 10 credits to unlock 1000 free model requests per day"
    )
    assert dict(refused.headers)[b"x-ratelimit-reset"] == str(int(MIDNIGHT) + 86_400).encode()

    db.purchased[WALLET] = TEN_USD - 1
    clock.now += 5
    await refusal_of(limits, db, chat(FREE))
    db.purchased[WALLET] = TEN_USD
    clock.now += 5
    for _ in range(950):
        await limits.admit(db, ALICE, chat(FREE))
    refused = await refusal_of(limits, db, chat(FREE))
    assert refused.message == (
        "Rate limit exceeded: free-models-per-day. "
        "Free models take 1000 requests per UTC day per account"
    )

    clock.now = MIDNIGHT + 86_400  # a new UTC day
    await limits.admit(db, ALICE, chat(FREE))


async def test_purchases_are_read_once_per_ttl_and_only_for_free_requests() -> None:
    db, clock = FakeDb(), Clock()
    db.overrides[KEY] = (None, None)
    limits = limiter(clock=clock, cache_ttl_s=5)
    await limits.admit(db, ALICE, chat())
    assert db.queries == 1  # the key's override only
    await limits.admit(db, ALICE, chat(FREE))
    await limits.admit(db, ALICE, chat(FREE))
    assert db.queries == 2
