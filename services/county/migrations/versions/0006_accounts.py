"""Accounts of the hosted units (shared/security): login, rotation, lockout, sealing.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from shared.security.tables import create_security_tables, drop_security_tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_security_tables(op)


def downgrade() -> None:
    drop_security_tables(op)
