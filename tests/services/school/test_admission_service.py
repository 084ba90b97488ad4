"""Bulk admission from CSV and XLSX files, against SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from services.school.config import SchoolSettings
from services.school.service_layer import admission, registration
from services.school.service_layer.admission import Upload
from services.school.service_layer.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from shared.contracts.registration import RegistrationOutcome
from shared.db.engine import SessionFactory
from shared.messaging.uow import UnitOfWork
from shared.resident_id import student_number_for
from tests.services.school.admission_files import HEADER, as_csv, as_xlsx, mixed_intake, row
from tests.services.school.conftest import (
    EXTENDED,
    PRIMARY,
    TODAY,
    basic,
    decided,
    deliver,
    resident_id,
    staged,
)

FORMATS: dict[str, Callable[[list[list[Any]]], bytes]] = {"csv": as_csv, "xlsx": as_xlsx}


async def admit(
    sessions: SessionFactory, data: bytes, filename: str = "intake.csv", **settings: Any
) -> uuid.UUID:
    async with UnitOfWork(sessions) as uow:
        job_id = await admission.admit_file(
            uow,
            sessions,
            PRIMARY,
            Upload(filename, io.BytesIO(data), len(data)),
            settings=SchoolSettings(**settings),
            today=TODAY,
        )
        await uow.commit()
    return job_id


def report_rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


async def registered(sessions: SessionFactory, number: str) -> uuid.UUID:
    async with UnitOfWork(sessions) as uow:
        result = await registration.register_student(
            uow, PRIMARY, basic(id_number=number), EXTENDED, today=TODAY
        )
        await uow.commit()
        return result


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
async def test_a_mixed_file_registers_the_good_rows_and_reports_the_bad(
    sessions: SessionFactory, file_format: str
) -> None:
    taken = resident_id()
    await registered(sessions, taken)
    rows, expected = mixed_intake(taken)

    job_id = await admit(sessions, FORMATS[file_format](rows), f"intake.{file_format}")

    async with sessions() as session:
        view = await admission.get_job(session, job_id, lambda _code: True)
        report = report_rows(await admission.error_report(session, job_id, lambda _code: True))
    job = view.job
    assert (job.file_format, job.total_rows, job.accepted_rows, job.rejected_rows) == (
        file_format, 11, 3, 8,
    )  # fmt: skip
    assert view.statuses == {"pending": 3}
    found: dict[int, set[str]] = {}
    for line in report:
        found.setdefault(int(line["row"]), set()).add(line["rule"])
    assert found == expected
    by_row = {int(line["row"]): line for line in report}
    assert by_row[4]["column"] == "证件号码" and "check character" in by_row[4]["reason"]
    assert by_row[4]["name"] == "校验位错"
    assert by_row[12]["column"] == "监护人关系"
    assert by_row[7]["reason"] == "the same document number is already on row 2 of this file"

    archive, request = (await staged(sessions))[2:]
    names = [item["basic"]["name"] for item in request.payload["items"]]
    assert names == ["先到者", "好学生", "John Smith"]
    assert "extended" not in request.payload["items"][0]
    assert archive.payload["items"][0]["extended"]["guardians"][0]["relation"] == "母亲"


async def test_good_rows_go_in_batches(sessions: SessionFactory) -> None:
    rows = [row(f"学生{i}") for i in range(5)]
    job_id = await admit(sessions, as_csv(rows, bom=False), batch_size=2)

    messages = await staged(sessions)
    assert [m.type for m in messages] == [
        "registration.archive_filed",
        "registration.batch_submitted",
    ] * 3
    assert [len(m.payload["items"]) for m in messages] == [2, 2, 2, 2, 1, 1]
    assert len({m.payload["batch_id"] for m in messages}) == 3
    # the archives' and the registry's keys: time-ordered (decision 0059)
    keys = {uuid.UUID(i["registration_id"]) for m in messages for i in m.payload["items"]}
    assert len(keys) == 5 and {key.version for key in keys} == {7}
    async with sessions() as session:
        view = await admission.get_job(session, job_id, lambda _code: True)
    assert view.job.accepted_rows == 5


async def test_the_job_counts_follow_the_outcomes(sessions: SessionFactory) -> None:
    numbers = [resident_id() for _ in range(3)]
    job_id = await admit(
        sessions, as_csv([row(f"学生{i}", number=n) for i, n in enumerate(numbers)])
    )
    items = (await staged(sessions))[1].payload["items"]
    ids = [uuid.UUID(item["registration_id"]) for item in items]
    await deliver(
        sessions,
        decided(
            RegistrationOutcome(
                registration_id=ids[0],
                outcome="issued",
                student_number=student_number_for(numbers[0]),
            ),
            RegistrationOutcome(
                registration_id=ids[1], outcome="rejected", reason="重复", rule="dup"
            ),
        ),
    )
    async with sessions() as session:
        view = await admission.get_job(session, job_id, lambda _code: True)
    assert view.statuses == {"approved": 1, "rejected": 1, "pending": 1}


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        ("姓名,性别\n张三,男\n".encode("gbk"), "intake.csv"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "intake.xls"),
        (b"%PDF-1.4 ...", "intake.pdf"),
        (b"PK\x03\x04 not really a workbook", "intake.xlsx"),
    ],
)
async def test_unknown_formats_are_refused(
    sessions: SessionFactory, data: bytes, filename: str
) -> None:
    with pytest.raises(UnsupportedMediaType):
        await admit(sessions, data, filename)


async def test_missing_columns_are_named(sessions: SessionFactory) -> None:
    header = [c for c in HEADER if c not in ("年级", "出生日期")]
    with pytest.raises(InvalidInput) as refused:
        await admit(sessions, as_csv([], header=header))
    (violation,) = refused.value.violations
    assert (violation.field, violation.rule) == ("file", "missing_columns")
    assert "出生日期/birth_date" in violation.message and "年级/grade" in violation.message


async def test_size_and_row_caps(sessions: SessionFactory) -> None:
    data = as_csv([row(f"学生{i}") for i in range(3)])
    with pytest.raises(PayloadTooLarge):
        await admit(sessions, data, max_upload_rows=2)
    with pytest.raises(PayloadTooLarge):
        await admit(sessions, data + b"x" * 2048, max_upload_bytes=1024)
    with pytest.raises(InvalidInput):
        await admit(sessions, as_csv([]))
    assert await staged(sessions) == []
