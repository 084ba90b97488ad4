"""Tables of the school service's own database.

The school keeps basic info only (its roster and the registrations it applied for); extended
info (guardians, addresses, health) goes to the province in ``ArchiveFiled`` and is never
stored here. Transfers add the transfers the school started as receiving school (with the
application's proof documents, which the deciding parties fetch from here) and, on its
approval desk (``desk_task``, ``components/approval_desk``), the steps it decides as sending
school. Tables are SQLAlchemy Core tables on the declarative
``metadata``: every write is set-based (``executemany`` or ``INSERT … SELECT``), so there
are no per-row ORM objects.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    text,
)
from sqlalchemy.orm import DeclarativeBase

from components.approval_desk.tables import define_desk_tables
from components.documents.tables import define_document_tables
from shared.db.types import AutoId


class Base(DeclarativeBase):
    pass


metadata = Base.metadata

_Uuid = String(36)


def _basic_info() -> list[Column[Any]]:
    """The basic-info columns (``shared.contracts.students.BasicInfo``) of a student."""
    return [
        Column("name", String(50), nullable=False),
        Column("gender", String(6), nullable=False),
        Column("birth_date", Date, nullable=False),
        Column("id_type", String(20), nullable=False),
        Column("id_number", String(30), nullable=True),
        Column("nationality", String(3), nullable=False),
        Column("ethnicity", String(20), nullable=True),
        Column("grade", SmallInteger, nullable=False),
        Column("enrolled_on", Date, nullable=False),
    ]


registration = Table(
    "school_registration",
    metadata,
    Column("registration_id", _Uuid, primary_key=True),
    Column("school_code", String(12), nullable=False),
    Column("batch_id", _Uuid, nullable=False),
    Column("job_id", _Uuid, nullable=True),
    Column("source_row", Integer, nullable=True),  # row in the admission file
    Column("status", String(20), nullable=False),
    *_basic_info(),
    Column("student_number", String(19), nullable=True),
    Column("reason", String(500), nullable=True),
    Column("rule", String(60), nullable=True),
    Column("decided_by", String(40), nullable=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_school_registration_school_status", registration.c.school_code, registration.c.status)
Index("ix_school_registration_id_number", registration.c.id_number)
Index("ix_school_registration_student_number", registration.c.student_number)
Index("ix_school_registration_job_status", registration.c.job_id, registration.c.status)
# One open request per document number and school: concurrent duplicates fail here.
_OPEN = text("status IN ('pending', 'held_for_review')")
Index(
    "uq_school_registration_open_id_number",
    registration.c.school_code,
    registration.c.id_number,
    unique=True,
    sqlite_where=_OPEN,
    postgresql_where=_OPEN,
)

student = Table(
    "school_student",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("school_code", String(12), nullable=False),
    Column("student_number", String(19), nullable=False),
    Column("registration_id", _Uuid, nullable=True),
    *_basic_info(),
    Column("status", String(20), nullable=False),
    Column("class_name", String(40), nullable=True),  # 班级, e.g. 三年级2班
    # While suspended: the day the suspension ends (the school's list of those over).
    Column("suspended_until", Date, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("uq_school_student_number", student.c.school_code, student.c.student_number, unique=True)
Index("uq_school_student_registration", student.c.registration_id, unique=True)
Index("ix_school_student_roster", student.c.school_code, student.c.status, student.c.grade)
# The suspensions that are over (HA art. 13(三): the school urges the student back).
Index("ix_school_student_suspended_until", student.c.school_code, student.c.suspended_until)
Index("ix_school_student_id_number", student.c.id_number)
# a class's documents printed together (services/school/service_layer/documents.py)
Index("ix_school_student_class", student.c.school_code, student.c.class_name)

# Who left the school, to where and when (转出 / 升学): the sending school's history list
# (decision 0043). The student leaves the live roster; this row keeps only the student number,
# the name, the grade and where they went, no identity document.
departure = Table(
    "school_departure",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("school_code", String(12), nullable=False),
    Column("student_number", String(19), nullable=False),
    Column("name", String(50), nullable=False),
    Column("grade", SmallInteger, nullable=False),
    Column("kind", String(20), nullable=False),  # transfer / progression / school_merged
    Column("subject_id", _Uuid, nullable=False),  # the transfer, progression or merger
    Column("to_school", String(12), nullable=False),
    Column("left_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
Index(
    "uq_school_departure_subject",
    departure.c.school_code,
    departure.c.student_number,
    departure.c.subject_id,
    unique=True,
)
Index("ix_school_departure_list", departure.c.school_code, departure.c.left_on, departure.c.id)

# A school merged into another or closed (N2013 art. 9; decision 0043): it takes no more
# registrations or transfers in (``school_closed``). One row per closed school.
closure = Table(
    "school_closure",
    metadata,
    Column("school_code", String(12), primary_key=True),
    Column("merger_id", _Uuid, nullable=False),
    Column("kind", String(10), nullable=False),  # merged / closed
    Column("to_school", String(12), nullable=False),
    Column("closed_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

admission_job = Table(
    "school_admission_job",
    metadata,
    Column("job_id", _Uuid, primary_key=True),
    Column("school_code", String(12), nullable=False, index=True),
    Column("filename", String(200), nullable=True),
    Column("file_format", String(8), nullable=False),
    Column("total_rows", Integer, nullable=False),
    Column("accepted_rows", Integer, nullable=False),
    Column("rejected_rows", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

admission_error = Table(
    "school_admission_error",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("job_id", _Uuid, nullable=False),
    Column("row_number", Integer, nullable=False),
    Column("column", String(60), nullable=False),
    Column("rule", String(60), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("name", String(50), nullable=True),
)
Index("ix_school_admission_error_job", admission_error.c.job_id, admission_error.c.row_number)

key_field_change = Table(
    "school_key_field_change",
    metadata,
    Column("change_id", _Uuid, primary_key=True),
    Column("school_code", String(12), nullable=False),
    Column("student_number", String(19), nullable=False),
    Column("status", String(12), nullable=False),
    Column("changes", JSON, nullable=False),  # the requested name / id_type / id_number
    Column("reason", String(500), nullable=False),
    Column("proofs", JSON, nullable=False),  # kind, filename, size (the files: below)
    Column("new_student_number", String(19), nullable=True),
    Column("decision_reason", String(500), nullable=True),
    Column("rule", String(60), nullable=True),
    Column("decided_by", String(40), nullable=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
)
Index(
    "ix_school_key_field_change_student",
    key_field_change.c.school_code,
    key_field_change.c.student_number,
    key_field_change.c.status,
)

# The application's proofs, kept here since the archive's section 2 links them (decision 0043)
key_field_change_proof = Table(
    "school_key_field_change_proof",
    metadata,
    Column(
        "change_id",
        _Uuid,
        ForeignKey("school_key_field_change.change_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("filename", String(120), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
)

# --- transfers (转学) --------------------------------------------------------------------

transfer_in = Table(
    "school_transfer_in",
    metadata,
    Column("transfer_id", _Uuid, primary_key=True),
    Column("school_code", String(12), nullable=False),  # the receiving school
    Column("student_number", String(19), nullable=False),
    Column("from_school", String(12), nullable=False),
    Column("grade", SmallInteger, nullable=False),
    Column("class_name", String(40), nullable=True),
    Column("reason", String(500), nullable=False),
    Column("status", String(12), nullable=False),
    Column("rule", String(60), nullable=True),
    Column("status_reason", String(500), nullable=True),
    Column("requested_on", Date, nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("cancel_requested_at", DateTime(timezone=True), nullable=True),
    Column("cancel_reason", String(500), nullable=True),
    Column("settled_at", DateTime(timezone=True), nullable=True),
)
Index("ix_school_transfer_in_list", transfer_in.c.school_code, transfer_in.c.requested_at)

# A class's seats taken by transfers in flight (LS 2(一)6(1)).
Index(
    "ix_school_transfer_in_class",
    transfer_in.c.school_code,
    transfer_in.c.status,
    transfer_in.c.grade,
    transfer_in.c.class_name,
)

# One pending transfer in per student and school: concurrent duplicates fail here. A query
# that should use this partial index says PENDING_TRANSFER_IN literally: a generic PostgreSQL
# plan cannot match a bound parameter to the index's condition (SQLite's planner can).
PENDING_TRANSFER_IN = text("status = 'pending'")
Index(
    "uq_school_transfer_in_pending",
    transfer_in.c.school_code,
    transfer_in.c.student_number,
    unique=True,
    sqlite_where=PENDING_TRANSFER_IN,
    postgresql_where=PENDING_TRANSFER_IN,
)

transfer_proof = Table(
    "school_transfer_proof",
    metadata,
    Column(
        "transfer_id",
        _Uuid,
        ForeignKey("school_transfer_in.transfer_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("filename", String(120), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
)

# Every student a transfer's or a cohort's completion enrolled here (转入 / 升学), by school,
# subject (the transfer or the progression) and student: a completion heard again, even
# re-sent under a new message id after the student has left again, is not applied twice.
# Unlike ``school_transfer_in`` (the school's own requests) it also holds what the school did
# not ask for, e.g. a completion re-sent to a school restored from an older backup.
arrival = Table(
    "school_arrival",
    metadata,
    Column("school_code", String(12), primary_key=True),
    Column("subject_id", _Uuid, primary_key=True),
    Column("student_number", String(19), primary_key=True),
    Column("kind", String(20), nullable=False),  # transfer / progression
    Column("arrived_at", DateTime(timezone=True), nullable=False),
)

# The sending school's steps in transfers (转出学校核办) are tasks on its approval desk.
desk_tables = define_desk_tables(metadata)
# documents the school issued (学籍证明, 学生基本信息表, …), by id and printed code
document_tables = define_document_tables(metadata)

# --- status changes (学籍变动) -------------------------------------------------------------

status_change = Table(
    "school_status_change",
    metadata,
    Column("change_id", _Uuid, primary_key=True),
    Column("school_code", String(12), nullable=False),
    Column("student_number", String(19), nullable=False),
    Column("change", String(24), nullable=False),
    Column("status", String(12), nullable=False),  # submitted → applied | rejected
    Column("effective_on", Date, nullable=False),
    Column("facts", JSON, nullable=False),  # the request: target grade, ground, flags
    Column("reason", String(500), nullable=False),
    Column("outcome", JSON, nullable=True),  # status / grade before and after, dates, flags
    Column("decision_reason", String(500), nullable=True),
    Column("rule", String(60), nullable=True),
    Column("article", String(200), nullable=True),
    Column("decided_by", String(40), nullable=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
)
# A student's changes (one open at a time), and the school's list, newest first.
Index(
    "ix_school_status_change_student",
    status_change.c.school_code,
    status_change.c.student_number,
    status_change.c.status,
)
Index("ix_school_status_change_list", status_change.c.school_code, status_change.c.submitted_at)
# One change waiting for a decision per student and school: concurrent requests fail here.
_SUBMITTED = text("status = 'submitted'")
Index(
    "uq_school_status_change_submitted",
    status_change.c.school_code,
    status_change.c.student_number,
    unique=True,
    sqlite_where=_SUBMITTED,
    postgresql_where=_SUBMITTED,
)

status_change_proof = Table(
    "school_status_change_proof",
    metadata,
    Column(
        "change_id",
        _Uuid,
        ForeignKey("school_status_change.change_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("filename", String(120), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
)


# --- graduation (毕业 / 结业 / 肄业) ------------------------------------------------------

graduation_batch = Table(
    "school_graduation_batch",
    metadata,
    Column("batch_id", _Uuid, primary_key=True),
    Column("school_code", String(12), nullable=False),
    Column("graduation_year", SmallInteger, nullable=False),
    Column("status", String(12), nullable=False),  # submitted → approved | rejected
    Column("late_reason", String(500), nullable=True),
    Column("item_count", Integer, nullable=False),
    Column("applied_count", Integer, nullable=True),
    Column("decided_by", String(40), nullable=True),
    Column("reason", String(500), nullable=True),
    Column("rule", String(60), nullable=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
)
Index(
    "ix_school_graduation_batch_list",
    graduation_batch.c.school_code,
    graduation_batch.c.submitted_at,
)

graduation_item = Table(
    "school_graduation_item",
    metadata,
    Column(
        "batch_id",
        _Uuid,
        ForeignKey("school_graduation_batch.batch_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("student_number", String(19), primary_key=True),
    Column("school_code", String(12), nullable=False),
    Column("outcome", String(12), nullable=False),  # graduated | completed | incomplete
    Column("status", String(10), nullable=False),  # pending → applied | refused | rejected
    Column("rule", String(60), nullable=True),
    Column("reason", String(500), nullable=True),
)
# Is a student on a list awaiting a decision? (one look-up per list, set-based)
Index(
    "ix_school_graduation_item_student",
    graduation_item.c.school_code,
    graduation_item.c.student_number,
    graduation_item.c.status,
)

# --- term re-verification (学籍核查) -------------------------------------------------------

verification = Table(
    "school_verification",
    metadata,
    Column("campaign_id", _Uuid, primary_key=True),
    Column("school_code", String(12), primary_key=True),
    Column("term", String(12), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("opened_by", String(24), nullable=False),
    Column("confirmed_at", DateTime(timezone=True), nullable=True),
    Column("attending", Integer, nullable=True),
    Column("not_attending", Integer, nullable=True),
)
Index("ix_school_verification_list", verification.c.school_code, verification.c.opened_on)

# --- duplicate admission resolution (重复招生处理, LS 2(三)) -------------------------------

duplicate_resolution = Table(
    "school_duplicate_resolution",
    metadata,
    Column("resolution_id", _Uuid, primary_key=True),
    Column("school_code", String(12), primary_key=True),
    Column("role", String(6), nullable=False),  # real (asked, attends here) | other (deleted)
    Column("student_number", String(19), nullable=False),
    Column("registration_id", _Uuid, nullable=True),  # the real school's refused registration
    Column("other_school", String(12), nullable=True),  # the school whose record is deleted
    Column("status", String(10), nullable=False),  # requested → resolved | rejected | refused
    Column("reason", String(500), nullable=False),
    Column("rule", String(60), nullable=True),
    Column("decision_reason", String(500), nullable=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
)
Index(
    "ix_school_duplicate_resolution_registration",
    duplicate_resolution.c.registration_id,
    duplicate_resolution.c.status,
)

duplicate_proof = Table(
    "school_duplicate_proof",
    metadata,
    Column("resolution_id", _Uuid, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("filename", String(120), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
)

# --- progressions in (升学, N2013 art. 14; LS 1(二)) -----------------------------------------

progression_in = Table(
    "school_progression_in",
    metadata,
    Column("progression_id", _Uuid, primary_key=True),
    Column("school_code", String(12), nullable=False),  # the receiving school
    Column("from_school", String(12), nullable=False),
    Column("graduation_year", SmallInteger, nullable=True),  # the cohort selector, if used
    Column("named_count", Integer, nullable=False),  # how many students the list named
    # requested → in_progress → completed | rejected | refused
    Column("status", String(12), nullable=False),
    Column("rule", String(60), nullable=True),
    Column("status_reason", String(500), nullable=True),
    Column("requested_by", String(60), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("settled_at", DateTime(timezone=True), nullable=True),
)
Index("ix_school_progression_in_list", progression_in.c.school_code, progression_in.c.requested_at)

progression_in_item = Table(
    "school_progression_in_item",
    metadata,
    Column(
        "progression_id",
        _Uuid,
        ForeignKey("school_progression_in.progression_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("named", String(30), primary_key=True),  # student number or ID number
    # pending → progressed | left_out | rejected; refused by national's rules
    Column("outcome", String(10), nullable=False),
    Column("rule", String(60), nullable=True),
    Column("reason", String(500), nullable=True),
    Column("article", String(60), nullable=True),
)
