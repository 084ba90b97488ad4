"""Column types every tier's tables share."""

from sqlalchemy import BigInteger, Integer

# Autoincrement BIGINT on PostgreSQL; INTEGER PRIMARY KEY (the rowid) on SQLite, the only
# integer type SQLite autoincrements.
AutoId = BigInteger().with_variant(Integer(), "sqlite")
