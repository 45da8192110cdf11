"""The CSV export: the filtered rows with exact costs, no spreadsheet formulas, streamed in
chunks, and asynchronously under ASGI."""

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.http import StreamingHttpResponse
from django.test import AsyncClient

from marketplace.accounts.models import User
from marketplace.keys.services import api_key_create
from tests.web.activity.support import (
    CSV,
    GPT,
    LLAMA,
    PAGE,
    csv_rows,
    generation,
    save,
)

pytestmark = pytest.mark.django_db


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
