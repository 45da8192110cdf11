"""The settings page saves the account's default provider preferences, and the gateway applies
them to that account's requests (live: a real gateway process and simulated providers)."""

import time

import httpx
import pytest

from catalog.services import demo_catalog_load
from marketplace.accounts.models import RoutingDefaults, User

PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def alice(db, client) -> User:
    demo_catalog_load(simulator_url="http://127.0.0.1:9")
    user = User.objects.create_user(email="alice@example.com", password=PASSWORD)
    client.force_login(user)
    return user


def saved(user: User) -> tuple[list[str], str] | None:
    found = RoutingDefaults.objects.filter(user=user).first()
    return None if found is None else (found.ignore, found.sort)


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/dashboard/settings/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/dashboard/settings/")


def test_the_page_lists_every_provider_with_nothing_ignored_and_price_first(client, alice):
    page = client.get("/dashboard/settings/").content.decode()

    assert "<legend>Providers to ignore:</legend>" in page
    for slug, name in (("nimbus", "Nimbus Cloud"), ("quanta", "Quanta Compute")):
        assert f'value="{slug}"' in page
        assert name in page
    assert "checked" not in page.split('name="sort"')[0]  # no provider ticked
    assert 'value="" id="id_sort_0" checked' in page


def test_saving_stores_the_defaults_and_shows_them(client, alice):
    response = client.post(
        "/dashboard/settings/", {"ignore": ["quanta", "nimbus"], "sort": "latency"}
    )

    assert (response.status_code, response["Location"]) == (302, "/dashboard/settings/")
    assert saved(alice) == (["nimbus", "quanta"], "latency")
    page = client.get("/dashboard/settings/").content.decode()
    assert "Settings saved." in page
    assert 'value="nimbus" id="id_ignore_' in page
    assert page.count("checked") == 3  # two providers and the sort

    client.post("/dashboard/settings/", {"sort": ""})
    assert saved(alice) == ([], "")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"ignore": ["nobody"]}, "Select a valid choice. nobody is not one of the available"),
        ({"sort": "vibes"}, "Select a valid choice. vibes is not one of the available"),
        (
            {"ignore": ["nimbus", "quanta", "lumen", "ember", "atlas"]},
            "Ignoring every provider would leave none to serve your requests.",
        ),
    ],
)
def test_bad_input_is_refused_with_an_error_and_nothing_saved(client, alice, data, error):
    client.post("/dashboard/settings/", {"ignore": ["ember"], "sort": "throughput"})

    response = client.post("/dashboard/settings/", data)

    assert response.status_code == 200
    page = response.content.decode()
    assert error in page
    assert 'role="alert"' in page
    assert saved(alice) == (["ember"], "throughput")


def chat(gateway_url: str, key: str, **body) -> httpx.Response:
    body.setdefault("model", "openai/gpt-4o-mini")
    body.setdefault("messages", [{"role": "user", "content": "Which way?"}])
    return httpx.post(
        f"{gateway_url}/api/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def served_by(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.headers["x-switchyard-provider"]


@pytest.mark.django_db(transaction=True)
def test_ignored_providers_change_where_the_gateway_routes(client, gateway_url, make_account):
    alice, bob = make_account("1"), make_account("1")
    client.force_login(User.objects.get(pk=alice.user_id))
    response = client.post("/dashboard/settings/", {"ignore": ["nimbus"], "sort": ""})
    assert response.status_code == 302

    # Nimbus is GPT-4o-mini's cheapest provider: Alice goes to Quanta, Bob still to Nimbus.
    assert served_by(chat(gateway_url, alice.api_key)) == "quanta"
    assert served_by(chat(gateway_url, bob.api_key)) == "nimbus"
    # The request's own preferences win over the account's.
    assert served_by(chat(gateway_url, alice.api_key, provider={"only": ["nimbus"]})) == "nimbus"
    assert served_by(chat(gateway_url, alice.api_key, provider={"order": ["nimbus"]})) == "nimbus"
    # ... and add to them.
    refused = chat(gateway_url, alice.api_key, provider={"ignore": ["quanta"]})
    assert refused.status_code == 503, refused.text

    # A change reaches the gateway within its cache time (ROUTING_DEFAULTS_CACHE_TTL_S, 5 s).
    client.post("/dashboard/settings/", {"sort": ""})
    deadline = time.monotonic() + 15
    while served_by(chat(gateway_url, alice.api_key)) != "nimbus":
        assert time.monotonic() < deadline, "the cleared setting never reached the gateway"
        time.sleep(0.5)
