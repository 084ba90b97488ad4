"""The unit and (for the system) the rule behind a registration's outcome, so that section 1
of the archive names the officer and unit that approved it (decision 0043).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "registration_outcome", sa.Column("decided_unit", sa.String(length=40), nullable=True)
    )
    op.add_column(
        "registration_outcome", sa.Column("decided_rule", sa.String(length=80), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("registration_outcome") as batch:
        batch.drop_column("decided_rule")
        batch.drop_column("decided_unit")
