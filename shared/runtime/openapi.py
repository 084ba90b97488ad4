"""The OpenAPI document tells every status an operation can answer, and its body.

FastAPI documents the success response and a 422 of its own shape; the refusals a route can
answer follow from what it declares, so they are derived here instead of listed by hand on
every route:

- a route protected by ``requires(...)``: 401 (no or a bad token), 403 (a role or a rule of
  the route refuses) and 404 (the unit or object is not visible to the caller);
- a path parameter: 404 (no such object here);
- an unsafe method (POST, PUT, PATCH, DELETE) of a protected route: 409 (the object's state
  does not allow it, e.g. decided meanwhile);
- every operation: 422 (invalid input, a business rule, a NUL character refused at the edge),
  500 (the service's own failure), and what the edge middleware answers to any request;
- the statuses a route names in its own ``responses`` (410, 413, 415 ...).

Every one of them carries :class:`~shared.runtime.errors.ErrorResponse` unless the route
documents another body for it (e.g. readiness's 503); a 401 its ``WWW-Authenticate`` header.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from shared.runtime.errors import ErrorResponse
from shared.security.authz import ACCESS_RULE, AccessRule

REF = "#/components/schemas/{model}"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

PROTECTED = {
    401: "Not authenticated, or the token is invalid or expired",
    403: "The caller's roles or a rule of the operation refuse it",
    404: "The unit or object does not exist or is not visible to the caller",
}
OBJECT_NOT_FOUND = "No such object here"
CONFLICT = "The object's state does not allow this (e.g. it was decided meanwhile)"
# Every 401 says how to authenticate (RFC 6750).
HEADERS = {
    401: {
        "WWW-Authenticate": {
            "description": "Bearer",
            "required": True,
            "schema": {"type": "string"},
        }
    }
}
EVERY_OPERATION = {
    422: "The request is invalid, or a business rule refuses it (code, rule, article)",
    500: "The service failed (the failure is logged)",
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


def access_rules(route: APIRoute) -> list[AccessRule]:
    """The access rules among the route's dependencies, at any depth."""

    def walk(dependant: Dependant) -> Iterator[AccessRule]:
        for sub in dependant.dependencies:
            rule: Any = getattr(sub.call, ACCESS_RULE, None)
            if rule is not None:
                yield rule
            yield from walk(sub)

    return list(walk(route.dependant))


def refusals(route: APIRoute, method: str, edge: Mapping[int, str]) -> dict[int, str]:
    """Every refusal status ``route`` can answer to ``method``, with what it means."""
    found = {**EVERY_OPERATION, **edge}
    protected = any(not rule.public for rule in access_rules(route))
    if protected:
        found.update(PROTECTED)
        if method in UNSAFE:
            found[409] = CONFLICT
    if route.dependant.path_params:
        found.setdefault(404, OBJECT_NOT_FOUND)
    for status in route.responses:
        if str(status).isdigit() and int(status) >= 400:
            found.setdefault(int(status), "")
    return dict(sorted(found.items()))


def document_refusals(
    app: FastAPI, schema: dict[str, Any], edge: Mapping[int, str] = {}
) -> dict[str, Any]:
    """``schema`` with every operation's refusals documented with the one error model."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorResponse.model_json_schema(ref_template=REF, mode="serialization")
    components.update(error_schema.pop("$defs", {}))
    components[ErrorResponse.__name__] = error_schema
    body = {"application/json": {"schema": {"$ref": REF.format(model=ErrorResponse.__name__)}}}
    for path, route in routes(app):
        operations = schema.get("paths", {}).get(path, {})
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            answers = operation.setdefault("responses", {})
            for status, meaning in refusals(route, method, edge).items():
                documented = answers.setdefault(str(status), {})
                fastapis = status == 422  # FastAPI's own 422 (HTTPValidationError) is replaced
                if fastapis or not documented.get("content"):
                    documented["content"] = body
                if fastapis or not documented.get("description"):
                    documented["description"] = meaning
                if status in HEADERS:
                    documented.setdefault("headers", {}).update(HEADERS[status])
            operation["responses"] = dict(sorted(answers.items()))
    for unused in ("HTTPValidationError", "ValidationError"):  # unless something else uses it
        if f'"{REF.format(model=unused)}"' not in json.dumps(schema):
            components.pop(unused, None)
    return schema


def install(app: FastAPI, edge: Mapping[int, str] = {}) -> None:
    """Make ``app.openapi()`` document every operation's refusals (computed once)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_refusals(app, generate(), edge)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
