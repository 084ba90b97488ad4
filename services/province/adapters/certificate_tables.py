"""The certificate register (ZJ arts. 24-26) and the documents the province issues.

Non-basic data, so the province holds it (decision 0037): one register per county, as the
county's rows of ``certificate_register``, numbered by the auxiliary number (学籍辅号) from
``certificate_serial`` (county, graduation year) → the last serial given. A 证明书 issued for a
lost certificate is a row of its own that names the original (``replaces``); the county's
stamping (验印) is recorded on each row (who, when).
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Index, Integer, String, Table

from components.documents.tables import define_document_tables
from services.province.adapters.orm import Base

metadata = Base.metadata

document_tables = define_document_tables(metadata)

certificate_register = Table(
    "certificate_register",
    metadata,
    Column("number", String(24), primary_key=True),  # the auxiliary number (…-Z1 for 证明书)
    Column("kind", String(12), nullable=False),  # certificate | statement (证明书)
    Column("province", String(2), nullable=False),
    Column("county", String(6), nullable=False),
    Column("school_code", String(12), nullable=False),
    Column("student_number", String(19), nullable=False),
    Column("name", String(100), nullable=False),
    Column("outcome", String(12), nullable=False),  # graduated / completed / incomplete
    Column("graduation_year", Integer, nullable=False),
    Column("enrolled_year", Integer, nullable=True),
    Column("status", String(12), nullable=False),  # issued / lost / revoked
    Column("replaces", String(24), nullable=True),  # the lost certificate a 证明书 stands for
    Column("document_id", String(36), nullable=False),  # its row in document_issued
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("issued_by", String(60), nullable=False),
    Column("stamped_by", String(60), nullable=True),  # the county's 验印: who
    Column("stamped_at", DateTime(timezone=True), nullable=True),  # … and when
    Column("lost_at", DateTime(timezone=True), nullable=True),
)
# a school's graduating class; a county's register (what waits for its stamp); a student's rows
Index(
    "ix_certificate_register_class",
    certificate_register.c.school_code,
    certificate_register.c.graduation_year,
)
Index(
    "ix_certificate_register_county",
    certificate_register.c.county,
    certificate_register.c.stamped_at,
    certificate_register.c.number,
)
Index("ix_certificate_register_student", certificate_register.c.student_number)

certificate_serial = Table(
    "certificate_serial",
    metadata,
    Column("county", String(6), primary_key=True),
    Column("graduation_year", Integer, primary_key=True),
    Column("last", Integer, nullable=False),
)
