"""The proofs by ground each province's rules file asks of a status change (HA art. 13,
LS 2(二), ZJ art. 14), read from the repository's own config/provinces files."""

from __future__ import annotations

from devtools.testing import REPO_CONFIG
from shared.rules import load_province_rules


def needed(province: str, change: str, ground: str | None) -> list[tuple[tuple[str, ...], str]]:
    rules = load_province_rules(REPO_CONFIG, province).status_change
    return [(item.kinds, item.article) for item in rules.proofs_for(change, ground)]


def test_liangshan_illness_needs_the_hospital_documents_and_the_three_months_advice() -> None:
    assert needed("5134010001", "suspend", "illness") == [
        (
            (
                "hospital_certificate",
                "payment_receipts",
                "admission_discharge_certificate",
                "cost_settlement",
                "rest_advice_3_months",
            ),
            "LS 2(二)1",
        )
    ]
    assert needed("5134010001", "resume", "illness") == [(("recovery_certificate",), "LS 2(二)2")]
    assert needed("5134010001", "suspend", "personal") == []


def test_zhejiang_asks_a_certificate_or_another_valid_proof_and_nothing_to_resume() -> None:
    assert needed("33", "suspend", "illness") == [(("hospital_certificate",), "ZJ art. 14")]
    assert needed("33", "suspend", "personal") == [(("other_valid_proof",), "ZJ art. 14")]
    assert needed("33", "resume", "illness") == []  # ZJ art. 15: filed, no proof named


def test_henan_a_change_s_own_proofs_come_with_those_of_its_ground() -> None:
    assert needed("41", "decease", "death") == [(("death_certificate",), "N2013 art. 13")]
    assert needed("41", "resume", "illness") == [(("recovery_certificate",), "HA art. 13(三)")]
    assert needed("41", "resume", "personal") == []
