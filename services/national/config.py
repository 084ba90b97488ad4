"""Settings of the national service: the kernel's plus the transfer deadline sweep."""

from __future__ import annotations

from pydantic import Field

from shared.runtime.settings import ServiceSettings


class NationalSettings(ServiceSettings):
    # Seconds between two runs of the transfer deadline sweep (XUEJI_DEADLINE_SWEEP_INTERVAL);
    # the first run is at start (deadlines are data: a restart catches up). 0 turns it off.
    deadline_sweep_interval: float = Field(default=3600.0, ge=0)

    @classmethod
    def of(cls, settings: ServiceSettings) -> NationalSettings:
        """``settings`` as national settings (the national fields from the environment)."""
        if isinstance(settings, NationalSettings):
            return settings
        return cls(**settings.model_dump())
