"""Tables of the national service's own database: the basic registry and its review queue.

Basic info only (基础学籍信息, N2025 arts. 5, 23): identity, student number, current school
and province, grade, status, dates. Guardians, addresses, contacts, health, awards, aid,
discipline and proofs are non-basic and live in the provinces; ``tests/shared/
test_contract_split.py`` fails if a column of that kind ever appears here.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Autoincrement BIGINT on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
_Id = BigInteger().with_variant(Integer(), "sqlite")


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

    __table_args__ = (
        # Exact rule: one document, one entry; also looked up by ``id_number IN (...)``.
        Index("uq_registry_entry_document", "id_number", "id_type", unique=True),
        # Suspect rule: ``identity_key IN (...)``.
        Index("ix_registry_entry_identity_key", "identity_key"),
        # Listing a school's students in student-number order (keyset pagination).
        Index("ix_registry_entry_school", "school_code", "student_number"),
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
