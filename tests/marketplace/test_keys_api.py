"""Key provisioning (`/api/v1/keys`) against a live gateway: a management key lists, creates,
changes and deletes its account's inference keys, and each kind of key stays in its lane."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from django.utils import timezone

from billing.money import format_usd, usd_to_nanos
from marketplace.accounts.models import User
from marketplace.keys.hashing import api_key_hash
from marketplace.keys.models import ApiKey
from marketplace.keys.services import api_key_create, api_key_revoke
from tests.live import request_hold_nanos

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"
CHAT = orjson.dumps(
    {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 20}
)
KEY_FIELDS = {
    "hash", "name", "label", "disabled", "limit", "limit_remaining", "limit_reset",
    "include_byok_in_limit", "usage", "usage_daily", "usage_weekly", "usage_monthly",
    "byok_usage", "created_at", "updated_at", "expires_at",
}  # fmt: skip


def api(gateway_url: str, method: str, path: str, key: str, body: Any = None) -> httpx.Response:
    content = None if body is None else body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.request(
        method,
        f"{gateway_url}/api/v1{path}",
        content=content,
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def chat(gateway_url: str, key: str) -> httpx.Response:
    return api(gateway_url, "POST", "/chat/completions", key, CHAT)


def nanos(value: Any) -> int:
    assert isinstance(value, int | float)
    assert not isinstance(value, bool)
    return usd_to_nanos(Decimal(repr(value)))


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status
    return str(error["message"])


def manager_of(user_id: int) -> str:
    user = User.objects.get(pk=user_id)
    return api_key_create(user=user, name="manager", is_management=True)[1]


def inference_key(user_id: int, name: str = "extra", **options: Any) -> tuple[ApiKey, str]:
    return api_key_create(user=User.objects.get(pk=user_id), name=name, **options)


def test_create_answers_the_key_once_and_it_calls_models_at_once(gateway_url, make_account):
    alice = make_account("1")
    manager = manager_of(alice.user_id)

    response = api(gateway_url, "POST", "/keys", manager,
                   {"name": "ci", "limit": 1.5, "limit_reset": "weekly"})  # fmt: skip

    assert response.status_code == 201, response.text
    plaintext = response.json()["key"]
    data = response.json()["data"]
    created = ApiKey.objects.get(key_hash=api_key_hash(plaintext))
    assert (created.user_id, created.name, created.is_management) == (alice.user_id, "ci", False)
    assert (created.limit_nanos, created.limit_reset) == (usd_to_nanos("1.5"), "weekly")
    assert set(data) == KEY_FIELDS
    assert data["hash"] == created.key_hash
    assert data["name"] == "ci"
    assert data["label"] == f"{created.prefix}…"
    assert data["disabled"] is False
    assert data["limit_reset"] == "weekly"
    assert '"limit":1.5,"limit_remaining":1.5' in response.text  # exact decimals
    assert (data["usage"], data["usage_daily"], data["updated_at"], data["expires_at"]) == (
        0, 0, None, None,
    )  # fmt: skip
    assert datetime.fromisoformat(data["created_at"]) == created.created_at
    secret = plaintext.removeprefix(created.prefix)
    assert secret[:12] not in orjson.dumps(data).decode()

    assert chat(gateway_url, plaintext).status_code == 200
    fetched = api(gateway_url, "GET", f"/keys/{created.key_hash}", manager)
    assert fetched.status_code == 200, fetched.text
    assert "key" not in fetched.json()
    assert nanos(fetched.json()["data"]["usage"]) == ApiKey.objects.get(pk=created.pk).usage_nanos
    assert nanos(fetched.json()["data"]["usage"]) > 0


def test_list_shows_the_accounts_inference_keys_that_are_not_deleted(gateway_url, make_account):
    alice, bob = make_account("1"), make_account("1")
    manager = manager_of(alice.user_id)
    first = ApiKey.objects.get(user_id=alice.user_id, name="test")
    disabled, _ = inference_key(alice.user_id, "disabled")
    ApiKey.objects.filter(pk=disabled.pk).update(disabled=True)
    deleted, _ = inference_key(alice.user_id, "deleted")
    api_key_revoke(api_key=deleted)
    newest, _ = inference_key(alice.user_id, "newest")

    default = api(gateway_url, "GET", "/keys", manager)
    everything = api(gateway_url, "GET", "/keys?include_disabled=true", manager)

    assert default.status_code == everything.status_code == 200
    assert [k["hash"] for k in default.json()["data"]] == [newest.key_hash, first.key_hash]
    assert [k["hash"] for k in everything.json()["data"]] == [
        newest.key_hash,
        disabled.key_hash,
        first.key_hash,
    ]
    assert everything.json()["data"][1]["disabled"] is True
    assert ApiKey.objects.get(user_id=bob.user_id).key_hash not in everything.text
    assert api_key_hash(manager) not in everything.text


def test_list_pages_by_a_hundred_with_offset(gateway_url, make_account):
    alice = make_account("0")
    manager = manager_of(alice.user_id)
    for number in range(130):
        inference_key(alice.user_id, f"key {number}")
    expected = list(
        ApiKey.objects.filter(user_id=alice.user_id, is_management=False)
        .order_by("-created_at", "-id")
        .values_list("key_hash", flat=True)
    )
    assert len(expected) == 131

    pages = [api(gateway_url, "GET", f"/keys?offset={offset}", manager) for offset in (0, 100, 200)]

    assert [page.status_code for page in pages] == [200, 200, 200]
    hashes = [[key["hash"] for key in page.json()["data"]] for page in pages]
    assert [len(page) for page in hashes] == [100, 31, 0]
    assert hashes[0] + hashes[1] == expected
    message = error_of(api(gateway_url, "GET", "/keys?offset=-1", manager), 400)
    assert "'offset'" in message
    assert "'include_disabled'" in error_of(
        api(gateway_url, "GET", "/keys?include_disabled=maybe", manager), 400
    )


def test_patch_changes_name_limit_and_reset(gateway_url, make_account):
    alice = make_account("1")
    manager = manager_of(alice.user_id)
    key, _ = inference_key(alice.user_id, "before", limit_nanos=usd_to_nanos("5"))
    ApiKey.objects.filter(pk=key.pk).update(period_usage_nanos=7, usage_nanos=7)

    response = api(gateway_url, "PATCH", f"/keys/{key.key_hash}", manager,
                   {"name": "after", "limit": 0.25, "limit_reset": "daily"})  # fmt: skip

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["name"], data["limit"], data["limit_reset"]) == ("after", 0.25, "daily")
    assert nanos(data["limit_remaining"]) == 250_000_000  # a new kind of period starts afresh
    assert nanos(data["usage"]) == 7
    key.refresh_from_db()
    assert (key.name, key.limit_nanos, key.limit_reset, key.period_usage_nanos) == (
        "after", 250_000_000, "daily", 0,
    )  # fmt: skip
    assert key.updated_at is not None
    assert datetime.fromisoformat(data["updated_at"]) == key.updated_at

    unlimited = api(gateway_url, "PATCH", f"/keys/{key.key_hash}", manager, {"limit": None})
    assert unlimited.json()["data"]["limit"] is None
    assert unlimited.json()["data"]["limit_reset"] == "daily"  # only what was sent changes
    key.refresh_from_db()
    assert (key.limit_nanos, key.name) == (None, "after")


def test_a_disabled_key_is_refused_until_enabled_again(gateway_url, make_account):
    alice = make_account("1")
    manager = manager_of(alice.user_id)
    key = ApiKey.objects.get(user_id=alice.user_id, name="test")

    disable = api(gateway_url, "PATCH", f"/keys/{key.key_hash}", manager, {"disabled": True})

    assert disable.status_code == 200, disable.text
    assert disable.json()["data"]["disabled"] is True
    assert "disabled" in error_of(chat(gateway_url, alice.api_key), 401)
    assert "disabled" in error_of(api(gateway_url, "GET", "/key", alice.api_key), 401)
    enable = api(gateway_url, "PATCH", f"/keys/{key.key_hash}", manager, {"disabled": False})
    assert enable.json()["data"]["disabled"] is False
    assert chat(gateway_url, alice.api_key).status_code == 200


def test_an_expired_key_is_refused(gateway_url, make_account):
    alice = make_account("1")
    expired_at = timezone.now() - timedelta(minutes=1)
    ApiKey.objects.filter(user_id=alice.user_id).update(expires_at=expired_at)

    message = error_of(chat(gateway_url, alice.api_key), 401)

    assert message == f"This key expired at {expired_at.astimezone(UTC).isoformat()}"


def test_a_key_created_to_expire_works_until_then_and_reports_when(gateway_url, make_account):
    alice = make_account("1")
    manager = manager_of(alice.user_id)
    expires = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)

    stamp = expires.isoformat().replace("+00:00", "Z")

    created = api(gateway_url, "POST", "/keys", manager, {"name": "temp", "expires_at": stamp})

    assert created.status_code == 201, created.text
    assert datetime.fromisoformat(created.json()["data"]["expires_at"]) == expires
    plaintext = created.json()["key"]
    assert chat(gateway_url, plaintext).status_code == 200
    info = api(gateway_url, "GET", "/key", plaintext).json()["data"]
    assert datetime.fromisoformat(info["expires_at"]) == expires
    assert info["is_management_key"] is False
    ApiKey.objects.filter(key_hash=api_key_hash(plaintext)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert "expired at" in error_of(chat(gateway_url, plaintext), 401)


def test_a_limit_set_through_the_api_is_enforced(gateway_url, make_account):
    alice = make_account("1")
    manager = manager_of(alice.user_id)
    hold = request_hold_nanos(MODEL, body=CHAT, max_tokens=20)
    too_little = format_usd(hold - 1)

    created = api(gateway_url, "POST", "/keys", manager,
                  f'{{"name": "capped", "limit": {too_little}}}'.encode())  # fmt: skip

    assert created.status_code == 201, created.text
    assert f'"limit":{too_little},' in created.text
    capped = created.json()["key"]
    refused = chat(gateway_url, capped)
    assert "credit limit" in error_of(refused, 402)
    assert refused.json()["error"]["metadata"] == {"limit_source": "key_limit"}
    key_hash = created.json()["data"]["hash"]
    raised = api(gateway_url, "PATCH", f"/keys/{key_hash}", manager,
                 f'{{"limit": {format_usd(hold)}}}'.encode())  # fmt: skip
    assert raised.status_code == 200, raised.text
    assert chat(gateway_url, capped).status_code == 200


def test_delete_revokes_the_key_and_keeps_its_row(gateway_url, make_account):
    alice = make_account("1")
    manager = manager_of(alice.user_id)
    assert chat(gateway_url, alice.api_key).status_code == 200
    key = ApiKey.objects.get(user_id=alice.user_id, name="test")

    deleted = api(gateway_url, "DELETE", f"/keys/{key.key_hash}", manager)

    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"deleted": True}
    assert error_of(chat(gateway_url, alice.api_key), 401) == "Invalid API key"
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert key.generations.count() == 1  # the history stays
    for method in ("GET", "PATCH", "DELETE"):
        body = {"disabled": True} if method == "PATCH" else None
        assert error_of(api(gateway_url, method, f"/keys/{key.key_hash}", manager, body), 404)
    assert api(gateway_url, "GET", "/keys?include_disabled=true", manager).json() == {"data": []}


def test_another_accounts_key_is_not_found(gateway_url, make_account):
    alice, bob = make_account("1"), make_account("1")
    manager = manager_of(alice.user_id)
    bobs = ApiKey.objects.get(user_id=bob.user_id)

    responses = [
        api(gateway_url, "GET", f"/keys/{bobs.key_hash}", manager),
        api(gateway_url, "PATCH", f"/keys/{bobs.key_hash}", manager, {"disabled": True}),
        api(gateway_url, "DELETE", f"/keys/{bobs.key_hash}", manager),
    ]

    assert [response.status_code for response in responses] == [404, 404, 404]
    bobs.refresh_from_db()
    assert (bobs.disabled, bobs.revoked_at) == (False, None)
    assert chat(gateway_url, bob.api_key).status_code == 200


def test_a_management_key_is_not_managed_through_the_api(gateway_url, make_account):
    alice = make_account("1")
    manager = manager_of(alice.user_id)
    managers_hash = api_key_hash(manager)

    assert error_of(api(gateway_url, "DELETE", f"/keys/{managers_hash}", manager), 404)
    assert api(gateway_url, "GET", "/keys", manager).status_code == 200  # still usable


def test_an_inference_key_cannot_use_the_keys_routes(gateway_url, make_account):
    alice = make_account("1")
    key_hash = api_key_hash(alice.api_key)
    calls = [
        ("GET", "/keys", None),
        ("POST", "/keys", {"name": "sneaky"}),
        ("GET", f"/keys/{key_hash}", None),
        ("PATCH", f"/keys/{key_hash}", {"limit": None}),
        ("DELETE", f"/keys/{key_hash}", None),
    ]

    messages = [
        error_of(api(gateway_url, method, path, alice.api_key, body), 403)
        for method, path, body in calls
    ]

    assert all("management key" in message for message in messages)
    assert ApiKey.objects.filter(user_id=alice.user_id).count() == 1
    assert ApiKey.objects.get(user_id=alice.user_id).revoked_at is None


def test_a_management_key_cannot_call_models(gateway_url, make_account, wallet_balance):
    alice = make_account("1")
    manager = manager_of(alice.user_id)
    before = wallet_balance(alice.user_id)

    message = error_of(chat(gateway_url, manager), 403)

    assert message.startswith("Management keys cannot call models")
    embeddings = {"model": "openai/text-embedding-3-small", "input": "hi"}
    assert error_of(api(gateway_url, "POST", "/embeddings", manager, embeddings), 403)
    assert wallet_balance(alice.user_id) == before
    info = api(gateway_url, "GET", "/key", manager)
    assert info.status_code == 200, info.text
    assert info.json()["data"]["is_management_key"] is True


def test_a_disabled_or_deleted_management_key_is_refused(gateway_url, make_account):
    alice = make_account("1")
    manager = manager_of(alice.user_id)
    managing = ApiKey.objects.get(key_hash=api_key_hash(manager))

    ApiKey.objects.filter(pk=managing.pk).update(disabled=True)
    assert "disabled" in error_of(api(gateway_url, "GET", "/keys", manager), 401)
    ApiKey.objects.filter(pk=managing.pk).update(disabled=False)
    api_key_revoke(api_key=managing)
    assert error_of(api(gateway_url, "GET", "/keys", manager), 401) == "Invalid API key"


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("POST", {}, "name"),
        ("POST", {"name": "  "}, "name"),
        ("POST", {"name": "x" * 101}, "name"),
        ("POST", {"name": "x", "limit": -1}, "limit"),
        ("POST", {"name": "x", "limit": "5"}, "limit"),
        ("POST", {"name": "x", "limit": True}, "limit"),
        ("POST", {"name": "x", "limit": 0.0000000001}, "limit"),
        ("POST", {"name": "x", "limit": 1e300}, "limit"),
        ("POST", {"name": "x", "limit_reset": "yearly"}, "limit_reset"),
        ("POST", {"name": "x", "expires_at": "tomorrow"}, "expires_at"),
        ("POST", {"name": "x", "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ("POST", {"name": "x", "workspace_id": "w"}, "workspace_id"),
        ("PATCH", {"disabled": "yes"}, "disabled"),
        ("PATCH", {"name": ""}, "name"),
        ("PATCH", {"limit": -0.5}, "limit"),
        ("PATCH", {"expires_at": "2030-01-01T00:00:00Z"}, "expires_at"),
    ],
)
def test_invalid_fields_are_refused_with_a_400_naming_them(
    gateway_url, make_account, method, body, field
):
    alice = make_account("1")
    manager = manager_of(alice.user_id)
    key = ApiKey.objects.get(user_id=alice.user_id, name="test")
    path = "/keys" if method == "POST" else f"/keys/{key.key_hash}"

    response = api(gateway_url, method, path, manager, body)

    assert f"'{field}'" in error_of(response, 400)
    assert response.json()["error"]["metadata"] == {"field": field}
    assert ApiKey.objects.filter(user_id=alice.user_id).count() == 2
    assert ApiKey.objects.get(pk=key.pk).updated_at is None


def test_bodies_that_are_not_json_objects_are_refused(gateway_url, make_account):
    alice = make_account("1")
    manager = manager_of(alice.user_id)

    assert "JSON" in error_of(api(gateway_url, "POST", "/keys", manager, b"{name"), 400)
    assert "object" in error_of(api(gateway_url, "POST", "/keys", manager, [1]), 400)


def test_other_methods_get_a_405(gateway_url, make_account):
    alice = make_account("1")
    manager = manager_of(alice.user_id)

    assert "GET, POST" in error_of(api(gateway_url, "PUT", "/keys", manager), 405)
    assert "GET, PATCH, DELETE" in error_of(api(gateway_url, "POST", "/keys/abc", manager), 405)
