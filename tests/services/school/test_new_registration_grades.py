"""LS 1(二): a child never registered gets a new registration in grade 1 only; later grades
continue their registration by progression or transfer. Checked at the school, for the single
form and for each row of an admission file, against SQLite and PostgreSQL, with Liangshan's
rules as the repository configures them (``config/provinces/51.toml``)."""

from __future__ import annotations

import io
import tomllib
from datetime import date

import pytest

from devtools.testing import REPO_CONFIG, dump_toml
from services.school.config import SchoolSettings
from services.school.service_layer import admission, registration
from services.school.service_layer.admission import Upload
from shared.db.engine import SessionFactory
from shared.messaging.uow import UnitOfWork
from shared.rules import RegistrationRules, load_province_rules
from shared.runtime.errors import DomainError
from tests.services.school.admission_files import as_csv, row
from tests.services.school.conftest import EXTENDED, PRIMARY, TODAY, Service, basic
from tests.services.school.test_admission_service import report_rows
from tests.services.school.test_http import STUDENTS, form

LIANGSHAN = load_province_rules(REPO_CONFIG, "5134010001").registration


def test_liangshan_opens_new_registrations_in_grade_1_only() -> None:
    assert registration.new_registration_refusal(1, LIANGSHAN) is None
    refused = registration.new_registration_refusal(7, LIANGSHAN)
    assert refused is not None
    assert (refused.rule, refused.article) == ("new_registration_grade", "LS 1(二)")
    assert "progression or transfer" in refused.detail
    henan = load_province_rules(REPO_CONFIG, "41").registration
    assert registration.new_registration_refusal(7, henan) is None


async def test_the_single_form_is_refused_before_anything_is_stored(
    sessions: SessionFactory,
) -> None:
    async with UnitOfWork(sessions) as uow:
        with pytest.raises(DomainError) as refused:
            await registration.register_student(
                uow, PRIMARY, basic(grade=3), EXTENDED, today=TODAY, rules=LIANGSHAN
            )
        assert refused.value.article == "LS 1(二)"
        await registration.register_student(
            uow, PRIMARY, basic(grade=1), EXTENDED, today=TODAY, rules=LIANGSHAN
        )
        await uow.commit()


async def test_each_row_of_a_later_grade_is_refused_in_the_report(sessions: SessionFactory) -> None:
    rows = [row("一年级新生"), row("三年级插班", birth=date(2016, 3, 7), 年级=3)]
    data = as_csv(rows)
    async with UnitOfWork(sessions) as uow:
        job_id = await admission.admit_file(
            uow,
            sessions,
            PRIMARY,
            Upload("intake.csv", io.BytesIO(data), len(data)),
            settings=SchoolSettings(),
            today=TODAY,
            rules=LIANGSHAN,
        )
        await uow.commit()
    async with sessions() as session:
        view = await admission.get_job(session, job_id, lambda _code: True)
        report = report_rows(await admission.error_report(session, job_id, lambda _code: True))
    assert (view.job.accepted_rows, view.job.rejected_rows) == (1, 1)
    [line] = report
    assert (line["row"], line["column"], line["rule"]) == ("3", "年级", "new_registration_grade")
    assert "LS 1(二)" in line["reason"]


async def test_the_api_answers_the_rule_its_article_and_chinese(service: Service) -> None:
    """The province's file is read on every request: a province adopting the rule applies it
    at once (here the test's copy of Henan's file takes Liangshan's keys)."""
    path = service.runtime.settings.federation_config.parent / "provinces" / "41.toml"
    rules = tomllib.loads(path.read_text(encoding="utf-8"))
    rules["registration"].update(
        new_registration_grades=[1], articles={"new_registration_grades": "LS 1(二)"}
    )
    path.write_text(dump_toml(rules), encoding="utf-8")
    RegistrationRules.model_validate(rules["registration"])
    refused = await service.client.post(
        STUDENTS, json=form(grade=3), headers={"Accept-Language": "zh-CN"}
    )
    assert refused.status_code == 422
    body = refused.json()
    assert (body["code"], body["article"]) == ("new_registration_grade", "LS 1(二)")
    assert body["message_zh"].startswith("新建学籍只能在一年级")
    assert (await service.client.post(STUDENTS, json=form(grade=1))).status_code == 202
