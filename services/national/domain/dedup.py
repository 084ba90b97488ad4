"""National de-duplication (查重): the rules, as pure functions over plain data.

"No duplicate registration; authority and school check for duplicates through the system"
(N2013 art. 6); "一人一籍" (HA art. 8); a student registered before continues the old record
at later stages (LS 1(二)). National sees every province, so it is the only place a
duplicate across provinces can be caught. Each applicant gets one verdict:

- :class:`Clear` — no rule objects (a number is then issued, see ``registration``);
- :class:`Reject` — an **exact** rule: the outcome is certain, no human can override it;
- :class:`Hold` — a **suspect** rule: probably the same person, a national or province
  officer decides (the review queue).

A refusal names the conflicting record's province and school only, never its personal data
(N2013 art. 25: no registration data leaves the system without approval).

Rules considered and *not* implemented, because they can never fire on validated data:

- *resident IDs that differ only in the check character*: the check character is a
  function of the first 17 digits, so two valid IDs with the same 17 digits are equal, and
  every ID is validated before it is compared (:mod:`services.national.domain.documents`);
- *resident IDs that differ by one wrong digit or one swap of adjacent characters*: the
  ISO 7064 MOD 11-2 check detects every single substitution and every adjacent
  transposition (the weights 2^k mod 11 are non-zero and consecutive weights differ), so no
  two valid IDs are one such typo apart. ``tests/services/national/domain`` proves it;
- *same division code, birth date and sex in the ID but another sequence*: that is what
  twins born at the same place look like; with the same name as well it is already the
  name + gender + birth date rule below, without the name it would hold every twin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from services.national.domain.documents import document_problem
from services.national.domain.identity import DocumentKey, Person, Placement, Record

RULE_DUPLICATE = "duplicate_registration"
RULE_PENDING_REVIEW = "duplicate_pending_review"
# A graduate (or completed / incomplete leaver) is not registered again at the next stage: the
# next-stage school admits them by progression, continuing the registration (LS 1(二)).
RULE_PROGRESSION_REQUIRED = "progression_required"
LEAVER_STATUSES = frozenset({"graduated", "completed", "incomplete"})
RULE_SUSPECT = "suspect_same_name_gender_birth"
RULE_SUSPECT_WITHOUT_RESIDENT_ID = "suspect_no_resident_id_same_name_gender_birth"


@dataclass(frozen=True)
class Clear:
    """No rule objects."""


@dataclass(frozen=True)
class Reject:
    """An exact rule refused the applicant; ``reason`` is safe to send to its school."""

    rule: str
    reason: str


@dataclass(frozen=True)
class Hold:
    """A suspect rule matched ``matched``: a person decides (the review queue)."""

    rule: str
    reason: str
    matched: Record


Screening = Clear | Reject | Hold


@dataclass(frozen=True)
class Applicant:
    """One approved registration to screen; ``entry_id`` is the entry it would become."""

    entry_id: str
    person: Person
    placement: Placement

    def as_record(self) -> Record:
        return Record(self.entry_id, self.person, self.placement)


@dataclass
class RegistryView:
    """What national knows that can conflict with a batch (loaded set-based for the batch).

    ``by_document``: entries holding each document; ``by_identity``: entries per identity key;
    ``pending``: open reviews per document (their placement).
    """

    by_document: dict[DocumentKey, Record] = field(default_factory=dict)
    by_identity: dict[str, list[Record]] = field(default_factory=dict)
    pending: dict[DocumentKey, Placement] = field(default_factory=dict)

    @classmethod
    def of(
        cls, records: Iterable[Record], pending: Iterable[tuple[DocumentKey, Placement]] = ()
    ) -> RegistryView:
        view = cls(pending=dict(pending))
        for record in records:
            view.add(record)
        return view

    def add(self, record: Record) -> None:
        """Know ``record`` from now on (an entry issued earlier in the same batch)."""
        document = record.person.document
        if document is not None:
            self.by_document.setdefault(document, record)
        self.by_identity.setdefault(record.person.identity, []).append(record)


def screen(
    applicant: Applicant,
    view: RegistryView,
    earlier: dict[DocumentKey, Applicant] | None = None,
    *,
    today: date,
) -> Screening:
    """The first rule that objects, in order: document, exact rules, suspect rules."""
    problem = document_problem(applicant.person, today)
    if problem is not None:
        return Reject(*problem)
    exact = (
        repeated_in_batch(applicant, earlier or {})
        or already_registered(applicant.person, view)
        or awaiting_review(applicant.person, view)
    )
    if exact is not None:
        return exact
    return suspect_match(applicant.person, view) or Clear()


def repeated_in_batch(applicant: Applicant, earlier: dict[DocumentKey, Applicant]) -> Reject | None:
    """``duplicate_registration``: the document appears earlier in the same batch.

    The first occurrence is screened as usual; every later one is refused. The same child
    entered twice by one school is a data-entry duplicate, and one of the two may go on.
    """
    document = applicant.person.document
    first = earlier.get(document) if document is not None else None
    if first is None:
        return None
    return Reject(
        RULE_DUPLICATE,
        f"the same identity document appears earlier in this batch ({first.placement.describe()})",
    )


def already_registered(person: Person, view: RegistryView) -> Reject | None:
    """``duplicate_registration``: the document already holds a student number.

    Whatever that registration's status (dropped out, suspended ...): a student registered
    before continues the old record at every later stage (LS 1(二)); a second number for one
    document would break "一人一号" (N2013 art. 5). A leaver (graduated, completed,
    incomplete) is refused as ``progression_required`` instead: not a duplicate to resolve
    but a graduate whose next school admits them by progression.
    """
    document = person.document
    record = view.by_document.get(document) if document is not None else None
    if record is None:
        return None
    if record.status in LEAVER_STATUSES:
        return Reject(
            RULE_PROGRESSION_REQUIRED,
            f"{record.status} at {record.placement.describe()}: a next-stage school admits "
            "a graduate by progression, continuing this registration (LS 1(二))",
        )
    return Reject(RULE_DUPLICATE, f"already registered at {record.placement.describe()}")


def awaiting_review(person: Person, view: RegistryView) -> Reject | None:
    """``duplicate_pending_review``: the document is already waiting in the review queue.

    Issuing it now would make the pending review an exact duplicate later; the school can
    resubmit once that review is decided.
    """
    document = person.document
    placement = view.pending.get(document) if document is not None else None
    if placement is None:
        return None
    return Reject(
        RULE_PENDING_REVIEW,
        f"already submitted by {placement.describe()}, awaiting national review",
    )


def suspect_match(person: Person, view: RegistryView) -> Hold | None:
    """Same name, gender and birth date as an entry with another (or no) document: hold.

    Both documents cannot be equal here (that is the exact rule). Which rule name the hold
    carries tells the reviewer the likely story:

    - ``suspect_no_resident_id_same_name_gender_birth`` — either side has no mainland
      resident ID (passport, HK/Macao/Taiwan permit, or none yet). A child first registered
      with an ``L`` number and submitted again with the ID issued since (or the reverse, or a
      mainland child also holding a foreign passport) has two documents that never compare
      equal, so name + gender + birth date is the only thing that can catch the duplicate.
    - ``suspect_same_name_gender_birth`` — both have valid, different resident IDs. Two IDs
      for one person is the signature of a duplicate household registration (一人多户), which
      does occur; it also matches two different people with a common name born on the same
      day, which is why it is a hold for a human, not a rejection.

    The reviewer sees the matched entry's student number, school and province.
    """
    candidates = [
        record
        for record in view.by_identity.get(person.identity, [])
        if record.person.document is None or record.person.document != person.document
    ]
    if not candidates:
        return None
    matched = min(candidates, key=lambda record: record.entry_id)
    rule = (
        RULE_SUSPECT
        if person.has_resident_id and matched.person.has_resident_id
        else RULE_SUSPECT_WITHOUT_RESIDENT_ID
    )
    others = f" (and {len(candidates) - 1} more)" if len(candidates) > 1 else ""
    reason = (
        f"same name, gender and birth date as a student registered at"
        f" {matched.placement.describe()}{others}, with another identity document"
    )
    return Hold(rule, reason, matched)
