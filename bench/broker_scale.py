"""The broker at national scale, by simulation: 3,000 counties and 500,000 schools.

Generates a federation of a country's shape (``--counties`` counties over 31 provinces,
``--schools`` schools spread over ``--school-instances`` school instances, ~300: one per
~1,700 schools, each county's schools on one instance), declares its topology on the local
RabbitMQ in a throwaway virtual host, and measures:

- declaration: one quorum queue per instance, bound to the events topic exchange (by
  ``--routing``, below), by ``--declarers`` connections in parallel as the instances would at
  start-up; bindings per second and the time to declare a whole country;
- the broker's memory (the node's RSS, and RabbitMQ's own breakdown: bindings, topic trie,
  Mnesia) before and after;
- publish-to-deliver throughput through the exchange with all those bindings: ``--messages``
  persistent 600-byte messages to random schools (``transfer.step_opened``),
  publisher confirms awaited in windows of 500, consumed from every instance queue with
  prefetch 200; messages/s from the first publish to the last delivery, and the latency p50/p99.

``--routing area`` (the default) is what the services do since decision 0045: a school's key
carries its area (``school.<area>.<school>.<type>``, the code's six-digit prefix) and a school
instance binds ``school.<area>.#`` once per area it hosts, through the services' own
``routing_key_for`` and ``ServiceTopology.bindings`` (~6,000 bindings for a country).
``--routing unit`` is the routing before 0045 (one ``school.<code>.#`` per school), and
``--routing instance`` the alternative 0045 rejected: keys carry the hosting instance first
(``<instance>.<tier>.<code>.<type>``, resolved by the sender from the federation map) and each
queue has ONE binding ``<instance>.#``. Run them back to back, and compare.

    python -m bench.broker_scale [--schools N] [--routing area|unit|instance] …
    AMQP_URL is NOT used: the run needs a broker of its own (rabbitmqctl for the vhost and the
    memory figures); it starts one under var/bench.

The machine's load is printed with each figure: on 2 shared cores the figures are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika

from bench.infra import BENCH_DIR, load
from devtools.broker import LocalRabbitMQ, free_port
from shared.federation.config import Tier, UnitRef
from shared.messaging.envelope import routing_key_for
from shared.messaging.topology import ServiceTopology

EVENTS = "xueji.events"
PROVINCES = 31


@dataclass(frozen=True)
class Instance:
    name: str
    tier: str
    units: list[tuple[str, str]]  # (tier, code)

    def unit_keys(self) -> list[str]:
        return [f"{tier}.{code}.#" for tier, code in self.units]


def country(counties: int, schools: int, school_instances: int) -> list[Instance]:
    """The federation's instances: national, 31 provinces, one county instance per ~10
    counties, ``school_instances`` school instances; every county's schools on one instance."""
    rng = random.Random(22)
    province_codes = [f"{11 + i:02d}" for i in range(PROVINCES)]
    county_codes = [
        f"{province_codes[i % PROVINCES]}{i // PROVINCES + 1:04d}" for i in range(counties)
    ]
    per_county = [schools // counties] * counties
    for i in rng.sample(range(counties), schools - sum(per_county)):
        per_county[i] += 1
    instances = [Instance("national", "national", [("national", "CN")])]
    instances += [Instance(f"province-{p}", "province", [("province", p)]) for p in province_codes]
    for start in range(0, counties, 10):
        chunk = county_codes[start : start + 10]
        instances.append(
            Instance(f"county-{start // 10:03d}", "county", [("county", c) for c in chunk])
        )
    school_units: list[list[tuple[str, str]]] = [[] for _ in range(school_instances)]
    for i, (county, n) in enumerate(zip(county_codes, per_county, strict=True)):
        target = school_units[i * school_instances // counties]
        target += [("school", f"{county}{k:04d}") for k in range(1, n + 1)]
    instances += [
        Instance(f"school-{i:03d}", "school", units) for i, units in enumerate(school_units)
    ]
    return instances


def binding_keys(instance: Instance, routing: str) -> list[str]:
    if routing == "area":  # the services' own bindings
        units = [UnitRef(tier=Tier(tier), code=code) for tier, code in instance.units]
        return ServiceTopology(instance=instance.name, units=units).bindings()
    return instance.unit_keys() if routing == "unit" else [f"{instance.name}.#"]


def routing_key(instance: Instance, code: str, routing: str) -> str:
    if routing == "area":  # the services' own key
        return routing_key_for(UnitRef(tier=Tier.SCHOOL, code=code), "transfer.step_opened")
    key = f"school.{code}.transfer.step_opened"
    return key if routing == "unit" else f"{instance.name}.{key}"


async def declare(
    url: str, instances: list[Instance], routing: str, declarers: int, broker: LocalRabbitMQ
) -> float:
    """Every instance's queue and bindings, ``declarers`` connections at once; seconds.
    Prints the progress every 30 s (bindings so far, their rate, the broker's RSS)."""
    todo = list(instances)
    started = time.perf_counter()
    bound = 0

    async def progress() -> None:
        while True:
            await asyncio.sleep(30)
            elapsed = time.perf_counter() - started
            print(
                f"    {elapsed:5.0f} s: {bound} bindings ({bound / elapsed:.0f}/s),"
                f" broker RSS {broker_rss_mb(broker):.0f} MB  [{load()}]",
                flush=True,
            )

    async def worker() -> None:
        nonlocal bound
        connection = await aio_pika.connect_robust(url)
        async with connection:
            channel = await connection.channel()
            events = await channel.declare_exchange(
                EVENTS, aio_pika.ExchangeType.TOPIC, durable=True
            )
            while todo:
                instance = todo.pop()
                queue = await channel.declare_queue(
                    f"xueji.{instance.name}", durable=True, arguments={"x-queue-type": "quorum"}
                )
                for key in binding_keys(instance, routing):
                    await queue.bind(events, routing_key=key)
                    bound += 1

    reporting = asyncio.create_task(progress())
    try:
        await asyncio.gather(*(worker() for _ in range(declarers)))
    finally:
        reporting.cancel()
    return time.perf_counter() - started


async def throughput(
    url: str, instances: list[Instance], routing: str, messages: int
) -> dict[str, float]:
    """Publish to random schools, consume from every queue; rate and latency."""
    rng = random.Random(7)
    schools = [(i, code) for i in instances if i.tier == "school" for _, code in i.units]
    targets = [schools[rng.randrange(len(schools))] for _ in range(messages)]
    body_pad = "x" * 480
    latencies: list[float] = []
    done = asyncio.Event()
    received = 0

    consumer = await aio_pika.connect_robust(url)
    publisher = await aio_pika.connect_robust(url)
    async with consumer, publisher:
        channel = await consumer.channel()
        await channel.set_qos(prefetch_count=200)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal received
            sent = json.loads(message.body)["t"]
            latencies.append(time.perf_counter() - sent)
            received += 1
            await message.ack()
            if received >= messages:
                done.set()

        for instance in instances:
            if instance.tier == "school":
                queue = await channel.get_queue(f"xueji.{instance.name}", ensure=False)
                await queue.consume(on_message)
        out = await publisher.channel(publisher_confirms=True)
        events = await out.get_exchange(EVENTS, ensure=False)
        started = time.perf_counter()
        window: list[asyncio.Future[object]] = []
        for instance, code in targets:
            body = json.dumps({"t": time.perf_counter(), "id": str(uuid.uuid4()), "pad": body_pad})
            message = aio_pika.Message(
                body.encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT
            )
            window.append(
                asyncio.ensure_future(events.publish(message, routing_key(instance, code, routing)))
            )
            if len(window) >= 500:
                await asyncio.gather(*window)
                window.clear()
        await asyncio.gather(*window)
        published = time.perf_counter() - started
        await asyncio.wait_for(done.wait(), timeout=600)
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "publish_per_s": messages / published,
        "deliver_per_s": messages / elapsed,
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "mean_ms": 1000 * statistics.fmean(ordered),
    }


def broker_rss_mb(broker: LocalRabbitMQ) -> float:
    """The resident memory of our node's ``beam.smp`` (found by its home directory)."""
    home = str(broker.home).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
            if command[0].endswith(b"beam.smp") and any(home in part for part in command):
                for line in (proc / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            continue
    return float("nan")


def memory_breakdown(broker: LocalRabbitMQ) -> dict[str, float]:
    """RabbitMQ's own accounting, in MB: the parts that grow with bindings."""
    result = broker.rabbitmqctl("status", "--formatter", "json", timeout=120)
    if result.returncode != 0:
        return {}
    memory = json.loads(result.stdout).get("memory", {})
    wanted = ("total", "binary", "mnesia", "other_ets", "queue_procs", "quorum_queue_procs",
              "quorum_ets", "other_proc", "code", "allocated_unused")  # fmt: skip
    out: dict[str, float] = {}
    for key in wanted:
        value = memory.get(key)
        if isinstance(value, dict):  # "total": {"erlang": …, "rss": …, "allocated": …}
            value = value.get("rss") or value.get("erlang") or value.get("bytes")
        if isinstance(value, int | float):
            out[key] = value / 2**20
    return out


async def run(args: argparse.Namespace) -> None:
    instances = country(args.counties, args.schools, args.school_instances)
    bindings = sum(len(binding_keys(i, args.routing)) for i in instances)
    school_counts = [len(i.units) for i in instances if i.tier == "school"]
    print(
        f"federation: {args.counties} counties, {args.schools} schools on {args.school_instances}"
        f" school instances ({min(school_counts)}-{max(school_counts)} schools each),"
        f" {len(instances)} instances in all; routing by {args.routing}: {bindings} bindings"
        f"  [{load()}]",
        flush=True,
    )
    broker = LocalRabbitMQ(BENCH_DIR / "rabbitmq-scale", port=free_port(), dist_port=free_port())
    broker.start()
    vhost = f"scale-{uuid.uuid4().hex[:6]}"
    try:
        broker.rabbitmqctl("add_vhost", vhost)
        broker.rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        url = f"{broker.amqp_url.rstrip('/')}/{vhost}"
        rss_before, mem_before = broker_rss_mb(broker), memory_breakdown(broker)
        seconds = await declare(url, instances, args.routing, args.declarers, broker)
        print(
            f"  declared {len(instances)} quorum queues and {bindings} bindings in {seconds:.1f} s"
            f" ({bindings / seconds:.0f} bindings/s, {args.declarers} connections)  [{load()}]",
            flush=True,
        )
        rss_after, mem_after = broker_rss_mb(broker), memory_breakdown(broker)
        print(
            f"  broker RSS {rss_before:.0f} → {rss_after:.0f} MB"
            f" ({(rss_after - rss_before) * 2**20 / max(bindings, 1):.0f} B per binding);"
            " RabbitMQ's accounting (MB, before → after): "
            + ", ".join(f"{k} {mem_before.get(k, 0):.0f} → {v:.0f}" for k, v in mem_after.items()),
            flush=True,
        )
        figures = await throughput(url, instances, args.routing, args.messages)
        print(
            f"  {args.messages} persistent messages to random schools: published"
            f" {figures['publish_per_s']:.0f}/s (confirms in windows of 500), delivered"
            f" {figures['deliver_per_s']:.0f}/s first publish to last delivery; publish →"
            f" deliver p50 {figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms"
            f"  [{load()}]",
            flush=True,
        )
        restart_started = time.perf_counter()
        if args.restart:
            broker.restart()
            print(
                f"  broker restart with these bindings (recovering them): "
                f"{time.perf_counter() - restart_started:.1f} s  [{load()}]",
                flush=True,
            )
    finally:
        broker.rabbitmqctl("delete_vhost", vhost, timeout=600)
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.broker_scale")
    parser.add_argument("--counties", type=int, default=3000)
    parser.add_argument("--schools", type=int, default=500_000)
    parser.add_argument("--school-instances", type=int, default=300)
    parser.add_argument("--routing", choices=("area", "unit", "instance"), default="area")
    parser.add_argument("--declarers", type=int, default=8)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--restart", action="store_true", help="also time a broker restart")
    args = parser.parse_args()
    os.environ.pop("AMQP_URL", None)
    asyncio.run(_cancellable(run(args)))


async def _cancellable(work: Any) -> None:
    """SIGTERM (``timeout``) cancels the run like Ctrl-C, so that the broker is stopped."""
    task = asyncio.ensure_future(work)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    await task


if __name__ == "__main__":
    main()
