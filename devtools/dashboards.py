"""The Grafana dashboards that ship with the deployment, as JSON (issue 23, decision 0031).

``python -m devtools.dashboards write deploy/k8s/components/monitoring-dashboards/dashboards``
writes them; ``check`` fails when a committed file differs from what this module gives (the
deploy test runs it). The component puts them in a ConfigMap labelled ``grafana_dashboard: "1"``,
which the Grafana sidecar (kube-prometheus-stack, the grafana Helm chart) loads.

- ``xueji-federation.json``: the whole federation: message rates per tier, outbox backlog and
  age, dead letters, security alerts, p95 HTTP latency per route, transfers ended per outcome,
  overdue transfer steps and approval tasks;
- ``xueji-<tier>.json``: one instance of a tier, chosen by the ``instance`` variable.

The services' metrics carry no tier or instance label: every target exports
``xueji_instance_info{xueji_instance, tier} 1`` and the queries join on it
(``* on (job, instance) group_left (tier, xueji_instance) xueji_instance_info``), so the
dashboards work with any scrape configuration. Every metric a query names is one a service
exports: tests/integration/test_dashboards.py scrapes a running federation and checks it.
Titles are Chinese first, then English.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

TIERS = ("national", "province", "county", "school")
TIER_NAMES = {"national": "国家", "province": "省级", "county": "县级", "school": "学校"}
DEFAULT_DIR = Path("deploy/k8s/components/monitoring-dashboards/dashboards")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "5m"

# The join that gives every series its tier and federation instance name.
JOIN = "* on (job, instance) group_left (tier, xueji_instance) xueji_instance_info"


def rate(selector: str) -> str:
    return f"rate({selector}[{RATE}])"


def joined(expr: str, info_selector: str = "") -> str:
    """``expr`` with the tier and instance labels of its target (``info_selector``: a
    matcher list for ``xueji_instance_info``, e.g. ``xueji_instance="$instance"``)."""
    selector = f"{{{info_selector}}}" if info_selector else ""
    return f"({expr}) {JOIN}{selector}"


class Board:
    """Panels laid out two per row (full width when ``wide``), in the order added."""

    def __init__(self, uid: str, title: str, description: str, tags: list[str]) -> None:
        self.uid, self.title, self.description, self.tags = uid, title, description, tags
        self.panels: list[dict[str, Any]] = []
        self.variables: list[dict[str, Any]] = [
            {
                "name": "datasource",
                "label": "数据源 / Data source",
                "type": "datasource",
                "query": "prometheus",
                "current": {},
                "hide": 0,
                "refresh": 1,
            }
        ]
        self._x = 0
        self._y = 0

    def variable(self, name: str, label: str, query: str) -> None:
        self.variables.append(
            {
                "name": name,
                "label": label,
                "type": "query",
                "datasource": DATASOURCE,
                "definition": query,
                "query": {"query": query, "refId": f"{name}-values"},
                "refresh": 2,
                "includeAll": False,
                "multi": False,
                "sort": 1,
                "current": {},
                "hide": 0,
            }
        )

    def row(self, title: str) -> None:
        if self._x:
            self._x, self._y = 0, self._y + 8
        self.panels.append(
            {
                "id": len(self.panels) + 1,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self._y},
                "panels": [],
            }
        )
        self._y += 1

    def panel(
        self,
        title: str,
        description: str,
        targets: list[tuple[str, str]],
        *,
        unit: str = "short",
        kind: str = "timeseries",
        wide: bool = False,
    ) -> None:
        """``targets``: (PromQL expression, legend format) pairs."""
        width = 24 if wide else 12
        if self._x + width > 24:
            self._x, self._y = 0, self._y + 8
        panel: dict[str, Any] = {
            "id": len(self.panels) + 1,
            "type": kind,
            "title": title,
            "description": description,
            "datasource": DATASOURCE,
            "gridPos": {"h": 8, "w": width, "x": self._x, "y": self._y},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"legend": {"displayMode": "table", "placement": "bottom"}}
            if kind == "timeseries"
            else {"reduceOptions": {"calcs": ["lastNotNull"]}},
            "targets": [
                {
                    "refId": chr(ord("A") + i),
                    "datasource": DATASOURCE,
                    "expr": expr,
                    "legendFormat": legend,
                }
                for i, (expr, legend) in enumerate(targets)
            ],
        }
        self.panels.append(panel)
        self._x += width
        if self._x >= 24:
            self._x, self._y = 0, self._y + 8

    def json(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": self.tags,
            "timezone": "browser",
            "editable": False,
            "schemaVersion": 39,
            "version": 1,
            "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": self.variables},
            "annotations": {"list": []},
            "links": [],
            "panels": self.panels,
        }


def federation() -> dict[str, Any]:
    board = Board(
        "xueji-federation",
        "学籍联邦总览 / Xueji federation",
        "各层消息、发件箱、死信、接口延迟、转学办结与逾期步骤 / Messages, outbox, dead "
        "letters, HTTP latency, transfers and overdue steps of every tier",
        ["xueji", "federation"],
    )
    board.row("消息 / Messages")
    board.panel(
        "各层消息处理速率 / Messages applied per tier",
        "各层每秒处理的消息（去重后）/ Messages applied per second, per tier (duplicates apart)",
        [
            (
                "sum by (tier) ("
                + joined(rate('xueji_messages_in_total{outcome="applied"}'))
                + ")",
                "{{tier}}",
            )
        ],
        unit="ops",
    )
    board.panel(
        "各层消息发布速率 / Messages published per tier",
        "发件箱每秒发布并经代理确认的消息 / Outbox messages published and confirmed per second",
        [("sum by (tier) (" + joined(rate("xueji_messages_published_total")) + ")", "{{tier}}")],
        unit="ops",
    )
    board.panel(
        "重复与重试 / Duplicates and retries",
        "被收件箱去重的消息与进入重试队列的投递 / Duplicates dropped by the inbox, deliveries "
        "sent to a retry delay",
        [
            (
                "sum by (tier) ("
                + joined(rate('xueji_messages_in_total{outcome="duplicate"}'))
                + ")",
                "去重 duplicate {{tier}}",
            ),
            (
                "sum by (tier) (" + joined(rate("xueji_messages_retried_total")) + ")",
                "重试 retried {{tier}}",
            ),
        ],
        unit="ops",
    )
    board.panel(
        "代理连接 / Broker connection",
        "每个实例与消息代理的连接（1 为已连接）/ 1 while an instance's broker connection is up",
        [(f"min by (xueji_instance) ({joined('xueji_broker_connected')})", "{{xueji_instance}}")],
    )
    board.row("发件箱与死信 / Outbox and dead letters")
    board.panel(
        "发件箱积压 / Outbox backlog",
        "尚未发布的发件箱消息（每个实例）/ Outbox messages not yet published, per instance",
        [
            (
                f"max by (xueji_instance) ({joined('xueji_outbox_backlog_messages')})",
                "{{xueji_instance}}",
            )
        ],
    )
    board.panel(
        "最旧未发消息时长 / Oldest unsent outbox message",
        "发件箱中最旧未发布消息的时长 / Age of the oldest unpublished outbox message",
        [
            (
                f"max by (xueji_instance) ({joined('xueji_outbox_oldest_unsent_age_seconds')})",
                "{{xueji_instance}}",
            )
        ],
        unit="s",
    )
    board.panel(
        "死信（每小时）/ Dead letters per hour",
        "每小时进入死信队列的消息，按实例与类型 / Messages dead-lettered in the last hour, by "
        "instance and type",
        [
            (
                "sum by (xueji_instance, type) "
                f"({joined('increase(xueji_messages_dead_lettered_total[1h])')})",
                "{{xueji_instance}} {{type}}",
            )
        ],
    )
    board.panel(
        "安全告警（每小时）/ Security alerts per hour",
        "因签名、时效或地址被拒收的消息，按原因 / Messages refused for their signature, age or "
        "addressing, by reason",
        [
            (
                "sum by (xueji_instance, reason) "
                f"({joined('increase(xueji_security_alerts_total[1h])')}) > 0",
                "{{xueji_instance}} {{reason}}",
            )
        ],
    )
    board.row("接口 / HTTP")
    board.panel(
        "接口 P95 延迟（按路由）/ p95 HTTP latency per route",
        "各层每个路由模板的第 95 百分位延迟 / 95th percentile latency per tier and route template",
        [
            (
                "histogram_quantile(0.95, sum by (le, tier, route) "
                f"({joined(rate('xueji_http_request_duration_seconds_bucket'))}))",
                "{{tier}} {{route}}",
            )
        ],
        unit="s",
        wide=True,
    )
    board.panel(
        "接口错误率 / HTTP 5xx rate",
        "各层每秒返回 5xx 的请求 / Requests answered with a 5xx status per second, per tier",
        [
            (
                "sum by (tier) "
                "("
                + joined(rate('xueji_http_request_duration_seconds_count{status=~"5.."}'))
                + ")",
                "{{tier}}",
            )
        ],
        unit="reqps",
    )
    board.panel(
        "接口请求速率 / HTTP requests per tier",
        "各层每秒请求数 / Requests per second, per tier",
        [
            (
                f"sum by (tier) ({joined(rate('xueji_http_request_duration_seconds_count'))})",
                "{{tier}}",
            )
        ],
        unit="reqps",
    )
    board.row("转学与审批 / Transfers and approvals")
    board.panel(
        "转学办结（每日）/ Transfers ended per day",
        "国家层每日结束的转学，按结果（completed 办结，rejected 驳回，cancelled 撤回，stopped "
        "终止，refused 不予受理）/ Transfers ended in the last 24 h, by outcome",
        [("sum by (outcome) (increase(xueji_transfers_ended_total[1d]))", "{{outcome}}")],
    )
    board.panel(
        "转学办结速率 / Transfer completions",
        "每小时办结的转学 / Transfers completed per hour",
        [('sum(increase(xueji_transfers_ended_total{outcome="completed"}[1h]))', "办结 completed")],
    )
    board.panel(
        "逾期转学步骤 / Overdue transfer steps",
        "逾期未办的转学步骤，按办理单位（前 10）/ Overdue transfer steps by party unit (top 10)",
        [
            ('sum(max by (unit) (xueji_transfer_steps{kind="overdue"}))', "合计 total"),
            ('topk(10, max by (unit) (xueji_transfer_steps{kind="overdue"}))', "{{unit}}"),
        ],
    )
    board.panel(
        "逾期审批任务 / Overdue approval tasks",
        "各层逾期的审批任务，按类型 / Overdue tasks on the approval desks, by tier and kind",
        [
            (
                "sum by (tier, kind) (max by (tier, unit, kind) ("
                + joined('xueji_desk_tasks{state="overdue"}')
                + "))",
                "{{tier}} {{kind}}",
            )
        ],
    )
    return board.json()


def tier_board(tier: str) -> dict[str, Any]:
    name = TIER_NAMES[tier]
    board = Board(
        f"xueji-{tier}",
        f"学籍{name}实例 / Xueji {tier} instance",
        f"一个{name}实例（变量 instance）的消息、发件箱、接口与进程 / One {tier} instance "
        "(variable instance): messages, outbox, HTTP and process",
        ["xueji", tier],
    )
    board.variable(
        "instance",
        "实例 / Instance",
        f'label_values(xueji_instance_info{{tier="{tier}"}}, xueji_instance)',
    )
    mine = 'xueji_instance="$instance"'

    def of(expr: str) -> str:
        return joined(expr, mine)

    board.row("消息 / Messages")
    board.panel(
        "接收消息（按类型与结果）/ Messages in by type and outcome",
        "每秒处理（applied）与去重（duplicate）的消息 / Messages applied or dropped as duplicates "
        "per second",
        [
            (
                f"sum by (type, outcome) ({of(rate('xueji_messages_in_total'))})",
                "{{type}} {{outcome}}",
            )
        ],
        unit="ops",
    )
    board.panel(
        "发布消息（按类型）/ Messages published by type",
        "每秒发布并确认的发件箱消息 / Outbox messages published and confirmed per second",
        [(f"sum by (type) ({of(rate('xueji_messages_published_total'))})", "{{type}}")],
        unit="ops",
    )
    board.panel(
        "重试与死信 / Retries and dead letters",
        "进入重试队列与死信队列的消息（每小时）/ Deliveries retried and dead-lettered per hour",
        [
            (
                f"sum by (type) ({of('increase(xueji_messages_retried_total[1h])')})",
                "重试 retried {{type}}",
            ),
            (
                f"sum by (type) ({of('increase(xueji_messages_dead_lettered_total[1h])')})",
                "死信 dead {{type}}",
            ),
        ],
    )
    board.panel(
        "安全告警 / Security alerts",
        "因签名、时效或地址被拒收的消息（每小时）/ Messages refused per hour, by reason",
        [(f"sum by (reason) ({of('increase(xueji_security_alerts_total[1h])')})", "{{reason}}")],
    )
    board.panel(
        "消费事务 / Consumer transactions",
        "每秒提交的消费事务 / Consumer transactions committed per second",
        [(f"sum ({of(rate('xueji_consumer_batches_total'))})", "批次 batches")],
        unit="ops",
    )
    board.panel(
        "代理连接 / Broker connection",
        "1 为已连接（每个副本）/ 1 while connected, per replica",
        [(f"{of('xueji_broker_connected')}", "{{instance}}")],
    )
    board.row("发件箱 / Outbox")
    board.panel(
        "发件箱积压 / Outbox backlog",
        "尚未发布的发件箱消息 / Outbox messages not yet published",
        [(f"max ({of('xueji_outbox_backlog_messages')})", "积压 backlog")],
    )
    board.panel(
        "最旧未发消息时长 / Oldest unsent outbox message",
        "发件箱中最旧未发布消息的时长 / Age of the oldest unpublished message",
        [(f"max ({of('xueji_outbox_oldest_unsent_age_seconds')})", "时长 age")],
        unit="s",
    )
    board.row("接口 / HTTP")
    board.panel(
        "接口延迟 P50 / P95（按路由）/ HTTP latency p50 and p95 per route",
        "每个路由模板的延迟分位数 / Latency quantiles per route template",
        [
            (
                "histogram_quantile(0.95, sum by (le, route) "
                f"({of(rate('xueji_http_request_duration_seconds_bucket'))}))",
                "p95 {{route}}",
            ),
            (
                "histogram_quantile(0.5, sum by (le, route) "
                f"({of(rate('xueji_http_request_duration_seconds_bucket'))}))",
                "p50 {{route}}",
            ),
        ],
        unit="s",
        wide=True,
    )
    board.panel(
        "接口请求（按路由与状态）/ Requests by route and status",
        "每秒请求数 / Requests per second",
        [
            (
                f"sum by (route, status) ({of(rate('xueji_http_request_duration_seconds_count'))})",
                "{{route}} {{status}}",
            )
        ],
        unit="reqps",
    )
    board.panel(
        "平均延迟 / Mean latency",
        "每个路由的平均延迟 / Mean latency per route",
        [
            (
                f"sum by (route) ({of(rate('xueji_http_request_duration_seconds_sum'))})"
                " / "
                f"sum by (route) ({of(rate('xueji_http_request_duration_seconds_count'))})",
                "{{route}}",
            )
        ],
        unit="s",
    )
    board.row("审批 / Approvals")
    board.panel(
        "待办与逾期任务 / Open and overdue tasks",
        "审批台上的任务，按单位、类型与状态 / Tasks on the approval desk by unit, kind and state",
        [(f"max by (unit, kind, state) ({of('xueji_desk_tasks')})", "{{unit}} {{kind}} {{state}}")],
    )
    if tier == "national":
        board.panel(
            "转学步骤（待办 / 逾期）/ Transfer steps open and overdue",
            "各办理单位的待办与逾期转学步骤 / Open and overdue transfer steps per party unit",
            [
                (
                    f"sum by (kind) (max by (unit, kind) ({of('xueji_transfer_steps')}))",
                    "{{kind}}",
                ),
                (
                    "topk(10, max by (unit) (" + of('xueji_transfer_steps{kind="overdue"}') + "))",
                    "逾期 overdue {{unit}}",
                ),
            ],
        )
        board.panel(
            "转学结束（按结果，每小时）/ Transfers ended per hour by outcome",
            "本实例结束的转学 / Transfers this instance ended",
            [
                (
                    f"sum by (outcome) ({of('increase(xueji_transfers_ended_total[1h])')})",
                    "{{outcome}}",
                )
            ],
        )
    board.row("进程 / Process")
    board.panel(
        "CPU",
        "每个副本的 CPU 使用（核）/ CPU seconds per second, per replica",
        [(f"{of(rate('process_cpu_seconds_total'))}", "{{instance}}")],
    )
    board.panel(
        "内存 / Memory",
        "每个副本的常驻内存 / Resident memory per replica",
        [(f"{of('process_resident_memory_bytes')}", "{{instance}}")],
        unit="bytes",
    )
    board.panel(
        "仪表回调失败 / Metric callback failures",
        "抓取时失败或超时的仪表回调（数据库不可达时上升）/ Gauge callbacks that failed during "
        "a scrape (rises when the database is unreachable)",
        [
            (
                f"sum by (gauge) ({of('increase(xueji_metrics_callback_failures_total[1h])')})",
                "{{gauge}}",
            )
        ],
    )
    return board.json()


# -- the metrics a query names ------------------------------------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_VARIABLES = re.compile(r"\$\{?\w+\}?")
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*[A-Za-z_]\w*\s*\)\s*$", re.DOTALL)
_IDENTIFIER = re.compile(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
     "group_right", "inf", "nan"}
)  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana ``label_values`` query) selects:
    identifiers outside strings, label matchers, ranges and label lists, not called as a
    function or an aggregation, not a keyword."""
    found = _LABEL_VALUES.match(expr)
    text = found.group(1) if found else expr
    for pattern in (_STRINGS, _MATCHERS, _RANGES, _LABEL_LISTS, _VARIABLES):
        text = pattern.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        word = match.group()
        if word.lower() in _KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue
        names.add(word)
    return names


def queries(board: dict[str, Any]) -> list[str]:
    """Every query of a dashboard: its panels' targets and its query variables."""
    found = [
        str(target["expr"]) for panel in board["panels"] for target in panel.get("targets", [])
    ]
    found += [str(v["definition"]) for v in board["templating"]["list"] if v["type"] == "query"]
    return found


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON model."""
    boards = {"xueji-federation.json": federation()}
    for tier in TIERS:
        boards[f"xueji-{tier}.json"] = tier_board(tier)
    return boards


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def stale(directory: Path) -> list[str]:
    """The files of ``directory`` that differ from (or lack) what this module gives."""
    return [
        name
        for name, board in dashboards().items()
        if not (directory / name).exists()
        or (directory / name).read_text(encoding="utf-8") != render(board)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.dashboards", description=__doc__)
    parser.add_argument("command", choices=["write", "check"])
    parser.add_argument("directory", type=Path, nargs="?", default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    if args.command == "write":
        args.directory.mkdir(parents=True, exist_ok=True)
        for name, board in dashboards().items():
            (args.directory / name).write_text(render(board), encoding="utf-8")
        return 0
    differing = stale(args.directory)
    for name in differing:
        print(f"{args.directory / name}: stale, run `python -m devtools.dashboards write`")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
