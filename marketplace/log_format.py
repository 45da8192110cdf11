"""Log formatters: one JSON object per line for production log pipelines, `key=value` text for
people. Structured fields travel as `extra={"fields": {...}}` on the record (see
`log_fields`), so both formats show the same facts."""

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson


def log_fields(**fields: object) -> dict[str, Mapping[str, object]]:
    """`extra=` for a structured log line: `logger.info("request", extra=log_fields(...))`."""
    return {"fields": fields}


def _fields(record: logging.LogRecord) -> Mapping[str, object]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, Mapping) else {}


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", <fields>..., "exception"}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # default=str: a field of an unexpected type is shown, never loses the line.
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """`<time> <level> <logger>: <message> key=value...`, then any traceback."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        pairs = " ".join(f"{key}={value}" for key, value in _fields(record).items())
        message = super().formatMessage(record)
        return f"{message} {pairs}" if pairs else message
