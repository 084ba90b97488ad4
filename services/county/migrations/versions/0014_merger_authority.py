"""The school merger table shared with the province and its cities (decision 0049): the
deciding unit as ``authority_unit`` (``county:410102``) instead of ``county_code``.

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
    op.drop_index("ix_school_merger_county", table_name="school_merger")
    with op.batch_alter_table("school_merger") as batch:
        batch.add_column(sa.Column("authority_unit", sa.String(20), nullable=True))
    op.execute("UPDATE school_merger SET authority_unit = 'county:' || county_code")
    with op.batch_alter_table("school_merger") as batch:
        batch.alter_column("authority_unit", existing_type=sa.String(20), nullable=False)
        batch.drop_column("county_code")
    op.create_index(
        "ix_school_merger_authority", "school_merger", ["authority_unit", "requested_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_school_merger_authority", table_name="school_merger")
    with op.batch_alter_table("school_merger") as batch:
        batch.add_column(sa.Column("county_code", sa.String(6), nullable=True))
    op.execute("UPDATE school_merger SET county_code = substr(authority_unit, 8)")
    with op.batch_alter_table("school_merger") as batch:
        batch.alter_column("county_code", existing_type=sa.String(6), nullable=False)
        batch.drop_column("authority_unit")
    op.create_index("ix_school_merger_county", "school_merger", ["county_code", "requested_at"])
