"""``school_merger``: one row per merger the authority decided, with its report."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Date, DateTime, Index, Integer, MetaData, String, Table


def define_merger_table(metadata: MetaData) -> Table:
    table = Table(
        "school_merger",
        metadata,
        Column("merger_id", String(36), primary_key=True),
        # the deciding authority, e.g. county:410102, city:5134, province:41
        Column("authority_unit", String(20), nullable=False),
        Column("from_school", String(10), nullable=False),
        Column("to_school", String(10), nullable=False),
        Column("kind", String(10), nullable=False),  # merged / closed
        Column("closed_on", Date, nullable=False),
        Column("decided_by", String(80), nullable=False),
        Column("requested_at", DateTime(timezone=True), nullable=False),
        Column("status", String(12), nullable=False),  # requested / applied
        Column("batches", Integer, nullable=True),
        Column("batches_received", Integer, nullable=False),
        Column("moved", Integer, nullable=False),
        Column("refused", Integer, nullable=False),
        Column("refusals", JSON, nullable=False),  # [{student_number, rule, article}]
        Column("applied_at", DateTime(timezone=True), nullable=True),
    )
    # one merger per closing school; the authority's list, newest first
    Index("uq_school_merger_from", table.c.from_school, unique=True)
    Index("ix_school_merger_authority", table.c.authority_unit, table.c.requested_at)
    return table
