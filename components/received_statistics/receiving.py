"""The handlers of the figures a unit receives: each checks the message is the unit's own and
comes from the unit that computes it, then keeps it (one upsert).

- ``statistics.county_figures`` / ``statistics.province_figures``: from national only, about
  the receiving county's own schools (the receiving province's own counties);
- ``statistics.county_extended``: from the county's own province only (another province's
  figures are a security refusal, ``not_a_party``: dead-lettered, logged and counted).

A re-delivered message or a re-run's replaces the row of its (unit, period, kind); a message
computed earlier than the row it would replace changes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared.contracts.statistics import CountyExtended, CountyFigures, ProvinceFigures
from shared.federation.config import NATIONAL, Federation, Tier, UnitRef
from shared.messaging.authorization import refuse, require_source
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext, HandlerRegistry
from shared.runtime.service import ServiceRuntime

log = logging.getLogger(__name__)

COUNTY_FIGURES = "county_figures"
PROVINCE_FIGURES = "province_figures"
COUNTY_EXTENDED = "county_extended"


def register(handlers: HandlerRegistry, runtime: ServiceRuntime, table: Table) -> None:
    """A county keeps national's and its province's figures; a province national's."""
    federation = runtime.federation
    if runtime.tier == Tier.COUNTY:

        async def on_county_figures(ctx: HandlerContext, sent: CountyFigures) -> None:
            require_source(ctx, NATIONAL, "a county's basic figures")
            _own_county(ctx, federation, sent.county_code, [row[0] for row in sent.rows])
            figures = sent.model_dump(mode="json", include={"rows", "movements"})
            await keep(ctx, table, COUNTY_FIGURES, sent.period, sent.computed_at, figures,
                       as_of=sent.as_of)  # fmt: skip

        async def on_county_extended(ctx: HandlerContext, sent: CountyExtended) -> None:
            county = federation.county(sent.county_code)
            province = UnitRef(tier=Tier.PROVINCE, code=county.province if county else "00")
            if ctx.envelope.source != province:
                raise refuse(ctx, f"only {province} counts the non-basic figures of its counties")
            _own_county(ctx, federation, sent.county_code, [row[0] for row in sent.rows])
            figures = sent.model_dump(
                mode="json", include={"rows", "archives_overdue", "dropout_archives_overdue"}
            )
            await keep(ctx, table, COUNTY_EXTENDED, sent.period, sent.computed_at, figures)

        handlers.register(CountyFigures, on_county_figures)
        handlers.register(CountyExtended, on_county_extended)
    elif runtime.tier == Tier.PROVINCE:

        async def on_province_figures(ctx: HandlerContext, sent: ProvinceFigures) -> None:
            require_source(ctx, NATIONAL, "a province's basic figures")
            if ctx.unit.tier != Tier.PROVINCE or sent.province_code != ctx.unit.code:
                raise PermanentMessageError(f"figures of {sent.province_code} sent to {ctx.unit}")
            foreign = {row[0] for row in sent.rows if row[0][:2] != sent.province_code}
            if foreign:
                raise PermanentMessageError(f"counties {sorted(foreign)} are not in {ctx.unit}")
            figures = sent.model_dump(mode="json", include={"rows"})
            await keep(ctx, table, PROVINCE_FIGURES, sent.period, sent.computed_at, figures,
                       as_of=sent.as_of)  # fmt: skip

        handlers.register(ProvinceFigures, on_province_figures)


def _own_county(
    ctx: HandlerContext, federation: Federation, county: str, schools: list[str]
) -> None:
    """The figures are of the receiving county, and of its schools only."""
    if ctx.unit.tier != Tier.COUNTY or county != ctx.unit.code:
        raise PermanentMessageError(f"figures of county {county} sent to {ctx.unit}")
    own = {s.code for s in federation.schools_of_county(county)}
    foreign = sorted(set(schools) - own)
    if foreign:
        raise PermanentMessageError(f"schools {foreign[:5]} are not in county {county}")


async def keep(
    ctx: HandlerContext,
    table: Table,
    kind: str,
    period: Any,
    computed_at: datetime,
    figures: dict[str, Any],
    *,
    as_of: datetime | None = None,
) -> None:
    """One row per (unit, period, kind): inserted, or replaced unless it is newer."""
    row = {
        "unit": str(ctx.unit),
        "period": period,
        "kind": kind,
        "source": str(ctx.envelope.source),
        "as_of": as_of,
        "computed_at": computed_at,
        "figures": figures,
        "received_at": datetime.now(computed_at.tzinfo),
    }
    dialect = ctx.session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).values(row)
    keys = ("unit", "period", "kind")
    await ctx.session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys],
            set_={k: statement.excluded[k] for k in row if k not in keys},
            where=table.c.computed_at <= statement.excluded.computed_at,
        )
    )
    log.info("%s figures of %s for %s kept", kind, ctx.unit, period)
