"""The August 10 promotion outside the status history (decision 0046): the registry's update
trigger leaves out the run's grade-only changes, and ``promotion_run.last_period_id`` records
the periods whose grades the run moved (statistics apply the runs to them:
``service_layer/grade_shift.py``).

What the trigger leaves out is exactly the run's UPDATE, recognised from the run's own
records: a change of the grade alone, by one, of an enrolled student, at the moment
(``updated_at``) of a run that recorded its ``last_period_id``, at a school of that run below
its graduating grade — what ``promotion.py`` does and nothing else. Any other writer (a
correction of the grade, a transfer, a status change) still writes its period.

SQLite: the row trigger's WHEN says so (a look-up of the run by its time and of the school by
the run's key, for grade-only changes only). PostgreSQL: the statement trigger becomes a row
trigger whose WHEN recognises the run by a setting of the run's own transaction (see
``_POSTGRESQL`` for why).

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_COLUMNS = "entry_id, school_code, province_code, grade, status, gender, ethnicity, temporary"
_CHANGED = """
    OLD.school_code IS NOT NEW.school_code OR OLD.province_code IS NOT NEW.province_code
      OR OLD.grade IS NOT NEW.grade OR OLD.status IS NOT NEW.status
      OR OLD.gender IS NOT NEW.gender OR OLD.ethnicity IS NOT NEW.ethnicity
      OR (OLD.student_number LIKE 'L%') IS NOT (NEW.student_number LIKE 'L%')
"""
_BODY = f"""
    BEGIN
      UPDATE registry_period SET valid_to = NEW.updated_at
      WHERE entry_id = NEW.entry_id AND valid_to IS NULL;
      INSERT INTO registry_period ({_COLUMNS}, valid_from, prev_school, prev_grade, prev_status)
      VALUES (NEW.entry_id, NEW.school_code, NEW.province_code, NEW.grade, NEW.status,
              NEW.gender, NEW.ethnicity, NEW.student_number LIKE 'L%', NEW.updated_at,
              OLD.school_code, OLD.grade, OLD.status);
    END
"""
_SQLITE_OLD = f"""
    CREATE TRIGGER trg_registry_period_update AFTER UPDATE ON registry_entry
    WHEN {_CHANGED}
    {_BODY}
"""
_SQLITE = f"""
    CREATE TRIGGER trg_registry_period_update AFTER UPDATE ON registry_entry
    WHEN ({_CHANGED}) AND NOT (
      NEW.grade = OLD.grade + 1 AND OLD.status = 'enrolled'
      AND OLD.school_code IS NEW.school_code AND OLD.province_code IS NEW.province_code
      AND OLD.status IS NEW.status AND OLD.gender IS NEW.gender
      AND OLD.ethnicity IS NEW.ethnicity
      AND (OLD.student_number LIKE 'L%') IS (NEW.student_number LIKE 'L%')
      AND EXISTS (
        SELECT 1 FROM promotion_run r
        JOIN promotion_school s ON s.school_year = r.school_year
        WHERE r.ran_at = NEW.updated_at AND r.last_period_id IS NOT NULL
          AND s.school_code = NEW.school_code AND OLD.grade < s.graduating_grade))
    {_BODY}
"""
_FACTS = "school_code, province_code, grade, status, gender, ethnicity"


def _statement_function() -> str:
    """Decision 0039's statement trigger function (what the downgrade puts back)."""
    return f"""
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
    """


# PostgreSQL: a row trigger whose WHEN leaves the run's changes out before any call is queued.
# A statement trigger with transition tables cannot: PostgreSQL captures every old and new row
# of the statement for it before the function could skip them (measured at 1,000,000
# students: the capture alone cost half of the trigger-free run; decision 0046). A WHEN clause
# cannot read a table, so the run says so itself: ``promotion.py`` sets ``xueji.promotion_at``
# to its time for its own transaction only (``set_config(..., true)``) right before its UPDATE
# and clears it right after; the WHEN also requires the grade-only change by one of an
# enrolled student stamped with exactly that time. Every other writer changes one student or
# a few thousand per statement (a merger's batch), where a row trigger costs little.
_ROW_CHANGED = """
    OLD.school_code IS DISTINCT FROM NEW.school_code
      OR OLD.province_code IS DISTINCT FROM NEW.province_code
      OR OLD.grade IS DISTINCT FROM NEW.grade OR OLD.status IS DISTINCT FROM NEW.status
      OR OLD.gender IS DISTINCT FROM NEW.gender OR OLD.ethnicity IS DISTINCT FROM NEW.ethnicity
      OR (OLD.student_number LIKE 'L%') IS DISTINCT FROM (NEW.student_number LIKE 'L%')
"""
_POSTGRESQL = [
    "DROP TRIGGER trg_registry_period_update ON registry_entry",
    "DROP FUNCTION registry_period_updated()",
    f"""
    CREATE FUNCTION registry_period_row_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE registry_period SET valid_to = NEW.updated_at
      WHERE entry_id = NEW.entry_id AND valid_to IS NULL;
      INSERT INTO registry_period ({_COLUMNS}, valid_from, prev_school, prev_grade, prev_status)
      VALUES (NEW.entry_id, NEW.school_code, NEW.province_code, NEW.grade, NEW.status,
              NEW.gender, NEW.ethnicity, NEW.student_number LIKE 'L%', NEW.updated_at,
              OLD.school_code, OLD.grade, OLD.status);
      RETURN NULL;
    END $$
    """,
    f"""
    CREATE TRIGGER trg_registry_period_update AFTER UPDATE ON registry_entry
    FOR EACH ROW WHEN (({_ROW_CHANGED}) AND NOT (
      NEW.grade = OLD.grade + 1 AND OLD.status = 'enrolled'
      AND OLD.school_code = NEW.school_code AND OLD.province_code = NEW.province_code
      AND OLD.status = NEW.status AND OLD.gender = NEW.gender
      AND OLD.ethnicity IS NOT DISTINCT FROM NEW.ethnicity
      AND (OLD.student_number LIKE 'L%') = (NEW.student_number LIKE 'L%')
      AND NEW.updated_at::text = coalesce(current_setting('xueji.promotion_at', true), '')))
    EXECUTE FUNCTION registry_period_row_updated()
    """,
]
_POSTGRESQL_OLD = [
    "DROP TRIGGER trg_registry_period_update ON registry_entry",
    "DROP FUNCTION registry_period_row_updated()",
    _statement_function(),
    """
    CREATE TRIGGER trg_registry_period_update AFTER UPDATE ON registry_entry
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION registry_period_updated()
    """,
]


def upgrade() -> None:
    with op.batch_alter_table("promotion_run") as batch:
        batch.add_column(sa.Column("last_period_id", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        for statement in _POSTGRESQL:
            op.execute(statement)
    else:
        op.execute("DROP TRIGGER trg_registry_period_update")
        op.execute(_SQLITE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _POSTGRESQL_OLD:
            op.execute(statement)
    else:
        op.execute("DROP TRIGGER trg_registry_period_update")
        op.execute(_SQLITE_OLD)
    with op.batch_alter_table("promotion_run") as batch:
        batch.drop_column("last_period_id")
