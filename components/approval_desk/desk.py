"""The desk as one hosting service runs it: that service's runtime, tables and policies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from components.approval_desk.domain import AUTHORITY_KINDS, Decision, Plan, TaskKind
from components.approval_desk.repository import TaskRepository
from components.approval_desk.tables import DeskTables
from shared.contracts.transfer import TransferStepOpened
from shared.federation.config import School, Tier, UnitRef
from shared.messaging.envelope import Contract
from shared.messaging.handlers import HandlerContext
from shared.rules import ProvinceRules, load_province_rules
from shared.runtime.service import ServiceRuntime

# Decides a transfer step at once, in the handler's transaction, or returns None to leave the
# task to an officer. The province plugs in its discipline check (HA art. 11(四)) this way.
StepPolicy = Callable[[HandlerContext, TransferStepOpened], Awaitable[Decision | None]]


class KindPolicy:
    """A hosting tier's say in one kind of task (its policy hook). This base says nothing:
    the task opens with the desk's own details and waits for an officer."""

    async def facts(self, ctx: HandlerContext, opened: Contract) -> Mapping[str, Any]:
        """What the tier adds to the task's details when the message ``opened`` opens it
        (the sending school: the student's status on its roster)."""
        return {}

    async def facts_many(
        self, contexts: Sequence[HandlerContext], opened: Sequence[Contract]
    ) -> list[Mapping[str, Any]]:
        """:meth:`facts` for a run of messages applied together (a set-based handler's),
        each with its context, in order. This default asks :meth:`facts` for each in turn; a
        tier whose facts cost a read overrides it to read the run's at once."""
        return [
            await self.facts(ctx, message) for ctx, message in zip(contexts, opened, strict=True)
        ]

    async def decide_at_once(self, ctx: HandlerContext, opened: Contract) -> Decision | None:
        """A decision the system takes in the opening transaction, or None for an officer."""
        return None

    async def admit(self, session: AsyncSession, task: Any, decision: Decision) -> None:
        """Refuse ``decision`` (raise a ``DomainError``) before the task is closed: who may
        decide this kind beyond the route's rule (an export: its approver, never the
        requester)."""

    async def decided(
        self, session: AsyncSession, task: Any, plan: Plan, decision: Decision, at: datetime
    ) -> None:
        """What the decision does in the tier, in the deciding transaction (an export's CSV)."""


@dataclass(frozen=True)
class DecidesSteps(KindPolicy):
    """A transfer-step policy given as a function (:data:`StepPolicy`)."""

    policy: StepPolicy

    async def decide_at_once(self, ctx: HandlerContext, opened: Contract) -> Decision | None:
        assert isinstance(opened, TransferStepOpened)
        return await self.policy(ctx, opened)


_NO_POLICY = KindPolicy()


@dataclass(frozen=True)
class ApprovalDesk:
    """Everything the desk's use cases need from the service that hosts them (审批台: where
    a unit's officers find, and decide, what waits for them)."""

    runtime: ServiceRuntime
    tables: DeskTables
    policies: Mapping[TaskKind, KindPolicy] = field(default_factory=dict)
    # the kinds of task this desk decides (the gauge shows each, at 0 when none waits)
    kinds: frozenset[TaskKind] = AUTHORITY_KINDS
    # whether units of other tiers own tasks kept here: an export's approving unit (a county
    # deciding a school's roster export on the school service, decision 0011)
    guests: bool = False

    def tasks(self, session: AsyncSession) -> TaskRepository:
        return TaskRepository(session, self.tables)

    def policy(self, kind: TaskKind | str) -> KindPolicy:
        return self.policies.get(TaskKind(kind), _NO_POLICY)

    def unit(self, code: str, tier: Tier | None = None) -> UnitRef:
        """The hosted unit with this code (of the service's tier, or ``tier``: a city)."""
        return UnitRef(tier=tier or self.runtime.tier, code=code)

    def hosts(self, unit: UnitRef) -> bool:
        """Whether this instance hosts ``unit`` (its tasks are decided here): a unit of its
        tier, or a city a province instance hosts (decision 0034)."""
        return self.runtime.hosts_unit(unit)

    def keeps(self, unit: UnitRef) -> bool:
        """Whether ``unit``'s tasks are kept and decided here: a hosted unit's, or on a desk
        with guests a unit of another tier's (an export's approver)."""
        return self.hosts(unit) or (self.guests and unit.tier != self.runtime.tier)

    def school(self, code: str) -> School | None:
        return self.runtime.federation.school(code)

    def rules(self, unit_code: str) -> ProvinceRules:
        """The province rules that apply to a unit (a school: its prefecture's scope too,
        decision 0034), read on every use so that editing the file changes policy."""
        return load_province_rules(self.runtime.settings.federation_config, unit_code)

    def auto_approves(self, school: School) -> bool:
        """Whether the school's province approves clean registration batches automatically."""
        return self.rules(school.code).registration.auto_approve

    def now(self) -> datetime:
        return self.runtime.clock.now()

    def today(self) -> date:
        """Today in Beijing (``runtime.clock``: pinned by ``XUEJI_TODAY`` in tests)."""
        return self.runtime.clock.today()


def school_unit(school: School) -> UnitRef:
    return UnitRef(tier=Tier.SCHOOL, code=school.code)


def province_unit(school: School) -> UnitRef:
    return UnitRef(tier=Tier.PROVINCE, code=school.province)
