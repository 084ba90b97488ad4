"""Idle memory: each service instance's resident memory at rest, against 120 MB.

Starts one instance of every tier (national, province 33, county 33, school 33: the school
instance hosts the most code) as separate processes over a real broker, once to migrate their
databases and again, as production's pods start after the migration Job, without migrating
(``XUEJI_AUTO_MIGRATE=false``: Alembic's residue is not the pod's), with a queue bound to
every routing key standing for the instances not started, lets them settle
(``--settle`` s after all are ready: migrations done, consumers attached, the first periodic
rounds run), and reads each process's ``VmRSS`` (and its anonymous / file-backed parts) from
/proc. Nothing is requested: this is what an instance costs before its first user.

    python -m bench.idle_memory [--settle S] [--country [--tables]]   (BENCH_DB=postgresql)
Target: < 120 MB RSS per instance at rest (printed as met / NOT met, never enforced).

``--country`` runs the same instances with a country's federation file: the repository's
units plus those of ``bench.federation_scale`` (3,000 counties, 500,000 schools, ~630
instances that are not started), with every instance's signing key in the trust file, as
each instance of a real deployment loads them. The added schools are in a school directory
(decision 0052); ``--tables`` writes them as ``[[school]]`` tables instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika

from bench.federation_scale import configuration
from bench.infra import amqp_url, describe, load, postgres_server
from devtools.launcher import LocalFederation
from devtools.testing import dump_toml, federation_copy, instance_name, write_school_directory
from shared.messaging.topology import declare_exchanges

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


def add_a_country(config: Path, *, directory: bool = True) -> int:
    """Add a country's units and instances to the federation file ``config`` (codes the file
    already names are left as they are); the number of schools it then names. With
    ``directory`` the added schools go into a school directory beside the file (the form a
    country's file takes, decision 0052), else into ``[[school]]`` tables."""
    with config.open("rb") as handle:
        data = tomllib.load(handle)
    country = configuration(3000, 500_000, 300)
    for key in ("province", "county", "school"):
        known = {entry["code"] for entry in data.get(key, [])}
        country[key] = [e for e in country[key] if e["code"] not in known]
    data["province"] = [*data.get("province", []), *country["province"]]
    data["county"] = [*data.get("county", []), *country["county"]]
    taken = {
        code
        for instance in data["instance"]
        for code in (*instance["units"], *instance.get("cities", []))
    }
    names = {instance["name"] for instance in data["instance"]}
    host: dict[str, str] = {}
    for instance in country["instance"]:
        units = [code for code in instance["units"] if code not in taken]
        if not units or instance["tier"] == "national":
            continue
        name = f"{instance['name']}-country"
        assert name not in names
        if directory and instance["tier"] == "school":
            host.update(dict.fromkeys(units, name))
            units = []
        data["instance"].append({**instance, "name": name, "units": units})
    if directory:
        write_school_directory(config.parent / "schools.csv", country["school"], host)
        data["school_directory"] = "schools.csv"
    else:
        data["school"] = [*data.get("school", []), *country["school"]]
    config.write_text(dump_toml(data), encoding="utf-8")
    return len(data.get("school", [])) + len(country["school"]) * directory


@contextlib.asynccontextmanager
async def routed_anywhere(url: str) -> AsyncIterator[None]:
    """A queue bound to every routing key, standing for the instances not started: each has
    its queue in a deployment, so the messages the started ones send them (national's daily
    figures to every county) are routed as there, not returned and retried with back-off."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        events, _ = await declare_exchanges(channel)
        sink = await channel.declare_queue(exclusive=True, arguments={"x-max-length": 100_000})
        await sink.bind(events, "#")
        yield
    finally:
        await connection.close()


async def run(settle: float, country: bool, directory: bool) -> list[tuple[str, dict[str, float]]]:
    with (
        amqp_url() as url,
        tempfile.TemporaryDirectory(prefix="xueji-bench-") as scratch,
        postgres_server() as pg,
    ):
        if pg is None:  # postgres_server() printed its settings
            print(describe(None), flush=True)
        config = federation_copy(Path(scratch) / "config")
        if country:
            schools = add_a_country(config, directory=directory)
            form = "a school directory" if directory else "[[school]] tables"
            print(f"  a country's federation file: {schools:,} schools in {form}", flush=True)
        urls: dict[str, str] = {}

        def database_url(name: str) -> str:  # one database per instance, for both starts
            if pg is not None and name not in urls:
                urls[name] = pg.create_database(name.replace("-", "_"))
            return urls[name]

        def federation(auto_migrate: bool) -> LocalFederation:
            return LocalFederation(
                config,
                Path(scratch) / "data",
                url,
                database_url_for=database_url if pg else None,
                extra_env={
                    "XUEJI_RELAY_POLL_INTERVAL": "0.2",
                    "XUEJI_AUTO_MIGRATE": "true" if auto_migrate else "false",
                },
                die_with_parent=True,
            )

        names = [instance_name(config, base) for base in INSTANCES]
        # First the migrations, as production's Job runs them (a pod does not migrate: its
        # memory at rest is not Alembic's)
        migrating = federation(auto_migrate=True)
        try:
            migrating.start_instances(names, timeout=180)
        finally:
            migrating.stop()
        running = federation(auto_migrate=False)
        try:
            async with routed_anywhere(url):
                running.start_instances(names, timeout=180)
                await asyncio.sleep(settle)
                return [(name.rsplit("-", 1)[0], memory(pid)) for name, pid in running.pids.items()]
        finally:
            running.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_memory")
    parser.add_argument("--settle", type=float, default=15.0)
    parser.add_argument("--country", action="store_true", help="a country's federation file")
    parser.add_argument(
        "--tables", action="store_true", help="with --country: schools as [[school]] tables"
    )
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    figures = asyncio.run(run(args.settle, args.country, not args.tables))
    which = "a country's federation file" if args.country else "the repository's federation file"
    print(
        f"idle memory per service instance, {args.settle:g} s after ready, {which}"
        f" ({started}, {load()}):"
    )
    for name, mem in figures:
        verdict = "met" if mem["VmRSS"] < TARGET_MB else "NOT met"
        print(
            f"  {name:12s} RSS {mem['VmRSS']:6.1f} MB (anonymous {mem['RssAnon']:.1f},"
            f" files {mem['RssFile']:.1f}; peak {mem['VmHWM']:.1f})"
            f"  target < {TARGET_MB:.0f} MB -> {verdict}"
        )


if __name__ == "__main__":
    main()
