"""The role as one hosting service plays it: that service's runtime and authority tables."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from components.approval_desk.domain import Decision
from components.approval_desk.repository import TaskRepository
from components.approval_desk.tables import AuthorityTables
from shared.contracts.transfer import TransferStepOpened
from shared.federation.config import School, Tier, UnitRef
from shared.messaging.handlers import HandlerContext
from shared.rules import ProvinceRules, load_province_rules
from shared.runtime.service import ServiceRuntime

# Decides a transfer step at once, in the handler's transaction, or returns None to leave the
# task to an officer. The province plugs in its discipline check (HA art. 11(四)) here.
StepPolicy = Callable[[HandlerContext, TransferStepOpened], Awaitable[Decision | None]]


@dataclass(frozen=True)
class RegistryAuthority:
    """Everything the authority's use cases need from the service that hosts them."""

    runtime: ServiceRuntime
    tables: AuthorityTables
    step_policy: StepPolicy | None = None

    def tasks(self, session: AsyncSession) -> TaskRepository:
        return TaskRepository(session, self.tables)

    def unit(self, code: str) -> UnitRef:
        """The hosted authority unit with this code (county or province, per the tier)."""
        return UnitRef(tier=self.runtime.tier, code=code)

    def hosts(self, code: str) -> bool:
        return self.runtime.hosts(code)

    def school(self, code: str) -> School | None:
        return self.runtime.federation.school(code)

    def rules(self, province: str) -> ProvinceRules:
        """A province's rules, read on every use so that editing the file changes policy."""
        return load_province_rules(self.runtime.settings.federation_config, province)

    def auto_approves(self, school: School) -> bool:
        """Whether the school's province approves clean registration batches automatically."""
        return self.rules(school.province).registration.auto_approve

    def now(self) -> datetime:
        return self.runtime.clock.now()

    def today(self) -> date:
        """Today in Beijing (``runtime.clock``: pinned by ``XUEJI_TODAY`` in tests)."""
        return self.runtime.clock.today()


def school_unit(school: School) -> UnitRef:
    return UnitRef(tier=Tier.SCHOOL, code=school.code)


def province_unit(school: School) -> UnitRef:
    return UnitRef(tier=Tier.PROVINCE, code=school.province)
