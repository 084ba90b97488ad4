"""Column types every tier's tables share."""

from sqlalchemy import BigInteger, Integer

# Autoincrement BIGINT on PostgreSQL; INTEGER PRIMARY KEY (the rowid) on SQLite, the only
# integer type SQLite autoincrements.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

# The largest integer both databases hold (BIGINT; SQLite's 64-bit INTEGER). A larger number
# fails in the driver, so query parameters that reach SQL (offsets, cursors) are bounded by it
# and refused with a 422 at the edge.
SQL_INT_MAX = 2**63 - 1
