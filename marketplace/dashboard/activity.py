"""The activity page: a user's generations with filters and keyset pages, spend and token
charts per day and per model, and the same rows as a streamed CSV file.

Only the signed-in user's rows are ever read (`ActivityFilter.user_id`); asking for another
user's key is a 404, not an empty page.
"""

import csv
import io
import itertools
from collections.abc import AsyncIterator, Generator, Iterable
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django import forms
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils import timezone

from billing.models import Generation
from billing.money import format_usd
from marketplace.accounts.models import User
from marketplace.dashboard import activity_charts as charts
from marketplace.dashboard.activity_selectors import (
    ActivityFilter,
    Cursor,
    generation_models_used,
    generation_page,
    generations_for_export,
    totals_by_day,
    totals_by_model,
    totals_overall,
)
from marketplace.keys.models import ApiKey

DEFAULT_DAYS = 30
MAX_DAYS = 366
EXPORT_BATCH = 2000
CSV_HEADER = ("id", "created_at", "model", "provider", "key", "prompt_tokens",
              "completion_tokens", "cost_usd", "latency_ms", "finish_reason", "status")  # fmt: skip


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def generation_status(*, finish_reason: str, cancelled: bool) -> str:
    """What became of a request: "cancelled" by the client, "error", or the finish reason."""
    return "cancelled" if cancelled else finish_reason


class _DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


class ActivityFilterForm(forms.Form):
    key = forms.IntegerField(required=False, label="Key", widget=forms.Select)
    model = forms.CharField(required=False, max_length=200, label="Model", widget=forms.Select)
    start = forms.DateField(label="From", widget=_DateInput())
    end = forms.DateField(label="To (inclusive)", widget=_DateInput())

    def __init__(self, data: QueryDict, *, keys: list[ApiKey], models: list[str]) -> None:
        super().__init__(data)
        key_choices = [(key.pk, f"{key.name} ({key.prefix}…)"
                        + (" (revoked)" if key.revoked_at else "")) for key in keys]  # fmt: skip
        self.fields["key"].widget.choices = [("", "All keys"), *key_choices]
        chosen = data.get("model", "")
        models = models if not chosen or chosen in models else [*models, chosen]
        self.fields["model"].widget.choices = [("", "All models")] + [(m, m) for m in models]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("start", "The range starts after it ends.")
        elif start and end and (end - start).days >= MAX_DAYS:
            self.add_error("start", f"Choose at most {MAX_DAYS} days.")
        return data


def _with_default_dates(query: QueryDict) -> QueryDict:
    """The last 30 days unless asked otherwise (a missing end is today; a missing start is
    30 days before the end). Filled into the form, so the page shows the range it used."""
    data = query.copy()
    today = timezone.now().date()  # UTC, like the roll-up's days
    end_text = data.get("end") or today.isoformat()
    data["end"] = end_text
    if not data.get("start"):
        try:
            end = date.fromisoformat(end_text)
        except ValueError:
            end = today  # the form reports the bad end date
        data["start"] = (end - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    return data


def _activity_filter(
    request: HttpRequest, *, keys: list[ApiKey], models: list[str]
) -> tuple[ActivityFilterForm, ActivityFilter | None]:
    """The bound form and, when it is valid, the filter it asks for (404: not your key)."""
    form = ActivityFilterForm(_with_default_dates(request.GET), keys=keys, models=models)
    if not form.is_valid():
        return form, None
    key_id: int | None = form.cleaned_data["key"]
    if key_id is not None and key_id not in {key.pk for key in keys}:
        raise Http404("No such key")
    activity = ActivityFilter(
        user_id=_user(request).pk,
        key_id=key_id,
        model_slug=form.cleaned_data["model"],
        start=form.cleaned_data["start"],
        end=form.cleaned_data["end"],
    )
    return form, activity


def _query(activity: ActivityFilter) -> str:
    """The filter as a query string (for the CSV link)."""
    params = {"key": activity.key_id or "", "model": activity.model_slug,
              "start": activity.start.isoformat(), "end": activity.end.isoformat()}  # fmt: skip
    return urlencode({name: value for name, value in params.items() if value})


def _cursor(request: HttpRequest, name: str) -> Cursor | None:
    return Cursor.parse(request.GET.get(name, ""))


def _charts(activity: ActivityFilter) -> dict[str, Any]:
    days = totals_by_day(activity=activity)
    models = totals_by_model(activity=activity)
    totals = totals_overall(models)
    drawn = [] if not totals.requests else [
        charts.spend_by_day_chart(days),
        charts.tokens_by_day_chart(days),
        charts.spend_by_model_chart(models),
        charts.tokens_by_model_chart(models),
    ]  # fmt: skip
    return {"days": days, "models": models, "totals": totals, "charts": drawn}


@login_required
def activity_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    keys = list(ApiKey.objects.filter(user=user))
    models = generation_models_used(user_id=user.pk)
    form, activity = _activity_filter(request, keys=keys, models=models)
    if activity is None:
        return render(request, "dashboard/activity.html", {"form": form}, status=400)
    page = generation_page(
        activity=activity, before=_cursor(request, "before"), after=_cursor(request, "after")
    )
    rows = [(generation, generation_status(finish_reason=generation.finish_reason,
                                           cancelled=generation.cancelled))
            for generation in page.rows]  # fmt: skip
    context = {
        "form": form,
        "activity": activity,
        "rows": rows,
        "newer": str(page.newer) if page.newer else None,
        "older": str(page.older) if page.older else None,
        "is_first_page": page.newer is None,
        "export_query": _query(activity),
        **_charts(activity),
    }
    return render(request, "dashboard/activity.html", context)


# -- CSV --------------------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(value: str) -> str:
    # A spreadsheet would run a cell starting with "=" (a key's name is free text).
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _csv_fields(row: tuple[Any, ...]) -> list[object]:
    (generation_id, created_at, model, provider, key_name, prompt_tokens, completion_tokens,
     cost_nanos, latency_ms, finish_reason, cancelled) = row  # fmt: skip
    status = generation_status(finish_reason=finish_reason, cancelled=cancelled)
    return [_text_cell(generation_id), created_at.isoformat(), _text_cell(model),
            _text_cell(provider), _text_cell(key_name or ""), prompt_tokens, completion_tokens,
            format_usd(cost_nanos), latency_ms, finish_reason, status]  # fmt: skip


def _csv_text(rows: Iterable[Iterable[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def _csv_chunks(rows: QuerySet[Generation, tuple[Any, ...]]) -> Generator[str]:
    yield _csv_text([CSV_HEADER])
    for batch in itertools.batched(rows.iterator(chunk_size=EXPORT_BATCH), EXPORT_BATCH):
        yield _csv_text(map(_csv_fields, batch))


async def _csv_chunks_async(rows: QuerySet[Generation, tuple[Any, ...]]) -> AsyncIterator[str]:
    """`_csv_chunks`, each chunk read on Django's database thread."""
    chunks = _csv_chunks(rows)
    next_chunk = sync_to_async(lambda: next(chunks, None))
    try:
        while (chunk := await next_chunk()) is not None:
            yield chunk
    finally:  # also when the client goes away mid-file: the database cursor is closed
        await sync_to_async(chunks.close)()


@login_required
def activity_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    keys = list(ApiKey.objects.filter(user=_user(request)))
    form, activity = _activity_filter(request, keys=keys, models=[])
    if activity is None:
        errors = "; ".join(f"{name}: {' '.join(map(str, e))}" for name, e in form.errors.items())
        return HttpResponseBadRequest(errors, content_type="text/plain; charset=utf-8")
    rows = generations_for_export(activity=activity)
    # Under ASGI a synchronous iterator would be read whole into memory before the first
    # byte is sent, so the server gets an asynchronous one (the test client a synchronous one).
    chunks = _csv_chunks_async(rows) if isinstance(request, ASGIRequest) else _csv_chunks(rows)
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    filename = f"activity-{activity.start}-{activity.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
