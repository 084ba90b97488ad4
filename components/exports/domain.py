"""The export's rules: who may ask, who approves, what state allows what (standard library)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ExportStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


REQUESTER_ROLES = frozenset({"registrar", "operator"})
APPROVER_ROLE = "approver"


class ExportRefused(Exception):
    """A request, decision or download the rules refuse; ``status`` is the HTTP answer."""

    def __init__(self, status: int, rule: str, detail: str, article: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.rule, self.detail, self.article = status, rule, detail, article


@dataclass(frozen=True)
class Unit:
    kind: str  # national | province | county | school
    code: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.code}"

    @classmethod
    def parse(cls, text: str) -> Unit:
        kind, _, code = text.partition(":")
        return cls(kind, code)

    def covers(self, other: Unit) -> bool:
        """``other`` is this unit or under it (division codes nest by prefix)."""
        if self.kind == "national":
            return True
        return other.kind != "national" and other.code.startswith(self.code)


def approver_of(requester: Unit, school_authority: Unit | None, *, province_approves: bool) -> Unit:
    """The unit whose approver decides an export asked by ``requester``.

    A school's is its registry authority (学籍主管部门, N2013 art. 25); a county, province
    or national unit approves its own (another officer: a government at county level or
    above, N2025 art. 24); a province's rule may name the province for all its units.
    """
    if province_approves and requester.kind in ("school", "county"):
        return Unit("province", requester.code[:2])
    if requester.kind == "school":
        if school_authority is None:
            raise ExportRefused(422, "unknown_unit", f"{requester} is not a known school")
        return school_authority
    return requester


def check_request(
    roles: frozenset[str],
    requester: Unit,
    population: Unit,
    fields: list[str],
    allowed: tuple[str, ...],
) -> None:
    if not roles & REQUESTER_ROLES:
        raise ExportRefused(403, "export_role", "an export is asked by a registrar or operator")
    if not requester.covers(population):
        raise ExportRefused(
            403, "export_scope", f"{requester} cannot export the data of {population}"
        )
    unknown = [name for name in fields if name not in allowed]
    if unknown or not fields:
        raise ExportRefused(
            422,
            "export_fields",
            f"fields must be a non-empty choice of {', '.join(allowed)}; not {', '.join(unknown)}",
        )
    if len(set(fields)) != len(fields):
        raise ExportRefused(422, "export_fields", "a field is named twice")


def check_approver(
    roles: frozenset[str], username: str, unit: Unit, approver: Unit, requested_by: str
) -> None:
    """An approver of the approving unit decides, never the requester (four eyes)."""
    if APPROVER_ROLE not in roles or unit != approver:
        raise ExportRefused(
            403,
            "export_approver",
            f"this export is decided by {approver}'s approver",
            article="N2013 art. 25",
        )
    if username == requested_by:
        raise ExportRefused(
            403,
            "export_four_eyes",
            "the requester cannot approve their own export",
            article="N2013 art. 25",
        )


def check_decision(
    roles: frozenset[str], username: str, unit: Unit, approver: Unit, requested_by: str, status: str
) -> None:
    check_approver(roles, username, unit, approver, requested_by)
    if status != ExportStatus.REQUESTED:
        raise ExportRefused(409, "export_decided", f"the export is already {status}")


def check_trained(trained: bool) -> None:
    """An account without a training date does not export (N2013 art. 23), where the province
    requires training (the token says so)."""
    if not trained:
        raise ExportRefused(
            403,
            "account_untrained",
            "this account has no training date: it may read, but not export",
            article="N2013 art. 23",
        )


def check_download(username: str, requested_by: str, status: str, expired: bool) -> None:
    if username != requested_by:
        raise ExportRefused(403, "export_requester_only", "only the requester downloads an export")
    if status == ExportStatus.EXPIRED or (status == ExportStatus.APPROVED and expired):
        raise ExportRefused(410, "export_expired", "the export has expired; ask again")
    if status != ExportStatus.APPROVED:
        raise ExportRefused(409, "export_not_approved", f"the export is {status}")
