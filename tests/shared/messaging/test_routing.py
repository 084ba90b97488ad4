"""Routing by area (decision 0045), without a broker: the keys, the bindings and the broker
users' topic permissions agree, so that each unit's messages reach exactly the instance that
hosts it, and each user may bind only its own units' keys and publish only what its tier may
address. The broker's own refusals are tested on the real RabbitMQ in test_broker_access."""

from __future__ import annotations

import re

import pytest

import shared.contracts  # the rights come from every contract
import shared.runtime.diagnostics  # noqa: F401  (ping and pong, as the broker users see them)
from devtools.testing import REPO_CONFIG
from shared.federation.config import Federation, Tier, UnitRef, load_federation
from shared.messaging.broker_access import grant_for
from shared.messaging.envelope import (
    binding_key_for,
    current_routing_key,
    registered_contracts,
    routing_key_for,
)
from shared.messaging.topology import EVENTS_EXCHANGE, ServiceTopology

FEDERATION = load_federation(REPO_CONFIG)


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: ``*`` one word, ``#`` zero or more words."""

    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and (p[0] in ("*", k[0])) and match(p[1:], k[1:])

    return match(pattern.split("."), key.split("."))


def every_unit(federation: Federation) -> list[UnitRef]:
    return [unit for instance in federation.instances for unit in instance.hosted]


def events_grant(instance_name: str) -> tuple[str, str]:
    grant = grant_for(FEDERATION.instance(instance_name))
    [events] = [t for t in grant.topics if t.exchange == EVENTS_EXCHANGE]
    return events.write, events.read


def test_a_school_key_carries_its_area_and_other_keys_are_unchanged() -> None:
    assert (
        routing_key_for(UnitRef.parse("school:5134010001"), "transfer.step_opened")
        == "school.513401.5134010001.transfer.step_opened"
    )
    # a province-run school: its area is its code's prefix, not its county (410105)
    assert FEDERATION.school("4100000001").county == "410105"  # type: ignore[union-attr]
    assert (
        routing_key_for(UnitRef.parse("school:4100000001"), "diagnostics.ping")
        == "school.410000.4100000001.diagnostics.ping"
    )
    assert routing_key_for(UnitRef.parse("county:410102"), "x.y") == "county.410102.x.y"
    assert routing_key_for(UnitRef.parse("city:5134"), "x.y") == "city.5134.x.y"
    assert routing_key_for(UnitRef.parse("national:CN"), "x.y") == "national.CN.x.y"


def test_a_school_instance_binds_once_per_area_every_other_instance_once_per_unit() -> None:
    bindings = {
        i.name: ServiceTopology(instance=i.name, units=i.hosted).bindings()
        for i in FEDERATION.instances
    }
    assert bindings["school-41"] == ["school.410102.#", "school.410105.#", "school.410000.#"]
    assert bindings["school-51"] == ["school.513401.#", "school.510104.#"]
    assert bindings["province-51"] == ["province.51.#", "city.5134.#"]
    assert bindings["county-41"] == ["county.410102.#", "county.410105.#"]


def test_every_units_messages_reach_exactly_the_instance_hosting_it() -> None:
    bindings = {
        i.name: ServiceTopology(instance=i.name, units=i.hosted).bindings()
        for i in FEDERATION.instances
    }
    for unit in every_unit(FEDERATION):
        for message_type in ("diagnostics.ping", "transfer.step_opened"):
            key = routing_key_for(unit, message_type)
            reached = {
                name for name, keys in bindings.items() if any(topic_matches(b, key) for b in keys)
            }
            hosting = FEDERATION.instance_hosting(unit)
            assert hosting is not None
            assert reached == {hosting.name}, (unit, key, reached)


def test_an_area_split_between_two_instances_is_refused() -> None:
    raw = FEDERATION.model_dump(by_alias=True)
    for instance in raw["instance"]:
        if instance["name"] == "school-41":
            instance["units"] = [u for u in instance["units"] if u != "4101020003"]
        if instance["name"] == "school-33":
            instance["units"] = [*instance["units"], "4101020003"]
    with pytest.raises(ValueError, match="area 410102 are hosted by both"):
        Federation.model_validate(raw)


def test_each_user_may_bind_exactly_its_own_instances_keys() -> None:
    for instance in FEDERATION.instances:
        _, read = events_grant(instance.name)
        for other in FEDERATION.instances:
            keys = ServiceTopology(instance=other.name, units=other.hosted).bindings()
            allowed = [bool(re.match(read, key)) for key in keys]
            assert allowed == [other.name == instance.name] * len(keys), (instance.name, keys)
        for wider in ("#", "school.#", "school.*.#", "school.410102.*.#", "*.410102.#"):
            assert not re.match(read, wider)
    # nor a single school of another instance's area, nor a pre-0045 per-school binding
    _, read = events_grant("school-41")
    for refused in ("school.513401.5134010001.#", "school.4101020001.#", "school.513401.#"):
        assert not re.match(read, refused)


def test_a_school_user_publishes_what_its_tier_may_address_and_anything_to_its_areas() -> None:
    write, _ = events_grant("school-51")
    allowed = (
        "national.CN.transfer.requested",
        "county.513401.registration.batch_submitted",
        "school.330102.3301020001.diagnostics.ping",  # ping goes to any tier
        "school.513401.5134010001.diagnostics.ping",  # its own unit
        "school.513401.5134010002.transfer.completed",  # its own area: only its own queue
    )
    refused = (
        "school.330102.3301020001.transfer.completed",  # national alone decides
        "school.330102.3301020001.registration.batch_submitted",
        "province.33.transfer.completed",
        "county.330102.transfer.step_opened",
        "national.CN.registration.batch_approved",  # an authority's approval
        "school.3301020001.diagnostics.ping",  # the form before decision 0045: nobody binds it
        "school.410102.transfer.completed",  # no school word: not a school's key
    )
    assert [k for k in allowed if not re.match(write, k)] == []
    assert [k for k in refused if re.match(write, k)] == []


def test_every_addressable_pair_is_writable_to_every_unit_of_the_target_tier() -> None:
    """What the contracts let a tier send, its user may publish to any unit of the target
    tier in the key's current form (the broker users follow the keys)."""
    contracts = [c for c in registered_contracts() if c.__module__.startswith("shared.")]
    for instance in FEDERATION.instances:
        write, _ = events_grant(instance.name)
        for contract in contracts:
            if instance.tier not in contract.senders:
                continue
            for unit in every_unit(FEDERATION):
                key = routing_key_for(unit, contract.message_type)
                assert bool(re.match(write, key)) == (unit.tier in contract.targets) or (
                    unit in instance.hosted
                ), (instance.name, key)


def test_a_key_stored_before_the_change_is_published_in_todays_form() -> None:
    assert (
        current_routing_key("school.4100000001.transfer.step_opened")
        == "school.410000.4100000001.transfer.step_opened"
    )
    for current in (
        "school.410000.4100000001.transfer.step_opened",
        "county.410102.registration.batch_submitted",
        "national.CN.diagnostics.ping",
        "city.5134.registration.batch_submitted",
    ):
        assert current_routing_key(current) == current
    unit = UnitRef(tier=Tier.SCHOOL, code="5134010001")
    assert current_routing_key(f"school.{unit.code}.x.y") == routing_key_for(unit, "x.y")
    assert topic_matches(binding_key_for(unit), routing_key_for(unit, "x.y"))
