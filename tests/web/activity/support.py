"""What the activity tests share: the models and URLs, the cast, generations made to order, and
readers of the page's rows and links and of the CSV."""

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import count

from django.urls import reverse
from django.utils import timezone

from billing.models import Generation
from marketplace.accounts.models import User
from marketplace.keys.models import ApiKey

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
