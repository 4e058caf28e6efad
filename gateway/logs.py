"""Log lines: plain text by default, one JSON object a line with LOG_FORMAT=json.

A line that describes one thing (an inbound message, a job) carries its ids as structured fields,
given with log_fields(); the JSON formatter writes them as keys of the object, the text format
leaves them out (the message says the same in words). Fields hold ids, statuses, codes and
masked phone numbers, never message bodies.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_FIELDS = "fieldline_fields"


def log_fields(**values: Any) -> dict[str, Any]:
    """The `extra` of a log call whose values become keys of its JSON line."""
    return {_FIELDS: values}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, process id, message, the
    structured fields, and the traceback of an exception, if any, as one string."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        for key, value in (getattr(record, _FIELDS, None) or {}).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str, fmt: str) -> None:
    """Text lines through logging.basicConfig, as before; or, for json, a stderr handler of our
    own on the root logger (replacing its formatter if create_app runs again)."""
    root = logging.getLogger()
    if fmt != "json":
        logging.basicConfig(level=level, format=TEXT_FORMAT)
        return
    handler = next((h for h in root.handlers if getattr(h, "fieldline_json", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.fieldline_json = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter())
    root.setLevel(level)
