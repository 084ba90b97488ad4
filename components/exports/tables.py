"""``kernel_export``: one row per export request, from request to expiry.

``content`` holds the produced CSV from approval until the export expires (then it is
purged); the approver's list reads ``ix_kernel_export_approver``, the requester's
``ix_kernel_export_requester``, the purge ``ix_kernel_export_expiry``.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Index, Integer, LargeBinary, String, Table

from shared.messaging.tables import kernel_metadata

export = Table(
    "kernel_export",
    kernel_metadata,
    Column("export_id", String(36), primary_key=True),
    Column("status", String(10), nullable=False),
    Column("requested_by", String(60), nullable=False),
    Column("requester_unit", String(40), nullable=False),
    Column("population", String(40), nullable=False),  # e.g. county:410102
    Column("fields", JSON, nullable=False),
    Column("purpose", String(500), nullable=False),
    Column("approver_unit", String(40), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(60), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("reason", String(500), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("row_count", Integer, nullable=True),
    Column("downloads", Integer, nullable=False, server_default="0"),
    Column("content", LargeBinary, nullable=True),
)
Index("ix_kernel_export_approver", export.c.approver_unit, export.c.status)
Index("ix_kernel_export_requester", export.c.requested_by, export.c.requested_at)
Index("ix_kernel_export_expiry", export.c.status, export.c.expires_at)
