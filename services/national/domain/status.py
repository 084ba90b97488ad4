"""A student's registry status (学籍状态) as one explicit state machine.

A registration has exactly one current status (DOMAIN.md §5). Every change of it is a row of
:data:`TRANSITIONS` — which statuses the change starts from, where it leads, the article it
comes from, and whether it can ever be undone — and goes through :func:`check_transition`,
which raises :class:`StatusChangeRefused` naming the rule for anything not listed.
Standard library only.

```mermaid
stateDiagram-v2
    [*] --> enrolled: register (N2013 arts. 4-6)
    [*] --> deferred: defer (ZJ art. 6)
    deferred --> deferred: defer (again, a year at a time)
    enrolled --> deferred: defer (a registered first-grader, ZJ art. 6)
    deferred --> enrolled: start (ZJ art. 6)
    enrolled --> enrolled: promote, skip_grade, repeat_grade, transfer, place, end_placement
    enrolled --> suspended: suspend (N2013 art. 19, HA art. 13, LS 2(二), ZJ art. 14)
    suspended --> suspended: extend_suspension
    suspended --> enrolled: resume (ZJ art. 15)
    suspended --> other_departure: lapse (LS 2(二)3)
    enrolled --> other_departure: report_absence (LS 2(四))
    enrolled --> suspected_dropout: suspect_dropout (LS 2(四))
    enrolled --> dropout: report_dropout (N2013 art. 22, HA art. 14, ZJ art. 18)
    suspected_dropout --> dropout: report_dropout
    other_departure --> dropout: report_dropout
    dropout --> enrolled: return (LS 2(四))
    suspected_dropout --> enrolled: return
    other_departure --> enrolled: return
    enrolled --> abroad: go_abroad (N2013 art. 20, HA art. 13(四), ZJ art. 16)
    abroad --> enrolled: return_from_abroad
    enrolled --> graduated: graduate (N2013 art. 13, ZJ art. 25) — irreversible
    enrolled --> completed: complete (ZJ art. 25) — irreversible
    enrolled --> incomplete: leave_incomplete (ZJ art. 25) — irreversible
    dropout --> incomplete: leave_incomplete
    graduated --> enrolled: progress (next stage, LS 1(二), LS 3(二), N2013 art. 14)
    completed --> enrolled: progress (where the province lets completed leavers progress)
    incomplete --> enrolled: progress (where the province lets incomplete leavers progress)
    enrolled --> deceased: decease (N2013 art. 21, N2025 art. 21, LS 2(五)) — irreversible
    enrolled --> withdrawn: withdraw (ZJ art. 17: 18 or over) — irreversible
    suspended --> withdrawn: withdraw
    enrolled --> detained: detain (ZJ art. 13, HA art. 16: registration kept)
    detained --> enrolled: release (ZJ art. 13: registration restored)
    deceased --> [*]
    withdrawn --> [*]
```

Every status that is not final also leads to ``deceased`` (drawn from ``enrolled`` only, to
keep the diagram readable): ``deferred``, ``suspended``, ``dropout``, ``suspected_dropout``,
``other_departure``, ``abroad``.

What the machine says, in words:

- ``deceased`` is final and irreversible: "操作'死亡'的学籍信息系统不可恢复" (LS 2(五)); the
  school reports it within 60 working days (N2025 art. 21; 10 in N2013 art. 21). A student who
  is missing or detained is *not* cancelled (HA art. 16): a detained student is ``detained``
  (the registration kept, ZJ art. 13) and ``release`` restores it to ``enrolled``.
- ``place`` / ``end_placement`` link an enrolled student to the school they attend while the
  registration stays here (special education, inclusive placement, reform school: N2013 art.
  17; HA art. 12; ZJ art. 13); term verification reads the link (no ghost, no mismatch).
- ``graduated`` / ``completed`` / ``incomplete`` (毕业 / 结业 / 肄业, ZJ arts. 24-26) are final
  for the stage: "毕业生不可以随意回退" (LS 3(一)) — no change leads back into the stage. A
  graduate continues the same registration at the next stage by progression (升学: "初中、高中
  阶段的学籍只能采用升学招生的形式调档，接续原有学籍档案信息", LS 1(二), 3(二)), which is the only
  way out of ``graduated``; ``completed`` and ``incomplete`` leavers progress too where their
  province says so (``[progression] accept``), else never.
- A dropout's registration is kept for the compulsory years (N2013 art. 22) and a returning
  dropout continues in the matching grade (LS 2(四)); a student away more than three months
  and unreachable is ``other_departure``, one whose family refuses is ``suspected_dropout`` or
  ``dropout`` (LS 2(四)); a suspension that lapses without resumption becomes
  ``other_departure`` (LS 2(二)3).
- Grade changes (``promote``, ``skip_grade``, ``repeat_grade``) and ``transfer`` keep the
  student ``enrolled``. Their own rules (one grade a year, ZJ art. 12; no repeating in
  compulsory education, LS 2(三); not within the graduating year, ZJ art. 12) are about grades
  and are checked where the grade is decided; the batch promotion applies to ``enrolled``
  students only (:data:`PROMOTABLE`).

"Transfer in progress" is not a status: it is an overlay, ``registry_entry.active_transfer_id``
(at most one transfer holds a student; see ``domain/transfer.py``). Only an ``enrolled``
student can be held. :func:`check_transition` refuses a second ``transfer`` while one is in
progress; any change that takes the student out of ``enrolled`` stops the transfer
(:func:`stops_transfer`; the saga closes it as ``status_changed``), while ``promote`` carries
the student's new grade into the transfer (the grade follows the student).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class RegistryStatus(StrEnum):
    """A registration's current status; the values are what ``registry_entry.status`` holds."""

    ENROLLED = "enrolled"  # 在读
    SUSPENDED = "suspended"  # 休学
    DROPOUT = "dropout"  # 辍学
    SUSPECTED_DROPOUT = "suspected_dropout"  # 疑似辍学
    OTHER_DEPARTURE = "other_departure"  # 其他离校
    ABROAD = "abroad"  # 境外就读
    DECEASED = "deceased"  # 死亡注销
    GRADUATED = "graduated"  # 毕业
    COMPLETED = "completed"  # 结业
    INCOMPLETE = "incomplete"  # 肄业
    DEFERRED = "deferred"  # 缓学
    WITHDRAWN = "withdrawn"  # 退学 (ZJ art. 17)
    DETAINED = "detained"  # 被采取刑事强制措施: registration kept (ZJ art. 13; HA art. 16)


class Change(StrEnum):
    """A change of status (学籍变动), or a change that keeps the status (grade, school)."""

    REGISTER = "register"  # 学籍建立
    DEFER = "defer"  # 缓学
    START = "start"  # a deferred child starts school
    PROMOTE = "promote"  # 升级 (the August 10 batch)
    SKIP_GRADE = "skip_grade"  # 跳级
    REPEAT_GRADE = "repeat_grade"  # 留级
    TRANSFER = "transfer"  # 转学 (completes: the school changes, the status does not)
    SUSPEND = "suspend"  # 休学
    EXTEND_SUSPENSION = "extend_suspension"  # 继续休学
    RESUME = "resume"  # 复学
    LAPSE = "lapse"  # suspension over, no resumption → other departure
    REPORT_ABSENCE = "report_absence"  # 其他离校
    SUSPECT_DROPOUT = "suspect_dropout"  # 疑似辍学
    REPORT_DROPOUT = "report_dropout"  # 辍学
    RETURN = "return"  # 返校 (控辍保学)
    GO_ABROAD = "go_abroad"  # 境外就读
    RETURN_FROM_ABROAD = "return_from_abroad"  # 回国接续
    GRADUATE = "graduate"  # 毕业
    COMPLETE = "complete"  # 结业
    LEAVE_INCOMPLETE = "leave_incomplete"  # 肄业
    PROGRESS = "progress"  # 升学 (the next stage continues the registration)
    DECEASE = "decease"  # 死亡注销
    WITHDRAW = "withdraw"  # 退学 (ZJ art. 17)
    PLACE = "place"  # attends another school, registration kept (N2013 art. 17)
    END_PLACEMENT = "end_placement"
    DETAIN = "detain"  # 刑事强制措施 (ZJ art. 13)
    RELEASE = "release"  # 解除刑事强制措施: 应恢复其学籍 (ZJ art. 13)


S = RegistryStatus

# Final for good, and final for the stage (only progression leaves ``graduated``).
FINAL: frozenset[RegistryStatus] = frozenset({S.DECEASED})
FINAL_FOR_STAGE: frozenset[RegistryStatus] = frozenset({S.GRADUATED, S.COMPLETED, S.INCOMPLETE})
# Whom the August 10 batch promotes (LS 3(一); N2013 art. 12): enrolled students only. A
# suspended, absent or abroad student is placed in the grade that continues their studies when
# they come back (ZJ art. 15; N2013 art. 20; LS 2(四)), not moved up meanwhile.
PROMOTABLE: frozenset[RegistryStatus] = frozenset({S.ENROLLED})
# The statuses that may hold a transfer (the overlay).
TRANSFERABLE: frozenset[RegistryStatus] = frozenset({S.ENROLLED})

RULE_DECEASED_IS_FINAL = "deceased_is_final"
RULE_GRADUATION_IS_FINAL = "graduation_is_final"
RULE_NOT_ALLOWED = "status_change_not_allowed"
RULE_TRANSFER_IN_PROGRESS = "transfer_in_progress"
RULE_UNKNOWN_STATUS = "unknown_status"


@dataclass(frozen=True)
class Transition:
    """One change: the statuses it starts from (``None``: no registration yet), where it
    leads, the articles it comes from, and whether it can ever be undone."""

    change: Change
    sources: frozenset[RegistryStatus | None]
    target: RegistryStatus
    article: str
    irreversible: bool = False


def _from(*statuses: RegistryStatus | None) -> frozenset[RegistryStatus | None]:
    return frozenset(statuses)


_NOT_FINAL = _from(
    S.ENROLLED,
    S.SUSPENDED,
    S.DROPOUT,
    S.SUSPECTED_DROPOUT,
    S.OTHER_DEPARTURE,
    S.ABROAD,
    S.DEFERRED,
    S.DETAINED,
)
_ARTICLE_SUSPENSION = "N2013 art. 19; HA art. 13; LS 2(二); ZJ arts. 14-15"
_ARTICLE_DROPOUT = "N2013 art. 22; HA art. 14; LS 2(四); ZJ art. 18"
_ARTICLE_ABROAD = "N2013 art. 20; HA art. 13(四); ZJ art. 16"
_ARTICLE_GRADE = "HA art. 15; ZJ art. 12; LS 2(三); N2025 art. 14"
_ARTICLE_CERTIFICATE = "N2013 art. 13; ZJ arts. 24-26"
_ARTICLE_PLACEMENT = "N2013 art. 17; HA art. 12; ZJ art. 13"

TRANSITIONS: tuple[Transition, ...] = (
    Transition(Change.REGISTER, _from(None), S.ENROLLED, "N2013 arts. 4-6; LS 1(一)"),
    # A child's start deferred before registration, again a year later, or right after a
    # first-grader's registration (the grade rule, first grade only, is the province's).
    Transition(Change.DEFER, _from(None, S.DEFERRED, S.ENROLLED), S.DEFERRED, "ZJ art. 6"),
    Transition(Change.START, _from(S.DEFERRED), S.ENROLLED, "ZJ art. 6"),
    Transition(Change.PROMOTE, _from(S.ENROLLED), S.ENROLLED, "N2013 art. 12; LS 3(一)"),
    Transition(Change.SKIP_GRADE, _from(S.ENROLLED), S.ENROLLED, _ARTICLE_GRADE),
    Transition(Change.REPEAT_GRADE, _from(S.ENROLLED), S.ENROLLED, _ARTICLE_GRADE),
    Transition(
        Change.TRANSFER, _from(S.ENROLLED), S.ENROLLED, "N2013 art. 14; N2025 art. 15; LS 2(一)"
    ),
    Transition(Change.SUSPEND, _from(S.ENROLLED), S.SUSPENDED, _ARTICLE_SUSPENSION),
    Transition(
        Change.EXTEND_SUSPENSION, _from(S.SUSPENDED), S.SUSPENDED, "HA art. 13(三); ZJ art. 14"
    ),
    Transition(Change.RESUME, _from(S.SUSPENDED), S.ENROLLED, _ARTICLE_SUSPENSION),
    Transition(Change.LAPSE, _from(S.SUSPENDED), S.OTHER_DEPARTURE, "LS 2(二)3"),
    Transition(Change.REPORT_ABSENCE, _from(S.ENROLLED), S.OTHER_DEPARTURE, "LS 2(四); LS 1(五)"),
    Transition(Change.SUSPECT_DROPOUT, _from(S.ENROLLED), S.SUSPECTED_DROPOUT, "LS 2(四)"),
    Transition(
        Change.REPORT_DROPOUT,
        _from(S.ENROLLED, S.SUSPECTED_DROPOUT, S.OTHER_DEPARTURE),
        S.DROPOUT,
        _ARTICLE_DROPOUT,
    ),
    Transition(
        Change.RETURN,
        _from(S.DROPOUT, S.SUSPECTED_DROPOUT, S.OTHER_DEPARTURE),
        S.ENROLLED,
        "LS 2(四); N2013 art. 22",
    ),
    Transition(Change.GO_ABROAD, _from(S.ENROLLED), S.ABROAD, _ARTICLE_ABROAD),
    Transition(Change.RETURN_FROM_ABROAD, _from(S.ABROAD), S.ENROLLED, _ARTICLE_ABROAD),
    Transition(
        Change.GRADUATE,
        _from(S.ENROLLED),
        S.GRADUATED,
        f"{_ARTICLE_CERTIFICATE}; LS 3(一)",
        irreversible=True,
    ),
    Transition(
        Change.COMPLETE, _from(S.ENROLLED), S.COMPLETED, _ARTICLE_CERTIFICATE, irreversible=True
    ),
    Transition(
        Change.LEAVE_INCOMPLETE,
        _from(S.ENROLLED, S.DROPOUT),
        S.INCOMPLETE,
        _ARTICLE_CERTIFICATE,
        irreversible=True,
    ),
    # Completed / incomplete leavers progress only where their province says so (its
    # ``progression.accept`` rule, checked by the progression saga before this table).
    Transition(
        Change.PROGRESS,
        _from(S.GRADUATED, S.COMPLETED, S.INCOMPLETE),
        S.ENROLLED,
        "LS 1(二); LS 3(二); N2013 art. 14",
    ),
    # Special-education, inclusive and reform-school placements may keep the registration at
    # the old school (N2013 art. 17; HA art. 12; ZJ art. 13): a link, not a status.
    Transition(Change.PLACE, _from(S.ENROLLED), S.ENROLLED, _ARTICLE_PLACEMENT),
    Transition(Change.END_PLACEMENT, _from(S.ENROLLED), S.ENROLLED, _ARTICLE_PLACEMENT),
    # 对于被采取刑事强制措施的未成年学生 … 学校应为其保留学籍; 解除刑事强制措施 … 应恢复其学籍
    # (ZJ art. 13); 被刑事拘留等原因离校的学生 … 不得取消其学籍 (HA art. 16).
    Transition(Change.DETAIN, _from(S.ENROLLED), S.DETAINED, "ZJ art. 13; HA art. 16"),
    Transition(Change.RELEASE, _from(S.DETAINED), S.ENROLLED, "ZJ art. 13"),
    # 年满18周岁，不宜在校继续学习者，办理退学手续 (ZJ art. 17): the age is the province's rule.
    Transition(
        Change.WITHDRAW,
        _from(S.ENROLLED, S.SUSPENDED),
        S.WITHDRAWN,
        "ZJ art. 17",
        irreversible=True,
    ),
    Transition(
        Change.DECEASE,
        _NOT_FINAL,
        S.DECEASED,
        "N2013 art. 21; N2025 art. 21; HA art. 16; LS 2(五); ZJ art. 19",
        irreversible=True,
    ),
)


Key = tuple[RegistryStatus | None, Change]


def _index(transitions: Iterable[Transition]) -> dict[Key, Transition]:
    table: dict[Key, Transition] = {}
    for transition in transitions:
        for source in transition.sources:
            key = (source, transition.change)
            if key in table:
                raise ValueError(f"two transitions for {key}")
            table[key] = transition
    return table


ALLOWED: Mapping[Key, Transition] = _index(TRANSITIONS)
BY_CHANGE: Mapping[Change, Transition] = {t.change: t for t in TRANSITIONS}


class StatusChangeRefused(Exception):
    """A change the machine does not allow from the current status: ``rule`` names why,
    ``article`` where the rule comes from."""

    def __init__(self, rule: str, reason: str, article: str) -> None:
        super().__init__(f"{reason} [{rule}; {article}]")
        self.rule = rule
        self.reason = reason
        self.article = article


def check_transition(
    current: RegistryStatus | str | None, change: Change, *, in_transfer: bool = False
) -> Transition:
    """The transition ``change`` makes from ``current`` (``None``: no registration yet), or
    :class:`StatusChangeRefused` naming the rule that forbids it. ``in_transfer``: the
    registration is held by a transfer in progress (the overlay)."""
    status = _status(current)
    found = ALLOWED.get((status, change))
    if found is None:
        raise _refusal(status, change)
    if in_transfer and change is Change.TRANSFER:
        raise StatusChangeRefused(
            RULE_TRANSFER_IN_PROGRESS,
            "another transfer of this student is in progress (one at a time)",
            found.article,
        )
    return found


def next_status(current: RegistryStatus | str | None, change: Change) -> RegistryStatus:
    """Where ``change`` takes a registration that is ``current`` (refusals as above)."""
    return check_transition(current, change).target


def stops_transfer(change: Change) -> bool:
    """Whether ``change`` ends a transfer in progress: it takes the student out of
    ``enrolled`` (the saga stops the transfer, rule ``status_changed``)."""
    return BY_CHANGE[change].target not in TRANSFERABLE


def _status(current: RegistryStatus | str | None) -> RegistryStatus | None:
    if current is None or isinstance(current, RegistryStatus):
        return current
    try:
        return RegistryStatus(current)
    except ValueError:
        raise StatusChangeRefused(
            RULE_UNKNOWN_STATUS, f"{current!r} is not a registry status", "DOMAIN.md §5"
        ) from None


def _refusal(status: RegistryStatus | None, change: Change) -> StatusChangeRefused:
    wanted = BY_CHANGE[change]
    if status in FINAL:
        return StatusChangeRefused(
            RULE_DECEASED_IS_FINAL,
            f"a deceased student's registration is cancelled for good; it cannot {change}",
            "LS 2(五); N2013 art. 21",
        )
    if status in FINAL_FOR_STAGE:
        return StatusChangeRefused(
            RULE_GRADUATION_IS_FINAL,
            f"a {status} registration is final for its stage and cannot be rolled back "
            f"(毕业生不可以随意回退); it cannot {change}",
            "LS 3(一); ZJ arts. 24-26",
        )
    allowed = sorted("no registration" if s is None else s.value for s in wanted.sources)
    now = "there is no registration yet" if status is None else f"this registration is {status}"
    return StatusChangeRefused(
        RULE_NOT_ALLOWED,
        f"{change} applies to a registration that is {' or '.join(allowed)}; {now}",
        wanted.article,
    )
