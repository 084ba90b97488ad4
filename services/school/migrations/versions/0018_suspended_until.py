"""The roster keeps, while a student is suspended, the day the suspension ends: the school
lists the suspensions that are over (HA art. 13(三); LS 2(二)3; ZJ art. 15).

Revision ID: 0018
Revises: 0017
"""

import json
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("school_student") as batch:
        batch.add_column(sa.Column("suspended_until", sa.Date(), nullable=True))
    op.create_index(
        "ix_school_student_suspended_until", "school_student", ["school_code", "suspended_until"]
    )
    # Students suspended today: their suspension's end from the change that applied it.
    rows = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT s.school_code, s.student_number, c.outcome FROM school_student s "
                "JOIN school_status_change c ON c.school_code = s.school_code "
                "AND c.student_number = s.student_number "
                "WHERE s.status = 'suspended' AND c.status = 'applied' "
                "AND c.change IN ('suspend', 'extend_suspension') ORDER BY c.decided_at"
            )
        )
        .all()
    )
    until: dict[tuple[str, str], str] = {}
    for school_code, number, outcome in rows:
        value = outcome if isinstance(outcome, dict) else _json(outcome)
        if value.get("suspended_until"):
            until[(school_code, number)] = value["suspended_until"]
    if until:  # one executemany
        op.get_bind().execute(
            sa.text(
                "UPDATE school_student SET suspended_until = :day "
                "WHERE school_code = :school AND student_number = :number"
            ),
            [
                {"day": date.fromisoformat(day), "school": school_code, "number": number}
                for (school_code, number), day in until.items()
            ],
        )


def _json(text: object) -> dict[str, str]:
    return json.loads(text) if isinstance(text, str) else {}


def downgrade() -> None:
    op.drop_index("ix_school_student_suspended_until", table_name="school_student")
    with op.batch_alter_table("school_student") as batch:
        batch.drop_column("suspended_until")
