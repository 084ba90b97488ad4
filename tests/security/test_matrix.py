"""The authorization matrix: every route of every tier × every role × its own unit and a
foreign one, through the real app (real tokens, real dependencies, a migrated database).

For each route the test reads the rule it declares (``requires`` / ``public``) and asserts:
- without a token: 401 (public routes: never 401);
- as each role of the route's own unit: a role the rule names is let through (neither 401 nor
  403, nor the 404 of a unit it may not see), any other role is 403;
- as each role of a foreign unit of the same tier (for a school, the next school of the same
  county on the same instance): 403 or 404, whatever the role;
- on routes barring national (non-basic data): national is refused too.

Routes whose object names its unit (``unit=OBJECT``) are called on a real object of the own
unit, made through the service (a registration, an admission job, a transfer with a proof, a
probe, a task, a registry entry, a national transfer, an account, an export) — so a foreign
404 there is the object check, not a missing row. The few whose object this test does not
build yet are listed in ``WITHOUT_OBJECT`` (called with an unknown id: the foreign refusal is
checked, the own pass is not). A route added later without a rule fails test_rules.py; an
``OBJECT`` route with neither an object here nor a ``WITHOUT_OBJECT`` entry fails here.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from devtools.testing import federation_copy, instance_name
from shared.federation.config import NATIONAL, Tier, UnitRef
from shared.runtime.service import ServiceRuntime
from shared.runtime.settings import ServiceSettings
from shared.security import accounts
from shared.security.authz import (
    AccessRule,
    FixedUnit,
    ObjectUnit,
    PathUnit,
    QueryUnit,
    units_above,
)
from shared.security.principal import Role
from shared.security.testing import auth_headers
from tests.databases import migrate_to_head
from tests.security.test_rules import CLIENT_SYSTEMS, rules_of
from tests.shared.audit.test_coverage import routes

TODAY = date(2026, 9, 7)  # inside Henan's transfer window
INSTANCES = {"national": "national", "province": "province-41", "county": "county-41",
             "school": "school-41"}  # fmt: skip
OWN = {
    Tier.SCHOOL: UnitRef(tier=Tier.SCHOOL, code="4101020001"),
    Tier.COUNTY: UnitRef(tier=Tier.COUNTY, code="410102"),
    # a city's routes are on its province's instance (51's: another instance than 41's, which
    # answers unit_not_served; tests/services/province/test_city_desk.py covers the hosted one)
    Tier.CITY: UnitRef(tier=Tier.CITY, code="5134"),
    Tier.PROVINCE: UnitRef(tier=Tier.PROVINCE, code="41"),
    Tier.NATIONAL: NATIONAL,
}
FOREIGN = {
    Tier.SCHOOL: UnitRef(tier=Tier.SCHOOL, code="4101020002"),  # same county, same instance
    Tier.COUNTY: UnitRef(tier=Tier.COUNTY, code="410105"),  # same province, same instance
    Tier.CITY: UnitRef(tier=Tier.CITY, code="4101"),  # a city the federation does not have
    Tier.PROVINCE: UnitRef(tier=Tier.PROVINCE, code="33"),
    Tier.NATIONAL: UnitRef(tier=Tier.PROVINCE, code="41"),  # only one national: a unit below
}
PUBLIC_OK = {"/healthz", "/readyz", "/metrics"}
# Lists of the caller's own things (no unit to name): a neighbour gets its own, empty, list.
SELF_SCOPED = {"/api/v1/exports"}

# OBJECT routes called with an unknown id: the foreign refusal is checked, the own pass is not.
WITHOUT_OBJECT = {
    ("school", "/api/v1/key-field-changes/{change_id}"),  # needs a student on the roster
    ("school", "/api/v1/tasks/{task_id}"),  # the school's transfer-step task
    ("school", "/api/v1/tasks/{task_id}/decision"),
    ("school", "/api/v1/tasks/decisions"),
    ("school", "/api/v1/status-changes/{change_id}"),
    ("school", "/api/v1/status-changes/{change_id}/proofs/{index}"),
    ("school", "/api/v1/key-field-changes/{change_id}/proofs/{index}"),
    ("national", "/api/v1/status-changes/{change_id}"),
    ("county", "/api/v1/tasks/{task_id}/proofs/{index}"),  # a registration batch has no proof
    ("province", "/api/v1/tasks/{task_id}/proofs/{index}"),
    ("national", "/api/v1/tasks/{task_id}/proofs/{index}"),  # an export's task has no proof
    # needs a registration national refused as a duplicate at the real school
    ("school", "/api/v1/duplicate-resolutions/{resolution_id}/proofs/{index}"),
    # the own school is a primary school: no progression comes into it
    ("school", "/api/v1/progressions/{progression_id}"),
}


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None


@dataclass
class Target:
    """What a route is called on: path parameters, query, body, and whose object it is."""

    unit: UnitRef
    path: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    real_object: bool = True


Factory = Callable[["Tier_", UnitRef], Awaitable[Target]]


@dataclass
class Tier_:
    tier: str
    app: FastAPI
    runtime: ServiceRuntime
    client: httpx.AsyncClient

    async def as_unit(self, unit: UnitRef, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = auth_headers(str(unit))
        return await self.client.request(method, path, headers=headers, **kw)


# --- the services -----------------------------------------------------------------------


@pytest.fixture(scope="module")
async def tiers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Tier_]]:
    base = tmp_path_factory.mktemp("matrix")
    config = federation_copy(base / "federation")
    built: dict[str, Tier_] = {}
    for tier, name in INSTANCES.items():
        url = f"sqlite+aiosqlite:///{base / tier}.sqlite"
        await asyncio.to_thread(migrate_to_head, tier, url)
        module = __import__(f"services.{tier}.bootstrap", fromlist=["build_app"])
        settings = ServiceSettings(
            env="test",
            instance=instance_name(config, name),
            federation_config=config,
            database_url=url,
            today=TODAY,
        )
        app: FastAPI = module.build_app(settings)
        if tier == "school":
            from services.school.entrypoints.http import today

            app.dependency_overrides[today] = lambda: TODAY
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url=f"http://{tier}")
        built[tier] = Tier_(tier, app, app.state.runtime, client)
    try:
        yield built
    finally:
        for item in built.values():
            await item.client.aclose()
            await item.runtime.engine.dispose()


# --- own objects, made through each service --------------------------------------------


def _pdf(kind: str) -> dict[str, str]:
    content = base64.b64encode(b"%PDF-1.4 " + kind.encode()).decode()
    return {"kind": kind, "filename": f"{kind}.pdf", "content_base64": content}


async def _registration(t: Tier_, unit: UnitRef) -> Target:
    from tests.services.school.test_http import form

    response = await t.as_unit(unit, "POST", f"/api/v1/schools/{unit.code}/students", json=form())
    assert response.status_code == 202, response.text
    return Target(unit, {"registration_id": response.json()["registration_id"]})


async def _admission_job(t: Tier_, unit: UnitRef) -> Target:
    csv = (
        "name,gender,birth_date,id_number,grade,enrolled_on\n张三,男,2018-03-07,bad,1,2024-09-01\n"
    )
    response = await t.as_unit(
        unit,
        "POST",
        f"/api/v1/schools/{unit.code}/admission-jobs",
        files={"file": ("intake.csv", csv.encode("utf-8"), "text/csv")},
    )
    assert response.status_code == 202, response.text
    return Target(unit, {"job_id": response.json()["job_id"]})


async def _transfer_in(t: Tier_, unit: UnitRef) -> Target:
    from tests.services.school.test_transfers import stranger

    body = {
        "student_number": stranger(),
        "from_school": "4101050001",
        "grade": 3,
        "class_name": "三年级2班",
        "reason": "the family moved",
        "proofs": [_pdf("application_form")],
    }
    response = await t.as_unit(unit, "POST", f"/api/v1/schools/{unit.code}/transfers-in", json=body)
    assert response.status_code == 202, response.text
    transfer_id = response.json()["transfer_id"]
    return Target(unit, {"transfer_id": transfer_id, "index": "0"})


async def _probe(t: Tier_, unit: UnitRef) -> Target:
    body = {"source": str(unit), "target": "national:CN"}
    response = await t.as_unit(unit, "POST", "/api/v1/diagnostics/pings", json=body)
    assert response.status_code == 202, response.text
    return Target(unit, {"probe_id": response.json()["probe_id"]}, json=body)


async def _account(t: Tier_, unit: UnitRef) -> Target:
    """An account of a unit below ``unit`` (unsealing is for the level above)."""
    below = {
        Tier.COUNTY: UnitRef(tier=Tier.SCHOOL, code="4101020001"),
        Tier.PROVINCE: UnitRef(tier=Tier.COUNTY, code="410102"),
        Tier.NATIONAL: UnitRef(tier=Tier.PROVINCE, code="41"),
    }
    hosted = t.runtime.units[0]
    del below
    username = f"matrix-{uuid.uuid4().hex[:8]}"
    new = accounts.NewAccount(username, hosted, frozenset({Role.REGISTRAR}), "x" * 16)
    async with t.runtime.sessions() as session:
        await accounts.create_account(session, new, t.runtime.clock.now())
        await session.commit()
    above = units_above(t.runtime.federation, hosted)
    parent = above[0] if above else hosted
    return Target(parent, {"username": username})


async def _new_account(t: Tier_, unit: UnitRef) -> Target:
    """A new registrar of the instance's first unit, created by the level above it."""
    hosted = t.runtime.units[0]
    above = units_above(t.runtime.federation, hosted)
    body = {
        "username": f"matrix-{uuid.uuid4().hex[:8]}",
        "unit": str(hosted),
        "roles": ["registrar"],
        "trained_on": "2026-08-20",
    }
    return Target(above[0] if above else hosted, json=body)


async def _account_to_seal(t: Tier_, unit: UnitRef) -> Target:
    target = await _account(t, unit)
    return Target(target.unit, target.path, json={"reason": "调离"})


async def _authority_task(t: Tier_, unit: UnitRef) -> Target:
    from tests.components.approval_desk.support import batch, deliver

    school = "4101020001" if unit.tier == Tier.COUNTY else "4100000001"
    submitted = batch(school, size=1)
    await deliver(t.runtime, submitted, source=UnitRef(tier=Tier.SCHOOL, code=school), target=unit)
    plural = {Tier.COUNTY: "counties", Tier.PROVINCE: "provinces"}[unit.tier]
    listed = await t.as_unit(unit, "GET", f"/api/v1/{plural}/{unit.code}/tasks")
    [task] = [i for i in listed.json()["items"] if i["subject_id"] == str(submitted.batch_id)]
    return Target(unit, {"task_id": task["task_id"], "index": "0"})


async def _authority_tasks(t: Tier_, unit: UnitRef) -> Target:
    """A bulk decision on a real task of the unit."""
    task = await _authority_task(t, unit)
    return Target(unit, json={"decisions": [{"task_id": task.path["task_id"], **DECISION}]})


_NAMES = iter(f"{s}{g}" for s in "赵钱孙李周吴郑王冯陈" for g in "一二三四五六七八九十")


async def _registry_entry(t: Tier_, unit: UnitRef) -> Target:
    from tests.services.national.builders import NationalDriver, enrol

    number = await enrol(NationalDriver(t.runtime.sessions), "4101020001", name=next(_NAMES))
    school = UnitRef(tier=Tier.SCHOOL, code="4101020001")
    return Target(school, {"student_number": number}, params={"student_number": number})


async def _national_transfer(t: Tier_, unit: UnitRef) -> Target:
    from tests.services.national.builders import NationalDriver, enrol, transfer_request

    driver = NationalDriver(t.runtime.sessions)
    number = await enrol(driver, "4101020001", grade=2, name=next(_NAMES))
    request = transfer_request(number, "4101020001", "4101050001")
    await driver.request(request)
    school = UnitRef(tier=Tier.SCHOOL, code="4101020001")
    return Target(
        school, {"transfer_id": str(request.transfer_id)}, params={"student_number": number}
    )


async def _export(t: Tier_, unit: UnitRef) -> Target:
    body = {"population": str(unit), "fields": ["name"], "purpose": "matrix test"}
    response = await t.as_unit(unit, "POST", "/api/v1/exports", json=body)
    assert response.status_code == 201, response.text
    return Target(unit, {"export_id": response.json()["export_id"]}, json=body)


async def _export_task(t: Tier_, unit: UnitRef) -> Target:
    """An export's approval task of the unit, asked by another of its officers (four eyes)."""
    body = {"population": str(unit), "fields": ["name"], "purpose": "matrix test"}
    asker = auth_headers(str(unit), Role.REGISTRAR, username="matrix.requester")
    asked = await t.client.post("/api/v1/exports", json=body, headers=asker)
    assert asked.status_code == 201, asked.text
    listed = await t.as_unit(unit, "GET", "/api/v1/approvals", params={"unit": str(unit)})
    [task] = [i for i in listed.json()["items"] if i["subject_id"] == asked.json()["export_id"]]
    return Target(unit, {"task_id": task["task_id"]})


async def _export_tasks(t: Tier_, unit: UnitRef) -> Target:
    """A bulk decision on a real export task of the unit."""
    task = await _export_task(t, unit)
    return Target(unit, json={"decisions": [{"task_id": task.path["task_id"], **DECISION}]})


_TERMS = iter(range(2100, 2999))


def _term() -> str:
    return f"{next(_TERMS)}-autumn"


async def _campaign_body(t: Tier_, unit: UnitRef) -> Target:
    """Opening a campaign: the province's own (its operators and approvers)."""
    province = UnitRef(tier=Tier.PROVINCE, code="41")
    return Target(province, json={"term": _term(), "scope": "41"})


async def _campaign(t: Tier_, unit: UnitRef) -> Target:
    from services.national.service_layer.verification import open_campaign

    now = datetime.now(UTC)
    async with t.runtime.sessions() as session, session.begin():
        campaign = await open_campaign(
            session, t.runtime.federation, _term(), "41", now.date(), now
        )
    province = UnitRef(tier=Tier.PROVINCE, code="41")
    return Target(province, {"campaign_id": campaign.campaign_id})


async def _campaigns(t: Tier_, unit: UnitRef) -> Target:
    """National's list of its campaigns (a province's own list: its province code)."""
    return Target(NATIONAL, params={"scope": "CN"})


async def _audit(t: Tier_, unit: UnitRef) -> Target:
    return Target(unit, params={"unit": str(unit)})


OBJECTS: dict[tuple[str, str], Factory] = {
    ("school", "/api/v1/registrations/{registration_id}"): _registration,
    ("school", "/api/v1/admission-jobs/{job_id}"): _admission_job,
    ("school", "/api/v1/admission-jobs/{job_id}/errors.csv"): _admission_job,
    ("school", "/api/v1/transfers/{transfer_id}/cancel"): _transfer_in,
    ("school", "/api/v1/transfers/{transfer_id}/proofs/{index}"): _transfer_in,
    ("county", "/api/v1/tasks/{task_id}"): _authority_task,
    ("county", "/api/v1/tasks/{task_id}/decision"): _authority_task,
    ("province", "/api/v1/tasks/{task_id}"): _authority_task,
    ("province", "/api/v1/tasks/{task_id}/decision"): _authority_task,
    ("county", "/api/v1/tasks/decisions"): _authority_tasks,
    ("province", "/api/v1/tasks/decisions"): _authority_tasks,
    ("national", "/api/v1/tasks/{task_id}"): _export_task,
    ("national", "/api/v1/tasks/{task_id}/decision"): _export_task,
    ("national", "/api/v1/tasks/decisions"): _export_tasks,
    ("national", "/api/v1/registry/{student_number}"): _registry_entry,
    ("national", "/api/v1/registry/{student_number}/changes"): _registry_entry,
    ("national", "/api/v1/transfers/{transfer_id}"): _national_transfer,
    ("national", "/api/v1/transfers"): _national_transfer,
    ("national", "/api/v1/operations/verification-campaigns"): _campaign_body,
    ("national", "/api/v1/verification-campaigns/{campaign_id}"): _campaign,
    ("national", "/api/v1/verification-campaigns"): _campaigns,
}
for _tier in INSTANCES:
    OBJECTS[(_tier, "/api/v1/diagnostics/pings")] = _probe
    OBJECTS[(_tier, "/api/v1/diagnostics/pings/{probe_id}")] = _probe
    OBJECTS[(_tier, "/api/v1/auth/accounts/{username}/unseal")] = _account
    OBJECTS[(_tier, "/api/v1/auth/accounts/{username}/seal")] = _account_to_seal
    OBJECTS[(_tier, "/api/v1/auth/accounts")] = _new_account
    OBJECTS[(_tier, "/api/v1/audit")] = _audit
    OBJECTS[(_tier, "/api/v1/audit/chain")] = _audit
for _tier in ("school", "province", "national"):
    for _path in ("", "/{export_id}", "/{export_id}/decision", "/{export_id}/download"):
        OBJECTS[(_tier, "/api/v1/exports" + _path)] = _export


# --- the requests -----------------------------------------------------------------------

DEFAULTS = {"index": "0", "student_number": "G410102201803070011", "username": "nobody",
            "school_year": "2026"}  # fmt: skip


def _fill(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        name = path[start + 1 : end]
        path = path[:start] + DEFAULTS.get(name, str(uuid.uuid4())) + path[end + 1 :]
    return path


def _unit_values(unit: UnitRef, t: Tier_) -> dict[str, str]:
    """Path values naming ``unit`` and the units above it."""
    values = {f"{unit.tier.value}_code": unit.code, "unit_code": unit.code}
    for above in units_above(t.runtime.federation, unit):
        values.setdefault(f"{above.tier.value}_code", above.code)
    if unit.tier == Tier.COUNTY:
        values.setdefault("province_code", unit.code[:2])
    if unit.tier == Tier.SCHOOL:
        values.setdefault("province_code", unit.code[:2])
    return values


def target_unit(rule: AccessRule, tier: str, foreign: bool) -> UnitRef:
    pick = FOREIGN if foreign else OWN
    source = rule.unit
    if isinstance(source, PathUnit):
        return pick[source.tier]
    if isinstance(source, QueryUnit):
        return pick[source.tier or Tier(tier)]
    if isinstance(source, FixedUnit):
        return source.unit if not foreign else FOREIGN[source.unit.tier]
    return pick[Tier(tier)]


DECISION = {"decision": "approve", "reason": "matrix test"}
# Bulk routes answer 200 with one outcome per item: an item out of reach is refused there.
BULK = {"/api/v1/tasks/decisions"}


def _refused(route: APIRoute, response: httpx.Response) -> bool:
    """A refusal of the call (403/404), or of every item of a bulk call."""
    if route.path_format in BULK and response.status_code == 200:
        return all(r["status"] in (403, 404) for r in response.json()["results"])
    return response.status_code in (403, 404)


def call_for(route: APIRoute, rule: AccessRule, t: Tier_, target: Target) -> Call:
    method = sorted(route.methods - {"HEAD"})[0]
    body = target.json
    if route.path_format.endswith("/decision"):
        body = DECISION  # a valid body: the refusal must come from the check, not validation
    elif route.path_format.endswith("/cancel"):
        body = {"reason": "withdrawn"}
    elif route.path_format in BULK and body is None:  # an unknown task
        body = {"decisions": [{"task_id": str(uuid.uuid4()), **DECISION}]}
    values = {**_unit_values(target.unit, t), **target.path}
    params = dict(target.params)
    source = rule.unit
    if isinstance(source, QueryUnit):
        unit = target.unit
        params[source.param] = unit.code if source.tier else str(unit)
    if route.path_format == "/api/v1/transfers" and "student_number" not in params:
        params["student_number"] = DEFAULTS["student_number"]
    return Call(method, _fill(route.path_format, values), params, body)


async def send(t: Tier_, call: Call, headers: dict[str, str]) -> httpx.Response:
    kw: dict[str, Any] = {"params": call.params, "headers": headers}
    if call.method in ("POST", "PUT", "PATCH"):
        kw["json"] = call.json if call.json is not None else {}
    return await t.client.request(call.method, call.path, **kw)


def _sees_unit(response: httpx.Response) -> bool:
    """False for the refusals of authentication and authorization."""
    if response.status_code in (401, 403):
        return False
    if response.status_code == 404:
        try:
            return response.json().get("rule") != "unit_not_visible"
        except ValueError:
            return True
    return True


# --- the matrix ---------------------------------------------------------------------------


@pytest.mark.parametrize("tier", list(INSTANCES))
async def test_every_route_every_role_own_and_foreign(
    tier: str, tiers: dict[str, Tier_], tmp_path: Path
) -> None:
    t = tiers[tier]
    checked = 0
    for path, route in routes(t.app):
        [rule] = set(rules_of(route))
        key = (tier, route.path_format)
        if rule.public:
            response = await send(t, call_for(route, rule, t, Target(OWN[Tier(tier)])), {})
            if path in CLIENT_SYSTEMS:  # a client system's own credentials, not a token
                assert response.status_code == 401, path
                assert response.json()["rule"] == "client_credentials_invalid"
            else:
                assert response.status_code != 401, path
            checked += 1
            continue

        object_route = isinstance(rule.unit, ObjectUnit)
        if object_route and key not in OBJECTS:
            assert key in WITHOUT_OBJECT, f"{key}: add an object factory to OBJECTS"
        factory = OBJECTS.get(key) if object_route else None

        own = await make_target(t, rule, tier, factory)
        own_call = call_for(route, rule, t, own)
        anonymous = await send(t, own_call, {})
        assert anonymous.status_code == 401, (path, anonymous.text)

        # The own unit, every role.
        for role in Role:
            if role not in rule.roles:
                response = await send(t, own_call, auth_headers(str(own.unit), role))
                assert response.status_code == 403, (path, role, response.text)
                assert response.json()["rule"] == "role_required"
            else:
                fresh = await make_target(t, rule, tier, factory) if factory is not None else own
                response = await send(
                    t, call_for(route, rule, t, fresh), auth_headers(str(fresh.unit), role)
                )
                if "/exports" in path and response.status_code == 403:
                    # the export's own policy (who asks, who approves: four eyes, the level
                    # above) refuses some roles of the unit; named, never role_required
                    assert response.json()["rule"].startswith("export_"), (path, role)
                else:
                    assert _sees_unit(response), (path, role, response.status_code, response.text)
                if object_route and factory is not None and "/exports" not in path:
                    assert response.status_code != 404, (path, role, response.text)
                    if route.path_format in BULK:  # its own unit's task: decided
                        assert response.json()["decided"] == 1, (path, role, response.text)
            checked += 1

        # A unit of the same tier next to the own one, every role, on the own unit's path or
        # object: its neighbour's data.
        caller = _sibling(own.unit)
        for role in Role:
            response = await send(t, own_call, auth_headers(str(caller), role))
            if route.path_format in SELF_SCOPED and own_call.method == "GET":
                assert response.status_code in (200, 403), (path, role, response.text)
                if response.status_code == 200:
                    assert response.json()["items"] == [], (path, role)  # not the own unit's
            else:
                assert _refused(route, response), (path, role, str(caller), response.text)
            checked += 1

        # National sees basic info only.
        if Tier.NATIONAL in rule.barred:
            response = await send(t, own_call, auth_headers("national:CN", *rule.roles))
            assert response.status_code in (403, 404), (path, response.text)
    assert checked > 20
    print(f"\n{tier}: {len(list(routes(t.app)))} routes, {checked} (route, role, unit) checks")


async def make_target(t: Tier_, rule: AccessRule, tier: str, factory: Factory | None) -> Target:
    """The own unit's target: a fresh object when the route has a factory."""
    own_unit = target_unit(rule, tier, foreign=False)
    if factory is None:
        return Target(own_unit)
    return await factory(t, own_unit)


def _sibling(unit: UnitRef) -> UnitRef:
    return FOREIGN[unit.tier] if unit != FOREIGN[unit.tier] else OWN[unit.tier]
