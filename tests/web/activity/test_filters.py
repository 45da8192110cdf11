"""Filters: by key, by model and by date range (the last 30 days unless told)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.web.activity.support import (
    CSV,
    GPT,
    LLAMA,
    PAGE,
    generation,
    row_ids,
    save,
)

pytestmark = pytest.mark.django_db


def test_the_key_filter_changes_the_rows(alice_client, cast) -> None:
    prod = save(generation(cast.prod), generation(cast.prod, ago=timedelta(hours=2)))
    dev = save(generation(cast.dev))

    assert row_ids(alice_client.get(PAGE, {"key": cast.prod.pk}).content.decode()) == prod
    assert row_ids(alice_client.get(PAGE, {"key": cast.dev.pk}).content.decode()) == dev
    assert len(row_ids(alice_client.get(PAGE).content.decode())) == 3


def test_the_model_filter_changes_the_rows(alice_client, cast) -> None:
    gpt = save(generation(cast.prod, model=GPT))
    llama = save(generation(cast.dev, model=LLAMA, ago=timedelta(hours=2)))

    html = alice_client.get(PAGE, {"model": LLAMA}).content.decode()
    assert row_ids(html) == llama
    assert f'<option value="{LLAMA}" selected>' in html
    assert row_ids(alice_client.get(PAGE, {"model": GPT}).content.decode()) == gpt


def test_the_date_range_changes_the_rows_and_defaults_to_the_last_30_days(
    alice_client, cast
) -> None:
    today = timezone.localdate()
    recent = save(generation(cast.prod, ago=timedelta(days=2)))
    old = save(generation(cast.prod, ago=timedelta(days=45)))

    html = alice_client.get(PAGE).content.decode()
    assert row_ids(html) == recent
    assert f'value="{today - timedelta(days=29)}"' in html
    assert f'value="{today}"' in html

    start, end = today - timedelta(days=60), today - timedelta(days=40)
    html = alice_client.get(PAGE, {"start": start, "end": end}).content.decode()
    assert row_ids(html) == old
    # The end day is included whole.
    end_of_day = timezone.now().replace(hour=23, minute=59, second=59) - timedelta(days=40)
    last = save(generation(cast.prod, at=end_of_day))
    html = alice_client.get(PAGE, {"start": start, "end": end}).content.decode()
    assert row_ids(html) == last + old


def test_a_range_that_ends_before_it_starts_is_refused(alice_client, cast) -> None:
    response = alice_client.get(PAGE, {"start": "2026-03-02", "end": "2026-03-01"})
    assert response.status_code == 400
    assert "starts after it ends" in response.content.decode()
    assert alice_client.get(CSV, {"start": "2026-03-02", "end": "2026-03-01"}).status_code == 400
    assert alice_client.get(PAGE, {"start": "2020-01-01", "end": "2026-01-01"}).status_code == 400
