"""Least privilege at the broker (decision 0025), on the real RabbitMQ: each instance's own
user runs the whole kernel (topology, relay, consumer, retries, dead letters), and the broker
itself refuses what its tier may not do — publish to a routing key of a tier it may not
address, listen to another unit's key, touch another instance's queues, or bypass the topic
permissions through the default exchange."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aiormq.exceptions import ChannelAccessRefused

import shared.contracts  # noqa: F401  (the rights come from every contract)
from devtools.broker import LocalRabbitMQ
from devtools.broker_users import (
    declare_exchanges,
    provision_instance_users,
    remove_school_unit_bindings,
)
from devtools.testing import REPO_CONFIG
from shared.federation.config import Federation, Tier, UnitRef, load_federation
from shared.messaging.broker_access import broker_user, grant_for
from shared.messaging.envelope import routing_key_for
from shared.messaging.topology import (
    DEAD_EXCHANGE,
    EVENTS_EXCHANGE,
    ServiceTopology,
    declare_service_topology,
)
from shared.security import revocation
from tests.shared.messaging.harness import Effect, Node, eventually

pytestmark = pytest.mark.broker


@dataclass
class Users:
    federation: Federation
    urls: dict[str, str]  # instance name -> its own user's URL

    def of(self, tier: str, code: str) -> tuple[str, str]:
        unit = UnitRef(tier=Tier(tier), code=code)
        instance = self.federation.instance_hosting(unit)
        assert instance is not None
        return instance.name, self.urls[instance.name]


@pytest.fixture(scope="module")  # rabbitmqctl is slow: the tests share them, none changes them
def users(broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Users:
    if not isinstance(broker, LocalRabbitMQ):
        pytest.skip("creating broker users needs the local broker's rabbitmqctl")
    config = load_federation(REPO_CONFIG)
    suffix = uuid.uuid4().hex[:6]  # users of their own: other tests' federations keep theirs
    federation = config.model_copy(
        update={
            "instances": tuple(
                i.model_copy(update={"name": f"{i.name}-{suffix}"}) for i in config.instances
            )
        }
    )
    data = tmp_path_factory.mktemp("broker-users")
    return Users(federation, provision_instance_users(broker, federation, data))


async def _publish(url: str, routing_key: str, exchange: str = EVENTS_EXCHANGE) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        target = (
            channel.default_exchange
            if exchange == ""
            else await channel.get_exchange(exchange, ensure=False)
        )
        await target.publish(aio_pika.Message(b"{}"), routing_key, timeout=10)


async def test_a_school_user_may_publish_only_what_its_tier_may_address(users: Users) -> None:
    _, school = users.of("school", "5134010001")
    await _publish(school, "national.CN.transfer.requested")  # its tier sends these
    await _publish(school, "county.513401.registration.batch_submitted")
    await _publish(school, "school.513401.5134010001.diagnostics.ping")  # its own unit
    await _publish(school, "school.330102.3301020001.diagnostics.ping")  # any tier's ping
    for forbidden in (
        "school.330102.3301020001.transfer.completed",  # national alone decides
        "province.33.transfer.completed",
        "county.330102.transfer.step_opened",
        "school.330102.3301020001.registration.batch_submitted",  # schools submit upwards
        "national.CN.registration.batch_approved",  # an authority's approval
        "school.3301020001.diagnostics.ping",  # a school key without its area (before 0045)
    ):
        with pytest.raises(ChannelAccessRefused):
            await _publish(school, forbidden)
    with pytest.raises(ChannelAccessRefused):  # the default exchange would reach any queue
        await _publish(school, "xueji.national", exchange="")


async def test_a_user_may_declare_and_bind_only_its_own_queues_and_units(users: Users) -> None:
    name, school = users.of("school", "5134010001")
    instance = users.federation.instance(name)
    units = [UnitRef(tier=Tier.SCHOOL, code=code) for code in instance.units]
    connection = await aio_pika.connect(school)
    async with connection:
        own = ServiceTopology(instance=name, units=units, retry_delays_ms=(50,))
        await declare_service_topology(await connection.channel(), own, connection)
        assert own.bindings() == ["school.513401.#", "school.510104.#"]  # one per area
        for key in (
            "national.CN.#",  # listening to another unit's messages
            "school.330102.#",  # another school instance's area
            "school.330102.3301020001.#",  # one school of it
            "school.3301020001.#",  # the per-school binding before decision 0045
            "school.*.#",
            "school.#",
            "#",
        ):
            with pytest.raises(ChannelAccessRefused):  # a refusal closes the channel
                fresh = await connection.channel()
                await (await fresh.get_queue(own.queue_name, ensure=False)).bind(
                    await fresh.get_exchange(EVENTS_EXCHANGE, ensure=False), key
                )
        national = users.of("national", "CN")[0]
        other = ServiceTopology(instance=national, units=[UnitRef.parse("national:CN")])
        with pytest.raises(ChannelAccessRefused):  # another instance's queue
            await declare_service_topology(await connection.channel(), other, connection)
        cleanup = await connection.channel()
        for queue in own.queue_names():
            await cleanup.queue_delete(queue)


async def test_the_kernel_runs_under_its_own_least_privileged_user(
    users: Users, broker: LocalRabbitMQ, tmp_path: Path
) -> None:
    """A node whose broker user has only its instance's rights: it declares its topology,
    relays, consumes, retries through xueji.retry and dead-letters."""
    instance = users.federation.instances[-1]
    unit = UnitRef(tier=instance.tier, code=instance.units[0])
    password = uuid.uuid4().hex
    name = f"{instance.name}-kernel"
    grant = grant_for(instance.model_copy(update={"name": name}))
    for command in (
        ["add_user", grant.user, password],
        ["set_permissions", "-p", "/", grant.user, grant.configure, grant.write, grant.read],
        *(
            ["set_topic_permissions", "-p", "/", grant.user, t.exchange, t.write, t.read]
            for t in grant.topics
        ),
    ):
        assert broker.rabbitmqctl(*command).returncode == 0
    url = broker.amqp_url.replace("guest:guest", f"{broker_user(name)}:{password}")
    node = Node(name, unit, f"sqlite+aiosqlite:///{tmp_path / 'k.db'}", url, (50, 100))
    await node.start()
    try:
        await node.send(Effect(key="once"), Effect(key="flaky", fail_times=2))
        await node.send(Effect(key="doomed", permanent=True))

        async def settled() -> bool:
            counts = await node.effect_counts()
            return counts == {"once": 1, "flaky": 1} and node.consumer.dead_lettered == 1

        await eventually(settled)
        assert node.consumer.outcomes[("test.effect", "retried")] >= 1
    finally:
        await node.stop()


async def test_a_user_may_bind_and_publish_on_the_dead_exchange_only_under_its_own_key(
    users: Users,
) -> None:
    """xueji.dead is a topic exchange: a school's user cannot bind a queue of its own under
    another instance's key (and so read copies of its dead letters), nor put letters into
    another instance's dead queue; its own dead letters, the consumer's and the broker's, still
    reach its own dead queue."""
    name, school = users.of("school", "5134010001")
    national = users.of("national", "CN")[0]
    instance = users.federation.instance(name)
    own = ServiceTopology(
        instance=name,
        units=[UnitRef(tier=Tier.SCHOOL, code=code) for code in instance.units],
        retry_delays_ms=(50,),
    )
    connection = await aio_pika.connect(school)
    async with connection:
        channel = await connection.channel()
        declared = await declare_service_topology(channel, own, connection)
        for key in (f"xueji.{national}", "#", "xueji.*", f"xueji.{name}.#"):
            with pytest.raises(ChannelAccessRefused):  # copies of another instance's letters
                bind = await connection.channel()
                await (await bind.get_queue(own.delay_queue_name(50), ensure=False)).bind(
                    await bind.get_exchange(DEAD_EXCHANGE, ensure=False), key
                )
        with pytest.raises(ChannelAccessRefused):  # letters into another instance's dead queue
            await _publish(school, f"xueji.{national}", exchange=DEAD_EXCHANGE)

        dead = await channel.get_queue(own.dead_queue_name, ensure=False)
        await _publish(school, own.queue_name, exchange=DEAD_EXCHANGE)  # the consumer's way
        letter = await _get(dead)
        assert letter.routing_key == own.queue_name
        await letter.ack()

        # the broker's own dead-lettering (as after the delivery limit) is not the user's act
        await _publish(school, own.bindings()[0].replace("#", "diagnostics.ping"))
        await (await _get(declared.queue)).reject(requeue=False)
        letter = await _get(dead)
        death: Any = letter.headers["x-death"]
        assert death[0]["exchange"] == EVENTS_EXCHANGE
        await letter.ack()
        cleanup = await connection.channel()
        for queue in own.queue_names():
            await cleanup.queue_delete(queue)


async def _get(queue: AbstractQueue) -> AbstractIncomingMessage:
    got: list[AbstractIncomingMessage] = []

    async def arrived() -> bool:
        message = await queue.get(no_ack=False, fail=False, timeout=5)
        got.extend([message] if message is not None else [])
        return bool(got)

    await eventually(arrived)
    return got[0]


async def test_a_user_may_use_the_revocation_stream_but_not_delete_or_redeclare_it(
    users: Users,
) -> None:
    """The administrator declared the token revocations' exchange and stream: an instance's
    user publishes to it and reads it, but may not delete or redeclare either."""
    _, school = users.of("school", "5134010001")
    connection = await aio_pika.connect(school)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=10)
        exchange, stream = await revocation.look_up(connection, channel)  # as the service does
        await stream.bind(exchange)
        body = uuid.uuid4().hex.encode()
        await exchange.publish(aio_pika.Message(body), routing_key="", timeout=10)
        seen: list[bytes] = []

        async def receive(message: AbstractIncomingMessage) -> None:
            seen.append(message.body)
            await message.ack()

        await stream.consume(receive, arguments={"x-stream-offset": "first"})

        async def published() -> bool:
            return body in seen

        await eventually(published)

        attacks: list[Callable[[AbstractChannel], Awaitable[Any]]] = [
            lambda c: c.queue_delete(revocation.STREAM),
            lambda c: c.exchange_delete(revocation.EXCHANGE),
            lambda c: c.declare_queue(
                revocation.STREAM, durable=True, arguments={"x-queue-type": "stream"}
            ),
            lambda c: c.declare_exchange(revocation.EXCHANGE, aio_pika.ExchangeType.FANOUT),
        ]
        for attack in attacks:
            with pytest.raises(ChannelAccessRefused):
                await attack(await connection.channel())
    check = await aio_pika.connect(school)
    async with check:  # still there, with what was published
        await (await check.channel()).declare_queue(revocation.STREAM, passive=True)


def test_the_upgrade_replaces_a_direct_dead_exchange_and_keeps_the_dead_letters(
    broker: Any,
) -> None:
    """A broker of an older release has a direct xueji.dead: the administrator's declaration
    (make run, ``python -m devtools.broker_users upgrade``) replaces it by the topic exchange,
    re-binds the dead queues of the instances that exist, keeps the letters already there, and
    declares the revocation stream. In a vhost of its own: the other tests' exchanges stay."""
    if not isinstance(broker, LocalRabbitMQ):
        pytest.skip("a vhost of its own needs the local broker's rabbitmqctl")
    vhost = f"upgrade-{uuid.uuid4().hex[:8]}"
    assert broker.rabbitmqctl("add_vhost", vhost).returncode == 0
    try:
        everything = ("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        assert broker.rabbitmqctl(*everything).returncode == 0
        url = broker.amqp_url + vhost
        federation = load_federation(REPO_CONFIG)
        started = ServiceTopology(instance=federation.instances[0].name, units=())
        connection = pika.BlockingConnection(pika.URLParameters(url))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.exchange_declare(DEAD_EXCHANGE, "direct", durable=True)  # an older release
            channel.queue_declare(
                started.dead_queue_name, durable=True, arguments={"x-queue-type": "quorum"}
            )
            channel.queue_bind(started.dead_queue_name, DEAD_EXCHANGE, started.queue_name)
            channel.basic_publish(DEAD_EXCHANGE, started.queue_name, b"before")

            assert declare_exchanges(url, federation) == [started.dead_queue_name]
            assert declare_exchanges(url, federation) == []  # already a topic exchange

            channel = connection.channel()
            channel.confirm_delivery()
            channel.exchange_declare(DEAD_EXCHANGE, "topic", durable=True)  # refused if direct
            channel.queue_declare(revocation.STREAM, passive=True)
            channel.basic_publish(DEAD_EXCHANGE, started.queue_name, b"after", mandatory=True)
            bodies = [channel.basic_get(started.dead_queue_name, auto_ack=True)[2] for _ in "ab"]
            assert bodies == [b"before", b"after"]
        finally:
            connection.close()
    finally:
        broker.rabbitmqctl("delete_vhost", vhost)


def test_the_upgrade_removes_the_per_school_bindings_of_before_routing_by_area(
    broker: Any,
) -> None:
    """A school queue of a release before decision 0045 is bound once per school
    (``school.<code>.#``); its user may no longer unbind those keys. The administrator's
    upgrade removes them and leaves the area bindings: a message under an old key is then
    unroutable, one under today's key still arrives. In a vhost of its own."""
    if not isinstance(broker, LocalRabbitMQ):
        pytest.skip("a vhost of its own needs the local broker's rabbitmqctl")
    vhost = f"areas-{uuid.uuid4().hex[:8]}"
    assert broker.rabbitmqctl("add_vhost", vhost).returncode == 0
    try:
        everything = ("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        assert broker.rabbitmqctl(*everything).returncode == 0
        url = broker.amqp_url + vhost
        federation = load_federation(REPO_CONFIG)
        school = federation.instance("school-41")
        topology = ServiceTopology(instance=school.name, units=school.hosted)
        declare_exchanges(url, federation)
        connection = pika.BlockingConnection(pika.URLParameters(url))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.queue_declare(
                topology.queue_name, durable=True, arguments={"x-queue-type": "quorum"}
            )
            for code in school.units:  # the older release's bindings
                channel.queue_bind(topology.queue_name, EVENTS_EXCHANGE, f"school.{code}.#")
            for key in topology.bindings():  # and today's, as the new release binds them
                channel.queue_bind(topology.queue_name, EVENTS_EXCHANGE, key)

            assert remove_school_unit_bindings(url, federation) == len(school.units)

            old = f"school.{school.units[0]}.diagnostics.ping"
            with pytest.raises(pika.exceptions.UnroutableError):
                channel.basic_publish(EVENTS_EXCHANGE, old, b"old", mandatory=True)
            unit = UnitRef(tier=Tier.SCHOOL, code=school.units[0])
            channel.basic_publish(
                EVENTS_EXCHANGE, routing_key_for(unit, "diagnostics.ping"), b"new", mandatory=True
            )
            assert channel.basic_get(topology.queue_name, auto_ack=True)[2] == b"new"
        finally:
            connection.close()
    finally:
        broker.rabbitmqctl("delete_vhost", vhost)
