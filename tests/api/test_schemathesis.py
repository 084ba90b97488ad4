"""Every operation of every tier's OpenAPI, fed generated input by schemathesis: no 5xx.

Each tier's app runs in-process (ASGI transport, its runtime started: real database, real
broker) and every operation of its own OpenAPI document gets ``XUEJI_SCHEMATHESIS_EXAMPLES``
generated requests (default 5; ``XUEJI_SCHEMATHESIS_EXAMPLES=200 make test
PYTEST_ARGS=tests/api`` for a deep run). A unit path parameter (``school_code``,
``county_code``, ``province_code``) is half of the time a real unit code of the federation,
so the requests reach past the "not hosted here" 404, and every request carries a bearer token
of the unit it names (else of the instance's first unit) with all four roles, so they reach
past authentication and authorization too. The checks: no response is a server error, and
every response conforms to the operation's documentation (schemathesis's
``status_code_conformance``, ``content_type_conformance``, ``response_headers_conformance`` and
``response_schema_conformance``): a documented status, content type and headers, and a body
valid against the documented schema (every refusal in the one error model, every moment with
its offset). A failure is shrunk by Hypothesis to its smallest input and reported with it, for
every operation at once.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devtools.testing import federation_copy, instance_name
from shared.federation.config import Federation
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import ServiceSettings
from shared.security.testing import auth_headers, unit_of_request
from tests.databases import migrate_to_head

pytestmark = pytest.mark.broker

EXAMPLES = int(os.environ.get("XUEJI_SCHEMATHESIS_EXAMPLES", "5"))
TIERS = {
    "national": "national",
    "province": "province-41",
    "county": "county-41",
    "school": "school-41",
}
# Operations whose 5xx is their documented meaning, not a failure.
EXPECTED_5XX = {("GET", "/readyz"): 503}
# XUEJI_SCHEMATHESIS_SHRINK=0: report the first failing input as found (a quicker survey).
PHASES = [Phase.explicit, Phase.generate] + (
    [Phase.shrink] if os.environ.get("XUEJI_SCHEMATHESIS_SHRINK", "1") == "1" else []
)
# The response's status, content type, headers and body as the operation documents them.
CONFORMANCE = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class Report:
    cases: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)


def unit_codes(federation: Federation) -> dict[str, list[str]]:
    return {
        "school_code": [s.code for s in federation.schools],
        "county_code": [c.code for c in federation.counties],
        "province_code": [p.code for p in federation.provinces],
    }


@pytest.fixture(params=list(TIERS))
async def app(
    request: pytest.FixtureRequest, database_url: str, amqp_url: str, tmp_path: Path
) -> AsyncIterator[FastAPI]:
    tier = request.param
    config = federation_copy(tmp_path / "federation")
    settings = ServiceSettings(
        env="test",
        instance=instance_name(config, TIERS[tier]),
        federation_config=config,
        database_url=database_url,
        amqp_url=amqp_url,
        data_dir=tmp_path / "data",
        relay_poll_interval=0.5,
    )
    await asyncio.to_thread(migrate_to_head, tier, database_url)
    bootstrap = importlib.import_module(f"services.{tier}.bootstrap")
    application: FastAPI = bootstrap.build_app(settings)
    runtime: ServiceRuntime = application.state.runtime
    await runtime.start()
    try:
        await runtime.broker.wait_ready(30)
        yield application
    finally:
        await runtime.stop()


def request_kwargs(case: Any) -> dict[str, Any]:
    """schemathesis' requests-style arguments as httpx.AsyncClient.request takes them."""
    kwargs = dict(case.as_transport_kwargs(base_url="http://test"))
    headers = dict(kwargs.pop("headers", None) or {})
    cookies = kwargs.pop("cookies", None) or {}
    if cookies:  # per-request cookies are deprecated in httpx: send the header itself
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    if "files" in kwargs:  # multipart parts httpx can send: bytes, text or a file
        kwargs["files"] = [(name, _part(value)) for name, value in kwargs["files"]]
    data = kwargs.pop("data", None)
    if isinstance(data, bytes | str):
        kwargs["content"] = data
    elif data is not None:
        kwargs["data"] = data
    return {**kwargs, "headers": headers}


def exercise(
    operation: Any,
    send: Callable[[dict[str, Any]], httpx.Response],
    codes: dict[str, list[str]],
    report: Report,
) -> None:
    """Run Hypothesis on one operation (in a worker thread; requests go to the app's loop)."""
    method, path = operation.method.upper(), operation.path

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=PHASES,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), data=st.data())
    def check(case: Any, data: st.DataObject) -> None:
        for name, values in codes.items():
            if name in (case.path_parameters or {}) and data.draw(st.booleans(), label=name):
                case.path_parameters[name] = data.draw(st.sampled_from(values), label=name)
        kwargs = request_kwargs(case)
        response = send(kwargs)
        report.cases += 1
        status = response.status_code
        report.statuses[status] += 1
        if status >= 500 and EXPECTED_5XX.get((method, path)) != status:
            raise AssertionError(
                f"{status} for {kwargs['method']} {kwargs['url']}"
                f" with {_sent(kwargs)}: {response.text[:300]}"
            )
        try:
            case.validate_response(response, checks=CONFORMANCE)
        except FailureGroup as exc:
            found = "\n".join(f"{f.title}: {f.message[:400]}" for f in exc.exceptions)
            raise AssertionError(
                f"{kwargs['method']} {kwargs['url']} with {_sent(kwargs)}:"
                f" {status} {response.text[:300]}\n{found}"
            ) from None

    try:
        check()
    except AssertionError as exc:
        report.failures.append(f"{method} {path}: {exc}")


async def test_no_generated_request_makes_a_server_error(app: FastAPI) -> None:
    runtime: ServiceRuntime = app.state.runtime
    schema = schemathesis.openapi.from_dict(app.openapi())
    loop = asyncio.get_running_loop()
    report = Report()
    codes = unit_codes(runtime.federation)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        default_unit = f"{runtime.tier.value}:{runtime.instance.units[0]}"

        async def authenticated(kwargs: dict[str, Any]) -> httpx.Response:
            request = client.build_request(**kwargs)
            unit = unit_of_request(request) or default_unit
            request.headers.update(auth_headers(unit))
            request.read()  # a multipart body is a stream: schemathesis reads the request again
            return await client.send(request)

        def send(kwargs: dict[str, Any]) -> httpx.Response:
            future = asyncio.run_coroutine_threadsafe(authenticated(kwargs), loop)
            return future.result(timeout=60)

        for result in schema.get_all_operations():
            operation = result.ok()
            await asyncio.to_thread(exercise, operation, send, codes, report)
    print(
        f"\n{runtime.instance.name}: {report.cases} generated requests,"
        f" {dict(sorted(report.statuses.items()))}"
    )
    assert report.cases >= EXAMPLES
    assert not report.failures, "\n\n".join(report.failures)


def _part(value: Any) -> Any:
    if isinstance(value, tuple):  # (filename, content, content type...)
        return (value[0], _part(value[1]), *value[2:])
    if isinstance(value, bytes | str) or hasattr(value, "read"):
        return value
    return json.dumps(value)


def _sent(kwargs: dict[str, Any]) -> str:
    shown = {k: v for k, v in kwargs.items() if k in ("params", "json", "content", "data") and v}
    if "files" in kwargs:
        shown["files"] = [(name, str(f)[:80]) for name, f in kwargs["files"]]
    return repr(shown)[:500]
