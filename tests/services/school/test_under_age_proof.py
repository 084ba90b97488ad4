"""HA art. 4: 未经主管教育行政部门批准，小学不得招收不足6周岁的儿童入学. Where the province names
the proof (``[registration] under_age_proof``, Henan's ``config/provinces/41.toml``), the
school refuses an under-age first-grader's registration without it; with it, the proof travels
to the authority's task (``tests/components/approval_desk/test_tasks.py``). A file row carries
no proof: such a child is refused in the report, pointing to the single form. Against SQLite
and PostgreSQL, with the repository's province rules."""

from __future__ import annotations

import base64
import io
import uuid
from datetime import date

import pytest
from sqlalchemy import func, select

from devtools.testing import REPO_CONFIG
from services.school.adapters import orm
from services.school.config import SchoolSettings
from services.school.service_layer import admission, registration
from services.school.service_layer.admission import Upload
from shared.contracts.registration import ProofDocument
from shared.db.engine import SessionFactory
from shared.messaging.uow import UnitOfWork
from shared.rules import load_province_rules
from shared.runtime.errors import DomainError
from tests.services.school.admission_files import as_csv, row
from tests.services.school.conftest import (
    EXTENDED,
    PRIMARY,
    TODAY,
    Service,
    basic,
    resident_id,
    staged,
)
from tests.services.school.test_admission_service import report_rows
from tests.services.school.test_http import STUDENTS, form

HENAN = load_province_rules(REPO_CONFIG, "41").registration
ZHEJIANG = load_province_rules(REPO_CONFIG, "33").registration
# enrolled 2024-09-01: 5 years old on 2024-08-31, the cutoff (HA art. 4)
YOUNG = date(2018, 12, 1)
SIX_ON_THE_DAY = date(2018, 8, 31)
APPROVAL = ProofDocument(
    kind="early_admission_approval",
    filename="提前入学批准.pdf",
    content_base64=base64.b64encode(b"%PDF-1.4 approval").decode(),
)
OTHER = APPROVAL.model_copy(update={"kind": "hukou_proof"})


def test_only_an_under_age_first_grader_without_the_named_proof_is_refused() -> None:
    assert HENAN.under_age_proof == "early_admission_approval"
    refused = registration.under_age_refusal(basic(birth_date=YOUNG), HENAN)
    assert refused is not None
    assert (refused.rule, refused.article, refused.status_code) == (
        "under_age_proof_required",
        "HA art. 4",
        422,
    )
    assert "early_admission_approval" in refused.detail and "single" in refused.detail
    assert registration.under_age_refusal(basic(birth_date=YOUNG), HENAN, [OTHER]) is not None
    assert registration.under_age_refusal(basic(birth_date=YOUNG), HENAN, [APPROVAL]) is None
    # six on August 31 needs none; nor a grade-2 pupil; nor any child in Zhejiang (no rule)
    assert registration.under_age_refusal(basic(birth_date=SIX_ON_THE_DAY), HENAN) is None
    assert registration.under_age_refusal(basic(birth_date=YOUNG, grade=2), HENAN) is None
    assert ZHEJIANG.under_age_proof is None
    assert registration.under_age_refusal(basic(birth_date=YOUNG), ZHEJIANG) is None


async def count(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(orm.registration)) or 0)


async def test_the_single_form_without_the_proof_stores_nothing(sessions: SessionFactory) -> None:
    async with UnitOfWork(sessions) as uow:
        with pytest.raises(DomainError) as refused:
            await registration.register_student(
                uow, PRIMARY, basic(birth_date=YOUNG), EXTENDED, today=TODAY, rules=HENAN
            )
        await uow.commit()
    assert (refused.value.rule, refused.value.article) == ("under_age_proof_required", "HA art. 4")
    assert await count(sessions) == 0
    assert await staged(sessions) == []


async def test_with_the_proof_it_travels_to_the_authority(sessions: SessionFactory) -> None:
    async with UnitOfWork(sessions) as uow:
        registration_id = await registration.register_student(
            uow,
            PRIMARY,
            basic(birth_date=YOUNG),
            EXTENDED,
            today=TODAY,
            rules=HENAN,
            proofs=[APPROVAL],
            max_proof_bytes=SchoolSettings().max_proof_bytes,
        )
        # a six-year-old in Henan and a five-year-old in Zhejiang need none
        await registration.register_student(
            uow, PRIMARY, basic(birth_date=SIX_ON_THE_DAY), EXTENDED, today=TODAY, rules=HENAN
        )
        await registration.register_student(
            uow, PRIMARY, basic(birth_date=YOUNG), EXTENDED, today=TODAY, rules=ZHEJIANG
        )
        await uow.commit()
    assert await count(sessions) == 3
    requests = [e for e in await staged(sessions) if e.type == "registration.batch_submitted"]
    [item] = [
        i
        for e in requests
        for i in e.payload["items"]
        if uuid.UUID(i["registration_id"]) == registration_id
    ]
    assert item["proofs"] == [APPROVAL.model_dump(mode="json")]
    archives = [e for e in await staged(sessions) if e.type == "registration.archive_filed"]
    assert all("proofs" not in i for e in archives for i in e.payload["items"])


async def test_a_file_row_of_an_under_age_child_is_refused_with_the_hint(
    sessions: SessionFactory,
) -> None:
    rows = [row("六岁新生"), row("五岁新生", birth=YOUNG)]
    data = as_csv(rows)
    async with UnitOfWork(sessions) as uow:
        job_id = await admission.admit_file(
            uow,
            sessions,
            PRIMARY,
            Upload("intake.csv", io.BytesIO(data), len(data)),
            settings=SchoolSettings(),
            today=TODAY,
            rules=HENAN,
        )
        await uow.commit()
    async with sessions() as session:
        view = await admission.get_job(session, job_id, lambda _code: True)
        report = report_rows(await admission.error_report(session, job_id, lambda _code: True))
    assert (view.job.accepted_rows, view.job.rejected_rows) == (1, 1)
    [line] = report
    assert (line["row"], line["column"], line["rule"]) == (
        "3",
        "出生日期",
        "under_age_proof_required",
    )
    assert "HA art. 4" in line["reason"] and "single registration form" in line["reason"]


async def test_the_api_answers_the_code_article_and_chinese(service: Service) -> None:
    young = form(birth_date=YOUNG.isoformat(), id_number=resident_id(YOUNG))
    refused = await service.client.post(STUDENTS, json=young, headers={"Accept-Language": "zh-CN"})
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert (body["code"], body["article"]) == ("under_age_proof_required", "HA art. 4")
    assert body["message_zh"].startswith("未经主管教育行政部门批准")
    young["proofs"] = [APPROVAL.model_dump(mode="json")]
    accepted = await service.client.post(STUDENTS, json=young)
    assert accepted.status_code == 202, accepted.text
    assert (await service.client.post(STUDENTS, json=form())).status_code == 202
