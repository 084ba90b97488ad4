"""Export requests (approval objects) and their produced CSV until it expires.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from components.exports.tables import export

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    export.create(op.get_bind())


def downgrade() -> None:
    export.drop(op.get_bind())
