"""Who decides which step of a transfer, under which province's rules, until when.

Province rules come from ``config/provinces/<code>.toml`` (:mod:`shared.rules`) and each
province's working-day calendar from chinesecalendar plus its holiday files; both are loaded
once per province and kept. A step's deadline counts the working days of the PARTY's province
(its own holidays), from the day national opens the step.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from services.national.domain.transfer import Deadline, Step
from services.national.domain.transfer_rules import (
    PlannedStep,
    ProvincePolicy,
    Sides,
    Window,
    citation_of,
    plan_roles,
    plan_steps,
)
from shared.federation.config import NATIONAL, Federation, School, Tier, UnitRef
from shared.rules import ProvinceRules, TransferRules, load_province_rules, load_workday_calendar
from shared.workdays import WorkdayCalendar


class UnknownUnit(Exception):
    """A unit the federation configuration does not know."""


class Rulebook:
    """Province rules, calendars and the federation's units, for the transfer saga."""

    def __init__(self, federation: Federation, federation_config: Path) -> None:
        self.federation = federation
        self._config = federation_config
        self._rules: dict[str, ProvinceRules] = {}
        self._calendars: dict[str, WorkdayCalendar] = {}
        # (province, opened on) -> due date: every step a province's party opens on one day
        # falls due on the same day; counting working days costs a calendar lookup per day.
        self._deadlines: dict[tuple[str, date], Deadline] = {}
        for province in federation.provinces:  # a broken rules file fails at start
            self.calendar(province.code)

    # -- rules and calendars ---------------------------------------------------------------

    @property
    def config(self) -> Path:
        """The federation configuration file (the provinces' rules are beside it)."""
        return self._config

    def province_rules(self, code: str) -> ProvinceRules:
        """The rules for a province code (kept), or for a unit inside it: a school's or a
        county's code gives its prefecture's scope too (decision 0034)."""
        if len(code) > 2:
            return load_province_rules(self._config, code)
        if code not in self._rules:
            self._rules[code] = load_province_rules(self._config, code)
        return self._rules[code]

    def rules(self, code: str) -> TransferRules:
        return self.province_rules(code).transfer

    def calendar(self, code: str) -> WorkdayCalendar:
        if code not in self._calendars:
            self._calendars[code] = load_workday_calendar(self._config, self.province_rules(code))
        return self._calendars[code]

    def policy(self, code: str) -> ProvincePolicy:
        """The rules that apply at a school (or in a province) as the domain applies them."""
        rules = self.province_rules(code)
        transfer = rules.transfer
        return ProvincePolicy(
            code=rules.code,
            citation=citation_of(rules.scope, rules.name),
            order=transfer.order,
            own_steps=transfer.own_steps,
            refuse_when_suspended=transfer.refuse_when_suspended,
            keep_grade=transfer.keep_grade,
            refuse_graduating_year=transfer.refuse_graduating_year,
            windows=tuple(Window(w.start, w.end, w.label) for w in transfer.windows),
            cross_province_required_proofs=transfer.cross_province_required_proofs,
            yi_track_closed=rules.yi_track.closed_to_transfers,
        )

    # -- schools, sides and parties --------------------------------------------------------

    def school(self, code: str) -> School:
        school = self.federation.school(code)
        if school is None:
            raise UnknownUnit(f"unknown school {code}")
        return school

    def sides(self, from_school: str, to_school: School) -> Sides:
        """Both provinces' rules; an unknown sending school counts under its code's province
        (the request is refused anyway: nobody is registered there)."""
        sending = self.federation.school(from_school)
        return Sides(
            sending=self.policy(sending.code if sending else from_school[:2]),
            receiving=self.policy(to_school.code),
            sending_stage=sending.stage if sending else "special",
        )

    def plan(
        self, sides: Sides, from_school: School, to_school: School, *, exception: bool = False
    ) -> list[PlannedStep]:
        """The steps of a transfer in order, each with its party and that party's superior
        (``exception``: the request asks a window exception, decision 0035)."""

        def units(role: str) -> tuple[str, str]:
            party = self.party_of(role, from_school, to_school)
            return str(party), str(self.superior_of(party))

        return plan_steps(plan_roles(sides, exception=exception), units)

    @staticmethod
    def party_of(role: str, from_school: School, to_school: School) -> UnitRef:
        province = Tier.PROVINCE
        parties = {
            "sending_school": UnitRef(tier=Tier.SCHOOL, code=from_school.code),
            "sending_authority": from_school.authority_unit,
            "receiving_authority": to_school.authority_unit,
            "sending_province": UnitRef(tier=province, code=from_school.province),
            "receiving_province": UnitRef(tier=province, code=to_school.province),
        }
        return parties[role]

    def superior_of(self, unit: UnitRef) -> UnitRef:
        """A school's superior is its registry authority; a county's, its province; a
        province's, national (HA art. 11(三): the superior may step in)."""
        if unit.tier is Tier.SCHOOL:
            return self.school(unit.code).authority_unit
        if unit.tier in (Tier.COUNTY, Tier.CITY):
            return UnitRef(tier=Tier.PROVINCE, code=self.province_of(str(unit)))
        return NATIONAL

    def province_of(self, unit: str) -> str:
        """The province a school, county or province unit belongs to."""
        ref = UnitRef.parse(unit)
        if ref.tier is Tier.SCHOOL:
            return self.school(ref.code).province
        if ref.tier is Tier.COUNTY:
            county = self.federation.county(ref.code)
            if county is None:
                raise UnknownUnit(f"unknown county {ref.code}")
            return county.province
        if ref.tier is Tier.CITY:
            city = self.federation.city(ref.code)
            if city is None:
                raise UnknownUnit(f"unknown city {ref.code}")
            return city.province
        if ref.tier is Tier.PROVINCE:
            return ref.code
        raise UnknownUnit(f"{unit} belongs to no province")

    # -- deadlines ---------------------------------------------------------------------------

    def deadline_of(self, step: Step, opened_on: date) -> Deadline:
        """``step_working_days`` working days of the party's province after ``opened_on``;
        approximate (never an error) when a counted day is in a year without holiday data."""
        province = self.province_of(step.party_unit)
        found = self._deadlines.get((province, opened_on))
        if found is None:
            days = self.rules(province).step_working_days
            deadline = self.calendar(province).add_workdays(opened_on, days)
            found = Deadline(deadline.due, deadline.approximate)
            if len(self._deadlines) > 10_000:  # days go by: forget old ones
                self._deadlines.clear()
            self._deadlines[(province, opened_on)] = found
        return found

    def remind_until(self, province: str, as_of: date) -> date:
        """The last due date a step of this province's party is reminded of on ``as_of``."""
        days = self.rules(province).reminder_working_days
        return self.calendar(province).add_workdays(as_of, days).due

    def workdays_left(self, province: str, as_of: date, due_on: date) -> int:
        return self.calendar(province).workdays_between(as_of, due_on)

    def archive_handover_days(self, sending_province: str) -> int:
        """The sending province hands the archive over (N2013 art. 15): its rules count."""
        return self.rules(sending_province).archive_handover_days
