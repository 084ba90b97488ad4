"""Province rules as configuration: ``<federation config dir>/provinces/<code>.toml``.

A province's implementing rules (HA, ZJ, LS ...) differ; the code reads them from here, so a
province changes its policy by editing its file (a ConfigMap in Kubernetes), not the code.

A prefecture's own rules (Liangshan's LS inside Sichuan) are a ``[scope."<prefix>"]`` table of
the same file: its keys override the province's for every unit whose code starts with the
prefix (``5134``: the prefecture's counties ``5134xx`` and schools ``5134xxxxxx``); nested
scopes apply shortest prefix first (decision 0034). Keys only a province-wide sweep or
calendar reads (:data:`PROVINCE_WIDE`) cannot be scoped: the loader refuses them.
"""

from __future__ import annotations

import functools
import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.federation.config import Federation, School, UnitRef
from shared.workdays import WorkdayCalendar


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


MonthDay = Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]


class RegistrationRules(_Rules):
    """学籍建立 (N2013 arts. 4-7; HA arts. 4, 6; LS 1(二)-(三); ZJ arts. 7-8). Timing and age
    are findings on the authority's task (a flagged batch is never approved automatically);
    the grade of a new registration is refused at the school."""

    # Approve registrations that pass every check without waiting for an officer.
    auto_approve: bool = False
    # The archive is built within this many months of enrolment (N2013 art. 7; HA art. 6;
    # ZJ art. 8): later ones are flagged ``registered_late``. None: no limit.
    within_months: int | None = Field(default=1, ge=1, le=12)
    # New students' data by this day of their enrolment year (LS 1(三): 9月30日前): later
    # ones are flagged ``new_student_data_late``. None: no such day.
    new_student_data_by: MonthDay | None = None
    # First grade at this age by ``age_cutoff`` (HA art. 4: 凡年满6周岁 … 8月31日); a younger
    # child is flagged ``under_age``: only the authority's approval, with a proof, admits it.
    first_grade_age: int | None = Field(default=None, ge=3, le=8)
    age_cutoff: MonthDay = "08-31"
    # The proof kind an under-age first-grader's registration must carry (HA art. 4: 未经主管
    # 教育行政部门批准 …): without it the school refuses the registration (``proof_required``);
    # with it the authority reads the proof on its task and decides. None: no proof asked.
    under_age_proof: str | None = Field(default=None, min_length=1, max_length=40)
    # The grades a child never registered before may be registered in (LS 1(二): new
    # registrations in grade 1 only; later grades by progression or transfer). Empty: any.
    new_registration_grades: tuple[int, ...] = ()
    # The article each rule above cites in this province (its own text).
    articles: dict[str, str] = Field(default_factory=dict)


TransferRole = Literal[
    "sending_school",
    "sending_authority",
    "receiving_authority",
    "sending_province",
    "receiving_province",
]


class DateWindow(_Rules):
    """A yearly window of month-day dates, both ends included (``"09-01"`` .. ``"10-31"``);
    a window may wrap the new year (``"12-20"`` .. ``"02-28"``)."""

    start: str = Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
    end: str = Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
    label: str = ""

    def contains(self, day: date) -> bool:
        key = day.strftime("%m-%d")
        if self.start <= self.end:
            return self.start <= key <= self.end
        return key >= self.start or key <= self.end


class TransferRules(_Rules):
    """How a province runs transfers (HA art. 11, LS 2(一), ZJ art. 13; N2013 art. 14)."""

    # The deciding parties in order. The province of the RECEIVING school sets the order of
    # the whole flow; a role missing here is not asked. "sending_province" /
    # "receiving_province" add a province-level step.
    order: tuple[TransferRole, ...] = (
        "sending_school",
        "sending_authority",
        "receiving_authority",
    )
    # Steps each province adds on its own side, wherever the flow is ordered: e.g. Henan
    # checks discipline records (HA art. 11(四)), which only the province holds.
    own_steps: tuple[Literal["sending_province", "receiving_province"], ...] = ()
    step_working_days: int = Field(default=10, ge=1, le=60)  # each party (N2013 art. 14)
    reminder_working_days: int = Field(default=3, ge=0, le=30)  # remind this long before due
    archive_handover_days: int = Field(default=30, ge=1, le=90)  # 1 month (N2013 art. 15)
    refuse_when_suspended: bool = True  # HA, LS, ZJ
    refuse_under_discipline: bool = False  # HA art. 11(四)
    keep_grade: bool = True  # ZJ art. 13; LS 2(一)5 (1-9 across 6-3 / 5-4)
    refuse_graduating_year: bool = False  # LS 2(一)6(3)
    class_size_cap: int | None = Field(default=None, ge=1)  # LS 2(一)6(1)
    # Empty: any day. Otherwise the request date must fall in one of them.
    windows: tuple[DateWindow, ...] = ()
    # Proof kinds a cross-province transfer INTO this province must carry (HA art. 11(二)).
    cross_province_required_proofs: tuple[str, ...] = ()
    # Holiday files for years chinesecalendar does not know, relative to the provinces
    # folder, in shared.workdays.WorkdayCalendar.from_json's format.
    holiday_files: tuple[str, ...] = ()


class ProgressionRules(_Rules):
    """How a province runs progressions (升学, N2013 art. 14; LS 1(二), LS 3(二)).

    ``parties``: the deciding parties in order, as for a transfer (the RECEIVING school's
    province sets them); None: the same parties as its transfers (``transfer.order`` and its
    ``own_steps``). ``accept``: the leaver statuses of its graduating schools that may
    progress (the SENDING school's province decides; ZJ art. 25 certificates)."""

    parties: tuple[TransferRole, ...] | None = Field(default=None, min_length=1)
    accept: tuple[Literal["graduated", "completed", "incomplete"], ...] = Field(
        default=("graduated",), min_length=1
    )


class ExportRules(_Rules):
    """Who approves a bulk export and how long its download lives (N2013 art. 25; N2025 art. 24)."""

    # "authority": a school's registry authority approves, a county or province approves its
    # own (another officer); "province": the province approves every export of its units.
    approved_by: Literal["authority", "province"] = "authority"
    download_hours: int = Field(default=24, ge=1, le=24 * 30)
    # "request": a school asks for an export only once its signed and sealed data-security
    # pledge (附表4, 层层签订, LS 7) is on file: printed, signed, its scan uploaded back.
    # "none": no such condition (the national measures name none).
    signed_pledge: Literal["none", "request"] = "none"
    # The approver's task is due this many working days after the request (the desk's overdue
    # flag; the regulations set no period for an export's approval).
    decide_within_working_days: int = Field(default=5, ge=1, le=60)


class AccountRules(_Rules):
    """The accounts of the province's units (N2013 art. 23; LS 7: 持证上岗)."""

    # An account without a training date (``trained_on``) reads but neither registers,
    # decides nor exports: "学籍管理人员应当先培训后上岗".
    training_required: bool = True


class SuspensionRules(_Rules):
    """休学 (N2013 art. 19; HA art. 13; LS 2(二); ZJ arts. 14-15)."""

    # "休学期限一般为1年" (HA art. 13(三), ZJ art. 14, LS 2(二)3): how long one suspension lasts.
    months: int = Field(default=12, ge=1, le=24)
    # Extensions by a new application (继续休学); how many the province allows in a row.
    max_extensions: int = Field(default=1, ge=0, le=5)
    # Grounds on which the school orders a suspension (责令休学) without the guardian
    # applying: ZJ art. 14 for notifiable diseases needing isolation. Empty: none.
    compulsory_grounds: tuple[Literal["notifiable_disease", "illness"], ...] = ()
    # A suspension over without resumption becomes "other departure" (LS 2(二)3: 学校可以做
    # 其他离校处理), applied by national's suspension sweep.
    lapse_to_other_departure: bool = False


class GradeChangeRules(_Rules):
    """跳级 / 留级 / 降级 (HA art. 15; ZJ art. 12; LS 2(三); N2025 art. 14)."""

    skip_allowed: bool = True
    skip_max_grades: int = Field(default=1, ge=1, le=3)  # ZJ art. 12: one grade a year
    skip_within_stage: bool = True  # HA art. 15: 跳级不能跨学段
    skip_into_graduating_year: bool = True  # ZJ art. 12: false (升入毕业班及毕业班学生不予跳级)
    # Compulsory education (grades 1-9): "never", or only special-education / inclusive
    # students (ZJ art. 12; N2025 art. 14 lets them go a grade lower), or "allowed".
    repeat_in_compulsory: Literal["never", "special_education", "allowed"] = "special_education"
    repeat_graduating_year: bool = True  # ZJ art. 12: false (毕业班学生一律不留级)
    # High school: at most this share of a grade repeats over ``repeat_cap_years`` (LS 2(三):
    # 留级比例三年内不得超过年级学生总数的 2%). None: no cap.
    senior_repeat_cap_percent: float | None = Field(default=None, gt=0, le=100)
    repeat_cap_years: int = Field(default=3, ge=1, le=6)


class DeferralRules(_Rules):
    """缓学 (ZJ art. 6): a registered first-grader's start deferred a school year."""

    allowed: bool = True
    grades: tuple[int, ...] = (1,)


class ProofRequirement(_Rules):
    """Proof kinds a change must carry on a ground, and the article that asks for them
    (HA art. 13, LS 2(二), ZJ art. 14): e.g. a suspension for illness needs a hospital
    certificate, one for personal leave (事假) a relevant proof. For ``resume`` and
    ``extend_suspension`` the ground is the suspension's: resuming after illness needs a
    recovery certificate where the province says so (HA art. 13(三))."""

    change: str = Field(max_length=40)
    ground: str | None = Field(default=None, max_length=40)  # None: every ground
    kinds: tuple[str, ...] = Field(min_length=1)
    article: str = Field(min_length=1, max_length=60)
    note: str = Field(default="", max_length=200)  # what the proof must say (Chinese)

    def applies(self, change: str, ground: str | None) -> bool:
        return self.change == change and self.ground in (None, ground)


class WithdrawalRules(_Rules):
    """退学 (ZJ art. 17): "年龄不足18周岁、未受完九年义务教育的学生，不予办理退学手续。年满18周岁，
    不宜在校继续学习者，办理退学手续". Provinces whose rules provide none refuse it."""

    allowed: bool = False
    min_age: int = Field(default=18, ge=16, le=25)  # full years on the day it takes effect


class StatusChangeRules(_Rules):
    """How a province handles a student's status changes (学籍变动)."""

    # Changes the school decides and the authority only records (登记 / 备案): the authority's
    # task is approved by the system at once. Every other change waits for an officer.
    recorded_by_authority: tuple[str, ...] = ()
    # Proof kinds each change must carry, e.g. {decease = ["death_certificate"]}.
    required_proofs: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    # Proof kinds by change AND ground, each with its article (``[[status_change.proofs]]``).
    proofs: tuple[ProofRequirement, ...] = ()
    # "Other departure" for a student away and unreachable at least this many months (LS
    # 2(四): 离校时间超过 3 个月且联系不上). None: no minimum.
    absence_months: int | None = Field(default=None, ge=1, le=12)
    # N2025 art. 21: a death is reported within 60 working days (10 in N2013 art. 21).
    death_report_working_days: int = Field(default=60, ge=1, le=120)
    # Term ends (month-day): a migrant dropout's archive goes to the hukou county then
    # (N2013 art. 22; HA art. 14; ZJ art. 18; LS 2(四)).
    term_ends: tuple[MonthDay, ...] = Field(default=("01-31", "07-15"), min_length=1)
    suspension: SuspensionRules = SuspensionRules()
    grade: GradeChangeRules = GradeChangeRules()
    deferral: DeferralRules = DeferralRules()
    withdrawal: WithdrawalRules = WithdrawalRules()

    def proofs_for(self, change: str, ground: str | None) -> list[ProofRequirement]:
        """What ``change`` on ``ground`` must carry: the change's ``required_proofs`` (N2013
        art. 13: each change lands in the archive with its proof) and each matching
        requirement by ground."""
        found = [
            ProofRequirement(change=change, kinds=kinds, article="N2013 art. 13")
            for kinds in [self.required_proofs.get(change, ())]
            if kinds
        ]
        return found + [item for item in self.proofs if item.applies(change, ground)]

    @field_validator("term_ends")
    @classmethod
    def _real_days(cls, ends: tuple[str, ...]) -> tuple[str, ...]:
        for end in ends:  # "02-30" passes the pattern; "02-29" is not in every year
            date(2023, int(end[:2]), int(end[3:]))
        return ends

    def next_term_end(self, day: date) -> date:
        """The first term end on or after ``day``."""
        ends = sorted(
            date(year, int(end[:2]), int(end[3:]))
            for year in (day.year, day.year + 1)
            for end in self.term_ends
        )
        return next(end for end in ends if end >= day)


class VerificationRules(_Rules):
    """Term re-verification (N2013 art. 24; N2025 art. 25)."""

    # A student who left a school (dropout, suspected dropout, other departure) and whom no
    # school has taken back after this many days is on the county's unclaimed list.
    unclaimed_after_days: int = Field(default=30, ge=1, le=365)


class YiTrackRules(_Rules):
    """Liangshan's Yi-language track (一类模式, LS part 6)."""

    # 严禁一类模式学校中途接收转入非一类模式学生学籍 (LS 6): a transfer into a Yi-track school
    # or class of a student outside the track is refused.
    closed_to_transfers: bool = False
    # 小学非一类模式学校毕业生升入初中一类模式学校，必须…通过检测择优录取 (LS 6): progression
    # of a non-Yi-track graduate into a Yi-track junior school needs the selection result.
    progression_needs_selection: bool = False
    # 每年9月30日前…起始年级学生的学籍报州教育局民族教育科备案 (LS 6): the grade-1 / junior-1
    # roster is filed with the prefecture by this day.
    roster_filing_by: MonthDay | None = None
    # 每年8月25日前，将录取的一类模式高一年级新生名册…报州教育局…审核通过后方能注册学籍 (LS 6):
    # a Yi-track senior school's new-student list goes to the prefecture by this day, and is
    # approved there before registration.
    senior_list_by: MonthDay | None = None


class FilingRules(_Rules):
    """What a school's status changes are also filed with (备案), beyond its authority."""

    # 毕业年级学生办理休学…报州教育局备案审核 (LS 2(二)5): a graduating-year suspension is
    # filed with the prefecture (the school's city unit gets a filing task).
    graduating_suspension_with_city: bool = False


class ArchiveFieldRule(_Rules):
    """One typed field of a province-defined archive item (section 7)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    type: Literal["text", "integer", "decimal", "date", "choice"]
    label: str = Field(min_length=1, max_length=40)
    required: bool = True
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = Field(default=200, ge=1, le=2000)


class ArchiveItemRule(_Rules):
    """An item the province adds to its students' archives (N2013 art. 7(七): 省级教育行政
    部门规定的其他信息和材料), written by schools like the built-in sections."""

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{0,29}$")
    label: str = Field(min_length=1, max_length=40)
    article: str = "N2013 art. 7"
    fields: tuple[ArchiveFieldRule, ...] = Field(min_length=1)
    dated_by: str  # the date field that dates an entry

    @field_validator("dated_by")
    @classmethod
    def _dated_by_a_date(cls, value: str, info: Any) -> str:
        fields = info.data.get("fields", ())
        if not any(f.name == value and f.type == "date" and f.required for f in fields):
            raise ValueError(f"dated_by {value!r} must name a required date field")
        return value


class ArchiveRules(_Rules):
    """Archive sections 3-7 (N2013 art. 7; ZJ arts. 8, 21): the province's own items."""

    items: tuple[ArchiveItemRule, ...] = ()


# The basic fields a key-field change may set (N2013 art. 10; ZJ art. 11): name and identity
# document always; gender, birth date, nationality and ethnicity where the province lists them.
KEY_FIELD_NAMES = (
    "name",
    "id_type",
    "id_number",
    "gender",
    "birth_date",
    "nationality",
    "ethnicity",
)
ALWAYS_KEY_FIELDS = ("name", "id_type", "id_number")
# Key fields held at the province only (非基础学籍信息, never at national): hukou place
# (户籍所在地, the archive's ``extended.hukou_region``). Listed → only the authority changes it
# on an application with proof; not listed → the school edits it like contacts (decision 0043).
PROVINCE_KEY_FIELDS = ("hukou_place",)


class KeyFieldRules(_Rules):
    """关键信息 (N2013 art. 10; ZJ art. 11; CNSIS lets a province add key fields): which basic
    fields a guardian's application with proof may change, the school checking and the
    authority approving; national re-checks duplicates when the identity key (name, gender,
    birth date) or the document changes. Guardians, contacts and address are not key fields:
    the school edits them at the province (section 1's history keeps each edit)."""

    fields: tuple[str, ...] = KEY_FIELD_NAMES

    @field_validator("fields")
    @classmethod
    def _known(cls, fields: tuple[str, ...]) -> tuple[str, ...]:
        known = (*KEY_FIELD_NAMES, *PROVINCE_KEY_FIELDS)
        unknown = sorted(set(fields) - set(known))
        if unknown:
            raise ValueError(f"unknown key fields {unknown}; known: {list(known)}")
        missing = sorted(set(ALWAYS_KEY_FIELDS) - set(fields))
        if missing:
            raise ValueError(f"name and identity document are always key fields: add {missing}")
        return fields


class ProvinceRules(_Rules):
    code: str
    name: str = ""
    # the scope these rules were resolved for: the province code, or the longest
    # ``[scope."<prefix>"]`` applied (decision 0034)
    scope: str = ""
    registration: RegistrationRules = RegistrationRules()
    transfer: TransferRules = TransferRules()
    progression: ProgressionRules = ProgressionRules()
    exports: ExportRules = ExportRules()
    accounts: AccountRules = AccountRules()
    status_change: StatusChangeRules = StatusChangeRules()
    verification: VerificationRules = VerificationRules()
    yi_track: YiTrackRules = YiTrackRules()
    filing: FilingRules = FilingRules()
    archive: ArchiveRules = ArchiveRules()
    key_fields: KeyFieldRules = KeyFieldRules()


# Keys read once per province (its sweeps, calendar, exports), never per unit: a scope setting
# one would be silently ignored, so the loader refuses it.
PROVINCE_WIDE: frozenset[tuple[str, ...]] = frozenset(
    {
        ("transfer", "step_working_days"),
        ("transfer", "reminder_working_days"),
        ("transfer", "archive_handover_days"),
        ("transfer", "holiday_files"),
        ("exports",),
        ("verification",),
        ("status_change", "term_ends"),
    }
)


class ScopeError(ValueError):
    """A ``[scope."<prefix>"]`` table that cannot apply."""


def rules_path(federation_config: Path, province_code: str) -> Path:
    return federation_config.parent / "provinces" / f"{province_code}.toml"


def load_province_rules(federation_config: Path, unit_code: str) -> ProvinceRules:
    """The rules that apply to ``unit_code``: a province code gives the province's own rules,
    a city, county or school code inside it those with every scope whose prefix starts the
    code applied (Liangshan's for ``5134010001``, Sichuan's for ``5101040001``). The national
    defaults when the province has no file.

    Read on every request that needs them (an operator's edit applies without a restart), but
    parsed once per version of the file: requests pay a ``stat``, not a TOML parse."""
    province_code = unit_code[:2]
    path = rules_path(federation_config, province_code)
    try:
        version = path.stat().st_mtime_ns
    except FileNotFoundError:
        return _resolved(path, province_code, None, ())
    scopes = _parsed_file(path, province_code, version).scopes
    applied = tuple(prefix for prefix in scopes if unit_code.startswith(prefix))
    return _resolved(path, province_code, version, applied)


def province_scopes(federation_config: Path, province_code: str) -> tuple[str, ...]:
    """The prefixes the province's file scopes rules to (``("5134",)`` for Sichuan)."""
    path = rules_path(federation_config, province_code)
    try:
        version = path.stat().st_mtime_ns
    except FileNotFoundError:
        return ()
    return tuple(_parsed_file(path, province_code, version).scopes)


@dataclass(frozen=True)
class _RulesFile:
    base: dict[str, Any]
    scopes: dict[str, dict[str, Any]]  # prefix -> its table, shortest prefix first


@functools.lru_cache(maxsize=64)
def _parsed_file(path: Path, province_code: str, version: int) -> _RulesFile:
    """The rules file ``path`` as it was at ``version`` (its mtime), every scope checked."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    scopes = raw.pop("scope", {})
    if not isinstance(scopes, dict):
        raise ScopeError(f"{path}: [scope] must be a table of prefixes")
    for prefix, table in scopes.items():
        if not (prefix.isdigit() and 2 < len(prefix) < 10 and prefix.startswith(province_code)):
            raise ScopeError(
                f"{path}: scope {prefix!r} is no division code inside province {province_code}"
            )
        if not isinstance(table, dict):
            raise ScopeError(f"{path}: scope {prefix!r} must be a table")
        for key in PROVINCE_WIDE:
            if _has(table, key):
                raise ScopeError(
                    f"{path}: scope {prefix!r} sets {'.'.join(key)}, which applies province-wide"
                )
    ordered = dict(sorted(scopes.items(), key=lambda item: len(item[0])))
    parsed = _RulesFile(base=raw, scopes=ordered)
    for prefix in ordered:  # a broken scope fails when the file is read, not on first use
        _build(parsed, province_code, tuple(p for p in ordered if prefix.startswith(p)))
    return parsed


@functools.lru_cache(maxsize=256)
def _resolved(
    path: Path, province_code: str, version: int | None, applied: tuple[str, ...]
) -> ProvinceRules:
    """The rules at ``version`` (None: no file) with the ``applied`` scopes. Frozen models,
    so one parsed copy per scope is shared safely."""
    if version is None:
        return ProvinceRules(code=province_code, scope=province_code)
    return _build(_parsed_file(path, province_code, version), province_code, applied)


def _build(parsed: _RulesFile, province_code: str, applied: tuple[str, ...]) -> ProvinceRules:
    merged: dict[str, Any] = dict(parsed.base)
    for prefix in applied:
        merged = _merge(merged, parsed.scopes[prefix])
    scope = applied[-1] if applied else province_code
    return ProvinceRules.model_validate({**merged, "code": province_code, "scope": scope})


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``; tables merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _has(table: dict[str, Any], key: tuple[str, ...]) -> bool:
    node: Any = table
    for part in key:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def load_workday_calendar(federation_config: Path, rules: ProvinceRules) -> WorkdayCalendar:
    """The province's working-day calendar: chinesecalendar plus its loaded holiday files."""
    folder = federation_config.parent / "provinces"
    years: dict[str, Any] = {}
    for name in rules.transfer.holiday_files:
        years.update(json.loads((folder / name).read_text(encoding="utf-8")))
    return WorkdayCalendar.from_json(years)


SENIOR_FIRST_YEAR = 10


def registration_authority(
    federation: Federation, federation_config: Path, school: School, grades: Iterable[int]
) -> UnitRef:
    """Who approves a registration batch of ``school`` with students in ``grades``: the
    school's registry authority, but the city for a Yi-track senior school's first-year list
    where the rules say so (一类模式高一年级新生名册…报州教育局…审核通过后方能注册学籍, LS 6)."""
    if school.yi_track and school.stage == "senior" and SENIOR_FIRST_YEAR in set(grades):
        rules = load_province_rules(federation_config, school.code)
        if rules.yi_track.senior_list_by is not None and federation.city(school.city):
            return school.city_unit
    return school.authority_unit


def yi_track_list_city(school: School) -> UnitRef | None:
    """The city that may also decide (reject) a Yi-track senior school's registration
    batches: its first-year list is approved there (LS 6). None for any other school."""
    return school.city_unit if school.yi_track and school.stage == "senior" else None
