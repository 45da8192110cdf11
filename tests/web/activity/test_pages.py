"""Pages of 50: cursors both ways, links that keep the filters, and a bounded number of
queries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.dashboard.activity_selectors import Cursor
from tests.web.activity.support import (
    LLAMA,
    PAGE,
    generation,
    link,
    row_ids,
    save,
)

pytestmark = pytest.mark.django_db


def test_pages_of_50_walk_every_row_once_both_ways(alice_client, cast) -> None:
    now = timezone.now()
    # Rows sharing a timestamp straddle the page boundaries (ties broken by id).
    made = [generation(cast.prod, at=now - timedelta(minutes=n // 3)) for n in range(130)]
    save(*made)
    newest_first = [g.id for g in sorted(made, key=lambda g: (g.created_at, g.id), reverse=True)]

    pages, url = [], PAGE
    while url:
        html = alice_client.get(url).content.decode()
        pages.append(row_ids(html))
        older = link(html, "next")
        url = f"{PAGE}{older}" if older else ""
    assert [len(page) for page in pages] == [50, 50, 30]
    assert [row for page in pages for row in page] == newest_first

    back = [pages[-1]]
    while newer := link(html, "prev"):
        html = alice_client.get(f"{PAGE}{newer}").content.decode()
        back.append(row_ids(html))
    assert back[::-1][:2] == pages[:2]


def test_the_page_links_keep_the_filters(alice_client, cast) -> None:
    save(*[generation(cast.dev, model=LLAMA, ago=timedelta(minutes=n)) for n in range(60)])
    save(*[generation(cast.prod, ago=timedelta(minutes=n)) for n in range(60)])
    html = alice_client.get(PAGE, {"key": cast.dev.pk, "model": LLAMA}).content.decode()
    older = link(html, "next")
    assert older
    assert f"key={cast.dev.pk}" in older
    assert "model=meta-llama" in older
    second = alice_client.get(f"{PAGE}{older}").content.decode()
    assert len(row_ids(second)) == 10
    assert set(row_ids(second)).isdisjoint(row_ids(html))


def test_newer_than_a_row_near_the_top_is_the_newest_page(alice_client, cast) -> None:
    made = [generation(cast.prod, ago=timedelta(minutes=n)) for n in range(60)]
    save(*made)
    near_the_top = Cursor.of(made[20])  # only 20 rows are newer: less than a page

    html = alice_client.get(PAGE, {"after": str(near_the_top)}).content.decode()

    assert row_ids(html) == [g.id for g in made[:50]]
    assert link(html, "prev") is None


def test_a_malformed_cursor_shows_the_newest_page(alice_client, cast) -> None:
    ids = save(generation(cast.prod))
    assert row_ids(alice_client.get(PAGE, {"before": "garbage"}).content.decode()) == ids


def test_the_page_reads_a_bounded_number_of_queries_however_many_rows(
    alice_client, cast, django_assert_max_num_queries
) -> None:
    models = [f"vendor/model-{n}" for n in range(15)]  # more than the chart draws one by one
    save(*[
        generation((cast.prod, cast.dev)[n % 2], model=models[n % 15], ago=timedelta(hours=n))
        for n in range(600)
    ])  # fmt: skip
    # Session, user, keys, models used, rows, sums per day, sums per model.
    with django_assert_max_num_queries(7):
        first = alice_client.get(PAGE, {"model": models[3]})
    with django_assert_max_num_queries(7):
        html = alice_client.get(PAGE).content.decode()
    with django_assert_max_num_queries(7):
        alice_client.get(f"{PAGE}{link(html, 'next')}")
    assert first.status_code == 200
    assert len(row_ids(html)) == 50
