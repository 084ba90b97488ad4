"""Term re-verification: campaigns, each school's result, and a partial index of the students
who left a school (the county's unclaimed list).

Revision ID: 0009
Revises: 0008

Written by ``python -m shared.db.migrate --tier national --autogenerate "verification"`` and
tidied by hand: plain ``create_index`` (no batch mode needed on SQLite). The partial index
has the same predicate on both databases; ``status`` is only in its predicate, and the yearly
promotion never changes ``status``, so its updates stay heap-only on PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEFT = sa.text("status IN ('dropout', 'suspected_dropout', 'other_departure')")


def upgrade() -> None:
    op.create_table(
        "verification_campaign",
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("term", sa.String(length=12), nullable=False),
        sa.Column("scope", sa.String(length=2), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("opened_by", sa.String(length=24), nullable=False),
        sa.Column("schools", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id"),
    )
    op.create_index(
        "uq_verification_campaign_term", "verification_campaign", ["term", "scope"], unique=True
    )
    op.create_table(
        "verification_school",
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("school_code", sa.String(length=10), nullable=False),
        sa.Column("confirmed_on", sa.Date(), nullable=False),
        sa.Column("attending", sa.Integer(), nullable=False),
        sa.Column("registered", sa.Integer(), nullable=False),
        sa.Column("ghosts", sa.Integer(), nullable=False),
        sa.Column("mismatches", sa.Integer(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["verification_campaign.campaign_id"],
            name="fk_verification_school_campaign",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "school_code"),
    )
    op.create_index(
        "ix_registry_entry_left",
        "registry_entry",
        ["school_code"],
        sqlite_where=_LEFT,
        postgresql_where=_LEFT,
    )


def downgrade() -> None:
    op.drop_index("ix_registry_entry_left", table_name="registry_entry")
    op.drop_table("verification_school")
    op.drop_index("uq_verification_campaign_term", table_name="verification_campaign")
    op.drop_table("verification_campaign")
