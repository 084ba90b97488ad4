"""Where units serve things: absolute URLs built from the federation configuration."""

from __future__ import annotations

from typing import Any

from shared.contracts.transfer import TransferStepOpened, TransferStepOverdue
from shared.federation.config import Federation, Tier, UnitRef


def proof_url(federation: Federation, to_school: str, transfer_id: str, index: int) -> str:
    """Where the receiving school serves a transfer proof (absolute when its instance is known)."""
    path = f"/api/v1/transfers/{transfer_id}/proofs/{index}"
    instance = federation.instance_hosting(UnitRef(tier=Tier.SCHOOL, code=to_school))
    return f"http://{instance.host}:{instance.port}{path}" if instance else path


def status_proof_url(federation: Federation, school: str, change_id: str, index: int) -> str:
    """Where a school serves a proof of a status change it submitted."""
    path = f"/api/v1/status-changes/{change_id}/proofs/{index}"
    instance = federation.instance_hosting(UnitRef(tier=Tier.SCHOOL, code=school))
    return f"http://{instance.host}:{instance.port}{path}" if instance else path


def key_field_proof_url(
    federation: Federation | None, school: str, change_id: str, index: int
) -> str:
    """Where a school serves a proof of a key-field change it submitted."""
    path = f"/api/v1/key-field-changes/{change_id}/proofs/{index}"
    if federation is None:
        return path
    instance = federation.instance_hosting(UnitRef(tier=Tier.SCHOOL, code=school))
    return f"http://{instance.host}:{instance.port}{path}" if instance else path


def proof_links(
    federation: Federation, step: TransferStepOpened | TransferStepOverdue
) -> list[dict[str, Any]]:
    """The step's proofs as the deciding party's (or its superior's) task shows them: kind,
    index and URL."""
    return [
        {
            **proof.model_dump(mode="json"),
            "url": proof_url(federation, step.to_school, str(step.transfer_id), proof.index),
        }
        for proof in step.proofs
    ]
