"""What the operator tools know by default: the running federation's ``federation.json``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path("var/federation.json")


class OpsError(Exception):
    """A problem the operator can fix (wrong name, nothing running); printed without a trace."""


@dataclass(frozen=True)
class RunningFederation:
    """``federation.json`` as ``make run`` (LocalFederation) writes it; empty if there is none."""

    path: Path
    amqp_url: str | None = None
    keys_dir: Path | None = None
    instances: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @classmethod
    def load(cls, path: Path | None = None) -> RunningFederation:
        path = path or Path(os.environ.get("XUEJI_FEDERATION_JSON", DEFAULT_PATH))
        if not path.exists():
            return cls(path)
        data = json.loads(path.read_text())
        return cls(
            path,
            amqp_url=data.get("broker", {}).get("amqp_url"),
            keys_dir=Path(data["keys_dir"]) if data.get("keys_dir") else None,
            instances=tuple(data.get("instances", [])),
        )

    @property
    def data_dir(self) -> Path:
        return self.path.parent

    @property
    def instance_names(self) -> list[str]:
        return [str(i["name"]) for i in self.instances]

    def broker_url(self, given: str | None) -> str:
        url = given or os.environ.get("XUEJI_AMQP_URL") or self.amqp_url
        if not url:
            raise OpsError(f"no broker URL: pass --amqp-url (no {self.path} to read it from)")
        return url

    def signing_key_path(self, instance: str) -> Path | None:
        """An instance's private signing key: XUEJI_SIGNING_KEY_FILE, else the local one."""
        given = os.environ.get("XUEJI_SIGNING_KEY_FILE")
        if given:
            return Path(given)
        if self.keys_dir is not None and (self.keys_dir / f"{instance}.key").exists():
            return self.keys_dir / f"{instance}.key"
        return None

    def sqlite_url(self, instance: str) -> str:
        """The database a locally run instance uses by default (SQLite under the data dir)."""
        if self.instances and instance not in self.instance_names:
            raise OpsError(
                f"no instance {instance!r} in {self.path}; known: {', '.join(self.instance_names)}"
            )
        path = (self.data_dir / "db" / f"{instance}.sqlite").absolute()
        if not path.exists():
            raise OpsError(f"no database at {path}: pass --database-url")
        return f"sqlite+aiosqlite:///{path}"
