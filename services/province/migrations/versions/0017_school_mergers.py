"""School mergers and closures the province, or a city it hosts, decided for the schools it
runs, with their reports (N2013 art. 9; decision 0049).

Revision ID: 0017
Revises: 0016
"""

from alembic import op

from components.school_mergers.migrations import create_merger_table, drop_merger_table

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_merger_table(op)


def downgrade() -> None:
    drop_merger_table(op)
