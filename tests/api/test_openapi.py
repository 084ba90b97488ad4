"""What each tier's OpenAPI document promises, read from the document itself.

- every refusal of every operation carries the one error model (``ErrorResponse``);
- a protected operation documents 401, 403 and 404, an unsafe one 409 as well, every one 422,
  500 and the edge's refusals (413, 414, 431);
- every moment a response carries is a date-time with its offset, and says so.

The responses themselves are checked against the document by schemathesis
(``test_schemathesis.py``); the refusals' bodies by ``tests/shared/runtime/test_errors.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.runtime.limits import EDGE_REFUSALS
from shared.runtime.openapi import UNSAFE, access_rules, routes
from tests.shared.audit.test_coverage import app_of

TIERS = ["national", "province", "county", "school"]
ERROR = "#/components/schemas/ErrorResponse"
# Operations whose refusal documents another body on purpose.
OWN_BODY = {("/readyz", "get", "503")}


@pytest.fixture(params=TIERS, scope="module")
def tier_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return app_of(request.param, tmp_path_factory.mktemp(request.param))


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_refusal_carries_the_error_model(tier_app: Any) -> None:
    schema = tier_app.openapi()
    wrong = []
    for path, method, operation in operations(schema):
        for status, response in operation["responses"].items():
            if int(status) < 400 or (path, method, status) in OWN_BODY:
                continue
            ref = response.get("content", {}).get("application/json", {}).get("schema", {})
            if ref.get("$ref") != ERROR:
                wrong.append(f"{method.upper()} {path} {status}: {ref}")
            if status == "401" and "WWW-Authenticate" not in response.get("headers", {}):
                wrong.append(f"{method.upper()} {path} 401 without WWW-Authenticate")
    assert wrong == []
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    error = schema["components"]["schemas"]["ErrorResponse"]
    assert {"code", "message"} <= set(error["required"])
    assert {"message_zh", "rule", "article", "errors"} <= set(error["properties"])


def test_every_operation_documents_the_refusals_its_route_declares(tier_app: Any) -> None:
    schema = tier_app.openapi()
    missing = []
    for path, route in routes(tier_app):
        protected = any(not rule.public for rule in access_rules(route))
        for method in route.methods or ():
            documented = set(schema["paths"][path][method.lower()]["responses"])
            expected = {"422", "500"} | {str(status) for status in EDGE_REFUSALS}
            if protected:
                expected |= {"401", "403", "404"} | ({"409"} if method in UNSAFE else set())
            if route.dependant.path_params:
                expected.add("404")
            if not expected <= documented:
                missing.append(f"{method} {path}: {sorted(expected - documented)}")
    assert missing == []


def response_schemas(schema: dict[str, Any]) -> set[str]:
    """Names of the component schemas a response can contain (transitively)."""
    components = schema["components"]["schemas"]
    seen: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in seen:
                    seen.add(name)
                    visit(components[name])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for _path, _method, operation in operations(schema):
        visit(operation["responses"])
    return seen


def date_times(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("format") == "date-time":
            yield where, node
        for key, value in node.items():
            yield from date_times(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from date_times(value, f"{where}[{index}]")


def test_every_moment_in_a_response_carries_its_offset(tier_app: Any, tmp_path: Path) -> None:
    schema = tier_app.openapi()
    components = schema["components"]["schemas"]
    naive = [
        where
        for name in sorted(response_schemas(schema))
        for where, node in date_times(components[name], name)
        if node.get("pattern") != "(Z|[+-][0-9]{2}:[0-9]{2})$"
    ]
    for path, method, operation in operations(schema):  # inline response schemas too
        for where, node in date_times(operation["responses"], f"{method} {path}"):
            if node.get("pattern") is None:
                naive.append(where)
    assert naive == []
