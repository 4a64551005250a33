"""The two log formats: JSON for a pipeline, console lines for a person."""

from __future__ import annotations

import json
import logging

from app.core.logging import ConsoleFormatter, JsonFormatter, request_id_var


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "wengang.access", logging.INFO, __file__, 1, "GET %s", ("/me",), None
    )
    record.__dict__.update(extra)
    return record


def test_console_line_has_level_logger_message_fields_and_request_id():
    token = request_id_var.set("req-1")
    try:
        line = ConsoleFormatter().format(_record(status=200, color_message="\x1b[1mGET\x1b[0m"))
    finally:
        request_id_var.reset(token)
    assert " INFO  wengang.access GET /me  status=200  [req-1]" in line
    assert "color_message" not in line and "\n" not in line


def test_json_line_is_one_object():
    entry = json.loads(JsonFormatter().format(_record(status=200)))
    assert (entry["level"], entry["message"], entry["status"]) == ("info", "GET /me", 200)
