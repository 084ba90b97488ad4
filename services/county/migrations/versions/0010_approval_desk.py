"""The registry authority's tables become the approval desk's (decision 0022): ``desk_task``
with the deciding ``unit`` as a reference (``county:…``), items and proofs.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

from components.approval_desk.migrations import rename_authority_tables, restore_authority_tables

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rename_authority_tables(op, "county")


def downgrade() -> None:
    restore_authority_tables(op, "county")
