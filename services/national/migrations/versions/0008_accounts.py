"""Accounts of the hosted units (shared/security): login, rotation, lockout, sealing.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

from shared.security.tables import create_security_tables, drop_security_tables

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_security_tables(op)


def downgrade() -> None:
    drop_security_tables(op)
