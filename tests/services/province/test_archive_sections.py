"""Archive sections 3-7 (N2013 art. 7; ZJ arts. 8, 21), on SQLite and PostgreSQL: a school's
registrar writes each section through the province's API, entries name who wrote them, the
province's own items (section 7) are checked against its rules file, a class's sheet is stored
row by row with every refused row reported, and the entries go with the archive on a transfer
(within the province, and across a border in the hand-over) and into the sending school's
backup."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from pydantic import ValidationError

from devtools.testing import federation_copy
from services.province.domain.archive_sections import (
    BUILT_IN,
    catalogue,
    term_reference,
    term_starts_on,
    validate,
)
from services.province.service_layer import archive_sections
from shared.contracts.progression import ProgressedStudent, ProgressionCompleted
from shared.contracts.transfer import ProofRef, StudentSummary
from shared.rules import ArchiveItemRule
from shared.security.principal import Role
from shared.security.testing import FreshAuthHeaders, auth_headers
from tests.services.province.transfer_support import (
    HANGZHOU_PRIMARY,
    JINSHUI_PRIMARY,
    ZHONGYUAN_PRIMARY,
    Province,
    completed,
    number_of,
    province_ref,
    province_service,
)

SCHOOL = ZHONGYUAN_PRIMARY  # today is 2026-09-07 (transfer_support.TODAY)
REGISTRAR = FreshAuthHeaders(f"school:{SCHOOL}", Role.REGISTRAR, username="wang-registrar")
TODAY = date(2026, 9, 7)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return federation_copy(tmp_path / "federation")


@pytest.fixture
async def henan(config: Path, database_url: str) -> AsyncIterator[Province]:
    async with province_service(config, "41", database_url) as province:
        yield province


@pytest.fixture
async def zhejiang(config: Path, other_database_url: str) -> AsyncIterator[Province]:
    async with province_service(config, "33", other_database_url) as province:
        yield province


# One entry of every section a school writes (Henan's own item ``labour`` for section 7).
EVERY_SECTION: list[tuple[str, str, dict[str, Any]]] = [
    ("quality", "conduct", {"term": "2025-2026-2", "level": "优秀", "comment": "乐于助人"}),
    ("quality", "term_results", {"term": "2025-2026-2", "results": {"语文": 92, "数学": "良好"}}),
    ("quality", "sports", {"term": "2025-2026-2", "level": "良好", "activities": "跳绳"}),
    ("quality", "arts", {"term": "2025-2026-2", "level": "合格"}),
    (
        "quality",
        "community_service",
        {"served_on": "2026-05-01", "activity": "社区清洁", "hours": 2.5},
    ),
    ("health", "fitness_test", {"tested_on": "2026-05-20", "score": 86, "level": "良好"}),
    (
        "health",
        "checkup",
        {"examined_on": "2026-04-10", "height_cm": 132.5, "weight_kg": 28, "vision_left": 5.0},
    ),
    ("health", "vaccination", {"vaccinated_on": "2026-03-02", "vaccine": "流感疫苗", "dose": 1}),
    (
        "awards",
        "award",
        {"awarded_on": "2026-06-01", "title": "三好学生", "level": "校级", "awarded_by": "本校"},
    ),
    ("aid", "aid", {"granted_on": "2026-03-15", "programme": "营养改善计划", "amount_yuan": 800}),
    (
        "other",
        "province.labour",
        {"practised_on": "2026-06-10", "activity": "校园种植", "hours": 4},
    ),
]


def entries_path(number: str, section: str, school: str = SCHOOL) -> str:
    return f"/api/v1/schools/{school}/archives/{number}/sections/{section}/entries"


async def write(
    province: Province, number: str, section: str, kind: str, fields: dict[str, Any], **kw: Any
) -> httpx.Response:
    return await province.client.post(
        entries_path(number, section, kw.get("school", SCHOOL)),
        json={"kind": kind, "fields": fields},
        headers=kw.get("headers", REGISTRAR),
    )


async def write_every_section(province: Province, number: str) -> None:
    for section, kind, fields in EVERY_SECTION:
        response = await write(province, number, section, kind, fields)
        assert response.status_code == 201, response.text


def sections_of(entries: list[dict[str, Any]]) -> dict[str, str]:
    """kind → section of the entries a school wrote (sections 3-7)."""
    return {
        e["kind"]: e["section"]
        for e in entries
        if e["section"] in ("quality", "health", "awards", "aid", "other")
    }


EXPECTED = {kind: section for section, kind, _ in EVERY_SECTION}


# -- the rules --------------------------------------------------------------------------------


def test_each_kind_checks_its_fields_and_lists_every_refusal() -> None:
    kinds = catalogue()
    checkup = validate(
        kinds["checkup"],
        {"examined_on": "2026-09-08", "height_cm": 400, "weight_kg": "x", "colour": "red"},
        TODAY,
    )
    assert {(r.field, r.rule) for r in checkup.refusals} == {
        ("colour", "archive_field_unknown"),
        ("examined_on", "archive_date_in_future"),
        ("height_cm", "archive_number_out_of_range"),
        ("weight_kg", "archive_number_invalid"),
    }
    results = validate(
        kinds["term_results"], {"term": "2025-2027-1", "results": {"语文": 151}}, TODAY
    )
    assert {r.rule for r in results.refusals} == {"archive_term_invalid", "archive_result_invalid"}
    award = validate(
        kinds["award"], {"awarded_on": "2026-06-01", "title": "x", "level": "世界级"}, TODAY
    )
    assert {(r.field, r.rule) for r in award.refusals} == {
        ("level", "archive_choice_invalid"),
        ("awarded_by", "archive_field_missing"),
    }
    assert all(spec.article == "N2013 art. 7" for spec in BUILT_IN)


def test_a_term_dates_its_entries_and_is_one_per_student() -> None:
    assert term_starts_on("2026-2027-1") == date(2026, 9, 1)
    assert term_starts_on("2026-2027-2") == date(2027, 2, 1)
    assert term_reference("term_results", "2026-2027-1") == term_reference(
        "term_results", "2026-2027-1"
    )
    assert term_reference("term_results", "2026-2027-1") != term_reference("conduct", "2026-2027-1")


# -- through the province's API ----------------------------------------------------------------


async def test_a_registrar_writes_every_section_and_each_entry_names_its_writer(
    henan: Province,
) -> None:
    number = number_of(await henan.archived_student(SCHOOL))
    await write_every_section(henan, number)

    archive = (await henan.client.get(f"/api/v1/provinces/41/archives/{number}")).json()
    written = [e for e in archive["entries"] if e["kind"] in EXPECTED]
    assert sections_of(written) == EXPECTED
    for entry in written:
        assert entry["data"]["written_by"] == {
            "account": "wang-registrar",
            "unit": f"school:{SCHOOL}",
        }
        assert entry["recorded_at"] is not None
    [results] = [e for e in written if e["kind"] == "term_results"]
    assert results["data"]["results"] == {"语文": 92, "数学": "良好"}
    assert results["occurred_on"] == "2026-02-01"
    [labour] = [e for e in written if e["kind"] == "province.labour"]
    assert (labour["data"]["label"], labour["data"]["hours"]) == ("劳动教育实践", 4)

    health = await henan.client.get(entries_path(number, "health"), headers=REGISTRAR)
    assert [e["kind"] for e in health.json()] == ["vaccination", "checkup", "fitness_test"]


async def test_refusals_name_their_rule_and_article(henan: Province) -> None:
    number = number_of(await henan.archived_student(SCHOOL))
    wrong_kind = await write(henan, number, "health", "award", {"awarded_on": "2026-06-01"})
    assert (wrong_kind.status_code, wrong_kind.json()["code"]) == (422, "archive_kind_unknown")
    assert wrong_kind.json()["article"] == "N2013 art. 7"
    zh = await henan.client.post(
        entries_path(number, "aid"),
        json={"kind": "aid", "fields": {"granted_on": "2026-03-15", "programme": "x"}},
        headers={**REGISTRAR, "Accept-Language": "zh-CN"},
    )
    assert (zh.status_code, zh.json()["code"]) == (422, "archive_field_missing")
    assert zh.json()["message_zh"].startswith("缺少必填项")
    # Zhejiang's item is not Henan's: section 7 is what the province's own file declares
    other = await write(
        henan, number, "other", "province.innovation", {"practised_on": "2026-06-10"}
    )
    assert other.json()["code"] == "archive_kind_unknown"
    labour = await write(henan, number, "other", "province.labour", {"practised_on": "2026-06-10"})
    assert {labour.json()["code"]} == {"archive_field_missing"}

    first = await write(henan, number, "quality", "term_results", EVERY_SECTION[1][2])
    assert first.status_code == 201
    again = await write(henan, number, "quality", "term_results", EVERY_SECTION[1][2])
    assert (again.status_code, again.json()["code"]) == (409, "archive_term_entry_exists")


async def test_only_the_school_holding_the_live_archive_writes(henan: Province) -> None:
    number = number_of(await henan.archived_student(SCHOOL))
    other_registrar = auth_headers(f"school:{JINSHUI_PRIMARY}", Role.REGISTRAR)
    refused = await write(
        henan, number, "awards", "award", EVERY_SECTION[8][2], headers=other_registrar
    )
    assert refused.status_code == 404  # another unit's path: not even its existence
    not_theirs = await write(
        henan,
        number,
        "awards",
        "award",
        EVERY_SECTION[8][2],
        school=JINSHUI_PRIMARY,
        headers=other_registrar,
    )
    assert (not_theirs.status_code, not_theirs.json()["code"]) == (404, "archive_not_found")
    national = auth_headers("national:CN")  # non-basic data: barred from national altogether
    barred = await henan.client.get(entries_path(number, "awards"), headers=national)
    assert barred.status_code == 404
    assert (await henan.client.get(entries_path(number, "awards"), headers=REGISTRAR)).json() == []


# -- uploads -----------------------------------------------------------------------------------


def csv_file(rows: list[list[Any]]) -> bytes:
    return "\n".join(",".join(str(c) for c in row) for row in rows).encode("utf-8-sig")


def xlsx_file(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def upload(
    province: Province, name: str, content: bytes, kind: str, term: str | None = None
) -> httpx.Response:
    data = {"kind": kind} | ({"term": term} if term else {})
    return await province.client.post(
        f"/api/v1/schools/{SCHOOL}/archive-uploads",
        files={"file": (name, content)},
        data=data,
        headers=REGISTRAR,
    )


@pytest.mark.parametrize("form", ["csv", "xlsx"])
async def test_a_class_term_results_sheet_stores_good_rows_and_reports_each_bad_one(
    henan: Province, form: str
) -> None:
    a, b, c = [number_of(await henan.archived_student(SCHOOL)) for _ in range(3)]
    moved = number_of(await henan.archived_student(JINSHUI_PRIMARY))
    rows: list[list[Any]] = [
        ["学籍号", "姓名", "语文", "数学", "英语"],
        [a, "甲", 95, 88.5, "优秀"],
        [b, "乙", 101, "", 160],  # row 3: 英语 out of range
        ["", "", "", "", ""],  # a blank row is skipped
        [moved, "丁", 90, 90, 90],  # row 5: not a student of this school
        [c, "丙", "良", 70, 71],  # row 6: 语文 neither score nor level
        [a, "甲", 1, 1, 1],  # row 7: twice in the file
    ]
    content = csv_file(rows) if form == "csv" else xlsx_file(rows)
    response = await upload(henan, f"class.{form}", content, "term_results", "2026-2027-1")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["stored"], report["refused_rows"]) == (5, 1, 4)
    assert [(e["row"], e["column"], e["code"]) for e in report["errors"]] == [
        (3, "英语", "archive_result_invalid"),
        (5, "学籍号", "archive_not_found"),
        (6, "语文", "archive_result_invalid"),
        (7, "学籍号", "duplicate_in_file"),
    ]
    assert all(e["message_zh"] for e in report["errors"])

    stored = (await henan.client.get(entries_path(a, "quality"), headers=REGISTRAR)).json()
    [entry] = stored
    assert entry["data"]["results"] == {"语文": 95, "数学": 88.5, "英语": "优秀"}
    assert entry["data"]["term"] == "2026-2027-1" and entry["occurred_on"] == "2026-09-01"
    assert entry["data"]["upload_id"] == report["upload_id"]
    assert entry["data"]["written_by"]["account"] == "wang-registrar"
    assert (await henan.client.get(entries_path(b, "quality"), headers=REGISTRAR)).json() == []

    again = (await upload(henan, f"class.{form}", content, "term_results", "2026-2027-1")).json()
    assert again["stored"] == 0
    assert (3, "英语", "archive_result_invalid") in [
        (e["row"], e["column"], e["code"]) for e in again["errors"]
    ]
    assert (2, "学籍号", "archive_term_entry_exists") in [
        (e["row"], e["column"], e["code"]) for e in again["errors"]
    ]


async def test_a_class_check_up_sheet_and_the_whole_file_refusals(henan: Province) -> None:
    a = number_of(await henan.archived_student(SCHOOL))
    rows = [
        ["学籍号", "体检日期", "身高（厘米）", "体重（千克）", "左眼视力", "右眼视力", "体检结论"],
        [a, "2026/9/1", 131, 27.5, 5.0, 4.9, "健康"],
        [a + "X", "2026-09-01", 20, 27, "", "", ""],
    ]
    report = (await upload(henan, "checkup.csv", csv_file(rows), "checkup")).json()
    assert (report["stored"], report["refused_rows"]) == (1, 1)
    assert [(e["row"], e["column"], e["code"]) for e in report["errors"]] == [
        (3, "身高（厘米）", "archive_number_out_of_range")
    ]
    [entry] = (await henan.client.get(entries_path(a, "health"), headers=REGISTRAR)).json()
    assert (entry["kind"], entry["occurred_on"], entry["data"]["height_cm"]) == (
        "checkup",
        "2026-09-01",
        131,
    )

    no_column = await upload(
        henan, "c.csv", csv_file([["姓名", "语文"], ["甲", 1]]), "term_results", "2026-2027-1"
    )
    assert (no_column.status_code, no_column.json()["code"]) == (422, "missing_columns")
    no_term = await upload(henan, "c.csv", csv_file(rows), "term_results")
    assert (no_term.status_code, no_term.json()["code"]) == (422, "archive_term_required")
    not_a_sheet = await upload(henan, "c.pdf", b"%PDF-1.4", "checkup")
    assert (not_a_sheet.status_code, not_a_sheet.json()["code"]) == (415, "unsupported_file")


# -- the entries go with the archive -----------------------------------------------------------


async def test_within_the_province_every_entry_moves_and_stays_in_the_backup(
    henan: Province,
) -> None:
    info = await henan.archived_student(SCHOOL)
    number = number_of(info)
    await write_every_section(henan, number)
    done = completed(info).model_copy(
        update={"proofs": (ProofRef(index=0, kind="application_form"),)}
    )
    await henan.deliver(done)

    moved = await henan.client.get(f"/api/v1/schools/{JINSHUI_PRIMARY}/archives/{number}")
    assert sections_of(moved.json()["entries"]) == EXPECTED
    # section 2 links the transfer's proofs where the receiving school keeps them
    [proofs] = [e for e in moved.json()["entries"] if e["kind"] == "transfer_proofs"]
    assert proofs["section"] == "proofs" and proofs["reference"] == str(done.transfer_id)
    [proof] = proofs["data"]["proofs"]
    assert (proof["kind"], proof["index"], proofs["data"]["kept_by"]) == (
        "application_form",
        0,
        JINSHUI_PRIMARY,
    )
    assert proof["url"].endswith(f"/api/v1/transfers/{done.transfer_id}/proofs/0")
    backup = await henan.client.get(f"/api/v1/schools/{SCHOOL}/archive-backups/{number}")
    assert sections_of(backup.json()["archive"]["entries"]) == EXPECTED
    assert "transfer_proofs" in [e["kind"] for e in backup.json()["archive"]["entries"]]
    gone = await write(henan, number, "awards", "award", EVERY_SECTION[8][2])
    assert (gone.status_code, gone.json()["code"]) == (404, "archive_transferred")


async def test_across_provinces_every_entry_is_handed_over(
    henan: Province, zhejiang: Province
) -> None:
    info = await henan.archived_student(SCHOOL)
    number = number_of(info)
    await write_every_section(henan, number)
    done = completed(info, to_school=HANGZHOU_PRIMARY).model_copy(
        update={"proofs": (ProofRef(index=0, kind="origin_registration_proof"),)}
    )
    await henan.deliver(done)
    await zhejiang.deliver(done)
    [handed] = await henan.staged("archive.handed_over")
    assert handed.target == province_ref("33")
    await zhejiang.apply(handed)

    received = (await zhejiang.client.get(f"/api/v1/provinces/33/archives/{number}")).json()
    assert sections_of(received["entries"]) == EXPECTED
    [proofs] = [e for e in received["entries"] if e["kind"] == "transfer_proofs"]
    assert proofs["data"]["proofs"][0]["kind"] == "origin_registration_proof"
    [labour] = [e for e in received["entries"] if e["kind"] == "province.labour"]
    assert labour["data"]["written_by"]["unit"] == f"school:{SCHOOL}"
    backup = await henan.client.get(f"/api/v1/schools/{SCHOOL}/archive-backups/{number}")
    assert sections_of(backup.json()["archive"]["entries"]) == EXPECTED
    # the receiving school writes on in its own province's sections
    hangzhou = auth_headers(f"school:{HANGZHOU_PRIMARY}", Role.REGISTRAR)
    innovation = await zhejiang.client.post(
        entries_path(number, "other", HANGZHOU_PRIMARY),
        json={
            "kind": "province.innovation",
            "fields": {"practised_on": "2026-09-01", "project": "机器人"},
        },
        headers=hangzhou,
    )
    assert innovation.status_code == 201, innovation.text


def test_a_province_item_is_declared_with_typed_fields_and_a_date() -> None:
    item = ArchiveItemRule.model_validate(
        {
            "kind": "labour",
            "label": "劳动教育实践",
            "dated_by": "practised_on",
            "fields": [
                {"name": "practised_on", "type": "date", "label": "日期"},
                {"name": "hours", "type": "decimal", "label": "时长", "minimum": 0, "maximum": 8},
            ],
        }
    )
    spec = archive_sections.province_item(item)
    assert (spec.kind, spec.section) == ("province.labour", "other")
    refused = validate(spec, {"practised_on": "2026-06-01", "hours": 9}, TODAY)
    assert [(r.field, r.rule) for r in refused.refusals] == [
        ("hours", "archive_number_out_of_range")
    ]
    with pytest.raises(ValidationError, match="dated_by"):
        ArchiveItemRule.model_validate(
            {
                "kind": "labour",
                "label": "劳动",
                "dated_by": "hours",
                "fields": [{"name": "hours", "type": "decimal", "label": "时长"}],
            }
        )


async def test_a_progression_moves_every_entry_and_the_graduating_school_keeps_its_backup(
    henan: Province,
) -> None:
    info = await henan.archived_student(SCHOOL, grade=6)
    number = number_of(info)
    await write_every_section(henan, number)
    junior = "4101020002"
    await henan.deliver(
        ProgressionCompleted(
            progression_id=uuid.uuid4(),
            from_school=SCHOOL,
            to_school=junior,
            grade=7,
            completed_at=datetime.now(UTC),
            archive_due_on=date(2026, 10, 7),
            students=(
                ProgressedStudent(
                    student_number=number,
                    student=StudentSummary(
                        name=info.name, gender=info.gender, birth_date=info.birth_date, grade=7
                    ),
                    basic=info,
                ),
            ),
        )
    )
    moved = await henan.client.get(f"/api/v1/schools/{junior}/archives/{number}")
    assert moved.status_code == 200, moved.text
    assert sections_of(moved.json()["entries"]) == EXPECTED
    backup = await henan.client.get(f"/api/v1/schools/{SCHOOL}/archive-backups/{number}")
    assert sections_of(backup.json()["archive"]["entries"]) == EXPECTED
