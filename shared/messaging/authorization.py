"""Who may send what: message authorization, checked after the signature (decision 0025).

The signature (``shared.messaging.signing``) proves which instance sent a message and that it
speaks for the envelope's source unit. That is not enough: a school's genuine key must not be
able to send what only national decides (``transfer.completed``, a registry decision, a
promotion …). Two checks follow it, both refusing with a :class:`SecurityRefusal` — the
message is dead-lettered ``security: <reason>: …``, logged on ``xueji.security`` and counted in
``xueji_security_alerts_total{reason}``; it never reaches the inbox, and no handler effect
stays:

1. **By tier, in the consumer, before any handler** (:func:`authorize`): every contract
   declares the tiers that may send it and the tiers it may be addressed to
   (``Contract.senders`` / ``Contract.targets``); any other source or target tier is refused
   (``sender_not_allowed``, ``target_not_allowed``). Each envelope of a bundle is checked.
2. **By party, in the handler** (:class:`NotAParty`, :func:`refuse`, :func:`require_source`,
   :func:`require_decider`): where the sending unit must be a party to the object — the
   school submitting for its own students, a school's own registry authority deciding, the
   step's party or its superior deciding a transfer step — the handler checks it against its
   data and refuses with ``not_a_party``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.federation.config import NATIONAL, School, Tier, UnitRef
from shared.messaging.signing import SecurityRefusal

if TYPE_CHECKING:
    from shared.messaging.envelope import Contract, Envelope
    from shared.messaging.handlers import HandlerContext


def authorize(contract: type[Contract], envelope: Envelope) -> None:
    """Refuse ``envelope`` unless its source and target tiers are those ``contract`` allows."""
    refusal = None
    if envelope.source.tier not in contract.senders:
        refusal = SecurityRefusal(
            "sender_not_allowed",
            f"{envelope.type} may be sent by {_tiers(contract.senders)} only, "
            f"not by {envelope.source}",
        )
    elif envelope.target.tier not in contract.targets:
        refusal = SecurityRefusal(
            "target_not_allowed",
            f"{envelope.type} may be sent to {_tiers(contract.targets)} only, "
            f"not to {envelope.target}",
        )
    if refusal is not None:
        refusal.envelope = envelope
        raise refusal


class NotAParty(SecurityRefusal):
    """The sender is not a party to what the message is about (raised by handlers and the use
    cases they call; the consumer adds the envelope, dead-letters and alerts)."""

    def __init__(self, detail: str) -> None:
        super().__init__("not_a_party", detail)


def refuse(ctx: HandlerContext, detail: str) -> NotAParty:
    """The refusal of a message whose sender is not a party to what it is about."""
    refusal = NotAParty(f"{ctx.envelope.source}: {detail}")
    refusal.envelope = ctx.envelope
    return refusal


def require_source(ctx: HandlerContext, expected: UnitRef, what: str) -> None:
    """Only ``expected`` itself may send this message (e.g. a school for its own students)."""
    if ctx.envelope.source != expected:
        raise refuse(ctx, f"only {expected} may send {what}")


def require_decider(
    ctx: HandlerContext,
    school: School,
    *,
    rejection: bool,
    what: str,
    also: UnitRef | None = None,
) -> None:
    """A decision about ``school``'s submission: national's, or a rejection by the school's own
    registry authority (an authority never issues, applies or approves in national's place) or
    by ``also`` (a Yi-track senior school's city, for its registration batches: LS 6)."""
    source = ctx.envelope.source
    if source == NATIONAL:
        return
    if source != school.authority_unit and (also is None or source != also):
        raise refuse(
            ctx,
            f"{what}: not the registry authority of school {school.code} "
            f"({school.authority_unit} is)",
        )
    if not rejection:
        raise refuse(ctx, f"{what}: an authority may only reject; national decides the rest")


def _tiers(tiers: frozenset[Tier]) -> str:
    return "/".join(sorted(tiers))
