"""Audit anchors (decision 0027): an instance's audit chain head, signed with its key, kept by
the level above so that a chain rewritten and recomputed in the instance's own database is
found by ``xueji-ops audit verify`` (shared/audit/anchors.py).

Who sends it to whom: a school instance to the registry authority of each school it hosts
(its county, or its province for a province-direct school), a county instance to its
province, a province to national, national to every province (national has no level above:
the provinces below keep its anchors).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.contracts.tiers import ABOVE_TIERS
from shared.messaging.envelope import EVERY_TIER, Contract, contract


@contract("audit.anchored", 1, senders=EVERY_TIER, targets=ABOVE_TIERS)
class AuditAnchored(Contract):
    """An instance → the level above: "my audit chain's entry ``seq`` has hash ``hash``"."""

    instance: str = Field(pattern=r"^[a-z0-9-]{1,40}$")
    seq: int = Field(ge=1)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    anchored_at: datetime
    key_id: str = Field(min_length=1, max_length=80)
    signature: str = Field(
        min_length=86,
        max_length=88,
        description="Ed25519 by the instance's key over the four fields above (base64url)",
    )
