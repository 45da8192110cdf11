"""The activity page and its CSV export, through Django's test client.

The cast: alice has two keys ("prod" and "dev") and calls two models; bob is another user
whose rows and key must never show up for alice.
"""

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import count

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.http import StreamingHttpResponse
from django.test import AsyncClient, Client
from django.urls import reverse
from django.utils import timezone

from billing.models import Generation
from marketplace.accounts.models import User
from marketplace.dashboard.activity_selectors import Cursor
from marketplace.keys.models import ApiKey
from marketplace.keys.services import api_key_create

pytestmark = pytest.mark.django_db

GPT = "openai/gpt-4o-mini"
LLAMA = "meta-llama/llama-3.1-8b-instruct"
PAGE = reverse("activity")
CSV = reverse("activity-csv")
_ids = count(1)


@dataclass(frozen=True)
class Cast:
    alice: User
    prod: ApiKey
    dev: ApiKey
    bob: User
    bobs_key: ApiKey


@pytest.fixture
def cast() -> Cast:
    alice = User.objects.create_user(email="alice@example.com")
    bob = User.objects.create_user(email="bob@example.com")
    return Cast(
        alice=alice,
        prod=api_key_create(user=alice, name="prod")[0],
        dev=api_key_create(user=alice, name="dev")[0],
        bob=bob,
        bobs_key=api_key_create(user=bob, name="bob-key")[0],
    )


@pytest.fixture
def alice_client(client: Client, cast: Cast) -> Client:
    client.force_login(cast.alice)
    return client


def generation(
    key: ApiKey,
    *,
    model: str = GPT,
    ago: timedelta = timedelta(hours=1),
    at: datetime | None = None,
    cost_nanos: int = 1_000,
    prompt_tokens: int = 10,
    completion_tokens: int = 20,
    latency_ms: int = 250,
    finish_reason: str = "stop",
    cancelled: bool = False,
) -> Generation:
    """An unsaved generation made with `key`, `ago` before now (or `at`)."""
    return Generation(
        id=f"gen-{next(_ids):06d}",
        user_id=key.user_id,
        api_key=key,
        model_slug=model,
        provider_slug="nimbus",
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_nanos=cost_nanos,
        latency_ms=latency_ms,
        finish_reason=finish_reason,
        cancelled=cancelled,
        created_at=at or timezone.now() - ago,
    )


def save(*generations: Generation) -> list[str]:
    Generation.objects.bulk_create(generations)
    return [g.id for g in generations]


def row_ids(html: str) -> list[str]:
    """The ids of the generations table's rows, in page order."""
    table = html.split('id="generations"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr id="(gen-[^"]+)">', table)


def link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', html)
    return found.group(1).replace("&amp;", "&") if found else None


def csv_rows(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


# -- who sees what ---------------------------------------------------------------------------


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


# -- filters ---------------------------------------------------------------------------------


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


# -- pages -----------------------------------------------------------------------------------


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


# -- money and charts ------------------------------------------------------------------------


def test_costs_and_totals_are_exact(alice_client, cast) -> None:
    save(
        generation(cast.prod, cost_nanos=1_234_567_891),
        generation(cast.prod, model=LLAMA, cost_nanos=1),
        generation(cast.dev, model=LLAMA, cost_nanos=2, ago=timedelta(days=3)),
    )
    html = alice_client.get(PAGE).content.decode()

    assert "$1.234567891" in html
    assert "$0.000000001" in html
    summary = html.split('id="summary"', 1)[1].split("</p>", 1)[0]
    assert "$1.234567894" in summary
    per_model = html.split('id="per-model"', 1)[1].split("</table>", 1)[0]
    assert "$0.000000003" in per_model  # llama: 1 + 2 nanos
    per_day = html.split('id="per-day"', 1)[1].split("</table>", 1)[0]
    assert "$1.234567892" in per_day  # today's two


def test_charts_are_inline_svg_that_load_nothing(alice_client, cast) -> None:
    save(
        generation(cast.prod, cost_nanos=1_500_000_000),
        generation(cast.dev, model=LLAMA, ago=timedelta(days=2)),
    )
    html = alice_client.get(PAGE).content.decode()

    charts = re.findall(r'<figure class="activity-chart">(.*?)</figure>', html, re.S)
    assert len(charts) == 4
    for chart in charts:
        assert chart.startswith("<svg")
        assert chart.endswith("</svg>")
        assert not re.search(r'(?:href|src)\s*=\s*"(?:https?:)?//', chart)
        assert "<script" not in chart
        assert "xml-stylesheet" not in chart
        assert "<!--" not in chart
    assert "Spend per day" in charts[0]
    assert "Tokens per model" in charts[3]
    # Values as text are exact (the float only places the bar).
    assert "$1.50" in charts[0]
    assert "$1.500000000" not in charts[0]
    assert "<title>" in charts[0]
    # The page itself loads nothing from elsewhere either.
    assert not re.search(r'(?:href|src)="(?:https?:)?//', html)


def test_no_charts_without_generations(alice_client, cast) -> None:
    html = alice_client.get(PAGE).content.decode()
    assert "<svg" not in html
    assert "No generations match" in html


# -- CSV -------------------------------------------------------------------------------------


def test_the_csv_has_the_filtered_rows_with_exact_costs(alice_client, cast) -> None:
    gpt, cancelled = save(
        generation(cast.prod, cost_nanos=1_234_567_891, prompt_tokens=7, completion_tokens=9),
        generation(cast.prod, ago=timedelta(hours=2), cancelled=True, finish_reason=""),
    )
    save(generation(cast.dev, model=LLAMA), generation(cast.prod, ago=timedelta(days=40)))

    response = alice_client.get(CSV, {"key": cast.prod.pk, "model": GPT})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert list(rows[0]) == ["id", "created_at", "model", "provider", "key", "prompt_tokens",
                             "completion_tokens", "cost_usd", "latency_ms", "finish_reason",
                             "status"]  # fmt: skip
    assert [row["id"] for row in rows] == [gpt, cancelled]
    first = rows[0]
    assert first["cost_usd"] == "1.234567891"
    assert first["key"] == "prod"
    assert first["model"] == GPT
    assert (first["prompt_tokens"], first["completion_tokens"], first["latency_ms"]) == (
        "7", "9", "250",
    )  # fmt: skip
    assert datetime.fromisoformat(first["created_at"]).tzinfo is not None
    assert (rows[1]["finish_reason"], rows[1]["status"]) == ("", "cancelled")


def test_the_page_links_to_the_csv_of_its_filters(alice_client, cast) -> None:
    html = alice_client.get(PAGE, {"model": LLAMA, "key": cast.dev.pk}).content.decode()
    found = re.search(r'<a href="([^"]+)" id="export"', html)
    assert found
    href = found.group(1).replace("&amp;", "&")
    assert href.startswith(CSV)
    assert f"key={cast.dev.pk}" in href
    assert "model=meta-llama" in href


def test_csv_cells_never_start_a_spreadsheet_formula(alice_client, cast) -> None:
    key = api_key_create(user=cast.alice, name="=HYPERLINK(1)")[0]
    save(generation(key, cost_nanos=0))
    rows = csv_rows(alice_client.get(CSV))
    assert rows[0]["key"] == "'=HYPERLINK(1)"
    assert rows[0]["cost_usd"] == "0"


def test_the_csv_of_many_rows_is_streamed_in_chunks(alice_client, cast) -> None:
    save(*[generation(cast.prod, ago=timedelta(seconds=n)) for n in range(4500)])
    response = alice_client.get(CSV)
    chunks: Iterator[bytes] = iter(response.streaming_content)
    assert next(chunks).startswith(b"id,created_at")
    assert sum(chunk.count(b"\n") for chunk in chunks) == 4500


@pytest.mark.django_db(transaction=True)
async def test_the_csv_streams_asynchronously_under_asgi(async_client: AsyncClient) -> None:
    @sync_to_async
    def make() -> User:
        user = User.objects.create_user(email="carol@example.com")
        key = api_key_create(user=user, name="async")[0]
        save(*[generation(key, cost_nanos=n) for n in range(3)])
        return user

    try:
        user = await make()
        await async_client.aforce_login(user)
        response = await async_client.get(CSV)
        assert isinstance(response, StreamingHttpResponse)
        assert response.is_async
        text = b"".join([chunk async for chunk in response.streaming_content]).decode()
    finally:
        # The view ran on Django's database thread, whose connection the test client keeps.
        await sync_to_async(connections.close_all)()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(row["cost_usd"] for row in rows) == ["0", "0.000000001", "0.000000002"]
