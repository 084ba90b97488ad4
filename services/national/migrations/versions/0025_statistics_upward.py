"""Figures sent up and down the tiers, alerts pushed, identities verified (decision 0047):
the days national published (``statistics_published``), an alert's standard deviation, and
when a term verification last confirmed a student's identity (``id_verified_at``, with the
partial index the quality figures count through).

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_UNVERIFIED = "id_verified_at IS NULL AND status = 'enrolled'"


def upgrade() -> None:
    op.create_table(
        "statistics_published",
        sa.Column("unit", sa.String(length=24), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unit", "period"),
    )
    op.add_column(
        "statistics_alert", sa.Column("stdev", sa.Float(), nullable=False, server_default="0")
    )
    op.add_column(
        "registry_entry", sa.Column("id_verified_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_registry_entry_unverified",
        "registry_entry",
        ["school_code"],
        sqlite_where=sa.text(_UNVERIFIED),
        postgresql_where=sa.text(_UNVERIFIED),
    )


def downgrade() -> None:
    op.drop_index("ix_registry_entry_unverified", table_name="registry_entry")
    with op.batch_alter_table("registry_entry") as batch:
        batch.drop_column("id_verified_at")
    with op.batch_alter_table("statistics_alert") as batch:
        batch.drop_column("stdev")
    op.drop_table("statistics_published")
