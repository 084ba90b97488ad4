"""JSON log lines: their shape, the active trace, and personal data masked in every line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.runtime.settings import ServiceSettings
from shared.telemetry.logging import configure_logging, mask_personal_data


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The root logger in JSON into a buffer, as ``python -m services.<tier>`` configures it."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("school-41", "json", stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_has_the_fields_an_aggregator_indexes(json_log: io.StringIO) -> None:
    logging.getLogger("shared.messaging.consumer").warning("batch of %d failed", 3)
    (line,) = lines(json_log)
    assert line["level"] == "WARNING"
    assert line["logger"] == "shared.messaging.consumer"
    assert line["message"] == "batch of 3 failed"
    assert line["instance"] == "school-41"
    assert str(line["timestamp"]).endswith("Z")
    assert "trace_id" not in line  # no span active


def test_a_line_logged_inside_a_span_names_the_trace(
    spans: InMemorySpanExporter, json_log: io.StringIO
) -> None:
    with trace.get_tracer("test").start_as_current_span("work") as span:
        logging.getLogger("x").info("inside")
    (line,) = lines(json_log)
    assert line["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert line["span_id"] == f"{span.get_span_context().span_id:016x}"


def test_personal_data_is_masked_in_messages_arguments_and_tracebacks(
    json_log: io.StringIO,
) -> None:
    log = logging.getLogger("services.school")
    log.info("student 410102200501011235 phone 13812345678")
    log.info("guardian %s, %s", "+86 138 1234 5678", "G41010220050101123X")
    try:
        raise ValueError("duplicate resident id 330106199912317658")
    except ValueError:
        log.exception("import failed for 0371-12345678")
    first, second, third = lines(json_log)
    assert first["message"] == "student 410102***********5 phone 138****5678"
    assert second["message"] == "guardian +86 138****5678, G410102***********X"
    assert third["message"] == "import failed for 0371-****5678"
    assert "330106***********8" in str(third["exception"])
    assert "330106199912317658" not in json_log.getvalue()


def test_text_format_is_masked_too() -> None:
    root = logging.getLogger()
    saved = list(root.handlers)
    stream = io.StringIO()
    configure_logging("county-41", "text", stream=stream)
    try:
        logging.getLogger("x").warning("id %s", "410102200501011235")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
    assert "county-41 WARNING x id 410102***********5" in stream.getvalue()


@pytest.mark.parametrize(
    "text",
    [
        "school 4101020001 in county 410102",  # unit codes
        "message 3fa85f64-5717-4562-b3fc-2c963f66afa6",  # ids
        "occurred 2025-09-01T08:00:00.123456+00:00",  # timestamps
        "x-attempt 4, 12345678901234567890 rows",  # a 20-digit number is no ID
        "L-number request for school 4101020001 serial 001",
    ],
)
def test_what_is_not_personal_data_is_left_alone(text: str) -> None:
    assert mask_personal_data(text) == text


def test_legacy_15_digit_ids_and_landlines_are_masked() -> None:
    assert mask_personal_data("old id 410102850101123") == "old id 410102********3"
    assert mask_personal_data("tel 010-1234567") == "tel 010-***4567"


def test_log_format_defaults_to_json_outside_development() -> None:
    assert ServiceSettings(env="development").effective_log_format() == "text"
    assert ServiceSettings(env="test").effective_log_format() == "json"
    assert ServiceSettings(env="test", log_format="text").effective_log_format() == "text"
