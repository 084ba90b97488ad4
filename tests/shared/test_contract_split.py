"""The basic / non-basic split of the 2025 measures, proven on the national tier.

N2025 arts. 5, 23: the national system holds basic registry info (identity and current
registration); guardians, addresses, contacts, health, awards, aid, discipline, proofs and
hukou details are non-basic and are managed by each province. Two proofs:

(a) the national database, migrated from scratch to head, has no column of that kind, and
    every column of every national table is on an explicit allow-list (a new column or table
    fails here until someone decides it is basic);
(b) no message contract the national service handles carries ``ExtendedInfo``,
    ``ProofDocument`` or a guardian, however deeply nested.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

import shared.contracts  # noqa: F401  (registers every contract)
from devtools.testing import federation_copy, instance_name
from services.national.bootstrap import build_app
from shared.contracts.registration import ArchiveFiled, KeyFieldChangeSubmitted
from shared.messaging.envelope import Contract
from shared.messaging.handlers import HandlerRegistry
from shared.runtime.settings import ServiceSettings
from tests.databases import migrate_to_head

NON_BASIC = re.compile(
    r"guardian|address|phone|health|award|discipline|proof|hukou|contact|extended"
    # archive sections 3-7 (N2013 art. 7): quality report, health, awards, aid, the province's
    # own items, and the archive entries and uploads that hold them
    r"|quality|conduct|term_results|score|fitness|checkup|vaccin|height_cm|weight_kg"
    r"|vision_left|vision_right|community_service|amount_yuan|archive_entr|archive_upload|written_by",
    re.I,
)
NON_BASIC_WORDS = {"aid"}  # a whole word only: "aid" is inside "paid", "said" ...
NON_BASIC_MODELS = {"ExtendedInfo", "ProofDocument", "Guardian"}

BASIC_IDENTITY = {
    "name", "gender", "birth_date", "id_type", "id_number", "nationality", "ethnicity",
}  # fmt: skip
ALLOWED_COLUMNS: dict[str, set[str]] = {
    "registry_entry": BASIC_IDENTITY
    | {
        "entry_id",  # stable internal id of the registration
        "student_number",
        "registration_id",  # the school's id of the registration (idempotent replies)
        "identity_key",  # derived from name + gender + birth date (dedup index)
        "school_code",
        "province_code",
        "grade",
        "status",
        "enrolled_on",
        "registered_at",
        "updated_at",
        "active_transfer_id",  # the transfer (or progression) holding the student, if any
        "graduation_year",  # the year the student left the stage (a progression's cohort)
        # which track the registration is in (一类模式, LS 6), like its school and grade: the
        # registry refuses a transfer into the track from outside it (decision 0034)
        "yi_track",
        # when a term verification last confirmed the student in person (decision 0047)
        "id_verified_at",
    },
    "registry_superseded_number": {"student_number", "entry_id", "superseded_at"},
    "registry_temporary_serial": {"division_code", "birth_date", "serial", "entry_id"},
    "dedup_review": BASIC_IDENTITY
    | {"grade", "enrolled_on", "school_code", "province_code", "student_number"}
    | {"seq", "review_id", "batch_id", "registration_id", "correlation_id", "authority"}
    | {"rule", "reason", "matched_entry_id", "status", "decision_rule", "decision_reason"}
    | {"created_at", "decided_at"},
    "transfer": {"transfer_id", "student_number", "entry_id", "from_school", "to_school"}
    | {"from_province", "to_province", "grade", "class_name", "reason", "requested_on"}
    | {"proof_refs", "state", "closing_rule", "closing_reason", "correlation_id"}
    | {"created_at", "completed_at", "closed_at", "archive_due_on"}
    | {"window_exception"},  # the window rule, its article, the school's reason (0035)
    "transfer_step": {"step_id", "transfer_id", "seq", "role", "party_unit", "superior_unit"}
    | {"state", "opened_on", "due_on", "due_approximate", "reminded_at", "overdue_notified_at"}
    | {"decided_at", "decided_by", "decided_unit", "intervention", "reason", "rule"},
    # Progressions (升学): a cohort's schools, steps and each named student's outcome.
    "progression": {"progression_id", "from_school", "to_school", "from_province"}
    | {"to_province", "grade", "graduation_year", "requested_on", "state", "closing_rule"}
    | {"closing_reason", "correlation_id", "created_at", "closed_at", "archive_due_on"},
    "progression_step": {"step_id", "progression_id", "seq", "role", "party_unit"}
    | {"superior_unit", "state", "opened_on", "due_on", "due_approximate", "decided_at"}
    | {"overdue_notified_at"}
    | {"decided_by", "decided_unit", "intervention", "reason"},
    "progression_item": {"progression_id", "named", "student_number", "entry_id", "outcome"}
    | {"rule", "reason", "article"},
    # The yearly promotion: counts, grades and school codes only (and the last status period
    # it promoted, decision 0046).
    "promotion_run": {"school_year", "as_of", "ran_at", "promoted", "report", "last_period_id"},
    "promotion_school": {"school_year", "school_code", "graduating_grade", "promoted"},
    # Status changes: the change, its date, status and grade before and after, the rule.
    "status_change": {"change_id", "entry_id", "student_number", "school_code", "change"}
    | {"effective_on", "outcome", "from_status", "to_status", "from_grade", "to_grade"}
    | {"authority", "rule", "reason", "article", "decision", "decided_at"},
    "registry_suspension": {"entry_id", "school_code", "province_code", "started_on"}
    | {"until", "extensions"},
    # Placements (N2013 art. 17): which school a student attends while registered at another.
    "registry_placement": {"entry_id", "registered_school", "attending_school", "kind"}
    | {"started_on"},
    # Term re-verification: campaigns, and what a school's confirmation found (numbers,
    # kinds of finding, school codes and grades).
    "verification_campaign": {"campaign_id", "term", "scope", "opened_on", "opened_by"}
    | {"schools", "created_at"},
    "verification_school": {"campaign_id", "school_code", "confirmed_on", "attending"}
    | {"registered", "ghosts", "mismatches", "findings", "checked_at"},
    # Duplicate resolutions (LS 2(三)): the attendance proof stays at the real school.
    "duplicate_resolution": {"resolution_id", "student_number", "real_school", "other_school"}
    | {"registration_id", "reason", "proof_refs", "required", "decisions", "state", "rule"}
    | {"closing_reason", "correlation_id", "created_at", "closed_at"},
    # The approval desk's tasks: export approvals (who asked which fields of which unit, for
    # what purpose, who decided); the CSV stays in kernel_export.
    # Statistics (decision 0039): the registry's status history (the counted basic facts of
    # each stretch, and those before it), counts per combination, the roll-up's watermark,
    # early warnings (a school's week's counts against its history).
    "registry_period": {"period_id", "entry_id", "school_code", "province_code", "grade"}
    | {"status", "gender", "ethnicity", "temporary", "valid_from", "valid_to", "prev_school"}
    | {"prev_grade", "prev_status"},
    "headcount_rollup": {"school_code", "grade", "status", "gender", "ethnicity", "temporary"}
    | {"province_code", "students"},
    "statistics_watermark": {"name", "applied_to", "updated_at"},
    "statistics_alert": {"alert_id", "school_code", "province_code", "authority_unit", "kind"}
    | {"week_start", "observed", "baseline", "threshold", "raised_at", "stdev"},
    # the days whose figures national sent each county and province (decision 0047)
    "statistics_published": {"unit", "period", "messages", "published_at"},
    "desk_task": {"task_id", "kind", "status", "unit", "school_code", "subject_id"}
    | {"item_count", "finding_count", "details", "opened_at", "decided_at", "decided_by"}
    | {"reason", "correlation_id", "message_id", "transfer_id", "due_on", "due_approximate"}
    | {"reminded_at", "rule"},
    # The registry change log (decision 0043): which decision changed a registration and
    # who took it (an officer's account and unit, or the system and its rule).
    "registry_change": {"change_id", "entry_id", "student_number", "kind", "subject_id"}
    | {"school_code", "decided_by", "decided_unit", "decided_rule", "recorded_at"},
    # Client systems that may ask status checks (decision 0038): who they are, their purposes
    # and the claims each allows, a hash of their secret, their rate window. No student data.
    "status_client": {"client_id", "name", "purposes", "rate_per_minute", "secret_hash"}
    | {"registered_by", "registered_at", "revoked_by", "revoked_at", "window_minute"}
    | {"window_calls"},
    # A merged or closed school (N2013 art. 9; decision 0043): where its students went, who
    # decided; no student in it.
    "school_closure": {"school_code", "merger_id", "kind", "to_school", "closed_on"}
    | {"decided_by", "decided_unit", "recorded_at"},
}
# Pointers, not data: the transfer's proof files stay at the receiving school; national only
# passes on (index, kind) - no file names - so each deciding party can fetch them there.
PROOF_REFERENCES = {"transfer.proof_refs", "duplicate_resolution.proof_refs"}
REFERENCE_MODELS = {"ProofRef"}


def non_basic(name: str) -> bool:
    words = set(re.split(r"[_\W]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()))
    return bool(NON_BASIC.search(name)) or bool(words & NON_BASIC_WORDS)


# -- (a) the national schema ------------------------------------------------------------


async def national_schema(url: str) -> dict[str, list[str]]:
    await asyncio.to_thread(migrate_to_head, "national", url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: {
                    table: [c["name"] for c in inspect(sync).get_columns(table)]
                    for table in inspect(sync).get_table_names()
                }
            )
    finally:
        await engine.dispose()


async def test_national_schema_holds_basic_info_only(database_url: str) -> None:
    schema = await national_schema(database_url)
    # kernel_, security_ (staff accounts, N2013 art. 23) and list_version (a counter per list
    # and unit, decision 0020) tables hold no student data.
    shared_tables = ("kernel_", "security_", "list_version", "alembic_version")
    national_tables = {t for t in schema if not t.startswith(shared_tables)}

    assert "registry_entry" in national_tables
    offending = [f"{t}.{c}" for t in national_tables for c in schema[t] if non_basic(c)]
    offending = [name for name in offending if name not in PROOF_REFERENCES]
    assert offending == []
    assert national_tables == set(ALLOWED_COLUMNS), "a new national table needs an allow-list"
    for table in national_tables:
        assert set(schema[table]) <= ALLOWED_COLUMNS[table], table


def test_the_column_check_would_catch_non_basic_columns() -> None:
    caught = ["guardian_name", "home_address", "phone", "health_notes", "financial_aid"]
    caught += ["aid_received", "discipline_record", "proof_file", "hukou_region", "contact"]
    # archive sections 3-7 as the province stores and the school uploads them
    caught += ["conduct", "term_results", "scores", "fitness_test", "checkup"]
    caught += ["vaccination", "height_cm", "vision_left", "community_service", "amount_yuan"]
    caught += ["quality_report", "archive_entry", "archive_upload_id", "written_by", "aid"]
    for name in caught:
        assert non_basic(name), name
    for name in ["registration_id", "decided_at", "matched_entry_id", "paid_at"]:
        assert not non_basic(name), name


# -- (b) the contracts national handles --------------------------------------------------


@pytest.fixture
def national_handlers(tmp_path: Path) -> HandlerRegistry:
    config = federation_copy(tmp_path)
    settings = ServiceSettings(
        instance=instance_name(config, "national"),
        federation_config=config,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'national.sqlite'}",
    )
    handlers: HandlerRegistry = build_app(settings).state.runtime.handlers
    return handlers


def all_contracts(base: type[Contract] = Contract) -> Iterator[type[Contract]]:
    for sub in base.__subclasses__():
        if hasattr(sub, "message_type"):
            yield sub
        yield from all_contracts(sub)


def handled_by(handlers: HandlerRegistry) -> list[type[Contract]]:
    return [
        c for c in all_contracts() if handlers.lookup(c.message_type, c.schema_version) is not None
    ]


def _references_only(node: Any) -> bool:
    """A property that is an array of ProofRef (pointers to files kept elsewhere)."""
    items = node.get("items", {}) if isinstance(node, dict) else {}
    return isinstance(items, dict) and items.get("$ref", "").endswith("/ProofRef")


def schema_violations(node: Any, path: str = "") -> Iterator[str]:
    """Every model name, ``$ref`` or property name in a JSON schema that is non-basic."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$defs", "properties") and isinstance(value, dict):
                for name, sub in value.items():
                    if name in REFERENCE_MODELS or _references_only(sub):
                        continue
                    if name in NON_BASIC_MODELS or non_basic(name):
                        yield f"{path}/{key}/{name}"
            named = isinstance(value, str) and key in ("$ref", "title")
            if named and value.rsplit("/", 1)[-1] in NON_BASIC_MODELS:
                yield f"{path}/{key}={value}"
            yield from schema_violations(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from schema_violations(value, f"{path}/{index}")


def test_national_handles_the_registration_contracts(national_handlers: HandlerRegistry) -> None:
    handled = {c.message_type for c in handled_by(national_handlers)}
    assert {
        "registration.batch_approved",
        "key_field_change.approved",
        "status_change.approved",
    } <= handled


def test_no_contract_national_handles_carries_non_basic_info(
    national_handlers: HandlerRegistry,
) -> None:
    violations = {
        contract.__name__: list(schema_violations(contract.model_json_schema()))
        for contract in handled_by(national_handlers)
    }
    assert {name: found for name, found in violations.items() if found} == {}


def test_the_schema_walk_would_catch_extended_info_and_proofs() -> None:
    assert any("ExtendedInfo" in v for v in schema_violations(ArchiveFiled.model_json_schema()))
    assert any("guardians" in v for v in schema_violations(ArchiveFiled.model_json_schema()))
    proofs = list(schema_violations(KeyFieldChangeSubmitted.model_json_schema()))
    assert any("ProofDocument" in v for v in proofs)


def test_the_schema_walk_would_catch_archive_sections_3_to_7() -> None:
    """An entry of sections 3-7 as a contract would carry it, were one ever to reach national."""

    class Leaky(BaseModel):
        student_number: str
        term_results: dict[str, float]
        checkup: dict[str, float]
        award: str
        aid: int

    found = list(schema_violations(Leaky.model_json_schema()))
    assert {v.rsplit("/", 1)[-1] for v in found} == {"term_results", "checkup", "award", "aid"}
