"""The role as one hosting service plays it: that service's runtime and authority tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from shared.authority.repository import TaskRepository
from shared.authority.tables import AuthorityTables
from shared.federation.config import School, Tier, UnitRef
from shared.rules import load_province_rules
from shared.runtime.service import ServiceRuntime

# China keeps one time zone and no daylight saving: dates of the regulations are UTC+8 dates.
CHINA = timezone(timedelta(hours=8), "CST")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RegistryAuthority:
    """Everything the authority's use cases need from the service that hosts them."""

    runtime: ServiceRuntime
    tables: AuthorityTables
    clock: Callable[[], datetime] = utcnow

    def tasks(self, session: AsyncSession) -> TaskRepository:
        return TaskRepository(session, self.tables)

    def unit(self, code: str) -> UnitRef:
        """The hosted authority unit with this code (county or province, per the tier)."""
        return UnitRef(tier=self.runtime.tier, code=code)

    def hosts(self, code: str) -> bool:
        return self.runtime.hosts(code)

    def school(self, code: str) -> School | None:
        return self.runtime.federation.school(code)

    def auto_approves(self, school: School) -> bool:
        """Whether the school's province approves clean registration batches automatically.

        Read on every batch, so a province changes its policy by editing its rules file.
        """
        rules = load_province_rules(self.runtime.settings.federation_config, school.province)
        return rules.registration.auto_approve

    def today(self) -> date:
        return self.clock().astimezone(CHINA).date()


def school_unit(school: School) -> UnitRef:
    return UnitRef(tier=Tier.SCHOOL, code=school.code)


def province_unit(school: School) -> UnitRef:
    return UnitRef(tier=Tier.PROVINCE, code=school.province)
