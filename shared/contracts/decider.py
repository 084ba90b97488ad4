"""Who took a decision (谁批准、谁负责; ZJ art. 30): an officer's account and unit, or the
system under a named province rule (decision 0043).

Carried, optional for the messages already in flight, on every approval an authority sends to
national (``*.approved``) and on every outcome national or an authority sends back
(``*.decided``), so that national's registry change log and the province's archive name the
person behind a decision, not a service.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

SYSTEM = "system"  # the account of an automatic decision; ``rule`` then names the rule


class Decider(BaseModel):
    """The officer (or the system) behind a decision."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str = Field(
        min_length=1, max_length=80, description="the officer's username, or 'system'"
    )
    unit: str = Field(
        min_length=1, max_length=40, description="the deciding unit, e.g. county:410102"
    )
    rule: str | None = Field(
        default=None,
        max_length=80,
        description="for the system: the province rule it applied, e.g. registration.auto_approve",
    )

    @property
    def automatic(self) -> bool:
        return self.account == SYSTEM

    def as_record(self) -> dict[str, str | None]:
        """The three facts as kept in a log row or an archive entry."""
        return {"decided_by": self.account, "decided_unit": self.unit, "decided_rule": self.rule}


def decider_record(decider: Decider | None, decided_by: str) -> dict[str, str | None]:
    """What an archive or log keeps of a decision's decider; for a message from before
    decision 0043 (no ``decider``), the ``decided_by`` it names, with no unit or rule."""
    if decider is None:
        return {"decided_by": decided_by, "decided_unit": None, "decided_rule": None}
    return decider.as_record()
