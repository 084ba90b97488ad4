"""Receiving what schools submit: every submission becomes a task (N2013 arts. 4, 10).

A submission from a school this authority does not govern can never apply here and is
dead-lettered. A school re-sending a submission (same batch or change id) is recognised and
ignored. A registration batch that passes the authority's checks is approved by the system at
once where the school's province rules say ``registration.auto_approve``; a key-field change
always waits for an officer, with its proofs kept in the task.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from components.approval_desk.decisions import settle
from components.approval_desk.desk import ApprovalDesk
from components.approval_desk.domain import (
    ITEM_PROOFS,
    SYSTEM,
    TRACE_KEY,
    Decision,
    DecisionKind,
    Finding,
    ItemStatus,
    TaskKind,
    TaskStatus,
    check_batch,
    check_key_field_change,
    check_status_change,
)
from components.approval_desk.registration_timing import check_timing
from shared.contracts.registration import (
    KeyFieldChangeSubmitted,
    ProofDocument,
    RegistrationBatchSubmitted,
    RegistrationItem,
)
from shared.contracts.status import StatusChangeSubmitted
from shared.db.keys import time_ordered_uuid
from shared.federation.config import School, Tier, UnitRef
from shared.federation.links import status_proof_url
from shared.messaging.authorization import require_source
from shared.messaging.envelope import current_trace_context
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext
from shared.rules import ProvinceRules, load_workday_calendar, registration_authority

log = logging.getLogger(__name__)

AUTO_APPROVAL_REASON = "passed every check; the province approves such batches automatically"
# The province rule behind an automatic decision, as its rules file names it (decision 0043).
AUTO_APPROVAL_RULE = "registration.auto_approve"
RECORDED_RULE = "status_change.recorded_by_authority"


def submitted_by_school(
    desk: ApprovalDesk, ctx: HandlerContext, school_code: str, what: str
) -> School:
    """The submitting school, if it is the sender itself (a school submits for its own
    students only: anyone else is a security refusal) and this unit governs it."""
    require_source(ctx, UnitRef(tier=Tier.SCHOOL, code=school_code), what)
    return governed_school(desk, ctx.unit, school_code)


def governed_school(desk: ApprovalDesk, unit: UnitRef, school_code: str) -> School:
    """The submitting school, if ``unit`` is its registry authority; dead-letter otherwise."""
    school = desk.school(school_code)
    if school is None:
        raise PermanentMessageError(f"school {school_code} is not in the federation")
    if school.authority_unit != unit:
        raise PermanentMessageError(
            f"school {school_code} is not governed by {unit}"
            f" (its registry authority is {school.authority_unit})"
        )
    return school


async def receive_batch(
    desk: ApprovalDesk, ctx: HandlerContext, batch: RegistrationBatchSubmitted
) -> None:
    """Open a task for a registration batch, or approve it at once where the rules allow. A
    Yi-track senior school's first-year list comes to its city, which approves it before
    registration (LS 6; :func:`shared.rules.registration_authority`)."""
    grades = [item.basic.grade for item in batch.items]
    school = desk.school(batch.school_code)
    if school is not None and ctx.unit != school.authority_unit:
        require_source(ctx, UnitRef(tier=Tier.SCHOOL, code=school.code), "its registration batch")
        expected = registration_authority(
            desk.runtime.federation, desk.runtime.settings.federation_config, school, grades
        )
        if expected != ctx.unit:
            raise PermanentMessageError(
                f"school {school.code} is not governed by {ctx.unit} (its registry authority"
                f" is {school.authority_unit})"
            )
    else:
        school = submitted_by_school(desk, ctx, batch.school_code, "its registration batch")
    _require_distinct(batch)
    tasks = desk.tasks(ctx.session)
    kind, subject = TaskKind.REGISTRATION_BATCH, batch.batch_id
    if await tasks.find_subject(ctx.unit, kind, subject):
        log.info("batch %s already has a task at %s; ignored", subject, ctx.unit)
        return
    today = desk.today()
    findings = check_batch(
        {str(i.registration_id): i.basic for i in batch.items}, school.stage, today
    )
    rules = desk.rules(school.code).registration
    for item in batch.items:  # N2013 art. 7; LS 1(三); HA art. 4
        if timing := check_timing(item.basic, rules, today):
            findings.setdefault(str(item.registration_id), []).extend(timing)
    proofs, item_proofs = _batch_proofs(batch)
    details = {ITEM_PROOFS: item_proofs} if item_proofs else {}
    task = task_row(desk, ctx, kind, school, subject, len(batch.items), len(findings), details)
    await tasks.add(
        task,
        _item_rows(task["task_id"], batch.items, findings),
        proofs=[{"task_id": task["task_id"], **p} for p in proofs],
    )
    if not findings and desk.auto_approves(school):
        await _approve_automatically(desk, ctx, task["task_id"])
    log.info(
        "batch %s at %s: %d items, %d with findings",
        subject,
        ctx.unit,
        len(batch.items),
        len(findings),
    )


async def _approve_automatically(
    desk: ApprovalDesk, ctx: HandlerContext, task_id: uuid.UUID
) -> None:
    tasks = desk.tasks(ctx.session)
    task = await tasks.get(task_id)
    decision = Decision(
        DecisionKind.APPROVE,
        decided_by=SYSTEM,
        reason=AUTO_APPROVAL_REASON,
        rule=AUTO_APPROVAL_RULE,
    )
    await settle(desk, tasks, task, decision, ctx.emit)


def _batch_proofs(
    batch: RegistrationBatchSubmitted,
) -> tuple[list[dict[str, Any]], dict[str, list[int]]]:
    """The proofs the batch's registrations carry (HA art. 4: an under-age first-grader's
    approval), numbered across the task, and each registration's indexes among them."""
    proofs: list[dict[str, Any]] = []
    item_proofs: dict[str, list[int]] = {}
    for item in batch.items:
        for proof in item.proofs:
            index = len(proofs)
            proofs.append(_decoded(f"registration {item.registration_id}", index, proof))
            item_proofs.setdefault(str(item.registration_id), []).append(index)
    return proofs, item_proofs


def _require_distinct(batch: RegistrationBatchSubmitted) -> None:
    ids = {item.registration_id for item in batch.items}
    if len(ids) != len(batch.items):
        raise PermanentMessageError(f"batch {batch.batch_id} lists a registration id twice")


async def receive_key_field_change(
    desk: ApprovalDesk, ctx: HandlerContext, change: KeyFieldChangeSubmitted
) -> None:
    """Open a task for a key-field change; its proofs stay with the task for the officer."""
    school = submitted_by_school(desk, ctx, change.school_code, "its key-field change")
    tasks = desk.tasks(ctx.session)
    kind, subject = TaskKind.KEY_FIELD_CHANGE, change.change_id
    if await tasks.find_subject(ctx.unit, kind, subject):
        log.info("key-field change %s already has a task at %s; ignored", subject, ctx.unit)
        return
    what = f"key-field change {change.change_id}"
    proofs = [_decoded(what, index, p) for index, p in enumerate(change.proofs)]
    new = change.changes
    others = set(new.named()) - {"name", "id_type", "id_number"}
    others = others | ({"hukou_place"} if change.hukou_region else set())
    findings = check_key_field_change(
        new.name, new.id_type, new.id_number, desk.today(), changes_others=bool(others)
    )
    details = {
        "student_number": change.student_number,
        "changes": new.model_dump(mode="json"),
        "request_reason": change.reason,
        "findings": [f.as_dict() for f in findings],
        # by position and kind: the school keeps the files, the archive links them there
        "proofs": [{"index": i, "kind": p.kind} for i, p in enumerate(change.proofs)],
    }
    if change.hukou_region:  # the authority decides it and the province applies it
        details["hukou_region"] = change.hukou_region
    task = task_row(desk, ctx, kind, school, subject, 0, len(findings), details)
    await tasks.add(task, proofs=[{"task_id": task["task_id"], **p} for p in proofs])
    log.info("key-field change %s at %s: task opened", subject, ctx.unit)


RECORDED_REASON = (
    "the school decides this change; the province's rules have the authority record it"
)


async def receive_status_change(
    desk: ApprovalDesk, ctx: HandlerContext, change: StatusChangeSubmitted
) -> None:
    """Open a task for a status change (学籍变动). Where the province's rules say the
    authority only records this kind of change (登记 / 备案) and the checks found nothing, the
    system approves it at once; otherwise it waits for an officer, who reads the findings
    (a death reported late, a date in the future) and the proofs at the school."""
    school = submitted_by_school(desk, ctx, change.school_code, "its status change")
    tasks = desk.tasks(ctx.session)
    kind, subject = TaskKind.STATUS_CHANGE, change.change_id
    if await tasks.find_subject(ctx.unit, kind, subject):
        log.info("status change %s already has a task at %s; ignored", subject, ctx.unit)
        return
    federation = desk.runtime.federation
    rules = desk.rules(school.code)
    findings = check_status_change(
        change.facts.change,
        change.facts.effective_on,
        desk.today(),
        _death_report_due(desk, rules, change),
    )
    details = {
        "student_number": change.student_number,
        "grade": change.grade,
        "facts": change.facts.model_dump(mode="json"),
        "request_reason": change.reason,
        "findings": [f.as_dict() for f in findings],
        "proofs": [
            {
                **proof.model_dump(mode="json"),
                "url": status_proof_url(federation, school.code, str(subject), proof.index),
            }
            for proof in change.proofs
        ],
    }
    task = task_row(desk, ctx, kind, school, subject, 0, len(findings), details)
    await tasks.add(task)
    if change.facts.change in rules.status_change.recorded_by_authority and not findings:
        decision = Decision(
            DecisionKind.APPROVE, decided_by=SYSTEM, reason=RECORDED_REASON, rule=RECORDED_RULE
        )
        await settle(desk, tasks, await tasks.get(task["task_id"]), decision, ctx.emit)
    log.info("status change %s at %s: task opened", subject, ctx.unit)


def _death_report_due(
    desk: ApprovalDesk, rules: ProvinceRules, change: StatusChangeSubmitted
) -> date | None:
    """The last day to report a death: working days of the province's calendar."""
    if change.facts.change != "decease":
        return None
    calendar = load_workday_calendar(desk.runtime.settings.federation_config, rules)
    days = rules.status_change.death_report_working_days
    return calendar.add_workdays(change.facts.effective_on, days).due


def _decoded(what: str, index: int, proof: ProofDocument) -> dict[str, Any]:
    try:
        content = base64.b64decode(proof.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise PermanentMessageError(f"proof {index} of {what} is not valid base64") from None
    return {
        "position": index,
        "kind": proof.kind,
        "filename": proof.filename,
        "size": len(content),
        "content": content,
    }


def task_row(
    desk: ApprovalDesk,
    ctx: HandlerContext,
    kind: TaskKind,
    school: School,
    subject: uuid.UUID,
    item_count: int,
    finding_count: int,
    details: dict[str, Any],
) -> dict[str, Any]:
    return {
        "task_id": time_ordered_uuid(),  # desk_task's key (decision 0059)
        "kind": kind,
        "status": TaskStatus.OPEN,
        "unit": ctx.unit,
        "school_code": school.code,
        "subject_id": subject,
        "item_count": item_count,
        "finding_count": finding_count,
        # the flow's trace: the officer's decision continues it (one trace per flow)
        # (in a set-based run, the message's own: no single span is current for the run)
        "details": {**details, TRACE_KEY: _trace_of(ctx)},
        "opened_at": desk.now(),
        "correlation_id": ctx.envelope.correlation_id,
        "message_id": ctx.envelope.message_id,
    }


def _trace_of(ctx: HandlerContext) -> dict[str, str]:
    return ctx.trace_context if ctx.trace_context is not None else current_trace_context()


def _item_rows(
    task_id: uuid.UUID, items: Sequence[RegistrationItem], findings: dict[str, list[Finding]]
) -> list[dict[str, Any]]:
    return [
        {
            "task_id": task_id,
            "registration_id": item.registration_id,
            "position": position,
            "basic": item.basic.model_dump(mode="json"),
            "findings": [f.as_dict() for f in findings.get(str(item.registration_id), [])],
            "status": ItemStatus.PENDING,
            "reason": None,
        }
        for position, item in enumerate(items)
    ]
