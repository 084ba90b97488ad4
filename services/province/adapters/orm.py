"""Tables of the province service's own database.

- the approval desk's tasks (province-direct schools, the province's transfer steps), from
  ``components.approval_desk``;
- the archive (学籍档案): ``archive`` holds one student's extended info and current basic
  info, ``archive_entry`` the dated entries of its sections (section 1 "basic info and its
  changes" now; proofs, quality report, health, awards, aid, other, discipline later);
- ``registration_outcome``: the final outcome of each registration the province has heard
  of, so that an outcome that arrives before its filing is applied when the filing comes,
  and a rejected registration's late filing is not kept (data minimisation);
- ``archive_backup``: the read-only electronic copy a sending school keeps of the archive of
  a student who transferred away (N2013 art. 9), taken when the transfer completed;
- ``archive_handover``: an archive this province hands to another province after a
  cross-province transfer, due within a month (N2013 art. 15), until the receipt comes back.

An archive is keyed by ``archive_id`` (the registration id that opened it), not by the
student number: re-keying an L number to a G number then touches one row, and the entries
never move.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from components.approval_desk.tables import define_desk_tables
from components.received_statistics.tables import define_published, define_received
from components.school_mergers.tables import define_merger_table
from shared.db.types import AutoId


class Base(DeclarativeBase):
    pass


metadata = Base.metadata

# The province is the registry authority (学籍主管部门) of its province-direct schools, and a
# party of transfers: its approval desk's tasks.
desk_tables = define_desk_tables(metadata)

# N2013 art. 9: the schools the province, or a city it hosts, merged or closed among those it
# runs, with their reports (decision 0049)
school_merger = define_merger_table(metadata)

# The figures national sends each province, and the days the province sent its counties their
# non-basic figures (decision 0047).
statistics_received = define_received(metadata)
statistics_published = define_published(metadata)


class Archive(Base):
    """One student's archive in this province."""

    __tablename__ = "archive"
    __table_args__ = (
        UniqueConstraint("province", "student_number", name="uq_archive_student_number"),
        Index("ix_archive_school", "province", "school_code", "status"),
    )

    archive_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    province: Mapped[str] = mapped_column(String(2))
    school_code: Mapped[str] = mapped_column(String(12))
    batch_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20))
    student_number: Mapped[str | None] = mapped_column(String(19))
    basic: Mapped[dict[str, Any]] = mapped_column(JSON)
    extended: Mapped[dict[str, Any]] = mapped_column(JSON)
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ArchiveEntry(Base):
    """A dated entry of one archive section (``Section``), e.g. a change of basic info."""

    __tablename__ = "archive_entry"
    __table_args__ = (
        Index("ix_archive_entry_section", "archive_id", "section", "occurred_on"),
        # An entry caused by a message (``reference`` = its change or batch id) is made once.
        UniqueConstraint("archive_id", "kind", "reference", name="uq_archive_entry_reference"),
    )

    entry_id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    archive_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("archive.archive_id", ondelete="CASCADE")
    )
    section: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(40))
    occurred_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reference: Mapped[str | None] = mapped_column(String(36))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class RegistrationOutcomeRecord(Base):
    """The final outcome (issued or rejected) of one registration of this province."""

    __tablename__ = "registration_outcome"

    registration_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    province: Mapped[str] = mapped_column(String(2))
    school_code: Mapped[str] = mapped_column(String(12))
    batch_id: Mapped[str] = mapped_column(String(36))
    outcome: Mapped[str] = mapped_column(String(20))
    student_number: Mapped[str | None] = mapped_column(String(19))
    decided_by: Mapped[str] = mapped_column(String(60))  # the officer, or "system"
    decided_unit: Mapped[str | None] = mapped_column(String(40))  # decision 0043
    decided_rule: Mapped[str | None] = mapped_column(String(80))  # the system's rule
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ArchiveBackup(Base):
    """A sending school's electronic backup of a transferred student's archive (N2013 art. 9)."""

    __tablename__ = "archive_backup"
    __table_args__ = (
        UniqueConstraint("school_code", "transfer_id", name="uq_archive_backup_transfer"),
        Index("ix_archive_backup_student", "province", "school_code", "student_number"),
    )

    backup_id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    province: Mapped[str] = mapped_column(String(2))
    school_code: Mapped[str] = mapped_column(String(12))  # the sending school that keeps it
    student_number: Mapped[str] = mapped_column(String(19))
    transfer_id: Mapped[str] = mapped_column(String(36))
    to_school: Mapped[str] = mapped_column(String(12))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)  # basic, extended, entries
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ArchiveHandover(Base):
    """An archive handed to another province after a cross-province transfer."""

    __tablename__ = "archive_handover"
    __table_args__ = (Index("ix_archive_handover_state", "province", "state", "due_on"),)

    transfer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    province: Mapped[str] = mapped_column(String(2))  # the sending province
    to_province: Mapped[str] = mapped_column(String(2))
    student_number: Mapped[str] = mapped_column(String(19))
    from_school: Mapped[str] = mapped_column(String(12))
    to_school: Mapped[str] = mapped_column(String(12))
    archive_id: Mapped[str | None] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(12))
    problem: Mapped[str | None] = mapped_column(String(200))
    due_on: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DropoutHandover(Base):
    """A migrant dropout's archive, due to the hukou county at the end of the term (N2013
    art. 22; HA art. 14; ZJ art. 18; LS 2(四)). ``waiting`` until the term-end sweep sends it
    (``sent``); ``no_recipient`` when the hukou county's province is not in the federation."""

    __tablename__ = "dropout_handover"
    __table_args__ = (Index("ix_dropout_handover_due", "province", "state", "due_on"),)

    change_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    province: Mapped[str] = mapped_column(String(2))
    archive_id: Mapped[str] = mapped_column(String(36))
    student_number: Mapped[str] = mapped_column(String(19))
    school_code: Mapped[str] = mapped_column(String(12))
    hukou_county: Mapped[str] = mapped_column(String(6))
    state: Mapped[str] = mapped_column(String(12))
    due_on: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HukouArchive(Base):
    """An archive a migrant dropout's school province handed to this province for the hukou
    county (the county's education department keeps it)."""

    __tablename__ = "hukou_archive"
    __table_args__ = (
        UniqueConstraint("province", "change_id", name="uq_hukou_archive_change"),
        Index("ix_hukou_archive_county", "province", "county_code", "received_at"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    province: Mapped[str] = mapped_column(String(2))
    county_code: Mapped[str] = mapped_column(String(6))
    change_id: Mapped[str] = mapped_column(String(36))
    student_number: Mapped[str] = mapped_column(String(19))
    from_school: Mapped[str] = mapped_column(String(12))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PromotionRecord(Base):
    """The province's view of a year's August 10 batch promotion (LS 3(一)): per school, its
    graduating grade and national's counts per grade (``registry.province_promoted``)."""

    __tablename__ = "promotion_record"

    school_year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    school_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    province: Mapped[str] = mapped_column(String(2))
    graduating_grade: Mapped[int] = mapped_column(Integer)
    promoted: Mapped[dict[str, Any]] = mapped_column(JSON)  # grade before → students
    as_of: Mapped[date] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_promotion_record_province", "province", "school_year"),)


# the certificate register and the documents the province issues (decision 0037)
from services.province.adapters import certificate_tables  # noqa: E402, F401
