"""The alert rules (decision 0030): promtool accepts them and their unit tests pass, every alert
has a unit test where it fires, a severity, a runbook section and a Chinese summary first."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ops.alert_rules import (
    ALERTS_DIR,
    RULES_FILE,
    RUNBOOK,
    UNIT_TESTS,
    alerts,
    firing_expectations,
    github_anchor,
    metric_names,
    runbook_anchors,
    starts_chinese,
    undeclared,
)

# Debian's package `prometheus` (scripts/bootstrap.sh installs it): never skipped.
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def promtool(*args: str, cwd: Path = ALERTS_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_promtool_checks_the_rules() -> None:
    result = promtool("check", "rules", RULES_FILE.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(re.findall(r'- (?:alert|record):', RULES_FILE.read_text()))} rules" in (
        result.stdout
    )


def test_promtool_unit_tests_pass() -> None:
    assert len(UNIT_TESTS) == 2
    result = promtool("test", "rules", *(path.name for path in UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout


def test_the_unit_tests_fail_when_a_threshold_moves(tmp_path: Path) -> None:
    """The unit tests pin the rules: the outbox alert at 15 minutes, not at a day."""
    for path in (RULES_FILE, *UNIT_TESTS):
        shutil.copy(path, tmp_path / path.name)
    rules = tmp_path / RULES_FILE.name
    text = rules.read_text()
    assert "(xueji_outbox_oldest_unsent_age_seconds) > 900" in text
    rules.write_text(text.replace("(xueji_outbox_oldest_unsent_age_seconds) > 900", "(x) > 900"))
    result = promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert 'alertname=\\"XuejiOutboxStuck\\"' in result.stdout + result.stderr


def test_every_alert_fires_in_a_unit_test_that_also_feeds_a_good_series() -> None:
    expected = firing_expectations()
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names)), "alert names are unique"
    assert sorted(set(names) - set(expected)) == [], "alerts without a firing unit test"
    assert sorted(set(expected) - set(names)) == [], "unit tests of alerts that do not exist"
    for name, groups in expected.items():
        # the expectations list exactly what fires: a group's other series stay quiet
        assert any(len(group["input_series"]) >= 2 for group in groups), name


def test_every_alert_has_a_severity_a_runbook_section_and_chinese_first() -> None:
    anchors = runbook_anchors()
    for rule in alerts():
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        annotations = rule["annotations"]
        url = annotations["runbook_url"]
        assert url.startswith("https://xueji.invalid/docs/runbook.md#"), name
        assert url.split("#", 1)[1] in anchors, f"{name}: no section {url} in docs/runbook.md"
        assert starts_chinese(annotations["summary"]), name
        assert starts_chinese(annotations["description"]), name
        # the section names the alert (two alerts may share one section)
        assert name in RUNBOOK.read_text(encoding="utf-8"), f"{name} not in docs/runbook.md"


def test_the_runbook_has_the_procedure_sections() -> None:
    anchors = runbook_anchors()
    text = RUNBOOK.read_text(encoding="utf-8")
    for heading in (
        "## 重放或丢弃死信 / Replay or discard dead letters",
        "## 查找卡住的转学 / Find a stuck transfer",
        "## 重新校验审计链 / Re-verify the audit chain",
        "## 不停机轮换签名密钥 / Rotate a signing key without downtime",
        "## 从备份恢复 / Restore a tier's database from backup",
    ):
        assert heading in text.splitlines(), heading
        assert github_anchor(heading.removeprefix("## ")) in anchors


def test_metric_names_are_read_from_expressions() -> None:
    expr = (
        'sum by (namespace, service) (rate(xueji_messages_retried_total{type="a"}[15m]))'
        " > 0.1 * on (namespace) group_left (x) max(xueji:unit_overdue_steps offset 1h)"
        ' and up{job=~"xueji-.*"} - time() < 30 * 86400'
    )
    assert metric_names(expr) == {"xueji_messages_retried_total", "xueji:unit_overdue_steps", "up"}
    assert undeclared({"xueji_nope", "rabbitmq_x", "xueji:unit_overdue_steps"}, set()) == {
        "xueji_nope"
    }


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_each_alert_reads_some_metric(rule: dict[str, str]) -> None:
    assert metric_names(rule["expr"]), rule["alert"]
