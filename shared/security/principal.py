"""Who is calling: a principal (an authenticated account) with its unit and roles.

After authentication every request carries it as ``request.state.principal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What an account may do; an account has one or more roles at one unit."""

    REGISTRAR = "registrar"  # 学籍管理员: registers students, starts transfers, files changes
    APPROVER = "approver"  # decides tasks: registrations, changes, transfer steps, reviews
    AUDITOR = "auditor"  # reads records in its scope, checks and exports
    OPERATOR = "operator"  # runs the system: sweeps, promotions, probes, accounts


@dataclass(frozen=True)
class Principal:
    username: str
    unit_kind: str  # school | county | province | national
    unit_code: str
    roles: frozenset[Role]
    # False for an account without a training date where the province's rules require one
    # (``[accounts] training_required``, N2013 art. 23): it reads, but neither registers,
    # decides nor exports (shared/security/authz.py).
    trained: bool = True

    @property
    def unit(self) -> str:
        """``tier:code``, e.g. ``school:4101020001``."""
        return f"{self.unit_kind}:{self.unit_code}"

    def has_any(self, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)
