"""Statistics (decision 0039): the registry's status history (``registry_period``) kept by
triggers on ``registry_entry``, the rolled-up headcount and its watermark, early-warning
alerts.

The triggers write in the transaction that changes an entry, whatever code path changed it.
SQLite: row triggers. PostgreSQL: statement triggers with transition tables, so a statement
that changes ten million entries (the August 10 promotion) writes their periods in two
set-based statements, not ten million trigger calls. Existing entries get one open period
from their registration (their history before this migration is not known).

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_COLUMNS = "entry_id, school_code, province_code, grade, status, gender, ethnicity, temporary"
_FACTS = "school_code, province_code, grade, status, gender, ethnicity"

_SQLITE = [
    f"""
    CREATE TRIGGER trg_registry_period_insert AFTER INSERT ON registry_entry
    BEGIN
      INSERT INTO registry_period ({_COLUMNS}, valid_from)
      VALUES (NEW.entry_id, NEW.school_code, NEW.province_code, NEW.grade, NEW.status,
              NEW.gender, NEW.ethnicity, NEW.student_number LIKE 'L%', NEW.updated_at);
    END
    """,
    f"""
    CREATE TRIGGER trg_registry_period_update AFTER UPDATE ON registry_entry
    WHEN OLD.school_code IS NOT NEW.school_code OR OLD.province_code IS NOT NEW.province_code
      OR OLD.grade IS NOT NEW.grade OR OLD.status IS NOT NEW.status
      OR OLD.gender IS NOT NEW.gender OR OLD.ethnicity IS NOT NEW.ethnicity
      OR (OLD.student_number LIKE 'L%') IS NOT (NEW.student_number LIKE 'L%')
    BEGIN
      UPDATE registry_period SET valid_to = NEW.updated_at
      WHERE entry_id = NEW.entry_id AND valid_to IS NULL;
      INSERT INTO registry_period ({_COLUMNS}, valid_from, prev_school, prev_grade, prev_status)
      VALUES (NEW.entry_id, NEW.school_code, NEW.province_code, NEW.grade, NEW.status,
              NEW.gender, NEW.ethnicity, NEW.student_number LIKE 'L%', NEW.updated_at,
              OLD.school_code, OLD.grade, OLD.status);
    END
    """,
]

_POSTGRESQL = [
    f"""
    CREATE FUNCTION registry_period_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO registry_period ({_COLUMNS}, valid_from)
      SELECT entry_id, school_code, province_code, grade, status, gender, ethnicity,
             student_number LIKE 'L%', updated_at
      FROM new_rows;
      RETURN NULL;
    END $$
    """,
    f"""
    CREATE FUNCTION registry_period_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      WITH changed AS (
        SELECT n.entry_id, n.school_code, n.province_code, n.grade, n.status, n.gender,
               n.ethnicity, n.student_number LIKE 'L%' AS temporary, n.updated_at,
               o.school_code AS prev_school, o.grade AS prev_grade, o.status AS prev_status
        FROM new_rows n JOIN old_rows o ON o.entry_id = n.entry_id
        WHERE (n.{_FACTS.replace(", ", ", n.")}, n.student_number LIKE 'L%')
          IS DISTINCT FROM
              (o.{_FACTS.replace(", ", ", o.")}, o.student_number LIKE 'L%')
      ), closed AS (
        UPDATE registry_period p SET valid_to = c.updated_at
        FROM changed c WHERE p.entry_id = c.entry_id AND p.valid_to IS NULL
      )
      INSERT INTO registry_period ({_COLUMNS}, valid_from, prev_school, prev_grade, prev_status)
      SELECT {_COLUMNS}, updated_at, prev_school, prev_grade, prev_status FROM changed;
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER trg_registry_period_insert AFTER INSERT ON registry_entry
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION registry_period_inserted()
    """,
    """
    CREATE TRIGGER trg_registry_period_update AFTER UPDATE ON registry_entry
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION registry_period_updated()
    """,
]

_BACKFILL = f"""
    INSERT INTO registry_period ({_COLUMNS}, valid_from)
    SELECT entry_id, school_code, province_code, grade, status, gender, ethnicity,
           student_number LIKE 'L%', registered_at
    FROM registry_entry
"""


def upgrade() -> None:
    op.create_table(
        "registry_period",
        sa.Column("period_id", _Id, autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("school_code", sa.String(length=10), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("gender", sa.String(length=6), nullable=False),
        sa.Column("ethnicity", sa.String(length=20), nullable=True),
        sa.Column("temporary", sa.Boolean(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_school", sa.String(length=10), nullable=True),
        sa.Column("prev_grade", sa.Integer(), nullable=True),
        sa.Column("prev_status", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("period_id"),
    )
    op.create_index(
        "ix_registry_period_open",
        "registry_period",
        ["entry_id"],
        sqlite_where=sa.text("valid_to IS NULL"),
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_index("ix_registry_period_from", "registry_period", ["valid_from"])
    op.create_index(
        "ix_registry_period_to",
        "registry_period",
        ["valid_to"],
        sqlite_where=sa.text("valid_to IS NOT NULL"),
        postgresql_where=sa.text("valid_to IS NOT NULL"),
    )
    op.create_index("ix_registry_period_school", "registry_period", ["school_code", "valid_from"])
    op.create_table(
        "headcount_rollup",
        sa.Column("school_code", sa.String(length=10), nullable=False),
        sa.Column("grade", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("gender", sa.String(length=6), nullable=False),
        sa.Column("ethnicity", sa.String(length=20), nullable=False),
        sa.Column("temporary", sa.Boolean(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("students", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "school_code", "grade", "status", "gender", "ethnicity", "temporary"
        ),
    )
    op.create_index("ix_headcount_rollup_province", "headcount_rollup", ["province_code"])
    op.create_table(
        "statistics_watermark",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("applied_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "statistics_alert",
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("school_code", sa.String(length=10), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("authority_unit", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("observed", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("alert_id"),
    )
    op.create_index(
        "uq_statistics_alert_week",
        "statistics_alert",
        ["school_code", "kind", "week_start"],
        unique=True,
    )
    op.create_index(
        "ix_statistics_alert_authority", "statistics_alert", ["authority_unit", "week_start"]
    )
    op.create_index(
        "ix_statistics_alert_province", "statistics_alert", ["province_code", "week_start"]
    )
    op.execute(_BACKFILL)
    for statement in _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS trg_registry_period_update ON registry_entry"
        if op.get_bind().dialect.name == "postgresql"
        else "DROP TRIGGER IF EXISTS trg_registry_period_update"
    )
    op.execute(
        "DROP TRIGGER IF EXISTS trg_registry_period_insert ON registry_entry"
        if op.get_bind().dialect.name == "postgresql"
        else "DROP TRIGGER IF EXISTS trg_registry_period_insert"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS registry_period_updated()")
        op.execute("DROP FUNCTION IF EXISTS registry_period_inserted()")
    op.drop_table("statistics_alert")
    op.drop_table("statistics_watermark")
    op.drop_index("ix_headcount_rollup_province", table_name="headcount_rollup")
    op.drop_table("headcount_rollup")
    op.drop_table("registry_period")
