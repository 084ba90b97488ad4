"""A periodic job's lease: one runner at a time across replicas sharing a PostgreSQL database."""

from __future__ import annotations

from shared.db.engine import make_engine, make_session_factory
from shared.db.lease import lease_key, try_lease


def test_lease_keys_are_stable_signed_32_bit_integers() -> None:
    keys = {lease_key(name) for name in ("transfer-deadline-sweep", "suspension-sweep", "x")}
    assert len(keys) == 3
    assert all(-(2**31) <= key < 2**31 for key in keys)
    assert lease_key("transfer-deadline-sweep") == lease_key("transfer-deadline-sweep")


async def test_one_holder_at_a_time_released_with_the_transaction(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    try:
        async with sessions() as first:
            assert await try_lease(first, "transfer-deadline-sweep")
            if engine.dialect.name == "postgresql":
                async with sessions() as second:  # another replica, while the first holds it
                    assert not await try_lease(second, "transfer-deadline-sweep")
                    assert await try_lease(second, "suspension-sweep")  # another job: free
                    await second.rollback()
            await first.commit()  # the lease ends with the transaction
        async with sessions() as third:
            assert await try_lease(third, "transfer-deadline-sweep")
            await third.rollback()
    finally:
        await engine.dispose()
