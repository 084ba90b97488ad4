"""National's registry change log: the person (or the rule) behind every decision that changed
a registration (decision 0043).

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "registry_change",
        sa.Column("change_id", _ID, autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("student_number", sa.String(length=19), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=True),
        sa.Column("school_code", sa.String(length=10), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=False),
        sa.Column("decided_unit", sa.String(length=40), nullable=False),
        sa.Column("decided_rule", sa.String(length=80), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("change_id"),
    )
    op.create_index("ix_registry_change_entry", "registry_change", ["entry_id", "change_id"])


def downgrade() -> None:
    op.drop_index("ix_registry_change_entry", table_name="registry_change")
    op.drop_table("registry_change")
