"""Every endpoint of every tier that touches registration data declares its audit entry.

An endpoint added without ``dependencies=[audited(...)]`` fails here, unless it is listed
below as carrying no personal data.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from devtools.testing import REPO_CONFIG
from shared.audit.recording import audit_declaration
from shared.federation.config import load_federation
from shared.runtime.settings import ServiceSettings

# Operations endpoints: liveness, readiness, metrics, connectivity probes between units.
NOT_PERSONAL = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/diagnostics/pings",
    "/api/v1/diagnostics/pings/{probe_id}",
    "/api/v1/schools/{school_code}/status-change-rules",  # the province's rules file
    "/api/v1/schools/{school_code}/archive-kinds",  # the archive's entry kinds, from the rules file
}


def routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) of every API route, through included routers."""

    def walk(items: list[Any], prefix: str) -> Iterator[tuple[str, APIRoute]]:
        for item in items:
            if isinstance(item, APIRoute):
                yield prefix + item.path, item
            elif hasattr(item, "original_router"):  # FastAPI's record of include_router
                yield from walk(item.original_router.routes, prefix + item.include_context.prefix)

    yield from walk(list(app.routes), "")


def app_of(tier: str, tmp_path: Path) -> FastAPI:
    federation = load_federation(REPO_CONFIG)
    instance = next(i.name for i in federation.instances if i.tier == tier)
    settings = ServiceSettings(
        instance=instance,
        federation_config=REPO_CONFIG,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite'}",
    )
    app: FastAPI = importlib.import_module(f"services.{tier}.bootstrap").build_app(settings)
    return app


@pytest.mark.parametrize("tier", ["national", "province", "county", "school"])
def test_every_endpoint_is_audited_or_carries_no_personal_data(tier: str, tmp_path: Path) -> None:
    found = list(routes(app_of(tier, tmp_path)))
    assert len(found) > len(NOT_PERSONAL) + 2
    assert any(path == "/api/v1/audit" for path, _ in found)
    unaudited = [
        f"{sorted(route.methods)} {path}"
        for path, route in found
        if path not in NOT_PERSONAL
        and not any(audit_declaration(d.dependency) for d in route.dependencies if d.dependency)
    ]
    assert unaudited == []
