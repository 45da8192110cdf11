"""Who sees what: the page needs a login, and alice sees only her own generations and keys."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from tests.web.activity.support import (
    CSV,
    GPT,
    LLAMA,
    PAGE,
    csv_rows,
    generation,
    row_ids,
    save,
)

pytestmark = pytest.mark.django_db


def test_it_needs_a_login(client: Client) -> None:
    for url in (PAGE, CSV):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("account_login") in response["Location"]


def test_it_shows_only_the_users_own_generations(alice_client, cast) -> None:
    mine = save(generation(cast.prod), generation(cast.dev, ago=timedelta(days=1)))
    save(generation(cast.bobs_key, model="bob/secret-model", cost_nanos=777_000_000))

    html = alice_client.get(PAGE).content.decode()

    assert row_ids(html) == mine
    assert "bob/secret-model" not in html
    assert "bob-key" not in html
    assert "$0.777" not in html


def test_rows_are_newest_first_with_key_model_tokens_cost_latency_and_status(
    alice_client, cast
) -> None:
    older, newer, cancelled, failed = save(
        generation(cast.prod, ago=timedelta(hours=3), prompt_tokens=1234, completion_tokens=56),
        generation(cast.dev, model=LLAMA, ago=timedelta(hours=2), latency_ms=1500),
        generation(cast.prod, ago=timedelta(hours=1), cancelled=True, finish_reason=""),
        generation(cast.prod, ago=timedelta(minutes=5), finish_reason="error"),
    )
    html = alice_client.get(PAGE).content.decode()

    assert row_ids(html) == [failed, cancelled, newer, older]
    row = html.split(f'<tr id="{older}">', 1)[1].split("</tr>", 1)[0]
    assert GPT in row
    assert "nimbus" in row
    assert "prod" in row
    assert "1,234 / 56" in row
    assert "$0.000001" in row
    assert "250 ms" in row
    assert ">stop<" in row
    assert "1,500 ms" in html.split(f'<tr id="{newer}">', 1)[1].split("</tr>", 1)[0]
    assert ">cancelled<" in html.split(f'<tr id="{cancelled}">', 1)[1].split("</tr>", 1)[0]
    assert ">error<" in html.split(f'<tr id="{failed}">', 1)[1].split("</tr>", 1)[0]


def test_the_key_filter_lists_only_the_users_own_keys(alice_client, cast) -> None:
    html = alice_client.get(PAGE).content.decode()
    options = re.findall(
        r'<option value="(\d+)"', html.split('name="key"', 1)[1].split("</select>")[0]
    )
    assert sorted(map(int, options)) == sorted([cast.prod.pk, cast.dev.pk])


def test_another_users_key_is_not_found(alice_client, cast) -> None:
    save(generation(cast.bobs_key))
    assert alice_client.get(PAGE, {"key": cast.bobs_key.pk}).status_code == 404
    assert alice_client.get(CSV, {"key": cast.bobs_key.pk}).status_code == 404
    assert alice_client.get(PAGE, {"key": 10**12}).status_code == 404


def test_another_users_generations_never_reach_the_csv(alice_client, cast) -> None:
    mine = save(generation(cast.prod))
    save(generation(cast.bobs_key, model="bob/secret-model"))
    rows = csv_rows(alice_client.get(CSV))
    assert [row["id"] for row in rows] == mine
