"""Tables of the national service's own database: the basic registry, its review queue, the
transfer saga and the yearly promotion runs.

Basic info only (基础学籍信息, N2025 arts. 5, 23): identity, student number, current school
and province, grade, status, dates. Guardians, addresses, contacts, health, awards, aid,
discipline and proofs are non-basic and live in the provinces; ``tests/shared/
test_contract_split.py`` fails if a column of that kind ever appears here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from components.approval_desk.tables import define_desk_tables
from components.received_statistics.tables import define_published
from components.status_checks.tables import define_client_table

# Autoincrement BIGINT on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
_Id = BigInteger().with_variant(Integer(), "sqlite")


_LEFT = "status IN ('dropout', 'suspected_dropout', 'other_departure')"


class Base(DeclarativeBase):
    pass


metadata = Base.metadata


class RegistryEntry(Base):
    """One student's basic registration (学籍). ``entry_id`` never changes; the student
    number may, once (``L`` → ``G``), and the old one is kept in :class:`SupersededNumber`."""

    __tablename__ = "registry_entry"

    entry_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    student_number: Mapped[str] = mapped_column(String(19), unique=True)
    # The school's id of the registration: a re-sent approval is answered, not re-screened.
    registration_id: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    gender: Mapped[str] = mapped_column(String(6))
    birth_date: Mapped[date] = mapped_column(Date)
    id_type: Mapped[str] = mapped_column(String(20))
    id_number: Mapped[str | None] = mapped_column(String(30))
    nationality: Mapped[str] = mapped_column(String(3))
    ethnicity: Mapped[str | None] = mapped_column(String(20))
    # Derived from name + gender + birth date: the indexable key of the suspect rule.
    identity_key: Mapped[str] = mapped_column(String(120))
    school_code: Mapped[str] = mapped_column(String(10))
    province_code: Mapped[str] = mapped_column(String(2))
    grade: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    enrolled_on: Mapped[date] = mapped_column(Date)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The transfer holding the student (at most one): claimed with one conditional UPDATE
    # (``... WHERE active_transfer_id IS NULL``), released when the transfer ends. No foreign
    # key: ``transfer`` refers to this table already, and the claim precedes the insert.
    active_transfer_id: Mapped[str | None] = mapped_column(String(36))
    # 一类模式 (LS part 6): a student of Liangshan's Yi-language track, set when registered at
    # a Yi-track school; a transfer into the track from outside it is refused. Not indexed
    # (read with the entry only).
    yi_track: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The calendar year the student left the stage (毕业 / 结业 / 肄业): a progression's
    # cohort selector ("every graduate of school X in year Y", LS 3(二)). None until then.
    graduation_year: Mapped[int | None] = mapped_column(Integer)
    # When the student's identity was last confirmed in person: a term verification's
    # confirmation listing them as attending their registered school and grade (人籍一致,
    # N2013 art. 24). None: not verified yet, a questionable registration (问题学籍,
    # decision 0047). Not a counted fact of the status history.
    id_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # Exact rule: one document, one entry; also looked up by ``id_number IN (...)``.
        Index("uq_registry_entry_document", "id_number", "id_type", unique=True),
        # Suspect rule: ``identity_key IN (...)``.
        Index("ix_registry_entry_identity_key", "identity_key"),
        # Listing a school's students in student-number order (keyset pagination).
        Index("ix_registry_entry_school", "school_code", "student_number"),
        # The students held by a transfer: as small as the transfers in flight, so it costs
        # nothing when the yearly promotion rewrites every row (the predicate is false), and
        # it finds a transfer's student on release / move without scanning the registry.
        # Enrolled students whose identity no term verification confirmed yet, by school:
        # the quality figures' count (decision 0047); partial, it shrinks as schools confirm.
        Index(
            "ix_registry_entry_unverified",
            "school_code",
            sqlite_where=text("id_verified_at IS NULL AND status = 'enrolled'"),
            postgresql_where=text("id_verified_at IS NULL AND status = 'enrolled'"),
        ),
        Index(
            "ix_registry_entry_held",
            "active_transfer_id",
            sqlite_where=text("active_transfer_id IS NOT NULL"),
            postgresql_where=text("active_transfer_id IS NOT NULL"),
        ),
        # The county's unclaimed list: students who left a school (dropout, suspected
        # dropout, other departure), by school. Partial, so it is as small as those students;
        # ``status`` is only in the predicate and the promotion never changes it (its updates
        # stay heap-only: it changes grade and updated_at, which no index holds).
        # A progression's cohort: a school's leavers of one year. Partial: as small as the
        # leavers still registered at their graduating school.
        Index(
            "ix_registry_entry_leavers",
            "school_code",
            "graduation_year",
            sqlite_where=text("graduation_year IS NOT NULL"),
            postgresql_where=text("graduation_year IS NOT NULL"),
        ),
        Index(
            "ix_registry_entry_left",
            "school_code",
            sqlite_where=text(_LEFT),
            postgresql_where=text(_LEFT),
        ),
        # Half of every page left free (PostgreSQL): the yearly promotion rewrites ~80 % of
        # the rows, and with room on the same page those updates are heap-only (HOT) — no
        # index is touched, since neither grade nor updated_at is indexed. Measured on 1M
        # rows: 2-3 s instead of 30-55 s (six indexes rewritten). The table is no larger than
        # the first full-table update would leave it anyway. Keep grade and status out of
        # every index of this table: one would make each promotion a non-HOT update again.
        {"postgresql_with": {"fillfactor": 50}},
    )


class SupersededNumber(Base):
    """A student number replaced by another one on the same entry (``L`` → ``G``)."""

    __tablename__ = "registry_superseded_number"

    student_number: Mapped[str] = mapped_column(String(19), primary_key=True)
    entry_id: Mapped[str] = mapped_column(
        ForeignKey("registry_entry.entry_id", name="fk_superseded_number_entry"), index=True
    )
    superseded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TemporarySerial(Base):
    """Every ``L``-number serial ever allocated, per (division code, birth date): never reused."""

    __tablename__ = "registry_temporary_serial"

    division_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    birth_date: Mapped[date] = mapped_column(Date, primary_key=True)
    serial: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[str] = mapped_column(
        ForeignKey("registry_entry.entry_id", name="fk_temporary_serial_entry"), index=True
    )


class DedupReview(Base):
    """An applicant held by a suspect rule, waiting for a national or province officer."""

    __tablename__ = "dedup_review"

    seq: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    review_id: Mapped[str] = mapped_column(String(36), unique=True)
    batch_id: Mapped[str] = mapped_column(String(36))
    registration_id: Mapped[str] = mapped_column(String(36), index=True)
    correlation_id: Mapped[str] = mapped_column(String(36))
    authority: Mapped[str] = mapped_column(String(40))
    school_code: Mapped[str] = mapped_column(String(10))
    province_code: Mapped[str] = mapped_column(String(2))
    rule: Mapped[str] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(String(500))
    matched_entry_id: Mapped[str] = mapped_column(
        ForeignKey("registry_entry.entry_id", name="fk_dedup_review_matched_entry")
    )
    # The applicant's basic info, as approved.
    name: Mapped[str] = mapped_column(String(50))
    gender: Mapped[str] = mapped_column(String(6))
    birth_date: Mapped[date] = mapped_column(Date)
    id_type: Mapped[str] = mapped_column(String(20))
    id_number: Mapped[str | None] = mapped_column(String(30))
    nationality: Mapped[str] = mapped_column(String(3))
    ethnicity: Mapped[str | None] = mapped_column(String(20))
    grade: Mapped[int] = mapped_column(Integer)
    enrolled_on: Mapped[date] = mapped_column(Date)
    # open → issued | rejected
    status: Mapped[str] = mapped_column(String(10))
    student_number: Mapped[str | None] = mapped_column(String(19))
    decision_rule: Mapped[str | None] = mapped_column(String(60))
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_dedup_review_queue", "status", "province_code", "seq"),
        Index("ix_dedup_review_document", "id_number", "id_type"),
    )


class TransferRecord(Base):
    """One transfer (转学) run by national as a saga: see ``domain/transfer.py``.

    Basic facts only: who, from where to where, into which grade; the proofs stay at the
    receiving school, ``proof_refs`` are the pointers to them the parties are given.
    """

    __tablename__ = "transfer"

    transfer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    student_number: Mapped[str] = mapped_column(String(19))
    # None when the number named no registration (the request was refused).
    entry_id: Mapped[str | None] = mapped_column(
        ForeignKey("registry_entry.entry_id", name="fk_transfer_entry"), index=True
    )
    from_school: Mapped[str] = mapped_column(String(10))
    to_school: Mapped[str] = mapped_column(String(10))
    from_province: Mapped[str] = mapped_column(String(2))
    to_province: Mapped[str] = mapped_column(String(2))
    grade: Mapped[int] = mapped_column(Integer)
    class_name: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(500))
    requested_on: Mapped[date] = mapped_column(Date)
    proof_refs: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    # requested → in_progress → completed | rejected | cancelled | stopped | refused
    state: Mapped[str] = mapped_column(String(12))
    closing_rule: Mapped[str | None] = mapped_column(String(60))
    closing_reason: Mapped[str | None] = mapped_column(String(500))
    correlation_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archive_due_on: Mapped[date | None] = mapped_column(Date)
    # A request outside the receiving window by exception (decision 0035): rule, article,
    # window, the school's reason. The receiving authority's step decision grants it.
    window_exception: Mapped[dict[str, str] | None] = mapped_column(JSON)

    __table_args__ = (
        # A student's transfers, newest first.
        Index("ix_transfer_student", "student_number", "created_at"),
        # A term's completed transfers (N2013 art. 18's term reports), by completion time.
        Index("ix_transfer_completed", "completed_at"),
    )


class TransferStepRecord(Base):
    """One deciding party's step of a transfer: its deadline, reminders and decision."""

    __tablename__ = "transfer_step"

    step_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    transfer_id: Mapped[str] = mapped_column(
        ForeignKey("transfer.transfer_id", name="fk_transfer_step_transfer")
    )
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(24))
    party_unit: Mapped[str] = mapped_column(String(24))
    superior_unit: Mapped[str] = mapped_column(String(24))
    # pending → open → approved | rejected | void
    state: Mapped[str] = mapped_column(String(10))
    opened_on: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    due_approximate: Mapped[bool] = mapped_column(Boolean, default=False)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_unit: Mapped[str | None] = mapped_column(String(24))
    intervention: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(String(500))
    rule: Mapped[str | None] = mapped_column(String(60))

    __table_args__ = (
        Index("uq_transfer_step_seq", "transfer_id", "seq", unique=True),
        # A party's open steps (its work list, the gauge), oldest due first.
        Index("ix_transfer_step_party", "party_unit", "state", "due_on"),
        # A superior's overdue steps.
        Index("ix_transfer_step_superior", "superior_unit", "state", "due_on"),
        # The deadline sweep: open steps by due date.
        Index("ix_transfer_step_due", "state", "due_on"),
    )


class ProgressionRecord(Base):
    """One progression (升学) of a cohort from a graduating school to a next-stage school, run
    by national as a batch saga (``domain/progression.py``, decision 0033)."""

    __tablename__ = "progression"

    progression_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    from_school: Mapped[str] = mapped_column(String(10))
    to_school: Mapped[str] = mapped_column(String(10))
    from_province: Mapped[str] = mapped_column(String(2))
    to_province: Mapped[str] = mapped_column(String(2))
    grade: Mapped[int] = mapped_column(Integer)  # the first grade of the receiving stage
    graduation_year: Mapped[int | None] = mapped_column(Integer)
    requested_on: Mapped[date] = mapped_column(Date)
    # in_progress → completed | rejected | refused (nobody could progress)
    state: Mapped[str] = mapped_column(String(12))
    closing_rule: Mapped[str | None] = mapped_column(String(60))
    closing_reason: Mapped[str | None] = mapped_column(String(500))
    correlation_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archive_due_on: Mapped[date | None] = mapped_column(Date)


class ProgressionStepRecord(Base):
    """One deciding party's step of a progression: one per party for the whole cohort."""

    __tablename__ = "progression_step"

    step_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    progression_id: Mapped[str] = mapped_column(
        ForeignKey("progression.progression_id", name="fk_progression_step_progression")
    )
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(24))
    party_unit: Mapped[str] = mapped_column(String(24))
    superior_unit: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(10))  # pending → open → approved | rejected | void
    opened_on: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    due_approximate: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_unit: Mapped[str | None] = mapped_column(String(24))
    intervention: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        Index("uq_progression_step_seq", "progression_id", "seq", unique=True),
        # The deadline sweep and a party's open steps.
        Index("ix_progression_step_due", "state", "due_on"),
    )


class ProgressionItem(Base):
    """One named student of a progression and what became of them (with rule and article
    when refused or left out)."""

    __tablename__ = "progression_item"

    progression_id: Mapped[str] = mapped_column(
        ForeignKey("progression.progression_id", name="fk_progression_item_progression"),
        primary_key=True,
    )
    # The student number, or the ID number the request named when it matched no one.
    named: Mapped[str] = mapped_column(String(30), primary_key=True)
    student_number: Mapped[str | None] = mapped_column(String(19))
    entry_id: Mapped[str | None] = mapped_column(String(36))
    # pending → progressed | left_out | rejected | stopped; refused at the start
    outcome: Mapped[str] = mapped_column(String(10))
    rule: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[str | None] = mapped_column(String(500))
    article: Mapped[str | None] = mapped_column(String(60))

    __table_args__ = (
        # "Already progressed": a student's progressions.
        Index("ix_progression_item_student", "student_number"),
    )


class PromotionRun(Base):
    """One school year's August 10 batch promotion (LS 3(一); N2013 art. 12): at most one per
    year — the key is what makes a second run for the same year do nothing."""

    __tablename__ = "promotion_run"

    school_year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    as_of: Mapped[date] = mapped_column(Date)
    ran_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    promoted: Mapped[int] = mapped_column(Integer)
    # The last status period that existed when the run took the registry's lock: the run
    # wrote no period (decision 0046), so it moved up the grades of periods up to this id.
    # Null for the runs before that decision (their periods were written by the trigger).
    last_period_id: Mapped[int | None] = mapped_column(BigInteger)
    # The run's report as it was answered: counts per grade, who was left alone and why, the
    # students promoted while a transfer held them, the schools told, the duration.
    report: Mapped[dict[str, Any]] = mapped_column(JSON)


class PromotionSchool(Base):
    """What the run of ``school_year`` applied to one school: its graduating grade (from the
    school's stage in the federation config) and how many students moved up. The promotion's
    UPDATE joins this table, so the mapping is data, never one statement per school."""

    __tablename__ = "promotion_school"

    school_year: Mapped[int] = mapped_column(
        ForeignKey("promotion_run.school_year", name="fk_promotion_school_run"), primary_key=True
    )
    school_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    graduating_grade: Mapped[int] = mapped_column(Integer)
    promoted: Mapped[int] = mapped_column(Integer)


class StatusChangeRecord(Base):
    """One status change (学籍变动) national decided: applied or refused, with the rule.

    Basic facts only: the change, its date, the status and grade before and after. The
    proofs stay at the school; the hukou place of a migrant dropout is the province's.
    """

    __tablename__ = "status_change"

    change_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # None when the number named no registration (the change was refused).
    entry_id: Mapped[str | None] = mapped_column(String(36))
    student_number: Mapped[str] = mapped_column(String(19))
    school_code: Mapped[str] = mapped_column(String(10))
    change: Mapped[str] = mapped_column(String(24))
    effective_on: Mapped[date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(10))  # applied | rejected
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    from_grade: Mapped[int | None] = mapped_column(Integer)
    to_grade: Mapped[int | None] = mapped_column(Integer)
    authority: Mapped[str] = mapped_column(String(40))
    rule: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[str | None] = mapped_column(String(500))
    article: Mapped[str | None] = mapped_column(String(200))
    # The decision as it was sent (dates, late flag, stopped transfer): re-sent unchanged.
    decision: Mapped[dict[str, Any]] = mapped_column(JSON)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # A student's changes, newest last.
        Index("ix_status_change_entry", "entry_id", "decided_at"),
        # The high-school repeat cap (LS 2(三)): a school's repeats of a grade in a window.
        Index("ix_status_change_cap", "school_code", "change", "outcome", "from_grade"),
    )


class Suspension(Base):
    """The current suspension (休学) of a suspended student: until when, how often extended.

    Removed when the suspension ends (resumption, lapse, any other change of status). The
    suspension sweep reads it by ``until``.
    """

    __tablename__ = "registry_suspension"

    entry_id: Mapped[str] = mapped_column(
        ForeignKey("registry_entry.entry_id", name="fk_suspension_entry"), primary_key=True
    )
    school_code: Mapped[str] = mapped_column(String(10))
    province_code: Mapped[str] = mapped_column(String(2))
    started_on: Mapped[date] = mapped_column(Date)
    until: Mapped[date] = mapped_column(Date, index=True)
    extensions: Mapped[int] = mapped_column(Integer)


class Placement(Base):
    """A student who attends another school while the registration stays at their own
    (N2013 art. 17; HA art. 12; ZJ art. 13): special education, inclusive placement, reform
    school. Term verification reads it: the registered school does not count them as a
    ghost, the attending school not as a mismatch. Removed when the placement ends or the
    student leaves ``enrolled``."""

    __tablename__ = "registry_placement"

    entry_id: Mapped[str] = mapped_column(
        ForeignKey("registry_entry.entry_id", name="fk_placement_entry"), primary_key=True
    )
    registered_school: Mapped[str] = mapped_column(String(10), index=True)
    attending_school: Mapped[str] = mapped_column(String(10), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    started_on: Mapped[date] = mapped_column(Date)


class VerificationCampaign(Base):
    """A term's re-verification campaign (N2013 art. 24; N2025 art. 25), national or for one
    province (``scope``): at most one per term and scope."""

    __tablename__ = "verification_campaign"

    campaign_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    term: Mapped[str] = mapped_column(String(12))
    scope: Mapped[str] = mapped_column(String(2))  # a province code, or "CN"
    opened_on: Mapped[date] = mapped_column(Date)
    opened_by: Mapped[str] = mapped_column(String(24))
    schools: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("uq_verification_campaign_term", "term", "scope", unique=True),)


class VerificationSchool(Base):
    """One school's confirmation in a campaign and what the comparison found."""

    __tablename__ = "verification_school"

    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("verification_campaign.campaign_id", name="fk_verification_school_campaign"),
        primary_key=True,
    )
    school_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    confirmed_on: Mapped[date] = mapped_column(Date)
    attending: Mapped[int] = mapped_column(Integer)
    registered: Mapped[int] = mapped_column(Integer)
    ghosts: Mapped[int] = mapped_column(Integer)
    mismatches: Mapped[int] = mapped_column(Integer)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    # a unit's data quality reads each of its schools' latest check (statistics.data_quality)
    __table_args__ = (Index("ix_verification_school_latest", "school_code", "checked_at"),)


class DuplicateResolution(Base):
    """A duplicate admission resolved in favour of the school the student attends (LS 2(三))."""

    __tablename__ = "duplicate_resolution"

    resolution_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    student_number: Mapped[str] = mapped_column(String(19))
    real_school: Mapped[str] = mapped_column(String(10))
    other_school: Mapped[str | None] = mapped_column(String(10))
    registration_id: Mapped[str] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(500))
    proof_refs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # authority unit → its roles; authority unit → approve | reject (with who and why)
    required: Mapped[dict[str, Any]] = mapped_column(JSON)
    decisions: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10))  # open → resolved | rejected | refused
    rule: Mapped[str | None] = mapped_column(String(60))
    closing_reason: Mapped[str | None] = mapped_column(String(500))
    correlation_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # a student's open resolution (one at a time)
        Index("ix_duplicate_resolution_student", "student_number", "state"),
    )


# The approval desk's task table (components/approval_desk): national keeps the approvals of
# the registry's exports (导出审批, decision 0011), owned by the approving unit of any tier. It
# takes no submission: no batch items and no proofs here (basic info only).
desk_tables = define_desk_tables(metadata, submissions=False)


class RegistryChange(Base):
    """National's registry change log (decision 0043): one row per student per decision that
    changed their registration, naming the person behind it (谁批准、谁负责): the officer's
    account and unit, or ``system`` and the province rule it applied. Written set-based, one
    statement per batch; read per student, newest last."""

    __tablename__ = "registry_change"
    __table_args__ = (Index("ix_registry_change_entry", "entry_id", "change_id"),)

    change_id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(36))
    student_number: Mapped[str] = mapped_column(String(19))
    # registered / key_field_change / status_change / graduated / duplicate_resolved /
    # school_merged
    kind: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[str | None] = mapped_column(String(36))  # the batch, change or resolution
    school_code: Mapped[str] = mapped_column(String(10))
    decided_by: Mapped[str] = mapped_column(String(80))
    decided_unit: Mapped[str] = mapped_column(String(40))
    decided_rule: Mapped[str | None] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# -- statistics (decision 0039) ---------------------------------------------------------------

_CURRENT = "valid_to IS NULL"


class RegistryPeriod(Base):
    """One stretch of a student's registration during which the counted facts (school,
    province, grade, status, gender, ethnicity, temporary number) did not change: the status
    history the as-of census reads. Append-only; written by database triggers on
    ``registry_entry`` (migration 0020) in the transaction that changes the entry, whatever
    code path changed it, set-based (one statement per statement on PostgreSQL). The
    ``prev_*`` columns are the facts before: a period is also the movement that opened it.
    The August 10 promotion writes none (decision 0046): a period's grade at a moment is its
    ``grade`` moved up by the runs after it (``service_layer/grade_shift.py``)."""

    __tablename__ = "registry_period"

    period_id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(36))
    school_code: Mapped[str] = mapped_column(String(10))
    province_code: Mapped[str] = mapped_column(String(2))
    grade: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    gender: Mapped[str] = mapped_column(String(6))
    ethnicity: Mapped[str | None] = mapped_column(String(20))
    temporary: Mapped[bool] = mapped_column(Boolean)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    prev_school: Mapped[str | None] = mapped_column(String(10))
    prev_grade: Mapped[int | None] = mapped_column(Integer)
    prev_status: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        # The trigger closes an entry's open period: as small as the registry.
        Index(
            "ix_registry_period_open",
            "entry_id",
            sqlite_where=text(_CURRENT),
            postgresql_where=text(_CURRENT),
        ),
        # Movements of a period and the roll-up's deltas: by when they began / ended.
        Index("ix_registry_period_from", "valid_from"),
        Index(
            "ix_registry_period_to",
            "valid_to",
            sqlite_where=text("valid_to IS NOT NULL"),
            postgresql_where=text("valid_to IS NOT NULL"),
        ),
        # A school's (county's) census at a date.
        Index("ix_registry_period_school", "school_code", "valid_from"),
    )


class HeadcountRollup(Base):
    """Students per (school, grade, status, gender, ethnicity, temporary) as of the
    watermark: rolled forward from the periods begun and ended since, never recounted.
    Today's headcount is this plus the periods since the watermark."""

    __tablename__ = "headcount_rollup"

    school_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    grade: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    gender: Mapped[str] = mapped_column(String(6), primary_key=True)
    ethnicity: Mapped[str] = mapped_column(String(20), primary_key=True)  # '' when unknown
    temporary: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    province_code: Mapped[str] = mapped_column(String(2))
    students: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_headcount_rollup_province", "province_code"),)


class StatisticsWatermark(Base):
    """Up to when ``headcount_rollup`` holds the periods (one row, ``name = 'headcount'``)."""

    __tablename__ = "statistics_watermark"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    applied_to: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StatisticsAlert(Base):
    """An early warning of abnormal registrations or departures (N2025 art. 23): a school's
    week far outside its own history, raised to its registry authority with the figures."""

    __tablename__ = "statistics_alert"

    alert_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_code: Mapped[str] = mapped_column(String(10))
    province_code: Mapped[str] = mapped_column(String(2))
    authority_unit: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(20))  # registrations | departures
    week_start: Mapped[date] = mapped_column(Date)
    observed: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stdev: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")

    __table_args__ = (
        Index("uq_statistics_alert_week", "school_code", "kind", "week_start", unique=True),
        Index("ix_statistics_alert_authority", "authority_unit", "week_start"),
        Index("ix_statistics_alert_province", "province_code", "week_start"),
    )


# The client systems registered for status checks (N2025 art. 24; components/status_checks).
status_client = define_client_table(metadata)

# The days whose figures national sent each county and province (decision 0047).
statistics_published = define_published(metadata)


class SchoolClosure(Base):
    """A school merged into another or closed (N2013 art. 9; decision 0043): its students'
    registrations moved to ``to_school``; a registration batch approved for it afterwards is
    refused (``school_closed``). One row per closed school, read by its code."""

    __tablename__ = "school_closure"

    school_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    merger_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(10))  # merged / closed
    to_school: Mapped[str] = mapped_column(String(10))
    closed_on: Mapped[date] = mapped_column(Date)
    decided_by: Mapped[str] = mapped_column(String(80))
    decided_unit: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
