"""The federation configuration of a country: loading it, and the look-ups every flow makes.

Builds a real :class:`shared.federation.config.Federation` (the model every service loads at
start-up) for a country: 31 provinces, ``counties`` counties, ``schools`` schools, one county
instance per ten counties and the schools spread over ``school_instances`` instances, an area's
schools on one instance (the same shape ``bench.broker_scale`` declares on the broker). Then it
times the look-ups the services make per request or per message:

- ``instance_hosting(unit)``: which instance hosts a unit (a proof's URL in every transfer's
  completion, national's promotion and statistics per unit, the console);
- ``Instance.hosts_unit`` / ``ServiceRuntime.hosts``: whether this instance serves a unit (the
  accounts API, every unit-scoped request);
- ``school(code)``: a school's record (every transfer, every admission);
- ``schools_under(code)``: a province's, city's or county's schools (statistics scopes, the
  console's merger page).

    python -m bench.federation_scale [counties] [schools] [school_instances] [--directory]
    (defaults 3000 500000 300)

``--directory`` writes the schools into a school directory and loads the file as a service
does: the directory compiled into its SQLite file, each school looked up there (decision 0054);
without it, the schools are ``[[school]]`` tables held as objects.

Prints each figure with the machine's load; nothing here is a target.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bench.broker_scale import country
from bench.infra import load
from devtools.testing import dump_toml, with_schools_in_a_directory
from shared.federation.config import (
    Federation,
    Tier,
    UnitRef,
    load_federation,
)


def configuration(counties: int, schools: int, school_instances: int) -> dict[str, Any]:
    """The federation file's content (as ``tomllib`` would give it) for the generated country."""
    instances = country(counties, schools, school_instances)
    provinces = sorted({code for i in instances for tier, code in i.units if tier == "province"})
    county_codes = [code for i in instances for tier, code in i.units if tier == "county"]
    school_codes = [code for i in instances for tier, code in i.units if tier == "school"]
    return {
        "province": [{"code": p, "name": f"省{p}"} for p in provinces],
        "county": [{"code": c, "name": f"县{c}", "province": c[:2]} for c in county_codes],
        "school": [{"code": s, "name": f"学校{s}", "county": s[:6]} for s in school_codes],
        "instance": [
            {"name": i.name, "tier": i.tier, "port": 8000 + n, "units": [c for _, c in i.units]}
            for n, i in enumerate(instances)
        ],
    }


def with_a_directory(data: Mapping[str, Any], folder: Path) -> Path:
    """The federation file ``data`` written into ``folder`` with all its schools in a school
    directory, each on the instance the file had it on; the TOML file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    moved = with_schools_in_a_directory(data, folder)
    (folder / "federation.toml").write_text(dump_toml(moved), encoding="utf-8")
    return folder / "federation.toml"


def per_call_us(call: Callable[[Any], Any], arguments: list[Any]) -> tuple[float, float]:
    """Mean and p99 microseconds of ``call`` over ``arguments``, one timing each."""
    times = []
    for argument in arguments:
        started = time.perf_counter()
        call(argument)
        times.append((time.perf_counter() - started) * 1e6)
    times.sort()
    return statistics.fmean(times), times[int(len(times) * 0.99) - 1]


def rss_mb() -> float:
    """This process's resident set now (not its peak), MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("counties", type=int, nargs="?", default=3000)
    parser.add_argument("schools", type=int, nargs="?", default=500_000)
    parser.add_argument("school_instances", type=int, nargs="?", default=300)
    parser.add_argument("--calls", type=int, default=2000, help="look-ups timed per kind")
    parser.add_argument("--directory", action="store_true", help="the schools in a directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xueji-federation-") as scratch:
        os.environ["XUEJI_DIRECTORY_CACHE"] = str(Path(scratch) / "cache")
        measure(args, Path(scratch) if args.directory else None)


def measure(args: argparse.Namespace, folder: Path | None) -> None:

    print(
        f"federation of {args.counties} counties, {args.schools} schools over"
        f" {args.school_instances} school instances; {load()}"
    )
    data = configuration(args.counties, args.schools, args.school_instances)
    rng = random.Random(22)
    codes = [s["code"] for s in rng.sample(data["school"], min(args.calls, len(data["school"])))]
    if folder is not None:
        config = with_a_directory(data, folder)
        started = time.perf_counter()
        load_federation(config)
        compiled = time.perf_counter() - started
        size = sum(p.stat().st_size for p in (folder / "cache").glob("*.sqlite")) / 2**20
        print(
            f"  the directory compiled ({size:.0f} MB on disk) and the file checked in"
            f" {compiled:.1f} s"
        )
        del data
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    if folder is None:
        federation = Federation.model_validate(data)
    else:
        import shared.federation.config as loader

        loader._PARSED.clear()  # as a new process loads it: the compiled directory is reused
        federation = load_federation(config)
    loaded = time.perf_counter() - started
    gc.collect()
    held = rss_mb() - before
    print(
        f"  loaded and checked in {loaded:.1f} s; the model holds {held:.0f} MB of RSS"
        f" ({len(federation.instances)} instances)"
    )
    units = [UnitRef(tier=Tier.SCHOOL, code=code) for code in codes]
    started = time.perf_counter()
    federation.instance_hosting(units[0])  # a first look-up may build what the others use
    first = (time.perf_counter() - started) * 1e3
    mean, p99 = per_call_us(federation.instance_hosting, units)
    print(
        f"  instance_hosting(school): first {first:.1f} ms, then mean {mean:.1f} µs,"
        f" p99 {p99:.1f} µs"
    )
    school_instance = federation.instance_hosting(units[0])
    assert school_instance is not None
    own = [UnitRef(tier=Tier.SCHOOL, code=code) for code in school_instance.units[: args.calls]]
    mean, p99 = per_call_us(school_instance.hosts_unit, own)
    print(
        f"  one instance's hosts_unit ({len(school_instance.units)} schools hosted):"
        f" mean {mean:.1f} µs, p99 {p99:.1f} µs"
    )
    mean, p99 = per_call_us(school_instance.hosts_code, [u.code for u in own])
    print(f"  one instance's hosts_code: mean {mean:.1f} µs, p99 {p99:.1f} µs")
    started = time.perf_counter()
    federation.school(codes[0])
    first = (time.perf_counter() - started) * 1e3
    mean, p99 = per_call_us(federation.school, codes)
    print(f"  school(code): first {first:.1f} ms, then mean {mean:.1f} µs, p99 {p99:.1f} µs")
    provinces = [p.code for p in federation.provinces]
    started = time.perf_counter()
    federation.schools_under(provinces[0])
    first = (time.perf_counter() - started) * 1e3
    mean, p99 = per_call_us(federation.schools_under, provinces)
    print(
        f"  schools_under(province) (~{len(federation.schools) // len(provinces):,} schools):"
        f" first {first:.1f} ms, then mean {mean / 1000:.2f} ms, p99 {p99 / 1000:.2f} ms"
    )
    searches: list[tuple[str, str, str | None]] = [
        ("", "", None),
        ("", codes[0][:7], None),
        (provinces[1], "学校", codes[1]),
    ]
    for under, search, after in searches:
        mean, p99 = per_call_us(
            lambda query: federation.schools_matching(query[0], query[1], query[2], 51),
            [(under, search, after)] * 20,
        )
        print(
            f"  a page of 50 schools (national's schools page) under {under or 'the country'!r},"
            f" search {search!r}: mean {mean / 1000:.1f} ms, p99 {p99 / 1000:.1f} ms"
        )
    gc.collect()
    print(f"  the look-ups' indexes: {rss_mb() - before - held:.0f} MB of RSS more")


if __name__ == "__main__":
    main()
