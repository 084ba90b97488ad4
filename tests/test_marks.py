"""The marks deselect what they promise: ``make check``'s selection (``-m "not federation and
not broker"``) holds no test that reaches the broker or starts the tiers, the launcher or a
broker as separate processes, and ``-m "not federation"`` leaves tests/integration out."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROCESS_DIRECTORIES = ("tests/integration/", "tests/console/")
FAST = "not federation and not broker"
BROKER_FIXTURES = {"broker", "amqp_url", "federation"}
# constructing these, or running the launcher, starts separate processes
STARTS_PROCESSES = re.compile(
    r"\b(?:LocalFederation|LocalRabbitMQ|LocalConsole)(?:\.\w+)?\(|[\"']-m[\"'],\s*[\"']devtools[\"']"
)

REPORTER = textwrap.dedent(
    """
    import inspect, json, os

    deselected = []

    def _source(function):
        try:
            return inspect.getsource(function)
        except (OSError, TypeError):
            return ""

    def _describe(item):
        info = getattr(item, "_fixtureinfo", None)
        definitions = getattr(info, "name2fixturedefs", {}) if info is not None else {}
        fixture_sources = [
            _source(definition.func) for defs in definitions.values() for definition in defs
        ]
        return {
            "id": item.nodeid,
            "marks": sorted({mark.name for mark in item.iter_markers()}),
            "fixtures": sorted(getattr(item, "fixturenames", ())),
            "source": "\\n".join([_source(getattr(item, "function", None))] + fixture_sources),
        }

    def pytest_deselected(items):
        deselected.extend(items)

    def pytest_collection_finish(session):
        with open(os.environ["MARKS_REPORT"], "w") as handle:
            json.dump(
                {
                    "selected": [_describe(item) for item in session.items],
                    "deselected": [_describe(item) for item in deselected],
                },
                handle,
            )
    """
)


def collect(tmp_path: Path, expression: str) -> dict[str, list[dict[str, Any]]]:
    """The items ``pytest -m expression`` selects and deselects, with marks, fixtures, sources."""
    (tmp_path / "marks_reporter.py").write_text(REPORTER)
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "marks_reporter",
            "-m",
            expression,
            "tests",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}:{ROOT}", "MARKS_REPORT": str(report)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    loaded: dict[str, list[dict[str, Any]]] = json.loads(report.read_text())
    return loaded


def test_the_fast_selection_reaches_no_broker_and_starts_no_process(tmp_path: Path) -> None:
    found = collect(tmp_path, FAST)
    selected, deselected = found["selected"], found["deselected"]
    assert selected and deselected

    for item in selected:
        assert not BROKER_FIXTURES & set(item["fixtures"]), item["id"]
        assert not item["id"].startswith(PROCESS_DIRECTORIES), item["id"]
        assert not STARTS_PROCESSES.search(item["source"]), item["id"]

    # and what it leaves out is what the marks say: every cross-process test is a federation test
    across = [i for i in deselected if i["id"].startswith(PROCESS_DIRECTORIES)]
    assert across
    assert all("federation" in item["marks"] for item in across)
    assert {mark for item in deselected for mark in item["marks"]} >= {"broker", "federation"}
