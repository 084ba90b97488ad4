"""Every route of every tier declares who may call it (default deny).

A route added without ``requires(...)`` or ``public()`` (shared/security/authz.py) fails here.
The matrix test (test_matrix.py) then calls each route as every role of its own and of a
foreign unit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from shared.security.authz import ACCESS_RULE, AccessRule
from tests.shared.audit.test_coverage import app_of, routes

TIERS = ["national", "province", "county", "school"]
PUBLIC = {"/healthz", "/readyz", "/metrics", "/api/v1/auth/token", "/api/v1/auth/password"}
# Anyone holding a document checks it (components/documents, decision 0036): the tiers that
# issue documents publish their keys and answer verifications without an account.
DOCUMENTS_PUBLIC = {
    "/api/v1/documents/keys",
    "/api/v1/documents/verifications",
    "/api/v1/documents/verifications/{code}",
}
# A registered client system checks a student's status with its own credentials, not an
# officer's token (components/status_checks, N2025 art. 24): public as far as tokens go.
CLIENT_SYSTEMS = {"/api/v1/status-checks"}
PUBLIC_BY_TIER = {
    "school": PUBLIC | DOCUMENTS_PUBLIC,
    "province": PUBLIC | DOCUMENTS_PUBLIC,
    "national": PUBLIC | CLIENT_SYSTEMS,
}


def rules_of(route: APIRoute) -> list[AccessRule]:
    """The access rules among the route's dependencies, at any depth."""

    def walk(dependant: Dependant) -> Iterator[AccessRule]:
        for sub in dependant.dependencies:
            rule: Any = getattr(sub.call, ACCESS_RULE, None)
            if rule is not None:
                yield rule
            yield from walk(sub)

    return list(walk(route.dependant))


@pytest.mark.parametrize("tier", TIERS)
def test_every_route_declares_exactly_one_access_rule(tier: str, tmp_path: Path) -> None:
    found = list(routes(app_of(tier, tmp_path)))
    assert len(found) > 8
    undeclared, doubled, public = [], [], set()
    for path, route in found:
        rules = rules_of(route)
        if not rules:
            undeclared.append(f"{sorted(route.methods)} {path}")
        elif len(set(rules)) > 1:
            doubled.append(f"{sorted(route.methods)} {path}")
        elif rules[0].public:
            public.add(path)
    assert undeclared == []
    assert doubled == []
    assert public == PUBLIC_BY_TIER.get(
        tier, PUBLIC
    )  # a new public route is a decision: add it here on purpose
