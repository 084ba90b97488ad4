"""Test support: publish an envelope as the instance hosting its source unit would sign it.

Runtimes started without key files (tests, development) trust the development keys of every
instance of their federation file (``shared.messaging.keys.development_keys``); a test that
plays another tier on the broker signs with that tier's development key.
"""

from __future__ import annotations

from shared.federation.config import Federation
from shared.messaging.envelope import Envelope
from shared.messaging.keys import development_keys
from shared.messaging.signing import SIGNATURE_HEADER


def signed_as_source(federation: Federation, envelope: Envelope) -> tuple[bytes, dict[str, str]]:
    """``envelope``'s body and the headers its source unit's instance would publish it with."""
    host = federation.instance_hosting(envelope.source)
    if host is None:
        raise LookupError(f"no instance of the federation hosts {envelope.source}")
    signer, _ = development_keys(federation, host.name)
    body = envelope.to_json()
    return body, {SIGNATURE_HEADER: signer.sign(body)}
