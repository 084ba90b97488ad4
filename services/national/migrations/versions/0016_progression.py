"""Progression (升学) as a batch saga; the year a student left a stage.

Revision ID: 0016
Revises: 0015

Portable: plain ``create_table`` / ``create_index``; the partial index has both dialects'
predicates.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEAVERS = "graduation_year IS NOT NULL"


def upgrade() -> None:
    op.add_column("registry_entry", sa.Column("graduation_year", sa.Integer(), nullable=True))
    op.create_index(
        "ix_registry_entry_leavers",
        "registry_entry",
        ["school_code", "graduation_year"],
        sqlite_where=sa.text(_LEAVERS),
        postgresql_where=sa.text(_LEAVERS),
    )
    op.create_table(
        "progression",
        sa.Column("progression_id", sa.String(length=36), nullable=False),
        sa.Column("from_school", sa.String(length=10), nullable=False),
        sa.Column("to_school", sa.String(length=10), nullable=False),
        sa.Column("from_province", sa.String(length=2), nullable=False),
        sa.Column("to_province", sa.String(length=2), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("graduation_year", sa.Integer(), nullable=True),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("closing_rule", sa.String(length=60), nullable=True),
        sa.Column("closing_reason", sa.String(length=500), nullable=True),
        sa.Column("correlation_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archive_due_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("progression_id"),
    )
    op.create_table(
        "progression_step",
        sa.Column("step_id", sa.String(length=36), nullable=False),
        sa.Column("progression_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("party_unit", sa.String(length=24), nullable=False),
        sa.Column("superior_unit", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("due_approximate", sa.Boolean(), nullable=False),
        sa.Column("overdue_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decided_unit", sa.String(length=24), nullable=True),
        sa.Column("intervention", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["progression_id"],
            ["progression.progression_id"],
            name="fk_progression_step_progression",
        ),
        sa.PrimaryKeyConstraint("step_id"),
    )
    op.create_index(
        "uq_progression_step_seq", "progression_step", ["progression_id", "seq"], unique=True
    )
    op.create_index("ix_progression_step_due", "progression_step", ["state", "due_on"])
    op.create_table(
        "progression_item",
        sa.Column("progression_id", sa.String(length=36), nullable=False),
        sa.Column("named", sa.String(length=30), nullable=False),
        sa.Column("student_number", sa.String(length=19), nullable=True),
        sa.Column("entry_id", sa.String(length=36), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("rule", sa.String(length=60), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("article", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(
            ["progression_id"],
            ["progression.progression_id"],
            name="fk_progression_item_progression",
        ),
        sa.PrimaryKeyConstraint("progression_id", "named"),
    )
    op.create_index("ix_progression_item_student", "progression_item", ["student_number"])


def downgrade() -> None:
    op.drop_index("ix_progression_item_student", table_name="progression_item")
    op.drop_table("progression_item")
    op.drop_index("ix_progression_step_due", table_name="progression_step")
    op.drop_index("uq_progression_step_seq", table_name="progression_step")
    op.drop_table("progression_step")
    op.drop_table("progression")
    op.drop_index("ix_registry_entry_leavers", table_name="registry_entry")
    op.drop_column("registry_entry", "graduation_year")
