"""School registration: registrations, roster, admission jobs and their errors, key-field changes.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "school_admission_error",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("column", sa.String(length=60), nullable=False),
        sa.Column("rule", sa.String(length=60), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("school_admission_error", schema=None) as batch_op:
        batch_op.create_index(
            "ix_school_admission_error_job", ["job_id", "row_number"], unique=False
        )

    op.create_table(
        "school_admission_job",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("school_code", sa.String(length=12), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=True),
        sa.Column("file_format", sa.String(length=8), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("accepted_rows", sa.Integer(), nullable=False),
        sa.Column("rejected_rows", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )
    with op.batch_alter_table("school_admission_job", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_school_admission_job_school_code"), ["school_code"], unique=False
        )

    op.create_table(
        "school_key_field_change",
        sa.Column("change_id", sa.String(length=36), nullable=False),
        sa.Column("school_code", sa.String(length=12), nullable=False),
        sa.Column("student_number", sa.String(length=19), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("proofs", sa.JSON(), nullable=False),
        sa.Column("new_student_number", sa.String(length=19), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("rule", sa.String(length=60), nullable=True),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("change_id"),
    )
    with op.batch_alter_table("school_key_field_change", schema=None) as batch_op:
        batch_op.create_index(
            "ix_school_key_field_change_student",
            ["school_code", "student_number", "status"],
            unique=False,
        )

    op.create_table(
        "school_registration",
        sa.Column("registration_id", sa.String(length=36), nullable=False),
        sa.Column("school_code", sa.String(length=12), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("gender", sa.String(length=6), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("id_type", sa.String(length=20), nullable=False),
        sa.Column("id_number", sa.String(length=30), nullable=True),
        sa.Column("nationality", sa.String(length=3), nullable=False),
        sa.Column("ethnicity", sa.String(length=20), nullable=True),
        sa.Column("grade", sa.SmallInteger(), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("student_number", sa.String(length=19), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("rule", sa.String(length=60), nullable=True),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("registration_id"),
    )
    with op.batch_alter_table("school_registration", schema=None) as batch_op:
        batch_op.create_index("ix_school_registration_id_number", ["id_number"], unique=False)
        batch_op.create_index(
            "ix_school_registration_job_status", ["job_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_school_registration_school_status", ["school_code", "status"], unique=False
        )
        batch_op.create_index(
            "ix_school_registration_student_number", ["student_number"], unique=False
        )
        batch_op.create_index(
            "uq_school_registration_open_id_number",
            ["school_code", "id_number"],
            unique=True,
            sqlite_where=sa.text("status IN ('pending', 'held_for_review')"),
            postgresql_where=sa.text("status IN ('pending', 'held_for_review')"),
        )

    op.create_table(
        "school_student",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("school_code", sa.String(length=12), nullable=False),
        sa.Column("student_number", sa.String(length=19), nullable=False),
        sa.Column("registration_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("gender", sa.String(length=6), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("id_type", sa.String(length=20), nullable=False),
        sa.Column("id_number", sa.String(length=30), nullable=True),
        sa.Column("nationality", sa.String(length=3), nullable=False),
        sa.Column("ethnicity", sa.String(length=20), nullable=True),
        sa.Column("grade", sa.SmallInteger(), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("school_student", schema=None) as batch_op:
        batch_op.create_index("ix_school_student_id_number", ["id_number"], unique=False)
        batch_op.create_index(
            "ix_school_student_roster", ["school_code", "status", "grade"], unique=False
        )
        batch_op.create_index(
            "uq_school_student_number", ["school_code", "student_number"], unique=True
        )
        batch_op.create_index("uq_school_student_registration", ["registration_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("school_student", schema=None) as batch_op:
        batch_op.drop_index("uq_school_student_registration")
        batch_op.drop_index("uq_school_student_number")
        batch_op.drop_index("ix_school_student_roster")
        batch_op.drop_index("ix_school_student_id_number")

    op.drop_table("school_student")
    with op.batch_alter_table("school_registration", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_school_registration_open_id_number",
            sqlite_where=sa.text("status IN ('pending', 'held_for_review')"),
            postgresql_where=sa.text("status IN ('pending', 'held_for_review')"),
        )
        batch_op.drop_index("ix_school_registration_student_number")
        batch_op.drop_index("ix_school_registration_school_status")
        batch_op.drop_index("ix_school_registration_job_status")
        batch_op.drop_index("ix_school_registration_id_number")

    op.drop_table("school_registration")
    with op.batch_alter_table("school_key_field_change", schema=None) as batch_op:
        batch_op.drop_index("ix_school_key_field_change_student")

    op.drop_table("school_key_field_change")
    with op.batch_alter_table("school_admission_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_school_admission_job_school_code"))

    op.drop_table("school_admission_job")
    with op.batch_alter_table("school_admission_error", schema=None) as batch_op:
        batch_op.drop_index("ix_school_admission_error_job")

    op.drop_table("school_admission_error")
