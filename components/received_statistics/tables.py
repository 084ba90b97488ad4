"""The tables of figures received (``statistics_received``) and of periods published
(``statistics_published``), defined in the hosting service's metadata."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import JSON, Column, Date, DateTime, Integer, MetaData, String, Table


@dataclass(frozen=True)
class StatisticsTables:
    received: Table | None
    published: Table | None


def define_received(metadata: MetaData) -> Table:
    # One row per (unit, period, kind): the primary key is the (unit, period) lookup's index.
    return Table(
        "statistics_received",
        metadata,
        Column("unit", String(24), primary_key=True),  # county:410102
        Column("period", Date, primary_key=True),  # the Beijing day the figures are of
        Column("kind", String(24), primary_key=True),  # county_figures | county_extended …
        Column("source", String(24), nullable=False),  # national:CN, province:41
        Column("as_of", DateTime(timezone=True), nullable=True),  # a census moment, if any
        Column("computed_at", DateTime(timezone=True), nullable=False),
        Column("figures", JSON, nullable=False),  # the message's rows and totals
        Column("received_at", DateTime(timezone=True), nullable=False),
    )


def define_published(metadata: MetaData) -> Table:
    # One row per (publisher unit, period): a periodic run sends a period once.
    return Table(
        "statistics_published",
        metadata,
        Column("unit", String(24), primary_key=True),
        Column("period", Date, primary_key=True),
        Column("messages", Integer, nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=False),
    )
