"""A version per polled list and unit (shared/db/list_versions.py, decision 0020): task lists
answer 304 from it without running their page query.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

from shared.db.list_versions import create_list_version_table, drop_list_version_table

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_list_version_table(op)


def downgrade() -> None:
    drop_list_version_table(op)
