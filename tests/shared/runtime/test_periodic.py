"""The one background loop: a failed run is retried at the next interval, 0 leaves it off."""

import asyncio

from shared.runtime.periodic import Periodic


async def test_a_failed_run_is_logged_and_the_loop_goes_on() -> None:
    runs: list[int] = []
    third = asyncio.Event()

    async def run() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("the database is away")
        if len(runs) == 3:
            third.set()

    job = Periodic("test-job", run, 0.001, at_start=True)
    job.start()
    await asyncio.wait_for(third.wait(), timeout=30)
    await job.stop()
    assert not job.running
    count = len(runs)
    await asyncio.sleep(0.01)
    assert len(runs) == count  # stopped: no further run


async def test_interval_zero_never_starts() -> None:
    async def run() -> None:
        raise AssertionError("must not run")

    job = Periodic("off", run, 0)
    job.start()
    assert not job.running
    await job.stop()
