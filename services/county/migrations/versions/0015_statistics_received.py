"""The figures national and the province send the county (decision 0047): one row per
(unit, period, kind), replaced by a re-delivery or a re-run.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

from components.received_statistics.migrations import create_received_table, drop_received_table

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_received_table(op)


def downgrade() -> None:
    drop_received_table(op)
