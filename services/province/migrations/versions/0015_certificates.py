"""The certificate register (ZJ arts. 24-26, decision 0037): certificates and 证明书 by
auxiliary number per county, with the county's stamping, the serials per county and year, and
the register of documents the province issues (decision 0036's ``document_issued``).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_issued",
        sa.Column("document_id", sa.String(36), primary_key=True),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("unit", sa.String(40), nullable=False),
        sa.Column("unit_name", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(40), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("issued_by", sa.String(60), nullable=False),
        sa.Column("purpose", sa.String(500), nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
    )
    op.create_index("uq_document_issued_code", "document_issued", ["code"], unique=True)
    op.create_index(
        "ix_document_issued_subject", "document_issued", ["unit", "subject", "kind", "status"]
    )
    op.create_table(
        "document_scan",
        sa.Column("document_id", sa.String(36), primary_key=True),
        sa.Column("filename", sa.String(120), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("uploaded_by", sa.String(60), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "certificate_register",
        sa.Column("number", sa.String(24), primary_key=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("province", sa.String(2), nullable=False),
        sa.Column("county", sa.String(6), nullable=False),
        sa.Column("school_code", sa.String(12), nullable=False),
        sa.Column("student_number", sa.String(19), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("graduation_year", sa.Integer, nullable=False),
        sa.Column("enrolled_year", sa.Integer, nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("replaces", sa.String(24), nullable=True),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("issued_by", sa.String(60), nullable=False),
        sa.Column("stamped_by", sa.String(60), nullable=True),
        sa.Column("stamped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lost_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_certificate_register_class",
        "certificate_register",
        ["school_code", "graduation_year"],
    )
    op.create_index(
        "ix_certificate_register_county",
        "certificate_register",
        ["county", "stamped_at", "number"],
    )
    op.create_index("ix_certificate_register_student", "certificate_register", ["student_number"])
    op.create_table(
        "certificate_serial",
        sa.Column("county", sa.String(6), primary_key=True),
        sa.Column("graduation_year", sa.Integer, primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("certificate_serial")
    op.drop_table("certificate_register")
    op.drop_table("document_scan")
    op.drop_table("document_issued")
