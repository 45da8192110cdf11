"""The log formatters: JSON lines carry a record's structured fields (and its exception) as
JSON; text lines show the same fields as key=value."""

import json
import logging
import sys

from marketplace.log_format import JsonFormatter, TextFormatter, log_fields


def record(message: str = "request", *, exc_info: bool = False, **fields: object):
    made = logging.LogRecord("switchyard.request", logging.INFO, __file__, 1, message, (),
                             sys.exc_info() if exc_info else None)  # fmt: skip
    made.__dict__.update(log_fields(**fields))
    return made


def test_a_json_line_has_the_records_fields_at_the_top_level():
    line = JsonFormatter().format(record(status=200, model="acme/model", cost_nanos=6450))
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["level"] == "INFO"
    assert parsed["logger"] == "switchyard.request"
    assert parsed["message"] == "request"
    assert (parsed["status"], parsed["model"], parsed["cost_nanos"]) == (200, "acme/model", 6450)
    assert parsed["time"].endswith("+00:00")


def test_an_exception_is_logged_as_json_too():
    try:
        raise ValueError("broken\nacross lines")
    except ValueError:
        line = JsonFormatter().format(record("failed", exc_info=True))
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "failed"
    assert "Traceback" in parsed["exception"]
    assert "ValueError: broken\nacross lines" in parsed["exception"]


def test_a_field_of_another_type_is_shown_not_lost():
    parsed = json.loads(JsonFormatter().format(record(when=object)))
    assert parsed["when"] == str(object)


def test_text_lines_show_the_fields_as_key_value_pairs():
    line = TextFormatter().format(record(status=200, model="acme/model"))
    assert line.endswith("INFO switchyard.request: request status=200 model=acme/model")


def test_a_plain_log_call_still_works_in_both_formats():
    plain = logging.LogRecord("x", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    assert json.loads(JsonFormatter().format(plain))["message"] == "hello world"
    assert TextFormatter().format(plain).endswith("WARNING x: hello world")
