"""The shipped Grafana dashboards (devtools/dashboards.py, decision 0031) only query metrics the
running services really export: after some traffic (a registration and a transfer driven to
completion), every instance's ``/metrics`` is scraped, and every metric name every panel and
variable query selects must be exported by an instance of the tiers the dashboard shows."""

from __future__ import annotations

import json

from prometheus_client.parser import text_string_to_metric_families

from devtools import dashboards
from devtools.launcher import LocalFederation
from tests.integration.conftest import Federation
from tests.integration.transfer_support import drive, enrolled_student, request_transfer

# Names a family is selected by, per Prometheus type (the classic text format's series).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
    "info": ("_info",),
}


def exported_names(text: str) -> set[str]:
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
        names |= {sample.name for sample in family.samples}
    return names


async def test_every_panel_queries_only_metrics_the_services_export(
    federation: LocalFederation, fed: Federation
) -> None:
    kid = await enrolled_student(fed, "4101020001")
    started = await request_transfer(fed, kid, "4101020003")
    assert (await drive(fed, str(started["transfer_id"])))["state"] == "completed"

    by_tier: dict[str, set[str]] = {tier: set() for tier in dashboards.TIERS}
    samples: dict[str, str] = {}
    for entry in json.loads(federation.federation_json.read_text())["instances"]:
        response = await fed.http.get(entry["base_url"] + "/metrics")
        assert response.status_code == 200, entry["name"]
        by_tier[entry["tier"]] |= exported_names(response.text)
        samples[entry["name"]] = response.text
    everywhere = set().union(*by_tier.values())

    missing: list[str] = []
    checked = 0
    for file_name, board in dashboards.dashboards().items():
        tier = file_name.removeprefix("xueji-").removesuffix(".json")
        exported = by_tier.get(tier, everywhere)  # xueji-federation.json: every tier
        for query in dashboards.queries(board):
            names = dashboards.metric_names(query)
            checked += len(names)
            missing += [f"{file_name}: {name} in {query}" for name in sorted(names - exported)]
    assert not missing, "\n".join(missing)
    assert checked > 50

    # The traffic shows in the series the federation dashboard is about.
    national = [
        (sample.name, sample.labels, sample.value)
        for name, text in samples.items()
        if name.startswith("national")
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]
    ended = [v for n, labels, v in national if n == "xueji_transfers_ended_total"]
    assert ended and max(ended) >= 1
    assert [labels["tier"] for n, labels, _ in national if n == "xueji_instance_info"] == [
        "national"
    ]


def test_a_metric_the_services_do_not_export_would_be_reported() -> None:
    board = dashboards.tier_board("school")
    board["panels"][1]["targets"][0]["expr"] = "rate(xueji_no_such_metric_total[5m])"
    names = {n for q in dashboards.queries(board) for n in dashboards.metric_names(q)}
    exported = exported_names(
        "# HELP xueji_messages_in_total m\n# TYPE xueji_messages_in_total counter\n"
    )
    assert "xueji_no_such_metric_total" in names - exported
    assert "xueji_messages_in_total" in exported and "xueji_messages_in_created" in exported
