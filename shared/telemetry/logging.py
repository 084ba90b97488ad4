"""Structured logs: one JSON object per line, personal data masked in every line.

``XUEJI_LOG_FORMAT`` is ``json`` (the default outside development) or ``text``. A JSON line::

    {"timestamp": "2025-09-01T08:00:00.123Z", "level": "INFO", "logger": "shared.messaging...",
     "message": "...", "instance": "school-41", "trace_id": "4bf9...", "span_id": "00f0..."}

``trace_id``/``span_id`` appear when a span is active (tracing on). :class:`PersonalDataFilter`
sits on the handler, so it masks every record whatever logger it came from, in either format:

- resident ID numbers (18 characters, and the 15-digit pre-1999 form) and the student numbers
  built on them (``G``/``L`` + 18): the first 6 and the last character stay,
  ``410102***********5``;
- mobile numbers (``138****5678``, also with ``+86`` or separators) and landline numbers with
  an area code (``0371-****5678``).

Masking is a safety net, not a licence: code still must not log personal data on purpose.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from opentelemetry import trace

LogFormat = Literal["json", "text"]

_EDGE_BEFORE = r"(?<![0-9A-Za-z])"
_EDGE_AFTER = r"(?![0-9A-Za-z])"
_RESIDENT_ID = re.compile(_EDGE_BEFORE + r"([GL]?\d{6})(\d{11}|\d{8})([0-9Xx])" + _EDGE_AFTER)
_MOBILE = re.compile(
    _EDGE_BEFORE + r"((?:\+?86[- ]?)?1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})" + _EDGE_AFTER
)
_LANDLINE = re.compile(_EDGE_BEFORE + r"(0\d{2,3}-)(\d{3,4})(\d{4})" + _EDGE_AFTER)


def mask_personal_data(text: str) -> str:
    """``text`` with resident IDs, student numbers and phone numbers masked."""
    text = _RESIDENT_ID.sub(lambda m: m[1] + "*" * len(m[2]) + m[3], text)
    text = _MOBILE.sub(lambda m: f"{m[1]}****{m[3]}", text)
    return _LANDLINE.sub(lambda m: m[1] + "*" * len(m[2]) + m[3], text)


class PersonalDataFilter(logging.Filter):
    """Masks personal data in a record's message, exception and stack text (never drops it)."""

    _format_exception = logging.Formatter().formatException

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_personal_data(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._format_exception(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_personal_data(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_personal_data(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record; ``trace_id``/``span_id`` of the span active when logging."""

    def __init__(self, instance: str) -> None:
        super().__init__()
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "instance": self.instance,
        }
        security = getattr(record, "security", None)
        if isinstance(security, dict):  # a security alert's fields (shared/messaging/signing.py)
            line.update({k: v for k, v in security.items() if k not in line})
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            line["trace_id"] = f"{span_context.trace_id:032x}"
            line["span_id"] = f"{span_context.span_id:016x}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


def text_formatter(instance: str) -> logging.Formatter:
    return logging.Formatter(f"%(asctime)s {instance} %(levelname)s %(name)s %(message)s")


def configure_logging(
    instance: str,
    log_format: LogFormat = "json",
    level: int = logging.INFO,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send the root logger to ``stream`` (stderr) in ``log_format``, personal data masked.

    Replaces the root logger's handlers (idempotent); uvicorn's loggers propagate to it.
    Returns the handler.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    json_lines = log_format == "json"
    handler.setFormatter(JsonFormatter(instance) if json_lines else text_formatter(instance))
    handler.addFilter(PersonalDataFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
