"""Proof documents a school request carries (base64 in the JSON body): their decoded sizes."""

from __future__ import annotations

import binascii
from collections.abc import Sequence

from services.school.domain.students import Violation
from services.school.service_layer.errors import InvalidInput, PayloadTooLarge
from shared.contracts.registration import ProofDocument


def proof_sizes(proofs: Sequence[ProofDocument], max_total: int) -> list[int]:
    """Decoded size of each proof; refuse bad base64, empty files and too much in total."""
    sizes = []
    for index, proof in enumerate(proofs):
        field = f"proofs.{index}.content_base64"
        try:
            size = len(binascii.a2b_base64(proof.content_base64, strict_mode=True))
        except binascii.Error:
            raise InvalidInput([Violation(field, "proof_base64", "not valid base64")]) from None
        if size == 0:
            raise InvalidInput([Violation(field, "proof_empty", "the proof document is empty")])
        sizes.append(size)
    if sum(sizes) > max_total:
        raise PayloadTooLarge(
            f"proof documents exceed {max_total} bytes together", rule="proofs_too_large"
        )
    return sizes
