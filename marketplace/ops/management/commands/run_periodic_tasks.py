import logging
import signal
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from marketplace.celery import app

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Run CELERY_BEAT_SCHEDULE's tasks in this process on their intervals: the zero-setup "
        "stand-in for a Celery worker and beat (use those once a broker is configured)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run every task once and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        app.loader.import_default_modules()  # registers the tasks autodiscovery found
        entries: dict[str, dict[str, Any]] = settings.CELERY_BEAT_SCHEDULE
        schedule = {str(entry["task"]): float(entry["schedule"]) for entry in entries.values()}
        next_run = dict.fromkeys(schedule, 0.0)
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while not stopping:
            for task, due in next_run.items():
                if time.monotonic() >= due:
                    self._run(task)
                    next_run[task] = time.monotonic() + schedule[task]
            if options["once"]:
                return
            time.sleep(0.5)

    def _run(self, task: str) -> None:
        result = app.tasks[task].apply()
        if result.failed():
            logger.error("periodic task %s failed: %s", task, result.result)
