"""What the alert tests read: the rule file, its promtool unit tests, the metric names an
expression uses, and the runbook's anchors."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]

from devtools.alert_rules import RULES_FILE, rule_groups

REPO = Path(__file__).resolve().parents[2]
ALERTS_DIR = RULES_FILE.parent
UNIT_TESTS = sorted(ALERTS_DIR.glob("tests*.yml"))
RUNBOOK = REPO / "docs" / "runbook.md"

# Metrics of other exporters the rules may use: the RabbitMQ prometheus plugin,
# postgres_exporter, the kubelet's volume stats, cert-manager, and Prometheus's own.
EXPORTER_METRIC = re.compile(r"^(rabbitmq_|pg_|kubelet_volume_stats_|certmanager_)|^(up|ALERTS)$")

PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "offset",
    "bool",
    "inf",
    "nan",
}


def rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def recorded() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def metric_names(expr: str) -> set[str]:
    """The series names an expression selects (not its functions, keywords or labels)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(r"(?<![\w:])\d+(?:ms|[smhdwy])\b", " ", text)  # durations (offset 1h)
    text = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )  # label lists
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group()
        after = text[match.end() :].lstrip()
        if after.startswith("(") or word.lower() in PROMQL_WORDS:
            continue  # a function call or a keyword
        names.add(word)
    return names


def used_metrics() -> set[str]:
    return {name for rule in rules() for name in metric_names(rule["expr"])}


def unit_tests() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text(encoding="utf-8")) for path in UNIT_TESTS]


def firing_expectations() -> dict[str, list[dict[str, Any]]]:
    """alert name -> the test groups where promtool expects it firing."""
    found: dict[str, list[dict[str, Any]]] = {}
    for document in unit_tests():
        for group in document["tests"]:
            names: set[str] = set()
            for case in group.get("promql_expr_test") or []:
                match = re.search(r'ALERTS\{alertname="(\w+)"', case["expr"])
                if match and case.get("exp_samples"):
                    names.add(match.group(1))
            for case in group.get("alert_rule_test") or []:
                if case.get("exp_alerts"):
                    names.add(case["alertname"])
            for name in names:
                found.setdefault(name, []).append(group)
    return found


def github_anchor(heading: str) -> str:
    """The fragment GitHub (and most renderers) give a Markdown heading."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def runbook_anchors() -> set[str]:
    headings = re.findall(r"^#{1,6} (.+)$", RUNBOOK.read_text(encoding="utf-8"), re.MULTILINE)
    return {github_anchor(h) for h in headings}


def starts_chinese(text: str) -> bool:
    """Chinese first: the text before the first "/ " and a capital is a Chinese sentence
    (product names such as RabbitMQ may appear in it), the English one may follow."""
    chinese = re.split(r" ?/ (?=[A-Z])", text, maxsplit=1)[0]
    return len(re.findall(r"[\u4e00-\u9fff]", chinese)) >= 4 and not re.search(
        r"\b[a-z]+ [a-z]+ [a-z]+\b", re.sub(r"\{\{[^}]*\}\}", "", chinese)
    )


def undeclared(names: Iterable[str], declared: set[str]) -> set[str]:
    """The xueji metric names among ``names`` that no service declares, nor a rule records."""
    return {
        name
        for name in names
        if not EXPORTER_METRIC.search(name) and name not in declared and name not in recorded()
    }
