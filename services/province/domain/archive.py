"""The student archive (学籍档案) a province keeps: states, sections, what an outcome does.

N2013 art. 7 (ZJ art. 8) lists the sections; discipline records (ZJ arts. 22-23) live in the
archive too and are all removed at graduation. Under the 2025 measures (N2025 arts. 5, 23)
everything but the basic info is held by the student's province only.

A school files a new student's extended info when it submits the registration; the archive
stays **pending** until national issues the student number, then becomes **active** under
that number. An outcome may reach the province before the filing (retries reorder
deliveries), so outcomes are kept and applied whenever the filing arrives.

On a transfer the archive goes to the new school (N2013 arts. 9, 15): within the province it
moves to the receiving school; across a border the sending province hands the whole archive
to the receiving province and keeps its own copy as **transferred_out**. Either way the
sending school keeps a read-only electronic backup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from enum import StrEnum
from typing import Any, Protocol


class ArchiveStatus(StrEnum):
    PENDING = "pending"  # filed, waiting for the student number
    ACTIVE = "active"  # the student's archive, under their student number
    TRANSFERRED_OUT = "transferred_out"  # handed to another province with the student


class Section(StrEnum):
    """Archive sections (N2013 art. 7); the number is the article's numbering."""

    BASIC = "basic"  # 一 学籍基础信息及信息变动情况
    PROOFS = "proofs"  # 二 学籍信息证明材料 (户籍证明、转学申请、休学申请等)
    QUALITY = "quality"  # 三 综合素质发展报告
    HEALTH = "health"  # 四 体质健康测试及健康体检信息、预防接种信息
    AWARDS = "awards"  # 五 在校期间的获奖信息
    AID = "aid"  # 六 享受资助信息
    OTHER = "other"  # 七 省级教育行政部门规定的其他信息和材料
    DISCIPLINE = "discipline"  # 处分 (ZJ arts. 22-23): all removed at graduation


class EntryKind(StrEnum):
    REGISTERED = "registered"  # 学籍建立: the student number was issued
    KEY_FIELD_CHANGE = "key_field_change"  # 关键信息变更 (N2013 art. 10)
    TRANSFERRED = "transferred"  # 转学: the student moved to another school (section 1)
    ARCHIVE_RECEIVED = "archive_received"  # 档案接收: handed over by another province
    DISCIPLINE = "discipline"  # 处分 imposed (ZJ arts. 22-23)
    DISCIPLINE_LIFTED = "discipline_lifted"  # 解除处分: ``reference`` names the discipline
    STATUS_CHANGE = "status_change"  # 学籍变动 (section 1): suspension, dropout, death …
    STATUS_CHANGE_PROOFS = "status_change_proofs"  # its proofs (section 2), kept at the school
    TRANSFER_PROOFS = "transfer_proofs"  # a transfer's proofs (section 2), at the receiving school
    KEY_FIELD_CHANGE_PROOFS = "key_field_change_proofs"  # its proofs (section 2), at the school
    SENT_TO_HUKOU_COUNTY = "sent_to_hukou_county"  # a migrant dropout's archive handed over
    GRADUATION = "graduation"  # 毕业 / 结业 / 肄业 (ZJ arts. 24-26): ``data.outcome``
    # 非基础信息变更 (section 1): guardians, contacts, address edited by the school (decision
    # 0043): ``data.before`` / ``data.after`` hold the changed fields, ``data.changed_by`` who
    CONTACTS_CHANGE = "contacts_change"
    # 学校合并、撤销 (section 1; N2013 art. 9): the archive went to the merged or designated
    # school with its students; ``reference`` names the merger
    SCHOOL_MERGED = "school_merged"


class HandoverState(StrEnum):
    """An archive handed to another province after a cross-province transfer."""

    SENT = "sent"  # handed over, waiting for the receipt
    RECEIVED = "received"  # the receiving province has it
    MISSING = "missing"  # no active archive here to hand over: someone has to look


OPEN_HANDOVER_STATES = (HandoverState.SENT, HandoverState.MISSING)


class DropoutHandoverState(StrEnum):
    """A migrant dropout's archive due to the hukou county at the end of the term."""

    WAITING = "waiting"  # until the term ends
    SENT = "sent"  # handed to the hukou county's province
    NO_RECIPIENT = "no_recipient"  # the hukou county's province is not in the federation


def handover_overdue(state: str, due_on: date, today: date) -> bool:
    """A hand-over not received by its due date (1 month, N2013 art. 15)."""
    return state != HandoverState.RECEIVED and today > due_on


class Entry(Protocol):
    """What the discipline check reads of an archive entry."""

    @property
    def section(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def reference(self) -> str | None: ...
    @property
    def occurred_on(self) -> date: ...
    @property
    def data(self) -> Mapping[str, Any]: ...


def discipline_in_force(entries: Iterable[Entry], today: date) -> list[Entry]:
    """Discipline records not lifted by ``today`` (HA art. 11(四): 受处分期间不予转学).

    A record is lifted by a ``discipline_lifted`` entry with the same ``reference`` dated on
    or before today, or by a ``lifted_on`` date in its own data on or before today; a term's
    end (normally 6 months, ZJ art. 23) does not lift it by itself.
    """
    entries = [e for e in entries if e.section == Section.DISCIPLINE]
    lifted = {
        e.reference
        for e in entries
        if e.kind == EntryKind.DISCIPLINE_LIFTED and e.reference and e.occurred_on <= today
    }
    return [
        e
        for e in entries
        if e.kind == EntryKind.DISCIPLINE
        and e.occurred_on <= today
        and not (e.reference and e.reference in lifted)
        and not _lifted_by_date(e.data.get("lifted_on"), today)
    ]


def _lifted_by_date(value: Any, today: date) -> bool:
    if not value:
        return False
    try:
        return date.fromisoformat(str(value)) <= today
    except ValueError:
        return False


class Outcome(StrEnum):
    """What national (or the authority) decided about one registration."""

    ISSUED = "issued"
    REJECTED = "rejected"
    HELD_FOR_REVIEW = "held_for_review"


# Outcomes that settle a pending archive for good; "held for review" leaves it pending.
FINAL_OUTCOMES = frozenset({Outcome.ISSUED, Outcome.REJECTED})

KEY_FIELDS = ("name", "id_type", "id_number")  # always shown before and after a change
# the basic fields a province may add as key fields (decision 0043): shown when changed
OTHER_KEY_FIELDS = ("gender", "birth_date", "nationality", "ethnicity")


def is_final(outcome: str) -> bool:
    return outcome in FINAL_OUTCOMES


def key_fields(
    basic: Mapping[str, Any], changes: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The key fields (关键信息: name and identity document) of a basic-info record, and the
    other basic fields a change sets (gender, birth date, nationality, ethnicity)."""
    shown = KEY_FIELDS + tuple(
        name for name in OTHER_KEY_FIELDS if (changes or {}).get(name) is not None
    )
    return {name: basic.get(name) for name in shown}


def with_changes(basic: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Basic info after a key-field change: fields the change sets replace the old ones.

    Recording an identity document of type ``none`` clears the number.
    """
    updated = dict(basic)
    updated.update({name: value for name, value in changes.items() if value is not None})
    if changes.get("id_type") == "none":
        updated["id_number"] = None
    return updated
