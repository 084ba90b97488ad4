"""The school's HTTP API over ASGI, with the runtime on the real broker and both databases."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import aio_pika
import pytest
from sqlalchemy import insert

from services.school.adapters.orm import registration as registration_table
from services.school.config import SchoolSettings
from shared.contracts.registration import RegistrationBatchDecided, RegistrationOutcome
from shared.federation.config import NATIONAL
from shared.messaging.envelope import build_envelope
from shared.messaging.testing import signed_as_source
from shared.messaging.topology import EVENTS_EXCHANGE
from shared.resident_id import student_number_for
from shared.security.principal import Role
from shared.security.testing import auth_headers
from tests.services.school.admission_files import HEADER, as_csv, as_xlsx, mixed_intake, row
from tests.services.school.conftest import PRIMARY, Service, resident_id, school_ref

pytestmark = pytest.mark.broker

STUDENTS = f"/api/v1/schools/{PRIMARY.code}/students"


def form(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "张三",
        "gender": "male",
        "birth_date": "2018-03-07",
        "id_type": "resident_id",
        "id_number": resident_id(),
        "grade": 1,
        "enrolled_on": "2024-09-01",
        "extended": {"guardians": [{"name": "张父", "relation": "父亲"}], "hukou_region": "410102"},
    }
    body.update(overrides)
    return body


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    """Poll ``check`` until it holds, failing after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.05)


async def publish(service: Service, payload: RegistrationBatchDecided) -> None:
    """Send a decision through the broker, as the national tier would (signed as it)."""
    envelope = build_envelope(payload, source=NATIONAL, target=school_ref(payload.school_code))
    body, headers = signed_as_source(service.runtime.federation, envelope)
    connection = await aio_pika.connect(service.runtime.settings.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        message = aio_pika.Message(body, message_id=str(envelope.message_id), headers=headers)
        await exchange.publish(message, envelope.routing_key, mandatory=True)


async def register(service: Service, **overrides: Any) -> str:
    response = await service.client.post(STUDENTS, json=form(**overrides))
    assert response.status_code == 202, response.text
    return str(response.json()["registration_id"])


async def test_a_registration_is_accepted_and_can_be_followed(service: Service) -> None:
    response = await service.client.post(STUDENTS, json=form())
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    assert body["links"]["self"] == f"/api/v1/registrations/{body['registration_id']}"

    read = await service.client.get(body["links"]["self"])
    assert read.status_code == 200
    assert read.json()["status"] == "pending" and read.json()["student_number"] is None


async def test_field_rules_answer_422_naming_the_field_and_the_rule(service: Service) -> None:
    number = resident_id(date(2018, 3, 7), "male")
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"id_number": "41010220180307001"}, "id_number", "resident_id.length"),
        ({"id_number": "41010220180307001A"}, "id_number", "resident_id.charset"),
        ({"id_number": "990102201803070017"}, "id_number", "resident_id.division_code"),
        ({"id_number": "410102201802300011"}, "id_number", "resident_id.birth_date"),
        ({"id_number": "410102201803070013"}, "id_number", "resident_id.check_character"),
        ({"id_number": number, "birth_date": "2018-03-08"}, "birth_date", "birth_date_mismatch"),
        ({"id_number": number, "gender": "female"}, "gender", "gender_mismatch"),
        ({"id_type": "passport", "id_number": None}, "id_number", "id_number_required"),
        ({"enrolled_on": "2099-09-01"}, "enrolled_on", "enrolled_on_future"),
        ({"grade": 7}, "grade", "grade_stage"),
    ]
    for overrides, field, rule in cases:
        response = await service.client.post(STUDENTS, json=form(**overrides))
        assert response.status_code == 422, (rule, response.text)
        (error,) = response.json()["errors"]
        assert (error["loc"], error["type"]) == (["body", field], rule)
        assert error["msg"]
    response = await service.client.post(STUDENTS, json=form(id_number="410102201803070013"))
    assert "check character should be 7 (ISO 7064 MOD 11-2)" in response.json()["errors"][0]["msg"]


async def test_unhosted_schools_and_duplicates(service: Service) -> None:
    unhosted = await service.client.post("/api/v1/schools/3301020001/students", json=form())
    unknown = await service.client.post("/api/v1/schools/4101029999/students", json=form())
    assert (unhosted.status_code, unknown.status_code) == (404, 404)

    number = resident_id()
    await register(service, id_number=number)
    again = await service.client.post(STUDENTS, json=form(id_number=number))
    assert again.status_code == 409
    assert again.json()["rule"] == "duplicate_registration"


async def test_a_registration_of_an_unhosted_school_is_not_shown(service: Service) -> None:
    registration_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    async with service.runtime.sessions() as session, session.begin():
        await session.execute(
            insert(registration_table).values(
                registration_id=registration_id, school_code="3301020001", batch_id=registration_id,
                status="pending", name="某", gender="male", birth_date=date(2018, 1, 1),
                id_type="none", nationality="CN", grade=1, enrolled_on=date(2024, 9, 1),
                submitted_at=now, updated_at=now,
            )
        )  # fmt: skip
    assert (await service.client.get(f"/api/v1/registrations/{registration_id}")).status_code == 404
    assert (await service.client.get(f"/api/v1/registrations/{uuid.uuid4()}")).status_code == 404


async def test_decisions_through_the_broker_fill_the_roster(
    service: Service, amqp_url: str
) -> None:
    numbers = [resident_id() for _ in range(3)]
    ids = [
        await register(service, id_number=n, grade=g)
        for n, g in zip(numbers, (1, 2, 2), strict=True)
    ]
    outcomes = [
        RegistrationOutcome(
            registration_id=uuid.UUID(rid), outcome="issued", student_number=student_number_for(n)
        )
        for rid, n in zip(ids, numbers, strict=True)
    ]
    await publish(
        service,
        RegistrationBatchDecided(
            batch_id=uuid.uuid4(),
            school_code=PRIMARY.code,
            decided_by="national:CN",
            outcomes=tuple(outcomes),
        ),
    )

    async def approved() -> bool:
        read = await service.client.get(f"/api/v1/registrations/{ids[2]}")
        return bool(read.json()["status"] == "approved")

    await eventually(approved)
    read = (await service.client.get(f"/api/v1/registrations/{ids[0]}")).json()
    assert read["student_number"] == student_number_for(numbers[0])

    roster = (await service.client.get(STUDENTS, params={"grade": 2, "limit": 1})).json()
    assert roster["total"] == 2 and len(roster["items"]) == 1
    second = (
        await service.client.get(STUDENTS, params={"grade": 2, "limit": 1, "offset": 1})
    ).json()
    assert {roster["items"][0]["student_number"], second["items"][0]["student_number"]} == {
        student_number_for(n) for n in numbers[1:]
    }
    everyone = (await service.client.get(STUDENTS, params={"status": "enrolled"})).json()
    assert everyone["total"] == 3
    one = await service.client.get(f"{STUDENTS}/{student_number_for(numbers[0])}")
    assert one.status_code == 200
    assert (one.json()["name"], one.json()["grade"], one.json()["status"]) == (
        "张三",
        1,
        "enrolled",
    )
    assert "extended" not in one.json() and "guardians" not in one.json()
    missing = await service.client.get(f"{STUDENTS}/G{resident_id()}")
    assert missing.status_code == 404


async def test_bulk_admission_over_http(service: Service) -> None:
    taken = resident_id()
    await register(service, id_number=taken)
    rows, expected = mixed_intake(taken)
    files = {"file": ("新生名单.xlsx", as_xlsx(rows), "application/octet-stream")}
    response = await service.client.post(
        f"/api/v1/schools/{PRIMARY.code}/admission-jobs", files=files
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["rows"] == {"total": 11, "accepted": 3, "rejected": 8}
    assert job["registrations"] == {
        "pending": 3,
        "held_for_review": 0,
        "approved": 0,
        "rejected": 0,
    }
    assert job["filename"] == "新生名单.xlsx" and job["file_format"] == "xlsx"
    assert (await service.client.get(job["links"]["self"])).json() == job

    errors = await service.client.get(job["links"]["errors"])
    assert errors.status_code == 200
    assert errors.headers["content-type"].startswith("text/csv")
    text = errors.content.decode("utf-8-sig")
    assert text.splitlines()[0] == "row,column,rule,reason,name"
    assert len({line.split(",")[0] for line in text.splitlines()[1:]}) == len(expected)
    assert "校验位错" in text


async def test_bulk_admission_refusals(service: Service) -> None:
    url = f"/api/v1/schools/{PRIMARY.code}/admission-jobs"
    pdf = await service.client.post(url, files={"file": ("a.pdf", b"%PDF-1.4", "application/pdf")})
    assert (pdf.status_code, pdf.json()["rule"]) == (415, "unsupported_file")

    header = [c for c in HEADER if c != "姓名"]
    missing = await service.client.post(url, files={"file": ("a.csv", as_csv([], header=header))})
    assert missing.status_code == 422
    (error,) = missing.json()["errors"]
    assert (error["loc"], error["type"]) == (["body", "file"], "missing_columns")
    assert "姓名/name" in error["msg"]

    service.app.state.school_settings = SchoolSettings(max_upload_bytes=1024)
    big = as_csv([row(f"学生{i}") for i in range(50)])
    too_large = await service.client.post(url, files={"file": ("a.csv", big)})
    assert (too_large.status_code, too_large.json()["rule"]) == (413, "file_too_large")

    unhosted = await service.client.post(
        "/api/v1/schools/3301020001/admission-jobs", files={"file": ("a.csv", big)}
    )
    assert unhosted.status_code == 404


async def test_key_field_change_over_http(service: Service, amqp_url: str) -> None:
    number = resident_id()
    registration_id = await register(service, id_number=number)
    outcome = RegistrationOutcome(
        registration_id=uuid.UUID(registration_id), outcome="issued", student_number="G" + number
    )
    await publish(
        service,
        RegistrationBatchDecided(
            batch_id=uuid.uuid4(),
            school_code=PRIMARY.code,
            decided_by="county:410102",
            outcomes=(outcome,),
        ),
    )

    async def on_roster() -> bool:
        return (await service.client.get(f"{STUDENTS}/G{number}")).status_code == 200

    await eventually(on_roster)
    url = f"{STUDENTS}/G{number}/key-field-changes"
    proof = {
        "kind": "hukou_proof",
        "filename": "户口本.jpg",
        "content_base64": base64.b64encode(b"jpeg").decode(),
    }
    unchanged = await service.client.post(
        url, json={"changes": {"name": "张三"}, "reason": "更正", "proofs": [proof]}
    )
    assert unchanged.status_code == 422
    assert unchanged.json()["errors"][0]["loc"] == ["body", "changes"]
    assert unchanged.json()["errors"][0]["type"] == "no_change"
    no_proof = await service.client.post(
        url, json={"changes": {"name": "张叁"}, "reason": "更正", "proofs": []}
    )
    assert no_proof.status_code == 422

    accepted = await service.client.post(
        url, json={"changes": {"name": "张叁"}, "reason": "户口本更正", "proofs": [proof]}
    )
    assert accepted.status_code == 202, accepted.text
    change = (await service.client.get(accepted.json()["links"]["self"])).json()
    assert change["status"] == "submitted"
    assert change["proofs"] == [{"kind": "hukou_proof", "filename": "户口本.jpg", "size": 4}]
    assert json.dumps(change).find("content_base64") == -1

    # the school keeps the proof: the archive's section 2 links it here (decision 0043)
    download = f"/api/v1/key-field-changes/{change['change_id']}/proofs"
    kept = await service.client.get(f"{download}/0")
    assert (kept.status_code, kept.content) == (200, b"jpeg")
    assert "attachment" in kept.headers["content-disposition"]
    missing = await service.client.get(f"{download}/1")
    assert (missing.status_code, missing.json()["rule"]) == (404, "proof_not_found")
    national = auth_headers("national:CN", Role.REGISTRAR)
    barred = await service.client.get(f"{download}/0", headers=national)
    assert barred.status_code == 404  # proofs are not basic info: national is barred


async def test_openapi_documents_the_school_api(service: Service) -> None:
    spec = (await service.client.get("/openapi.json")).json()
    paths = spec["paths"]
    upload = paths["/api/v1/schools/{school_code}/admission-jobs"]["post"]
    assert (
        "证件号码" in upload["description"]
        and "multipart/form-data" in upload["requestBody"]["content"]
    )
    change = paths["/api/v1/schools/{school_code}/students/{student_number}/key-field-changes"][
        "post"
    ]
    assert "base64" in change["description"]
    assert "/api/v1/admission-jobs/{job_id}/errors.csv" in paths
    assert "/api/v1/diagnostics/pings" in paths


async def test_the_roster_is_searched_and_registrations_listed(
    service: Service, amqp_url: str
) -> None:
    numbers = [resident_id() for _ in range(3)]
    names = ["欧阳晓_明", "欧阳丽", "李%强"]
    ids = [
        await register(service, id_number=n, name=name)
        for n, name in zip(numbers, names, strict=True)
    ]
    pending = (
        await service.client.get(
            f"/api/v1/schools/{PRIMARY.code}/registrations", params={"status": "pending"}
        )
    ).json()
    assert {item["registration_id"] for item in pending["items"]} >= set(ids)
    assert {item["name"] for item in pending["items"]} >= set(names)
    await publish(
        service,
        RegistrationBatchDecided(
            batch_id=uuid.uuid4(),
            school_code=PRIMARY.code,
            decided_by="national:CN",
            outcomes=tuple(
                RegistrationOutcome(
                    registration_id=uuid.UUID(rid),
                    outcome="issued",
                    student_number=student_number_for(n),
                )
                for rid, n in zip(ids, numbers, strict=True)
            ),
        ),
    )

    async def approved() -> bool:
        read = await service.client.get(f"/api/v1/registrations/{ids[2]}")
        return bool(read.json()["status"] == "approved")

    await eventually(approved)

    async def found(q: str) -> set[str]:
        page = (await service.client.get(STUDENTS, params={"q": q, "limit": 1000})).json()
        return {item["name"] for item in page["items"]}

    assert await found("欧阳") == {"欧阳晓_明", "欧阳丽"}
    assert await found("晓_") == {"欧阳晓_明"}  # "_" and "%" are the name's, not wildcards
    assert await found("%") == {"李%强"}
    assert await found(student_number_for(numbers[1]).lower()) == {"欧阳丽"}
    assert await found(numbers[2]) == {"李%强"}
    assert await found("查无此人") == set()
    approved_now = (
        await service.client.get(
            f"/api/v1/schools/{PRIMARY.code}/registrations", params={"status": "approved"}
        )
    ).json()
    assert {item["registration_id"] for item in approved_now["items"]} >= set(ids)
    unhosted = await service.client.get("/api/v1/schools/3301020001/registrations")
    assert unhosted.status_code == 404


async def test_the_roster_summary_counts_enrolled_students_per_grade(service: Service) -> None:
    grades = [1, 1, 3]
    numbers = [resident_id() for _ in grades]
    ids = [
        await register(service, id_number=n, grade=g) for n, g in zip(numbers, grades, strict=True)
    ]
    empty = (await service.client.get(f"/api/v1/schools/{PRIMARY.code}/roster-summary")).json()
    assert (empty["enrolled"], empty["by_grade"]) == (0, [])  # pending is not on the roster
    assert empty["graduating_grade"] == 6  # a primary school
    await publish(
        service,
        RegistrationBatchDecided(
            batch_id=uuid.uuid4(),
            school_code=PRIMARY.code,
            decided_by="national:CN",
            outcomes=tuple(
                RegistrationOutcome(
                    registration_id=uuid.UUID(rid),
                    outcome="issued",
                    student_number=student_number_for(n),
                )
                for rid, n in zip(ids, numbers, strict=True)
            ),
        ),
    )

    async def counted() -> bool:
        read = await service.client.get(f"/api/v1/schools/{PRIMARY.code}/roster-summary")
        return bool(read.json()["enrolled"] == 3)

    await eventually(counted)
    summary = (await service.client.get(f"/api/v1/schools/{PRIMARY.code}/roster-summary")).json()
    assert summary["by_grade"] == [{"grade": 1, "enrolled": 2}, {"grade": 3, "enrolled": 1}]


async def test_the_status_change_rules_name_the_provinces_proofs(service: Service) -> None:
    answer = await service.client.get(f"/api/v1/schools/{PRIMARY.code}/status-change-rules")
    assert answer.status_code == 200, answer.text
    kinds = {k["change"]: k for k in answer.json()["kinds"]}
    # config/provinces/41.toml (Henan, HA arts. 13-16)
    assert kinds["suspend"]["required_proofs"] == []  # by ground (HA art. 13(二))
    [illness] = [p for p in kinds["suspend"]["proofs_by_ground"] if p["ground"] == "illness"]
    assert (illness["kinds"], illness["article"]) == (["hospital_certificate"], "HA art. 13(二)")
    assert kinds["decease"]["required_proofs"] == ["death_certificate"]
    assert kinds["skip_grade"]["required_proofs"] == ["guardian_application"]
    assert kinds["report_dropout"]["required_proofs"] == []
    assert kinds["resume"]["needs_grade"] and not kinds["suspend"]["needs_grade"]
    assert "lapse" not in kinds  # national's own change, never asked for


async def test_the_graduating_lists_are_listed_newest_first(service: Service) -> None:
    listed = await service.client.get(f"/api/v1/schools/{PRIMARY.code}/graduations")
    assert listed.status_code == 200, listed.text
    assert listed.json() == []
