"""``document_issued``: every document a unit issued, by id and by its short code.

The public verification reads ``uq_document_issued_code``; issuing supersedes the student's
earlier document of the same kind through ``ix_document_issued_subject``. The hosting service
defines the table on its own metadata (as the approval desk's tables), so its migrations and
schema test cover it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)


@dataclass(frozen=True)
class DocumentTables:
    issued: Table
    scan: Table  # the signed and sealed paper, scanned and uploaded back (附表4)


def define_document_tables(metadata: MetaData) -> DocumentTables:
    issued = Table(
        "document_issued",
        metadata,
        Column("document_id", String(36), primary_key=True),
        Column("code", String(16), nullable=False),
        Column("kind", String(40), nullable=False),
        Column("unit", String(40), nullable=False),  # the issuing unit, "school:4101020001"
        Column("unit_name", String(100), nullable=False),
        Column("subject", String(40), nullable=True),  # the student number, if any
        Column("issued_at", DateTime(timezone=True), nullable=False),
        Column("issued_on", Date, nullable=False),
        Column("issued_by", String(60), nullable=False),
        Column("purpose", String(500), nullable=True),
        Column("status", String(12), nullable=False),  # valid / revoked / superseded
        Column("changed_at", DateTime(timezone=True), nullable=True),
        Column("reason", String(500), nullable=True),
    )
    Index("uq_document_issued_code", issued.c.code, unique=True)
    Index(
        "ix_document_issued_subject",
        issued.c.unit,
        issued.c.subject,
        issued.c.kind,
        issued.c.status,
    )
    scan = Table(
        "document_scan",
        metadata,
        Column("document_id", String(36), primary_key=True),
        Column("filename", String(120), nullable=False),
        Column("size", Integer, nullable=False),
        Column("content", LargeBinary, nullable=False),
        Column("uploaded_by", String(60), nullable=False),
        Column("uploaded_at", DateTime(timezone=True), nullable=False),
    )
    return DocumentTables(issued, scan)
