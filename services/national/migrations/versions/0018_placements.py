"""Placements that keep the registration elsewhere (N2013 art. 17; HA art. 12; ZJ art. 13):
special education, inclusive placement, reform school. Term verification reads them.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_placement",
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("registered_school", sa.String(length=10), nullable=False),
        sa.Column("attending_school", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["registry_entry.entry_id"], name="fk_placement_entry"
        ),
        sa.PrimaryKeyConstraint("entry_id"),
    )
    op.create_index(
        op.f("ix_registry_placement_registered_school"),
        "registry_placement",
        ["registered_school"],
    )
    op.create_index(
        op.f("ix_registry_placement_attending_school"), "registry_placement", ["attending_school"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_registry_placement_attending_school"), table_name="registry_placement")
    op.drop_index(op.f("ix_registry_placement_registered_school"), table_name="registry_placement")
    op.drop_table("registry_placement")
