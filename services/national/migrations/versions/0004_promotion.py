"""The yearly batch promotion: its runs, what each run applied per school, and a partial
index on the students held by a transfer.

Revision ID: 0004
Revises: 0003

Written by ``python -m shared.db.migrate --tier national --autogenerate "promotion"`` and
tidied by hand: plain ``create_index`` (a new index needs no batch mode on SQLite), named
foreign key. Portable: Integer, String, Date, DateTime and JSON; the partial index has the
same predicate on SQLite and PostgreSQL.

No index for the promotion itself: it rewrites most of ``registry_entry`` in one UPDATE that
scans the table and joins ``promotion_school`` by its key; an index on ``(status, grade)``
would not speed up a statement that touches most rows, and since it contains ``grade`` it
would have to be rewritten for every promoted row (and would rule out heap-only updates).

PostgreSQL: ``registry_entry`` gets ``fillfactor = 50`` so that the promotion's updates find
room on their own page and are heap-only (HOT): no index entry is written for them. It
applies to pages written from now on; an existing table converges after its first promotion
(or at once with ``VACUUM FULL registry_entry``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HELD = sa.text("active_transfer_id IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "promotion_run",
        sa.Column("school_year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("school_year"),
    )
    op.create_table(
        "promotion_school",
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.Column("school_code", sa.String(length=10), nullable=False),
        sa.Column("graduating_grade", sa.Integer(), nullable=False),
        sa.Column("promoted", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_year"], ["promotion_run.school_year"], name="fk_promotion_school_run"
        ),
        sa.PrimaryKeyConstraint("school_year", "school_code"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE registry_entry SET (fillfactor = 50)")
    op.create_index(
        "ix_registry_entry_held",
        "registry_entry",
        ["active_transfer_id"],
        sqlite_where=_HELD,
        postgresql_where=_HELD,
    )


def downgrade() -> None:
    op.drop_index("ix_registry_entry_held", table_name="registry_entry")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE registry_entry RESET (fillfactor)")
    op.drop_table("promotion_school")
    op.drop_table("promotion_run")
