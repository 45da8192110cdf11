"""One log line and one outcome count per Celery task run, from Celery's signals (connected
when the app is ready, so in workers and in processes that run tasks eagerly alike)."""

import logging
import time
from typing import Any

from celery import Task
from celery.signals import task_failure, task_prerun, task_retry, task_success

from marketplace.log_format import log_fields
from marketplace.ops.task_outcomes import task_outcome_count

logger = logging.getLogger("switchyard.task")

# Task id -> when it started (monotonic); a run that never reaches an outcome signal (killed
# worker) leaves one entry behind, which is small and rare.
_started_at: dict[str, float] = {}


def _on_prerun(*, task_id: str, **_: Any) -> None:
    _started_at[task_id] = time.monotonic()


def _finished(task: Task[Any, Any], task_id: str | None, outcome: str, error: str = "") -> None:
    started = _started_at.pop(task_id, None) if task_id else None
    duration_ms = round((time.monotonic() - started) * 1000, 1) if started is not None else None
    task_outcome_count(task=task.name, outcome=outcome)
    fields: dict[str, object] = {
        "task": task.name, "task_id": task_id, "outcome": outcome, "duration_ms": duration_ms
    }  # fmt: skip
    if error:  # the exception's type only: its message may carry data that must not be logged
        fields["error"] = error
    level = logging.ERROR if outcome == "failure" else logging.INFO
    logger.log(level, "task", extra=log_fields(**fields))


def _on_success(*, sender: Task[Any, Any], **_: Any) -> None:
    _finished(sender, sender.request.id, "success")


def _on_failure(
    *, sender: Task[Any, Any], task_id: str, exception: BaseException, **_: Any
) -> None:
    _finished(sender, task_id, "failure", type(exception).__name__)


def _on_retry(*, sender: Task[Any, Any], request: Any, **_: Any) -> None:
    _finished(sender, getattr(request, "id", None), "retry")


def task_signals_connect() -> None:
    task_prerun.connect(_on_prerun, weak=False, dispatch_uid="switchyard-task-prerun")
    task_success.connect(_on_success, weak=False, dispatch_uid="switchyard-task-success")
    task_failure.connect(_on_failure, weak=False, dispatch_uid="switchyard-task-failure")
    task_retry.connect(_on_retry, weak=False, dispatch_uid="switchyard-task-retry")
