"""Every Celery task run writes one log line and counts its outcome (eager runs here; workers
send the same signals)."""

import json
import logging
from collections import Counter

import pytest
from celery import shared_task

from marketplace.log_format import JsonFormatter
from marketplace.ops import task_outcomes


@shared_task
def succeeding_task() -> int:
    return 1


@shared_task
def failing_task() -> None:
    raise RuntimeError("secret-looking detail sk_live_never_logged")


@pytest.fixture(autouse=True)
def _in_process_counts(settings, monkeypatch) -> None:
    settings.REDIS_URL = ""
    monkeypatch.setattr(task_outcomes, "_in_process", Counter())


def task_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "switchyard.task"]


async def counts() -> dict[tuple[str, str], int]:
    return await task_outcomes.task_outcome_counts()


async def test_a_successful_run_is_logged_and_counted(caplog):
    caplog.set_level(logging.INFO, logger="switchyard.task")
    result = succeeding_task.apply()
    [line] = task_lines(caplog)
    assert line["task"] == succeeding_task.name
    assert line["task_id"] == result.id
    assert line["outcome"] == "success"
    assert isinstance(line["duration_ms"], float)
    assert await counts() == {(succeeding_task.name, "success"): 1}


async def test_a_failed_run_is_logged_by_exception_type_only(caplog):
    caplog.set_level(logging.INFO, logger="switchyard.task")
    failing_task.apply()
    [line] = task_lines(caplog)
    assert (line["outcome"], line["error"], line["level"]) == ("failure", "RuntimeError", "ERROR")
    assert "sk_live_never_logged" not in json.dumps(line)
    assert await counts() == {(failing_task.name, "failure"): 1}
