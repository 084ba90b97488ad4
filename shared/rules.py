"""Province rules as configuration: ``<federation config dir>/provinces/<code>.toml``.

A province's implementing rules (HA, ZJ, LS ...) differ; the code reads them from here, so a
province changes its policy by editing its file (a ConfigMap in Kubernetes), not the code.
"""

from __future__ import annotations

import functools
import json
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.workdays import WorkdayCalendar


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RegistrationRules(_Rules):
    # Approve registrations that pass every check without waiting for an officer.
    auto_approve: bool = False


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


MonthDay = Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]


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


class StatusChangeRules(_Rules):
    """How a province handles a student's status changes (学籍变动)."""

    # Changes the school decides and the authority only records (登记 / 备案): the authority's
    # task is approved by the system at once. Every other change waits for an officer.
    recorded_by_authority: tuple[str, ...] = ()
    # Proof kinds each change must carry, e.g. {decease = ["death_certificate"]}.
    required_proofs: dict[str, tuple[str, ...]] = Field(default_factory=dict)
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


class ProvinceRules(_Rules):
    code: str
    name: str = ""
    registration: RegistrationRules = RegistrationRules()
    transfer: TransferRules = TransferRules()
    progression: ProgressionRules = ProgressionRules()
    exports: ExportRules = ExportRules()
    status_change: StatusChangeRules = StatusChangeRules()
    verification: VerificationRules = VerificationRules()


def rules_path(federation_config: Path, province_code: str) -> Path:
    return federation_config.parent / "provinces" / f"{province_code}.toml"


def load_province_rules(federation_config: Path, province_code: str) -> ProvinceRules:
    """The rules of ``province_code``; the national defaults when it has no file.

    Read on every request that needs them (an operator's edit applies without a restart), but
    parsed once per version of the file: requests pay a ``stat``, not a TOML parse."""
    path = rules_path(federation_config, province_code)
    try:
        version = path.stat().st_mtime_ns
    except FileNotFoundError:
        return _parsed_rules(path, province_code, None)
    return _parsed_rules(path, province_code, version)


@functools.lru_cache(maxsize=256)
def _parsed_rules(path: Path, province_code: str, version: int | None) -> ProvinceRules:
    """The rules file ``path`` as it was at ``version`` (its mtime; None: no file). Frozen
    models, so one parsed copy is shared safely."""
    if version is None:
        return ProvinceRules(code=province_code)
    with path.open("rb") as handle:
        return ProvinceRules.model_validate({"code": province_code, **tomllib.load(handle)})


def load_workday_calendar(federation_config: Path, rules: ProvinceRules) -> WorkdayCalendar:
    """The province's working-day calendar: chinesecalendar plus its loaded holiday files."""
    folder = federation_config.parent / "provinces"
    years: dict[str, Any] = {}
    for name in rules.transfer.holiday_files:
        years.update(json.loads((folder / name).read_text(encoding="utf-8")))
    return WorkdayCalendar.from_json(years)
