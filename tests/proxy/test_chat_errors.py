"""Bad input and failing providers get OpenRouter-shaped JSON errors, and cost nothing."""

import httpx
import orjson
import pytest

from billing.models import Generation, Hold
from billing.money import usd_to_nanos
from marketplace.keys.models import ApiKey
from marketplace.keys.services import api_key_revoke

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"


def chat(gateway_url: str, key: str | None, body: object, **kwargs) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(f"{gateway_url}/api/v1/chat/completions", content=content,
                      headers=headers, timeout=30, **kwargs)  # fmt: skip


def assert_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == status
    assert isinstance(error["message"], str)
    assert error["message"]
    return str(error["message"])


def ask(text: str, **extra: object) -> dict[str, object]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


@pytest.mark.parametrize(
    "key", [None, "not-a-key", "sk-sy-v1-" + "0" * 64, "sk-sy-v1-short"], ids=str
)
def test_it_refuses_missing_and_unknown_keys_with_401(gateway_url, key):
    assert_error(chat(gateway_url, key, ask("hi")), 401)


def test_it_refuses_a_malformed_authorization_header(gateway_url, make_account):
    alice = make_account("1")
    response = httpx.post(
        f"{gateway_url}/api/v1/chat/completions",
        json=ask("hi"),
        headers={"authorization": f"Basic {alice.api_key}"},
    )
    assert_error(response, 401)


def test_a_revoked_key_stops_working(gateway_url, make_account):
    alice = make_account("1")
    assert chat(gateway_url, alice.api_key, ask("hi")).status_code == 200
    api_key_revoke(api_key=ApiKey.objects.get(user_id=alice.user_id))
    assert_error(chat(gateway_url, alice.api_key, ask("hi")), 401)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        ([1, 2], "JSON object"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "'model'"),
        ({"model": MODEL, "messages": []}, "'messages'"),
        ({"model": MODEL, "messages": [{"role": "wizard", "content": "hi"}]}, "role"),
        ({"model": MODEL, "messages": [{"role": "user", "content": 7}]}, "content"),
        (ask("hi", stream="yes"), "'stream'"),
        (ask("hi", max_tokens=0), "'max_tokens'"),
        (ask("hi", max_tokens=True), "'max_tokens'"),
    ],
)
def test_it_rejects_bad_bodies_with_400(gateway_url, make_account, wallet_balance, body, fragment):
    alice = make_account("1")
    assert fragment in assert_error(chat(gateway_url, alice.api_key, body), 400)
    assert wallet_balance(alice.user_id) == usd_to_nanos("1")


def test_an_unknown_model_is_404(gateway_url, make_account):
    alice = make_account("1")
    message = assert_error(chat(gateway_url, alice.api_key, {**ask("hi"), "model": "x/nope"}), 404)
    assert "x/nope" in message


def test_an_empty_wallet_gets_402_and_no_upstream_call(gateway_url, make_account):
    bob = make_account("0")
    assert_error(chat(gateway_url, bob.api_key, ask("hi")), 402)
    assert not Generation.objects.filter(user_id=bob.user_id).exists()


def test_a_wrong_method_is_405_json(gateway_url):
    assert_error(httpx.get(f"{gateway_url}/api/v1/chat/completions"), 405)


def test_an_oversized_body_is_413(gateway_url, make_account):
    alice = make_account("1")
    body = ask("x" * (11 * 1024 * 1024))
    assert_error(chat(gateway_url, alice.api_key, body), 413)


@pytest.mark.parametrize("directive", ["[sim:status=500]", "[sim:status=503]", "[sim:malformed]"])
def test_a_failing_provider_is_502_and_costs_nothing(
    gateway_url, make_account, wallet_balance, directive
):
    alice = make_account("1")
    for stream in (False, True):
        assert_error(chat(gateway_url, alice.api_key, ask(directive, stream=stream)), 502)
    assert wallet_balance(alice.user_id) == usd_to_nanos("1")
    generations = Generation.objects.filter(user_id=alice.user_id)
    assert [(g.finish_reason, g.cost_nanos) for g in generations] == [("error", 0), ("error", 0)]
    assert not Hold.objects.filter(wallet__user_id=alice.user_id, status="open").exists()


def test_a_request_the_provider_rejects_keeps_its_4xx(gateway_url, make_account, wallet_balance):
    alice = make_account("1")
    response = chat(gateway_url, alice.api_key, ask("[sim:status=422]"))
    assert_error(response, 422)
    assert response.json()["error"]["metadata"] == {"provider_name": "Nimbus Cloud",
                                                    "provider_code": 422}  # fmt: skip
    assert wallet_balance(alice.user_id) == usd_to_nanos("1")


def test_a_stream_cut_by_the_provider_ends_with_an_error_chunk_and_bills_what_was_sent(
    gateway_url, make_account, wallet_balance
):
    alice = make_account("1")
    # Tokens 30 ms apart, as a real stream's: what arrives together with the dropped
    # connection may be lost in the HTTP client, what came before never is.
    text = "[sim:cut=3] [sim:delay=30] tell me more"
    response = chat(gateway_url, alice.api_key, ask(text, stream=True))

    assert response.status_code == 200
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] != "[DONE]"
    last = orjson.loads(events[-1])
    assert last["choices"][0]["finish_reason"] == "error"
    assert last["error"]["code"] == 502
    generation = Generation.objects.get(user_id=alice.user_id)
    assert generation.finish_reason == "error"
    assert generation.completion_tokens > 0
    assert wallet_balance(alice.user_id) == usd_to_nanos("1") - generation.cost_nanos


def test_unknown_api_routes_answer_json_404(gateway_url):
    assert_error(httpx.get(f"{gateway_url}/api/v1/nope"), 404)


def test_credits_report_what_was_bought_and_used(gateway_url, make_account):
    alice = make_account("3")
    assert_error(httpx.get(f"{gateway_url}/api/v1/credits"), 401)
    completion = chat(gateway_url, alice.api_key, ask("hi")).json()

    response = httpx.get(
        f"{gateway_url}/api/v1/credits", headers={"authorization": f"Bearer {alice.api_key}"}
    )

    assert response.status_code == 200
    data = orjson.loads(response.content)["data"]
    assert data == {"total_credits": 3, "total_usage": completion["usage"]["cost"]}
