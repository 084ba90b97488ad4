"""``python -m bench``: every benchmark in turn, each printing its own figures.

``BENCH_SCALE=full`` runs the larger sizes; ``BENCH_DB=postgresql`` uses PostgreSQL.
"""

import asyncio
import os

import uvloop

from bench import (
    bulk_admission,
    console_pages,
    driver_overhead,
    kernel_throughput,
    transfer_latency,
)

FULL = os.environ.get("BENCH_SCALE", "quick") == "full"

print("== messaging kernel vs bare broker")
asyncio.run(kernel_throughput.main(50_000 if FULL else 20_000))
print("== bulk admission")
asyncio.run(bulk_admission.main(100_000))
if os.environ.get("BENCH_DB") == "postgresql":
    print("== a statement and a transaction through asyncpg, SQLAlchemy and the ORM session")
    uvloop.run(driver_overhead.main())  # the services' event loop
print("== cross-province transfer latency")
asyncio.run(transfer_latency.main(50, 30 if FULL else 10))
print("== console pages (3,000-student school)")
asyncio.run(console_pages.main(200))
