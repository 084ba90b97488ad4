"""The login throttle (shared/security/throttle.py, decision 0026): failures per account and
per client address, the addresses each account logged in from, and the failed-login notice.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

from shared.security.tables import create_login_throttle_tables, drop_login_throttle_tables

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_login_throttle_tables(op)


def downgrade() -> None:
    drop_login_throttle_tables(op)
