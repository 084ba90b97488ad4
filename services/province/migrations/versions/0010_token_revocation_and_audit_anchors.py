"""Accounts remember when their tokens were revoked (sealed, locked), and the audit anchors
of the instances below are kept here (docs/decisions/0027).

Revision ID: 0010
Revises: 0009
"""

from alembic import op

from shared.audit.tables import create_anchor_table, drop_anchor_table
from shared.security.tables import add_token_revocation, drop_token_revocation

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_token_revocation(op)
    create_anchor_table(op)


def downgrade() -> None:
    drop_anchor_table(op)
    drop_token_revocation(op)
