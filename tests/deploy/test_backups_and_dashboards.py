"""Backups and dashboards as configuration (issue 23, decision 0031), rendered as an operator
would with ``kubectl kustomize``:

- every CloudNativePG cluster of every overlay archives its WAL at least every 5 minutes to
  its own namespace's path of the object store, keeps 30 days, and has one daily
  ScheduledBackup; the object store's credentials are references to a placeholder Secret;
- every overlay carries the Grafana dashboards as a ConfigMap the sidecar loads, exactly as
  ``devtools.dashboards`` generates them, and every panel query parses as PromQL (``promtool``).
  Whether the metrics they name are exported is tests/integration/test_dashboards.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]

from devtools import dashboards
from tests.deploy.test_k8s_manifests import (
    K8S,
    OVERLAYS,
    of_kind,
    overlay,
    secret_values,
)

RPO_ARCHIVE_TIMEOUT = "5min"  # docs/runbook.md states this recovery point
DASHBOARD_DIR = K8S / "components" / "monitoring-dashboards" / "dashboards"


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_database_archives_its_wal_and_is_backed_up_daily(name: str) -> None:
    docs = overlay(name)
    clusters = of_kind(docs, "Cluster")
    scheduled = of_kind(docs, "ScheduledBackup")
    assert clusters
    secrets = {s["metadata"]["name"]: s for s in of_kind(docs, "Secret")}
    for cluster in clusters:
        namespace, cluster_name = cluster["metadata"]["namespace"], cluster["metadata"]["name"]
        spec = cluster["spec"]
        assert spec["postgresql"]["parameters"]["archive_timeout"] == RPO_ARCHIVE_TIMEOUT
        backup = spec["backup"]
        assert backup["retentionPolicy"] == "30d"
        store = backup["barmanObjectStore"]
        # the operator adds the cluster name: one path per namespace keeps provinces apart
        assert store["destinationPath"] == f"s3://xueji-backups/{namespace}"
        assert store["wal"]["compression"] == "gzip"
        for ref in store["s3Credentials"].values():
            secret = secrets[ref["name"]]
            assert secret["metadata"]["namespace"] == namespace
            assert secret_values(secret)[ref["key"]] == "CHANGE-ME"
        daily = [s for s in scheduled if s["spec"]["cluster"]["name"] == cluster_name]
        assert len(daily) == 1, f"{cluster_name}: one ScheduledBackup, got {len(daily)}"
        seconds, minutes, hours, day, month, weekday = daily[0]["spec"]["schedule"].split()
        assert (day, month, weekday) == ("*", "*", "*"), "a base backup every day"
        assert seconds.isdigit() and minutes.isdigit() and hours.isdigit()
        assert daily[0]["spec"]["method"] == "barmanObjectStore"
        assert daily[0]["metadata"]["namespace"] == namespace
    assert len(scheduled) == len(clusters)


def test_two_provinces_never_share_a_backup_path() -> None:
    paths = [
        f"{c['spec']['backup']['barmanObjectStore']['destinationPath']}/{c['metadata']['name']}"
        for name in OVERLAYS
        for c in of_kind(overlay(name), "Cluster")
    ]
    assert len(paths) == len(set(paths)), paths


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_overlay_provisions_the_dashboards_for_the_grafana_sidecar(name: str) -> None:
    (config_map,) = [
        c
        for c in of_kind(overlay(name), "ConfigMap")
        if c["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    files = config_map["data"]
    assert set(files) == {"xueji-federation.json", *(f"xueji-{t}.json" for t in dashboards.TIERS)}
    uids = set()
    for file_name, text in files.items():
        board = json.loads(text)
        uids.add(board["uid"])
        assert board["title"][0] >= "\u4e00", f"{file_name}: the title is Chinese first"
        for panel in panels(board):
            assert panel["title"][0] >= "\u4e00" or panel["title"] in ("CPU",), panel["title"]
    assert len(uids) == len(files)
    tier_boards = [json.loads(files[f"xueji-{t}.json"]) for t in dashboards.TIERS]
    for board in tier_boards:
        assert [v["name"] for v in board["templating"]["list"]] == ["datasource", "instance"]


def test_the_committed_dashboards_are_the_generated_ones() -> None:
    assert dashboards.stale(DASHBOARD_DIR) == [], "run `python -m devtools.dashboards write`"
    listed = yaml.safe_load((DASHBOARD_DIR.parent / "kustomization.yaml").read_text())
    (generator,) = listed["configMapGenerator"]
    assert sorted(Path(f).name for f in generator["files"]) == sorted(dashboards.dashboards())


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


def expressions() -> list[str]:
    found = []
    for board in dashboards.dashboards().values():
        found += [t["expr"] for p in panels(board) for t in p["targets"]]
    return found


def test_every_panel_query_is_valid_promql(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    rules = {
        "groups": [
            {
                "name": "dashboards",
                # Grafana's variable, as Grafana would substitute it
                "rules": [
                    {"record": f"xueji:dashboard_query_{i}", "expr": e.replace("$instance", "x")}
                    for i, e in enumerate(expressions())
                ],
            }
        ]
    }
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    broken = dict(rules)
    broken["groups"][0]["rules"].append({"record": "xueji:broken", "expr": "sum by (tier) ("})
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    refused = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (tier) (rate(a_total{outcome="applied"}[5m]))', {"a_total"}),
        (
            "histogram_quantile(0.95, sum by (le, route) (rate(h_bucket[5m])) "
            '* on (job, instance) group_left (tier) info{x="$instance"})',
            {"h_bucket", "info"},
        ),
        ("sum by (r) (rate(s_sum[1h])) / sum by (r) (rate(s_count[1h])) > 0", {"s_sum", "s_count"}),
        ('topk(10, max by (unit) (steps{kind="overdue", unit=~"by.*"}))', {"steps"}),
        ("up offset 5m and bool_metric or 1e3", {"up", "bool_metric"}),
        ('label_values(info{tier="school"}, xueji_instance)', {"info"}),
    ],
)
def test_the_metric_names_of_a_query_are_its_selectors_only(expr: str, names: set[str]) -> None:
    assert dashboards.metric_names(expr) == names


def test_every_dashboard_query_names_at_least_one_metric() -> None:
    for board in dashboards.dashboards().values():
        for query in dashboards.queries(board):
            assert dashboards.metric_names(query), query
