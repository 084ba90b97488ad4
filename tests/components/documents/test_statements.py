"""Signed statements: genuine ones verify offline with the published keys; one changed byte,
an unknown key or a key of another instance's units fails."""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from components.documents import statements
from components.documents.issuing import Documents
from components.documents.statements import NotGenuine, Statement
from components.documents.tables import define_document_tables
from components.documents.verify import main as verify_cli
from devtools.testing import REPO_CONFIG
from shared.federation.config import load_federation
from shared.messaging.keys import development_keys

FEDERATION = load_federation(REPO_CONFIG)
SCHOOL = "school:4101020001"


def instance_of(unit: str) -> str:
    tier, code = unit.split(":")
    return next(i.name for i in FEDERATION.instances if i.tier == tier and code in i.units)


def documents_of(instance: str) -> Documents:
    signer, trust = development_keys(FEDERATION, instance)
    return Documents(signer, trust, define_document_tables(MetaData()))


def statement(issuer: str = SCHOOL) -> Statement:
    return Statement(
        document_id="0b7a4c52-8f0e-4d7e-9a55-2f1c3b4d5e6f",
        code=statements.new_code(),
        kind="registration_proof",
        issuer=issuer,
        issuer_name="郑州市中原区第一实验小学",
        issued_on=date(2025, 3, 1),
        issued_at=1740787200,
        subject="G410102201803070017",
        subject_name="张三",
    )


def signed_by(instance: str, what: Statement) -> str:
    signer = documents_of(instance).signer
    return statements.sign(what, signer.key_id, signer.private_key)


def published() -> dict[str, statements.PublishedKey]:
    """The keys as a verifier gets them: through the JWKS's JSON text."""
    text = json.dumps(documents_of(instance_of(SCHOOL)).jwks())
    return statements.keys_of_jwks(json.loads(text))


def test_a_genuine_statement_verifies_offline_with_the_published_keys() -> None:
    original = statement()
    verified = statements.verify(signed_by(instance_of(SCHOOL), original), published())
    assert verified == original


def test_one_changed_byte_of_the_statement_fails() -> None:
    token = signed_by(instance_of(SCHOOL), statement())
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["name"] = "李四"  # the name printed on a forged paper
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(NotGenuine) as refused:
        statements.verify(f"{header}.{forged}.{signature}", published())
    assert refused.value.reason == "bad_signature"
    # and any single character of the signed part
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    with pytest.raises(NotGenuine):
        statements.verify(flipped, published())


def test_another_units_key_cannot_sign_for_this_unit() -> None:
    zhejiang = instance_of("school:3301020001")
    assert zhejiang != instance_of(SCHOOL)
    token = signed_by(zhejiang, statement(issuer=SCHOOL))  # genuine signature, wrong signer
    with pytest.raises(NotGenuine) as refused:
        statements.verify(token, published())
    assert refused.value.reason == "key_not_for_issuer"
    # its own units it may sign for
    assert statements.verify(signed_by(zhejiang, statement("school:3301020001")), published())


def test_a_school_key_is_published_with_its_areas_and_speaks_for_their_schools() -> None:
    """Decision 0053: the JWKS names a school instance's areas, not each of its schools."""
    jwk = next(
        k for k in documents_of(instance_of(SCHOOL)).jwks()["keys"] if k["kid"] == "school-41"
    )
    assert (jwk["xueji_units"], jwk["xueji_school_areas"]) == ([], ["410000", "410102", "410105"])
    keys = published()
    new_school = statement("school:4101029999")  # opened after the keys were published
    assert statements.verify(signed_by("school-41", new_school), keys).issuer == new_school.issuer
    for other in ("school:3301020001", "county:410102", "school:410102"):
        with pytest.raises(NotGenuine, match="key_not_for_issuer"):
            statements.verify(signed_by("school-41", statement(other)), keys)


def test_an_unknown_key_and_garbage_are_not_genuine() -> None:
    keys = published()
    own = keys.pop(instance_of(SCHOOL))
    assert own.speaks_for(SCHOOL)
    with pytest.raises(NotGenuine) as unknown:
        statements.verify(signed_by(instance_of(SCHOOL), statement()), keys)
    assert unknown.value.reason == "unknown_key"
    with pytest.raises(NotGenuine):
        statements.verify("not a statement", published())


def test_the_offline_command_answers_genuine_or_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(documents_of(instance_of(SCHOOL)).jwks()), encoding="utf-8")
    token = signed_by(instance_of(SCHOOL), statement())
    assert verify_cli([str(keys), token]) == 0
    said = json.loads(capsys.readouterr().out)
    assert (said["genuine"], said["issuer"], said["name"]) == (True, SCHOOL, "张三")
    assert verify_cli([str(keys), token[:-2] + "xx"]) == 1
    assert capsys.readouterr().out.startswith("NOT GENUINE")


def test_codes_read_back_as_typed() -> None:
    code = statements.new_code()
    assert len(code) == 16 and statements.normalise_code(statements.format_code(code)) == code
    assert statements.normalise_code(" k7m2-q9pa-4d3x-w8en ") == "K7M2Q9PA4D3XW8EN"
