"""The versioned message envelope and the typed contracts tiers exchange.

A contract is a Pydantic model registered under a message type and a schema version. Tiers
share nothing about each other but these contracts: a consumer accepts a message only when
its (type, version) is registered and its payload validates against that model.

Each contract also says, as data, which tiers may send it (``senders``) and to which tiers
(``targets``): the consumer refuses any other sender or target before the payload is even
parsed (``shared.messaging.authorization``), and the broker users' topic permissions are
generated from the same data (decision 0025).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from opentelemetry import propagate
from pydantic import BaseModel, ConfigDict, Field

from shared.federation.config import Instance, Tier, UnitRef, school_area

ENVELOPE_FORMAT = "xueji.envelope/1"


class Contract(BaseModel):
    """Base of every message payload. Subclasses are registered with :func:`contract`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_type: ClassVar[str]
    schema_version: ClassVar[int]
    # The tiers whose units may send this message, and the tiers it may be addressed to.
    senders: ClassVar[frozenset[Tier]]
    targets: ClassVar[frozenset[Tier]]


C = TypeVar("C", bound=type[Contract])

_REGISTRY: dict[tuple[str, int], type[Contract]] = {}

EVERY_TIER: frozenset[Tier] = frozenset(Tier)


def contract(
    message_type: str,
    version: int = 1,
    *,
    senders: Iterable[Tier],
    targets: Iterable[Tier],
) -> Any:
    """Register a payload model as the contract for ``message_type`` at ``version``, sent by
    units of the ``senders`` tiers to units of the ``targets`` tiers (nobody else)."""
    allowed_senders, allowed_targets = frozenset(senders), frozenset(targets)
    if not allowed_senders or not allowed_targets:
        raise ValueError(f"contract {message_type}: name who may send it and to whom")

    def register(cls: C) -> C:
        key = (message_type, version)
        if key in _REGISTRY and _REGISTRY[key] is not cls:
            raise ValueError(f"contract {message_type} v{version} registered twice")
        cls.message_type = message_type
        cls.schema_version = version
        cls.senders = allowed_senders
        cls.targets = allowed_targets
        _REGISTRY[key] = cls
        return cls

    return register


def registered_contracts() -> list[type[Contract]]:
    """Every registered contract, by type and version."""
    return [_REGISTRY[key] for key in sorted(_REGISTRY)]


def lookup_contract(message_type: str, version: int) -> type[Contract] | None:
    return _REGISTRY.get((message_type, version))


def versions_of(message_type: str) -> list[int]:
    return sorted(v for (t, v) in _REGISTRY if t == message_type)


class Envelope(BaseModel):
    """What travels on the wire: routing and causality metadata around one payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = ENVELOPE_FORMAT
    message_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str = Field(min_length=1, max_length=120)
    schema_version: int = Field(ge=1)
    source: UnitRef
    target: UnitRef
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None = None
    occurred_at: datetime
    trace_context: dict[str, str] = Field(default_factory=dict)
    payload: dict[str, Any]

    @property
    def routing_key(self) -> str:
        return routing_key_for(self.target, self.type)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


def routing_prefix_for(target: UnitRef) -> str:
    """The words before the message type: ``school.<area>.<code>`` for a school,
    ``<tier>.<code>`` for every other unit (decision 0045)."""
    if target.tier == Tier.SCHOOL:
        return f"{Tier.SCHOOL}.{school_area(target.code)}.{target.code}"
    return f"{target.tier}.{target.code}"


def routing_key_for(target: UnitRef, message_type: str) -> str:
    """``school.<area>.<school>.<type>`` for a school, ``<tier>.<code>.<type>`` otherwise.

    A school instance binds ``school.<area>.#`` once per area it hosts, every other instance
    ``<tier>.<code>.#`` per unit (``shared.messaging.topology``): ~6,000 bindings for a
    country instead of ~503,000 (decision 0045, docs/scale.md)."""
    return f"{routing_prefix_for(target)}.{message_type}"


def binding_key_for(unit: UnitRef) -> str:
    """The ``xueji.events`` binding that delivers every message to ``unit``: for a school,
    its area's (shared with the area's other schools, all hosted by one instance)."""
    if unit.tier == Tier.SCHOOL:
        return f"{Tier.SCHOOL}.{school_area(unit.code)}.#"
    return f"{unit.tier}.{unit.code}.#"


def hosted_areas(instance: Instance) -> tuple[str, ...]:
    """The areas whose schools a school instance hosts, sorted: what its broker grant
    (decision 0045) and its trust entry (decision 0053) name; none for any other tier."""
    if instance.tier != Tier.SCHOOL:
        return ()
    return tuple(sorted({school_area(code) for code in instance.units}))


def current_routing_key(key: str) -> str:
    """``key`` in today's form: a school key stored before decision 0045
    (``school.<school>.<type>``, an outbox row written by an older release) gains its area
    word; every other key is returned as is."""
    words = key.split(".", 2)
    if len(words) == 3 and words[0] == Tier.SCHOOL and len(words[1]) == 10:
        return f"{Tier.SCHOOL}.{school_area(words[1])}.{words[1]}.{words[2]}"
    return key


def build_envelope(
    payload: Contract,
    *,
    source: UnitRef,
    target: UnitRef,
    correlation_id: uuid.UUID | None = None,
    causation_id: uuid.UUID | None = None,
    trace_context: dict[str, str] | None = None,
) -> Envelope:
    """Wrap a contract payload; a message that starts a flow is its own correlation."""
    message_id = uuid.uuid4()
    return Envelope(
        message_id=message_id,
        type=payload.message_type,
        schema_version=payload.schema_version,
        source=source,
        target=target,
        correlation_id=correlation_id or message_id,
        causation_id=causation_id,
        occurred_at=datetime.now(UTC),
        trace_context=current_trace_context() if trace_context is None else trace_context,
        payload=payload.model_dump(mode="json"),
    )


def current_trace_context() -> dict[str, str]:
    """W3C trace context of the active span (empty when tracing is off)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier
