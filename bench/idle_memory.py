"""Idle memory: each service instance's resident memory at rest, against 120 MB.

Starts one instance of every tier (national, province 33, county 33, school 33: the school
instance hosts the most code) as separate processes over a real broker, lets them settle
(``--settle`` s after all are ready: migrations done, consumers attached, the first periodic
rounds run), and reads each process's ``VmRSS`` (and its anonymous / file-backed parts) from
/proc. Nothing is requested: this is what an instance costs before its first user.

    python -m bench.idle_memory [--settle S]     (BENCH_DB=postgresql for PostgreSQL)
Target: < 120 MB RSS per instance at rest (printed as met / NOT met, never enforced).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.infra import amqp_url, describe, load, postgres_server
from devtools.launcher import LocalFederation
from devtools.testing import federation_copy, instance_name

INSTANCES = ("national", "province-33", "county-33", "school-33")
TARGET_MB = 120.0


def memory(pid: int) -> dict[str, float]:
    """VmRSS, RssAnon and RssFile of a process, in MB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


async def run(settle: float) -> list[tuple[str, dict[str, float]]]:
    with (
        amqp_url() as url,
        tempfile.TemporaryDirectory(prefix="xueji-bench-") as scratch,
        postgres_server() as pg,
    ):
        if pg is None:  # postgres_server() printed its settings
            print(describe(None), flush=True)
        config = federation_copy(Path(scratch) / "config")
        federation = LocalFederation(
            config,
            Path(scratch) / "data",
            url,
            database_url_for=(lambda name: pg.create_database(name.replace("-", "_")))
            if pg
            else None,
            extra_env={"XUEJI_RELAY_POLL_INTERVAL": "0.2"},
            die_with_parent=True,
        )
        try:
            for base in INSTANCES:
                federation.start_instance(instance_name(config, base), timeout=180)
            await asyncio.sleep(settle)
            return [(name.rsplit("-", 1)[0], memory(pid)) for name, pid in federation.pids.items()]
        finally:
            federation.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_memory")
    parser.add_argument("--settle", type=float, default=15.0)
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    figures = asyncio.run(run(args.settle))
    print(f"idle memory per service instance, {args.settle:g} s after ready ({started}, {load()}):")
    for name, mem in figures:
        verdict = "met" if mem["VmRSS"] < TARGET_MB else "NOT met"
        print(
            f"  {name:12s} RSS {mem['VmRSS']:6.1f} MB (anonymous {mem['RssAnon']:.1f},"
            f" files {mem['RssFile']:.1f}; peak {mem['VmHWM']:.1f})"
            f"  target < {TARGET_MB:.0f} MB -> {verdict}"
        )


if __name__ == "__main__":
    main()
