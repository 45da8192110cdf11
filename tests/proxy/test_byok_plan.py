"""The BYOK plan: the user's keys go first, then the shared endpoints, or only the user's keys
when one of them is "always use"; keys are parsed from their stored, encrypted form."""

import dataclasses

from marketplace.keys.provider_keys import provider_key_encrypt
from proxy.byok import ByokKey, _parse, byok_plan
from proxy.routing.plan import Considered, RoutePlan
from tests.proxy.routing_plan.support import endpoint

KEY = "sk-user-key-1234"


def plan_of(*providers: str) -> RoutePlan:
    endpoints = tuple(endpoint(p) for p in providers)
    considered = tuple(Considered(e, 0) for e in endpoints)
    return RoutePlan(attempts=endpoints, considered=considered, strategy="price")


def tried(plan: RoutePlan) -> list[tuple[str, bool]]:
    return [(e.provider_slug, e.byok) for e in plan.attempts]


def test_without_keys_the_plan_is_unchanged():
    plan = plan_of("a", "b")
    assert byok_plan(plan, {}, max_attempts=4) is plan


def test_the_users_key_goes_first_then_every_shared_endpoint():
    plan = byok_plan(plan_of("a", "b"), {"b": ByokKey(KEY, always_use=False)}, max_attempts=4)
    assert tried(plan) == [("b", True), ("a", False), ("b", False)]


def test_always_use_leaves_only_the_users_keys():
    plan = byok_plan(plan_of("a", "b"), {"b": ByokKey(KEY, always_use=True)}, max_attempts=4)
    assert tried(plan) == [("b", True)]


def test_a_key_for_a_provider_not_serving_the_model_changes_nothing():
    plan = plan_of("a")
    assert byok_plan(plan, {"z": ByokKey(KEY, always_use=True)}, max_attempts=4) is plan


def test_an_eligible_endpoint_cut_by_max_attempts_still_gets_the_users_key():
    full = plan_of("a", "b")
    plan = dataclasses.replace(full, attempts=full.attempts[:1])
    assert tried(byok_plan(plan, {"b": ByokKey(KEY, always_use=False)}, max_attempts=1)) == [
        ("b", True),
        ("a", False),
    ]


def test_stored_keys_are_decrypted_and_undecryptable_ones_skipped():
    stored = f"a:1:{provider_key_encrypt(KEY)},b:0:not-a-token"
    assert _parse(stored) == {"a": ByokKey(KEY, always_use=True)}
    assert _parse(None) == {}


def test_the_key_is_not_in_its_repr():
    assert KEY not in repr(ByokKey(KEY, always_use=False))
