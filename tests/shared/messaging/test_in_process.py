"""The in-process delivery harness applies messages the way the consumer does: through the
handler registry, the inbox and set-based runs, in one transaction, and shows what was staged."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from shared.db.engine import SessionFactory, make_engine, make_session_factory
from shared.federation.config import Tier, UnitRef
from shared.messaging.envelope import Contract, contract
from shared.messaging.errors import PermanentMessageError
from shared.messaging.handlers import HandlerContext, HandlerRegistry
from shared.messaging.tables import kernel_metadata, outbox
from shared.messaging.testing import InProcessDelivery

metadata = MetaData()
effect = Table(
    "harness_effect",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(60), nullable=False),
)
SOURCE = UnitRef(tier=Tier.COUNTY, code="410102")
TARGET = UnitRef(tier=Tier.SCHOOL, code="4101020001")


@contract("harness.one", 1, senders=[Tier.COUNTY], targets=[Tier.SCHOOL])
class One(Contract):
    key: str
    fail: bool = False


@contract("harness.many", 1, senders=[Tier.COUNTY], targets=[Tier.SCHOOL])
class Many(Contract):
    key: str


@contract("harness.unhandled", 1, senders=[Tier.COUNTY], targets=[Tier.SCHOOL])
class Unhandled(Contract):
    """No handler of the service takes it."""


class Service:
    """Handlers that write one row per message and answer the source with an echo."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.runs: list[int] = []
        self.handlers = HandlerRegistry()
        self.handlers.register(One, self.one)
        self.handlers.register_many(Many, self.many)
        self.delivery = InProcessDelivery(sessions, self.handlers)
        self.sessions = sessions

    async def one(self, ctx: HandlerContext, payload: One) -> None:
        await ctx.session.execute(insert(effect).values(key=payload.key))
        await ctx.emit(Many(key=f"echo {payload.key}"), target=ctx.envelope.source)
        if payload.fail:
            raise RuntimeError("the handler failed after writing and emitting")

    async def many(self, contexts: Sequence[HandlerContext], payloads: Sequence[Many]) -> None:
        self.runs.append(len(payloads))
        await contexts[0].session.execute(insert(effect), [{"key": p.key} for p in payloads])

    async def rows(self) -> list[str]:
        async with self.sessions() as session:
            query = select(effect.c.key).order_by(effect.c.id)
            return list((await session.execute(query)).scalars())

    async def outbox_rows(self) -> int:
        async with self.sessions() as session:
            query = select(func.count()).select_from(outbox)
            return int((await session.execute(query)).scalar_one())


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Service]:
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(kernel_metadata.create_all)
        await conn.run_sync(metadata.create_all)
    yield Service(make_session_factory(engine))
    await engine.dispose()


async def test_a_message_is_applied_and_what_its_handler_staged_is_returned(
    service: Service,
) -> None:
    delivered = await service.delivery.deliver(One(key="a"), source=SOURCE, target=TARGET)

    assert await service.rows() == ["a"]
    [echo] = delivered.staged
    assert (echo.type, echo.source, echo.target) == ("harness.many", TARGET, SOURCE)
    assert echo.correlation_id == delivered.envelope.correlation_id
    assert echo.causation_id == delivered.envelope.message_id
    assert await service.outbox_rows() == 1  # committed


async def test_the_inbox_skips_an_envelope_seen_before(service: Service) -> None:
    first = await service.delivery.deliver(One(key="a"), source=SOURCE, target=TARGET)
    again = await service.delivery.apply(first.envelopes)

    assert (first.applied, again.applied, again.staged) == (1, 0, [])
    assert await service.rows() == ["a"]


async def test_a_run_goes_to_the_set_based_handler_at_once(service: Service) -> None:
    payloads = [Many(key="x"), Many(key="y"), Many(key="z")]
    delivered = await service.delivery.deliver_run(payloads, source=SOURCE, target=TARGET)

    assert (delivered.applied, service.runs) == (3, [3])
    assert await service.rows() == ["x", "y", "z"]


async def test_a_failing_handler_leaves_nothing_behind(service: Service) -> None:
    with pytest.raises(RuntimeError):
        await service.delivery.deliver(One(key="a", fail=True), source=SOURCE, target=TARGET)

    assert (await service.rows(), await service.outbox_rows()) == ([], 0)
    # not recorded in the inbox either: the same message applies once it can
    retried = await service.delivery.deliver(One(key="a"), source=SOURCE, target=TARGET)
    assert retried.applied == 1


async def test_a_message_no_handler_takes_is_refused_for_good(service: Service) -> None:
    with pytest.raises(PermanentMessageError, match="unknown message type"):
        await service.delivery.deliver(Unhandled(), source=SOURCE, target=TARGET)
