"""One RabbitMQ user per instance on a local broker (``make run``, the integration tests).

The rights come from :mod:`shared.messaging.broker_access` (generated from the contracts,
decision 0025); this module only applies them with ``rabbitmqctl`` on a :class:`LocalRabbitMQ`
and keeps the passwords in ``<data dir>/broker-users.json`` (mode 0600, kept across runs).
Before any instance starts, the exchanges and the token revocations' stream are declared with
the administrator's account, so a least-privileged user only ever looks them up.

A broker named by ``AMQP_URL`` is not touched: its operator creates the users (the same
``rabbitmqctl`` commands: ``python -m devtools.broker_users --config config/federation.toml``
prints them, with placeholder passwords), and declares the shared objects with
``AMQP_URL=<administrator's URL> python -m devtools.broker_users upgrade --config …``, which
also replaces a direct ``xueji.dead`` of an older release by the topic exchange. ``python -m
devtools.broker_users k8s --config deploy/k8s/overlays/<overlay>/federation.toml`` writes an
overlay's ``broker-users.yaml``: Messaging Topology Operator ``User``, ``Permission`` and
``TopicPermission`` objects (the deploy test fails when a committed file differs from what the
contracts give).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pika
import yaml  # type: ignore[import-untyped, unused-ignore]

import shared.contracts
import shared.runtime.diagnostics  # noqa: F401
from devtools.broker import LocalRabbitMQ
from shared.federation.config import Federation, Tier, load_federation
from shared.messaging.broker_access import (
    BrokerGrant,
    federation_grants,
    grant_for,
    rabbitmqctl_commands,
)
from shared.messaging.topology import DEAD_EXCHANGE, EVENTS_EXCHANGE, EXCHANGES, ServiceTopology
from shared.security.revocation import EXCHANGE as REVOCATIONS_EXCHANGE
from shared.security.revocation import STREAM as REVOCATIONS_STREAM
from shared.security.revocation import STREAM_ARGUMENTS

log = logging.getLogger(__name__)


class BrokerUsersError(RuntimeError):
    """rabbitmqctl refused to create a user or set its rights."""


def user_url(admin_url: str, user: str, password: str) -> str:
    """``admin_url`` with another user's credentials."""
    parts = urlsplit(admin_url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _passwords(path: Path, users: list[str]) -> dict[str, str]:
    known: dict[str, str] = {}
    if path.exists():
        try:
            known = {str(k): str(v) for k, v in json.loads(path.read_text()).items()}
        except ValueError:
            known = {}
    passwords = {user: known.get(user) or secrets.token_hex(18) for user in users}
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(passwords, indent=2) + "\n")
    return passwords


def declare_exchanges(admin_url: str, federation: Federation | None = None) -> list[str]:
    """What every instance uses but may not configure, declared with the administrator's
    account: the exchanges, and the token revocations' exchange and stream (decision 0025).

    A direct ``xueji.dead`` of an older release is replaced by the topic exchange (see
    :func:`replace_dead_exchange`); the instances' dead queues of ``federation`` are bound to
    the new one. Returns the dead queues re-bound (none when nothing was replaced)."""
    rebound: list[str] = []
    connection = pika.BlockingConnection(pika.URLParameters(admin_url))
    try:
        channel = connection.channel()
        for name, kind in EXCHANGES:
            try:
                channel.exchange_declare(name, kind.value, durable=True)
            except pika.exceptions.ChannelClosedByBroker as exc:
                if name != DEAD_EXCHANGE or exc.reply_code != PRECONDITION_FAILED:
                    raise
                rebound = replace_dead_exchange(connection, federation)
                channel = connection.channel()
        channel.exchange_declare(REVOCATIONS_EXCHANGE, "fanout", durable=True)
        channel.queue_declare(REVOCATIONS_STREAM, durable=True, arguments=STREAM_ARGUMENTS)
        channel.queue_bind(REVOCATIONS_STREAM, REVOCATIONS_EXCHANGE)
    finally:
        connection.close()
    return rebound


PRECONDITION_FAILED = 406  # "inequivalent arg 'type'": the exchange exists with another type


def replace_dead_exchange(
    connection: pika.BlockingConnection, federation: Federation | None
) -> list[str]:
    """Replace a direct ``xueji.dead`` (before decision 0025's topic permissions) by a topic
    exchange of the same name, then bind each of ``federation``'s dead queues that exists
    under its instance queue's name, as the instance itself does at start-up.

    The quorum queues name their dead-letter exchange by name only, so they keep working
    unchanged. Deleting the exchange also deletes its bindings: a dead letter published in
    the milliseconds before the re-binding is lost, so run it with the instances stopped
    (``make run`` does, before any instance starts)."""
    channel = connection.channel()
    channel.exchange_delete(DEAD_EXCHANGE)
    channel.exchange_declare(DEAD_EXCHANGE, "topic", durable=True)
    rebound: list[str] = []
    for instance in federation.instances if federation else ():
        topology = ServiceTopology(instance=instance.name, units=())
        probe = connection.channel()
        try:
            probe.queue_declare(topology.dead_queue_name, passive=True)
        except pika.exceptions.ChannelClosedByBroker:
            continue  # never started on this broker: it binds its dead queue when it does
        probe.close()
        channel.queue_bind(topology.dead_queue_name, DEAD_EXCHANGE, topology.queue_name)
        rebound.append(topology.dead_queue_name)
    channel.close()
    log.warning("replaced the direct %s by a topic exchange; re-bound %s", DEAD_EXCHANGE, rebound)
    return rebound


def remove_school_unit_bindings(admin_url: str, federation: Federation) -> int:
    """Unbind the per-school ``school.<code>.#`` bindings of a release before decision 0045
    from ``federation``'s school instance queues that exist (the instances bind
    ``school.<area>.#`` now, and their users may no longer unbind the old keys). Nothing is
    published under those keys any more, so they only cost the broker memory. Idempotent:
    unbinding a binding that does not exist succeeds. Returns the unbinds issued."""
    issued = 0
    connection = pika.BlockingConnection(pika.URLParameters(admin_url))
    try:
        for instance in federation.instances:
            if instance.tier != Tier.SCHOOL:
                continue
            queue = ServiceTopology(instance=instance.name, units=()).queue_name
            channel = connection.channel()
            try:
                channel.queue_declare(queue, passive=True)
            except pika.exceptions.ChannelClosedByBroker:
                continue  # never started on this broker
            for code in instance.units:
                channel.queue_unbind(queue, EVENTS_EXCHANGE, f"{Tier.SCHOOL}.{code}.#")
                issued += 1
            channel.close()
    finally:
        connection.close()
    return issued


def apply_grant(broker: LocalRabbitMQ, grant: BrokerGrant, password: str) -> None:
    for command in rabbitmqctl_commands(grant, password):
        result = broker.rabbitmqctl(*command)
        if result.returncode != 0 and not (
            command[0] == "add_user" and "already exists" in (result.stderr + result.stdout)
        ):
            raise BrokerUsersError(
                f"rabbitmqctl {command[0]} {grant.user} failed: "
                f"{(result.stderr or result.stdout).strip()}"
            )


def provision_instance_users(
    broker: LocalRabbitMQ, federation: Federation, data_dir: Path
) -> dict[str, str]:
    """Create every instance's user with its rights; its AMQP URL by instance name."""
    grants = federation_grants(federation)
    passwords = _passwords(data_dir / "broker-users.json", [g.user for g in grants])
    declare_exchanges(broker.amqp_url, federation)
    remove_school_unit_bindings(broker.amqp_url, federation)
    urls: dict[str, str] = {}
    for instance, grant in zip(federation.instances, grants, strict=True):
        apply_grant(broker, grant, passwords[grant.user])
        urls[instance.name] = user_url(broker.amqp_url, grant.user, passwords[grant.user])
    return urls


# The broker all tiers share (deploy/k8s/overlays/national/broker).
BROKER_CLUSTER = {"name": "xueji-rabbitmq", "namespace": "xueji-broker"}


def broker_secret(tier: str) -> str:
    """The Secret holding an instance's broker credentials (basic-auth), in its namespace."""
    return f"xueji-{tier}-broker-user"


def k8s_objects(federation: Federation, instances: list[str]) -> list[dict[str, Any]]:
    """Messaging Topology Operator objects creating the named instances' users and rights."""
    objects: list[dict[str, Any]] = []
    for name in instances:
        instance = federation.instance(name)
        grant = grant_for(instance)
        labels = {"app.kubernetes.io/name": grant.user, "app.kubernetes.io/component": "broker"}

        def meta(name: str, labels: dict[str, str] = labels) -> dict[str, Any]:
            return {"name": name, "labels": labels}

        reference = {"rabbitmqClusterReference": BROKER_CLUSTER}
        objects.append(
            {
                "apiVersion": "rabbitmq.com/v1beta1",
                "kind": "User",
                "metadata": meta(grant.user),
                "spec": {
                    "tags": [],
                    "importCredentialsSecret": {"name": broker_secret(instance.tier)},
                    **reference,
                },
            }
        )
        objects.append(
            {
                "apiVersion": "rabbitmq.com/v1beta1",
                "kind": "Permission",
                "metadata": meta(grant.user),
                "spec": {
                    "vhost": grant.vhost,
                    "userReference": {"name": grant.user},
                    "permissions": {
                        "configure": grant.configure,
                        "write": grant.write,
                        "read": grant.read,
                    },
                    **reference,
                },
            }
        )
        for topic in grant.topics:
            objects.append(
                {
                    "apiVersion": "rabbitmq.com/v1beta1",
                    "kind": "TopicPermission",
                    "metadata": meta(f"{grant.user}-{topic.exchange.replace('.', '-')}"),
                    "spec": {
                        "vhost": grant.vhost,
                        "userReference": {"name": grant.user},
                        "permissions": {
                            "exchange": topic.exchange,
                            "write": topic.write,
                            "read": topic.read,
                        },
                        **reference,
                    },
                }
            )
    return objects


K8S_HEADER = """\
# GENERATED by `python -m devtools.broker_users k8s --config federation.toml --instance …`
# (the instances of this namespace, as in its xueji-instances ConfigMap) from the
# message contracts (decision 0025): one broker user per instance of this namespace, with only
# the rights its tier needs. Do not edit; regenerate when a contract or the fragment changes
# (tests/deploy/test_k8s_manifests.py fails until then). Needs the Messaging Topology Operator;
# the credentials come from the Secret named in importCredentialsSecret.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.broker_users",
        description="Every instance's broker user: rabbitmqctl commands, or (k8s) the "
        "Messaging Topology Operator objects of a Kubernetes overlay.",
    )
    parser.add_argument(
        "format", nargs="?", choices=["rabbitmqctl", "k8s", "upgrade"], default="rabbitmqctl"
    )
    parser.add_argument("--config", type=Path, default=Path("config/federation.toml"))
    parser.add_argument(
        "--instance", action="append", default=None, help="k8s: an instance of the namespace"
    )
    args = parser.parse_args(argv)
    federation = load_federation(args.config)
    if args.format == "upgrade":  # with the administrator's AMQP_URL
        rebound = declare_exchanges(os.environ["AMQP_URL"], federation)
        print(f"exchanges and the revocation stream declared; dead queues re-bound: {rebound}")
        unbound = remove_school_unit_bindings(os.environ["AMQP_URL"], federation)
        print(f"per-school bindings of before decision 0045 removed: {unbound} unbinds")
        return 0
    if args.format == "k8s":
        names = args.instance or [i.name for i in federation.instances]
        objects = k8s_objects(federation, names)
        print(K8S_HEADER + yaml.safe_dump_all(objects, sort_keys=False), end="")
        return 0
    for grant in federation_grants(federation):
        for command in rabbitmqctl_commands(grant, "CHANGE-ME"):
            print("rabbitmqctl " + shlex.join(command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
