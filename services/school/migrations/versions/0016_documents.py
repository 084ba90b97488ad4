"""Documents the school issues (decision 0036): the register of issued documents, by id and
by printed code, the signed scans uploaded back, and the index that finds a class's students
for batch printing.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
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
    op.create_index("ix_school_student_class", "school_student", ["school_code", "class_name"])


def downgrade() -> None:
    op.drop_index("ix_school_student_class", table_name="school_student")
    op.drop_table("document_scan")
    op.drop_table("document_issued")
