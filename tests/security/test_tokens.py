"""Token verification, and the codec's memory of tokens it verified (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.security import tokens
from shared.security.principal import Principal, Role
from shared.security.tokens import InvalidToken, TokenCodec

OFFICER = Principal(
    username="officer", unit_kind="county", unit_code="410102", roles=frozenset({Role.APPROVER})
)


def test_a_token_verifies_to_its_principal_again_and_again_without_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    codec = TokenCodec("s" * 32)
    token = codec.issue(OFFICER, datetime.now(UTC))
    assert codec.verify(token) == OFFICER
    decodes = 0
    decode = tokens.jwt.decode

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal decodes
        decodes += 1
        return decode(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tokens.jwt, "decode", counted)
    assert [codec.verify(token) for _ in range(3)] == [OFFICER] * 3
    assert decodes == 0


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    now = datetime.now(UTC)
    clock = [now.timestamp()]
    codec = TokenCodec("s" * 32, ttl=timedelta(minutes=15), clock=lambda: clock[0])
    token = codec.issue(OFFICER, now)
    assert codec.verify(token) == OFFICER
    clock[0] += 15 * 60 + 1
    with pytest.raises(InvalidToken):
        codec.verify(token)
    assert token not in codec._verified  # forgotten: from now on PyJWT's own expiry check


def test_a_forged_or_foreign_token_is_never_remembered() -> None:
    codec, other = TokenCodec("s" * 32), TokenCodec("t" * 32)
    foreign = other.issue(OFFICER, datetime.now(UTC))
    for _ in range(2):
        with pytest.raises(InvalidToken):
            codec.verify(foreign)
    good = codec.issue(OFFICER, datetime.now(UTC))
    tampered = good[:-2] + ("AA" if good[-2:] != "AA" else "BB")
    with pytest.raises(InvalidToken):
        codec.verify(tampered)
    assert codec.verify(good) == OFFICER


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "REMEMBERED", 3)
    codec = TokenCodec("s" * 32)
    now = datetime.now(UTC)
    issued = [
        codec.issue(Principal(f"u{i}", "county", "410102", frozenset({Role.APPROVER})), now)
        for i in range(10)
    ]
    for token in issued:
        codec.verify(token)
    assert len(codec._verified) <= 3
    assert codec.verify(issued[0]).username == "u0"  # forgotten, verified again
