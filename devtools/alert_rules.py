"""The alert rules as a ``PrometheusRule`` (decision 0030), generated from the plain rule file.

``deploy/k8s/components/monitoring/alerts/xueji-alerts.rules.yml`` is the one source: promtool
checks and unit-tests it, and this module wraps its groups, unchanged, in the manifest the
Prometheus Operator reads::

    python -m devtools.alert_rules > deploy/k8s/components/monitoring/prometheusrule.yaml

The deploy tests fail when the committed manifest and the rule file differ.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]

MONITORING = Path(__file__).resolve().parents[1] / "deploy" / "k8s" / "components" / "monitoring"
RULES_FILE = MONITORING / "alerts" / "xueji-alerts.rules.yml"
MANIFEST = MONITORING / "prometheusrule.yaml"

HEADER = """\
# GENERATED from alerts/xueji-alerts.rules.yml by `python -m devtools.alert_rules`: edit the
# rule file, then regenerate this one (the deploy tests fail when they differ). The labels
# below are the ones the Prometheus Operator's ruleSelector commonly matches; add your
# Prometheus's own selector labels in the overlay if it differs (decision 0030).
"""


def rule_groups(path: Path = RULES_FILE) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    return groups


def manifest(path: Path = RULES_FILE) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "xueji-alerts",
            "labels": {
                "app.kubernetes.io/name": "xueji-alerts",
                "app.kubernetes.io/component": "monitoring",
                "role": "alert-rules",
            },
        },
        "spec": {"groups": rule_groups(path)},
    }


def render(path: Path = RULES_FILE) -> str:
    body: str = yaml.safe_dump(manifest(path), allow_unicode=True, sort_keys=False, width=100)
    return HEADER + body


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
