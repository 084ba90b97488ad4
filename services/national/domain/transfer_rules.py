"""The registry-level rules of a transfer request, and the order of its deciding parties.

Each province's rules apply on its own side of a transfer (a province's rule applies inside
that province only — DOMAIN.md):

==========================  =========================================================
sending province            the student leaves it: ``suspended`` (HA art. 11(四), LS
                            2(一)6(4), ZJ art. 13), ``graduating_year`` (LS 2(一)6(3)),
                            and its ``own_steps`` entry ``sending_province`` (e.g. Henan
                            checks the discipline records only it holds, HA art. 11(四));
                            NOT its window: its parties answer within their 10 working
                            days whenever they are asked (decision 0035)
receiving province          the student arrives there: the ``order`` of the whole flow,
                            ``grade_change`` (ZJ art. 13, LS 2(一)5), ``transfer_window``
                            (HA art. 11(三), ZJ art. 13), the proofs a cross-province
                            transfer into it needs (HA art. 11(二)), its ``own_steps``
                            entry ``receiving_province``
==========================  =========================================================

Both windows are "一般" (generally): a request outside the receiving window that carries the
receiving school's reason for an exception is not refused; it goes to the receiving authority,
whose approval of its step grants the exception (:func:`window_exception`; decision 0035).

Not checked here, because national does not hold the data: discipline (the province's
step), class size (LS 2(一)6(1): the receiving school and its authority know the class).

Grades are stored as years of schooling, 1-12 (1-6 primary, 7-9 junior, 10-12 senior), which
is exactly LS 2(一)5's "1-9 年级进行对应" across 6-3 and 5-4 systems: a grade-6 pupil of a
5-4 junior school and a grade-6 pupil of a 6-3 primary school are both in year 6, so "keep
the grade" compares the numbers as they are. Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

from services.national.domain import yi_track

ENROLLED = "enrolled"
SUSPENDED = "suspended"

RULE_SAME_SCHOOL = "same_school"
RULE_NOT_AT_SENDING_SCHOOL = "not_at_sending_school"
RULE_SUSPENDED = "suspended"
RULE_NOT_ENROLLED = "not_enrolled"
RULE_GRADE_CHANGE = "grade_change"
RULE_GRADUATING_YEAR = "graduating_year"
RULE_TRANSFER_WINDOW = "transfer_window"
RULE_MISSING_PROOFS = "missing_proofs"
RULE_IN_PROGRESS = "transfer_in_progress"
RULE_YI_TRACK_CLOSED = yi_track.RULE_CLOSED

# The last year of each school stage (years of schooling); a special school has none.
GRADUATING_GRADE: Mapping[str, int] = {"primary": 6, "junior": 9, "nine_year": 9, "senior": 12}

SENDING_PROVINCE = "sending_province"
RECEIVING_AUTHORITY = "receiving_authority"
RECEIVING_PROVINCE = "receiving_province"


@dataclass(frozen=True)
class Citation:
    """How a reason names a province and the article behind each of its rules."""

    name: str
    transfer_article: str  # the article on transfers as a whole
    articles: Mapping[str, str] = field(default_factory=dict)

    def cite(self, rule: str) -> str:
        return f"{self.name} ({self.articles.get(rule, self.transfer_article)})"


# The provinces whose implementing rules are in /work/shared/seeds (HA, ZJ, LS).
CITATIONS: Mapping[str, Citation] = {
    "41": Citation(
        "Henan",
        "HA art. 11",
        {
            RULE_SUSPENDED: "HA art. 11(四)",
            RULE_TRANSFER_WINDOW: "HA art. 11(三)",
            RULE_MISSING_PROOFS: "HA art. 11(二)",
        },
    ),
    "33": Citation("Zhejiang", "ZJ art. 13"),
    # Sichuan's own rules are not among the seeds; Liangshan's apply in its scope only
    "51": Citation("Sichuan", "N2013 art. 14"),
    "5134": Citation(
        "Liangshan",
        "LS 2(一)",
        {
            RULE_SUSPENDED: "LS 2(一)6(4)",
            RULE_GRADE_CHANGE: "LS 2(一)5",
            RULE_GRADUATING_YEAR: "LS 2(一)6(3)",
        },
    ),
}


def citation_of(code: str, name: str = "") -> Citation:
    """The citation of a province or of a prefecture's scope (``5134``); one without its own
    text cites the national measures."""
    return CITATIONS.get(code) or Citation(name or f"province {code}", "N2013 art. 14")


@dataclass(frozen=True)
class Window:
    """A yearly window of month-day dates, both ends included; it may wrap the new year."""

    start: str  # "MM-DD"
    end: str
    label: str = ""

    def contains(self, day: date) -> bool:
        key = day.strftime("%m-%d")
        if self.start <= self.end:
            return self.start <= key <= self.end
        return key >= self.start or key <= self.end

    def __str__(self) -> str:
        return f"{self.start} to {self.end}" + (f" ({self.label})" if self.label else "")


@dataclass(frozen=True)
class ProvincePolicy:
    """One province's transfer rules as the registry applies them."""

    code: str
    citation: Citation
    order: tuple[str, ...] = ("sending_school", "sending_authority", "receiving_authority")
    own_steps: tuple[str, ...] = ()
    refuse_when_suspended: bool = True
    keep_grade: bool = True
    refuse_graduating_year: bool = False
    windows: tuple[Window, ...] = ()
    cross_province_required_proofs: tuple[str, ...] = ()
    yi_track_closed: bool = False  # LS 6: no transfer into the Yi track from outside it

    def cite(self, rule: str) -> str:
        return self.citation.cite(rule)


@dataclass(frozen=True)
class TransferRequest:
    from_school: str
    to_school: str
    grade: int
    requested_on: date  # the receiving school's date
    proof_kinds: frozenset[str] = frozenset()
    into_yi_track: bool = False  # the receiving school or class is in the Yi track (LS 6)
    # The receiving school's reason for asking an exception to the window (decision 0035).
    exception_reason: str | None = None


@dataclass(frozen=True)
class Registration:
    """Where the registry has the student now."""

    school_code: str
    status: str
    grade: int
    active_transfer_id: str | None = None
    yi_track: bool = False  # a student of the Yi-language track (LS 6)


@dataclass(frozen=True)
class Refusal:
    rule: str
    reason: str


@dataclass(frozen=True)
class Sides:
    """The two provinces of a transfer and the sending school's stage."""

    sending: ProvincePolicy
    receiving: ProvincePolicy
    sending_stage: str

    @property
    def cross_province(self) -> bool:
        return self.sending.code != self.receiving.code


def refusal(
    request: TransferRequest, registration: Registration | None, sides: Sides
) -> Refusal | None:
    """The first rule that refuses the request, or ``None``. ``transfer_in_progress`` is
    answered here only when the registry already shows one; the conditional claim is what
    decides a race (see the service layer)."""
    return (
        _same_school(request)
        or _not_at_sending_school(request, registration)
        or _status(registration, sides.sending)
        or _grade_change(request, registration, sides.receiving)
        or _graduating_year(registration, sides)
        or _yi_track(request, registration, sides.receiving)
        or (None if request.exception_reason else window_refusal(request.requested_on, sides))
        or _missing_proofs(request, sides)
        or _in_progress(registration)
    )


def in_progress_refusal() -> Refusal:
    return Refusal(
        RULE_IN_PROGRESS, "another transfer of this student is in progress (one at a time)"
    )


def _same_school(request: TransferRequest) -> Refusal | None:
    if request.from_school != request.to_school:
        return None
    return Refusal(RULE_SAME_SCHOOL, "the receiving school is the sending school")


def _not_at_sending_school(
    request: TransferRequest, registration: Registration | None
) -> Refusal | None:
    if registration is None:
        return Refusal(RULE_NOT_AT_SENDING_SCHOOL, "no registration has this student number")
    if registration.school_code != request.from_school:
        return Refusal(
            RULE_NOT_AT_SENDING_SCHOOL,
            f"the student is not registered at school {request.from_school}",
        )
    return None


def _status(registration: Registration | None, sending: ProvincePolicy) -> Refusal | None:
    if registration is None or registration.status == ENROLLED:
        return None
    if registration.status == SUSPENDED and sending.refuse_when_suspended:
        return Refusal(
            RULE_SUSPENDED, f"{sending.cite(RULE_SUSPENDED)}: no transfer while suspended"
        )
    return Refusal(
        RULE_NOT_ENROLLED,
        f"only an enrolled student transfers; this registration is {registration.status}",
    )


def _grade_change(
    request: TransferRequest, registration: Registration | None, receiving: ProvincePolicy
) -> Refusal | None:
    if registration is None or not receiving.keep_grade or request.grade == registration.grade:
        return None
    return Refusal(
        RULE_GRADE_CHANGE,
        f"{receiving.cite(RULE_GRADE_CHANGE)}: a transfer may not change the grade "
        f"(grade {request.grade} requested, the student is in grade {registration.grade})",
    )


def _graduating_year(registration: Registration | None, sides: Sides) -> Refusal | None:
    last = GRADUATING_GRADE.get(sides.sending_stage)
    if registration is None or not sides.sending.refuse_graduating_year:
        return None
    if last is None or registration.grade != last:
        return None
    return Refusal(
        RULE_GRADUATING_YEAR,
        f"{sides.sending.cite(RULE_GRADUATING_YEAR)}: no transfer in the graduating year "
        f"(grade {last} at a {sides.sending_stage.replace('_', '-')} school)",
    )


def _yi_track(
    request: TransferRequest, registration: Registration | None, receiving: ProvincePolicy
) -> Refusal | None:
    if registration is None:
        return None
    found = yi_track.transfer_refusal(
        closed_to_transfers=receiving.yi_track_closed,
        student_in_track=registration.yi_track,
        into_track=request.into_yi_track,
    )
    return Refusal(found.rule, found.reason) if found else None


def window_refusal(day: date, sides: Sides) -> Refusal | None:
    """The receiving province's window refuses ``day`` (HA art. 11(三), ZJ art. 13): the
    receiving school starts the transfer, so the window of the province it is in governs the
    request; the sending province's window governs the transfers that province receives, not
    the ones it is asked to let go (decision 0035)."""
    receiving = sides.receiving
    if not receiving.windows or any(w.contains(day) for w in receiving.windows):
        return None
    windows = "; ".join(str(w) for w in receiving.windows)
    return Refusal(
        RULE_TRANSFER_WINDOW,
        f"{receiving.cite(RULE_TRANSFER_WINDOW)}: transfers are handled {windows}; "
        f"requested on {day.isoformat()}",
    )


@dataclass(frozen=True)
class WindowException:
    """A request outside the receiving window that asks an exception: the window rule it
    departs from (with its article) and the receiving school's reason. The receiving
    authority grants it by approving its step, or refuses it by rejecting."""

    rule: str
    article: str
    window: str  # the refusal the window would have given
    reason: str


def window_exception(request: TransferRequest, sides: Sides) -> WindowException | None:
    """The exception a request asks for, or ``None`` when it needs none (in the window, or
    no exception asked: then :func:`refusal` refuses it)."""
    if not request.exception_reason:
        return None
    outside = window_refusal(request.requested_on, sides)
    if outside is None:
        return None
    article = sides.receiving.citation.articles.get(
        RULE_TRANSFER_WINDOW, sides.receiving.citation.transfer_article
    )
    return WindowException(RULE_TRANSFER_WINDOW, article, outside.reason, request.exception_reason)


def _missing_proofs(request: TransferRequest, sides: Sides) -> Refusal | None:
    if not sides.cross_province:
        return None
    needed = sides.receiving.cross_province_required_proofs
    missing = [kind for kind in needed if kind not in request.proof_kinds]
    if not missing:
        return None
    return Refusal(
        RULE_MISSING_PROOFS,
        f"{sides.receiving.cite(RULE_MISSING_PROOFS)}: a transfer from another province "
        f"needs {', '.join(missing)}",
    )


def _in_progress(registration: Registration | None) -> Refusal | None:
    if registration is None or registration.active_transfer_id is None:
        return None
    return in_progress_refusal()


# -- the deciding parties -----------------------------------------------------------------


@dataclass(frozen=True)
class PlannedStep:
    role: str
    party_unit: str
    superior_unit: str


def plan_roles(sides: Sides, *, exception: bool = False) -> list[str]:
    """The receiving province's order, plus each province's own step on its side:
    ``sending_province`` first if the sending province lists it, ``receiving_province``
    last if the receiving province lists it (unless the order places them already). A
    request asking a window exception always has a ``receiving_authority`` step: that
    authority grants the exception (decision 0035)."""
    roles = list(dict.fromkeys(sides.receiving.order))
    if exception and RECEIVING_AUTHORITY not in roles:
        roles.insert(0, RECEIVING_AUTHORITY)
    if SENDING_PROVINCE in sides.sending.own_steps and SENDING_PROVINCE not in roles:
        roles.insert(0, SENDING_PROVINCE)
    if RECEIVING_PROVINCE in sides.receiving.own_steps and RECEIVING_PROVINCE not in roles:
        roles.append(RECEIVING_PROVINCE)
    return roles


def plan_steps(roles: list[str], units: Callable[[str], tuple[str, str]]) -> list[PlannedStep]:
    """One step per role, with ``units(role) == (party, superior)``. A unit decides once: a
    role whose unit already has a step is left out (the county of both schools of an
    intra-county transfer; a province that is both a school's authority and a party)."""
    planned: list[PlannedStep] = []
    for role in roles:
        party, superior = units(role)
        if all(step.party_unit != party for step in planned):
            planned.append(PlannedStep(role, party, superior))
    return planned
