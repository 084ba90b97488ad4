"""Province rules as configuration: ``<federation config dir>/provinces/<code>.toml``.

A province's implementing rules (HA, ZJ, LS ...) differ; the code reads them from here, so a
province changes its policy by editing its file (a ConfigMap in Kubernetes), not the code.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RegistrationRules(_Rules):
    # Approve registrations that pass every check without waiting for an officer.
    auto_approve: bool = False


class ProvinceRules(_Rules):
    code: str
    name: str = ""
    registration: RegistrationRules = RegistrationRules()


def rules_path(federation_config: Path, province_code: str) -> Path:
    return federation_config.parent / "provinces" / f"{province_code}.toml"


def load_province_rules(federation_config: Path, province_code: str) -> ProvinceRules:
    """The rules of ``province_code``; the national defaults when it has no file."""
    path = rules_path(federation_config, province_code)
    if not path.exists():
        return ProvinceRules(code=province_code)
    with path.open("rb") as handle:
        return ProvinceRules.model_validate({"code": province_code, **tomllib.load(handle)})
