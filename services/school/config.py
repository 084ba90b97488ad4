"""Settings of the school service beyond the shared ``ServiceSettings`` (``XUEJI_SCHOOL_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contracts.registration import MAX_BATCH


class SchoolSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUEJI_SCHOOL_", extra="ignore")

    # Bulk admission files: a CSV of 100,000 students is about 15 MB.
    max_upload_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    max_upload_rows: int = Field(default=200_000, ge=1)
    # Registrations per ArchiveFiled / RegistrationBatchSubmitted message.
    batch_size: int = Field(default=1000, ge=1, le=MAX_BATCH)
    # Decoded proof documents of one key-field change, together (they travel in one message).
    max_proof_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
