"""Settings of the school service beyond the shared ``ServiceSettings`` (``XUEJI_SCHOOL_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contracts.registration import MAX_BATCH
from shared.runtime.limits import MiB

# The largest bodies the school's routes accept, declared on those routes (max_body_size=):
# the intake file with its multipart framing, and JSON carrying base64 proofs (8 MiB decoded
# is 10.7 MiB encoded). The ingress's proxy-body-size is the larger (decision 0026).
MAX_UPLOAD_BYTES = 32 * MiB
UPLOAD_BODY_LIMIT = MAX_UPLOAD_BYTES + 64 * 1024
MAX_PROOF_BYTES = 8 * MiB
PROOF_BODY_LIMIT = 12 * MiB


class SchoolSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUEJI_SCHOOL_", extra="ignore")

    # Bulk admission files: a CSV of 100,000 students is about 15 MB.
    max_upload_bytes: int = Field(default=MAX_UPLOAD_BYTES, ge=1024, le=MAX_UPLOAD_BYTES)
    max_upload_rows: int = Field(default=200_000, ge=1)
    # Registrations per ArchiveFiled / RegistrationBatchSubmitted message.
    batch_size: int = Field(default=1000, ge=1, le=MAX_BATCH)
    # Decoded proof documents of one key-field change, together (they travel in one message).
    max_proof_bytes: int = Field(default=MAX_PROOF_BYTES, ge=1024, le=MAX_PROOF_BYTES)
