"""``status_client``: the client systems registered for status checks, one row each.

``secret_hash`` is the SHA-256 of a 256-bit random secret: a secret that long needs no slow
hash (nothing to guess), so a check costs one primary-key read. ``window_minute`` /
``window_calls`` count the calls of the current minute (the client's rate limit), updated
in the check's own statement.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table


def define_client_table(metadata: MetaData) -> Table:
    return Table(
        "status_client",
        metadata,
        Column("client_id", String(40), primary_key=True),
        Column("name", String(100), nullable=False),
        Column("purposes", JSON, nullable=False),  # [{"code", "claims", "basis"}]
        Column("rate_per_minute", Integer, nullable=False),
        Column("secret_hash", String(64), nullable=False),
        Column("registered_by", String(60), nullable=False),
        Column("registered_at", DateTime(timezone=True), nullable=False),
        Column("revoked_by", String(60), nullable=True),
        Column("revoked_at", DateTime(timezone=True), nullable=True),
        Column("window_minute", Integer, nullable=False, server_default="0"),
        Column("window_calls", Integer, nullable=False, server_default="0"),
    )
