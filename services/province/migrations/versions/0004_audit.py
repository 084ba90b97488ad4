"""The audit trail: the chained, append-only entries and the chain head.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from shared.audit.tables import create_audit_tables, drop_audit_tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_tables(op)


def downgrade() -> None:
    drop_audit_tables(op)
