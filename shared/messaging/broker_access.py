"""Least privilege at the broker: one RabbitMQ user per instance, its rights generated from the
contracts (decision 0025).

The signature and the contracts' ``senders``/``targets`` are checked by every receiver; the
broker refuses the same things earlier, so a leaked broker password alone reaches less:

- user ``xueji-<instance>`` (its password in the instance's ``XUEJI_AMQP_URL``);
- configure: only its own queues (``xueji.<instance>``, ``.dead``, ``.delay.<ms>ms``);
- write and read: its own queues and the exchanges (``xueji.events``, ``xueji.retry``,
  ``xueji.dead``, ``xueji.revocations``) — reading an exchange means binding to it;
- topic permissions, which RabbitMQ checks against the routing key of every publication
  (write) and every binding (read) on a topic exchange:

  - ``xueji.events``, write: ``<tier>.<code>.<type>`` (``school.<area>.<code>.<type>``,
    decision 0045) only for the (target tier, type) pairs the contracts let its tier send,
    and any type to the units it hosts itself (an operator's replay of its own dead letters,
    a probe to itself); read: only the bindings of its own units (``<tier>.<code>.#``, a
    school instance's ``school.<area>.#`` per hosted area), so it cannot listen to another
    unit's messages;
  - ``xueji.retry``, write and read: only keys that start with its own name;
  - ``xueji.dead``, write and read: only its own queue's name ``xueji.<instance>``, so it can
    neither bind a queue to another instance's dead letters nor put letters into another
    instance's dead queue. The broker's own dead-lettering (a quorum queue's delivery limit)
    is not subject to user permissions.

The token revocations (``xueji.revocations``, a fanout exchange and a stream of the same name,
decision 0027) are shared by design: every user may publish to the exchange (the entries are
signed, and count only for the signer's units) and read the stream, but none may configure
them: the broker's administrator declares them (devtools/broker_users.py, the broker overlay),
so no instance can delete or redeclare the stream. What stays open is in decision 0025.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shared.federation.config import Federation, Instance, Tier
from shared.messaging.envelope import Contract, hosted_areas, registered_contracts
from shared.messaging.topology import DEAD_EXCHANGE, EVENTS_EXCHANGE, RETRY_EXCHANGE

# The token revocations' fanout exchange and stream (shared.security.revocation; the same name).
REVOCATIONS = "xueji.revocations"

VHOST = "/"


@dataclass(frozen=True)
class TopicGrant:
    exchange: str
    write: str
    read: str


@dataclass(frozen=True)
class BrokerGrant:
    """What one instance's broker user may do on the vhost."""

    user: str
    configure: str
    write: str
    read: str
    topics: tuple[TopicGrant, ...]
    vhost: str = VHOST


def broker_user(instance: str) -> str:
    return f"xueji-{instance}"


def addressable(tier: Tier, contracts: Iterable[type[Contract]]) -> dict[Tier, list[str]]:
    """The message types units of ``tier`` may send, by the tier they may send them to."""
    found: dict[Tier, set[str]] = {}
    for contract in contracts:
        if tier in contract.senders:
            for target in contract.targets:
                found.setdefault(target, set()).add(contract.message_type)
    return {target: sorted(types) for target, types in sorted(found.items())}


def _any(alternatives: Sequence[str]) -> str:
    return "(?:" + "|".join(alternatives) + ")"


def _target_words(tier: Tier) -> str:
    """The words of a routing key before the type, for any unit of ``tier``."""
    return rf"{tier}\.[^.]+\.[^.]+" if tier == Tier.SCHOOL else rf"{tier}\.[^.]+"


def grant_for(instance: Instance, contracts: Iterable[type[Contract]] | None = None) -> BrokerGrant:
    """The rights of ``instance``'s broker user, from the contracts (by default the project's
    own: import ``shared.contracts`` first; a test's contracts never widen them)."""
    if contracts is None:
        contracts = [c for c in registered_contracts() if c.__module__.startswith("shared.")]
    contracts = list(contracts)
    own = re.escape(f"xueji.{instance.name}")
    queues = rf"{own}(?:\.dead|\.delay\.[0-9]+ms)?"
    exchanges = _any(
        [re.escape(x) for x in (EVENTS_EXCHANGE, RETRY_EXCHANGE, DEAD_EXCHANGE, REVOCATIONS)]
    )
    codes = _any([re.escape(code) for code in instance.units])
    # what its tier may send, and what its cities may (a province instance's, decision 0034)
    targets = addressable(instance.tier, contracts)
    if instance.cities:
        for target, types in addressable(Tier.CITY, contracts).items():
            targets[target] = sorted(set(targets.get(target, [])) | set(types))
    # a school's key has one word more, its area (decision 0045): ``school.<area>.<code>``
    sendable = [
        rf"{_target_words(target)}\.{_any([re.escape(t) for t in types])}"
        for target, types in sorted(targets.items())
    ]
    if instance.tier == Tier.SCHOOL:
        # its areas' bindings deliver any school of them (all hosted here, the federation
        # configuration checks it), so the grant names areas, not 1,700 schools
        areas = hosted_areas(instance)
        own_keys = [rf"{Tier.SCHOOL}\.{_any([re.escape(a) for a in areas])}"]
        own_units = [rf"{own_keys[0]}\.[^.]+"]
    else:
        own_keys = [rf"{instance.tier}\.{codes}"]
        if instance.cities:
            own_keys.append(rf"{Tier.CITY}\.{_any([re.escape(c) for c in instance.cities])}")
        own_units = own_keys
    sendable.append(rf"{_any(own_units)}\..+")  # its own units, anything
    prefix = re.escape(instance.name)
    return BrokerGrant(
        user=broker_user(instance.name),
        configure=f"^{queues}$",
        write=f"^{_any([exchanges, queues])}$",
        read=f"^{_any([exchanges, queues])}$",
        topics=(
            TopicGrant(
                EVENTS_EXCHANGE,
                write=f"^{_any(sendable)}$",
                read=rf"^{_any(own_keys)}\.#$",
            ),
            TopicGrant(RETRY_EXCHANGE, write=rf"^{prefix}\.", read=rf"^{prefix}\."),
            TopicGrant(DEAD_EXCHANGE, write=f"^{own}$", read=f"^{own}$"),
        ),
    )


def federation_grants(federation: Federation) -> list[BrokerGrant]:
    return [grant_for(instance) for instance in federation.instances]


def rabbitmqctl_commands(grant: BrokerGrant, password: str) -> list[list[str]]:
    """The ``rabbitmqctl`` arguments that create (or update) ``grant``'s user and rights."""
    return [
        ["add_user", grant.user, password],
        ["change_password", grant.user, password],
        [
            "set_permissions",
            "-p",
            grant.vhost,
            grant.user,
            grant.configure,
            grant.write,
            grant.read,
        ],
        *(
            ["set_topic_permissions", "-p", grant.vhost, grant.user, t.exchange, t.write, t.read]
            for t in grant.topics
        ),
    ]
