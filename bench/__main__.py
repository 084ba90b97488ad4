"""``python -m bench``: every benchmark in turn, each printing its own figures."""

import asyncio
import os

from bench import kernel_throughput

SCALE = os.environ.get("BENCH_SCALE", "quick")

asyncio.run(kernel_throughput.main(50_000 if SCALE == "full" else 20_000))
