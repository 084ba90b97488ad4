"""What a service instance imports before its first request: not the libraries only a rare
request needs. openpyxl alone is ~15 MB resident, and each instance is to stay under 120 MB
at rest (issue 22; docs/scale.md "Idle memory"): workbooks, QR codes and PDFs load their
library with their first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Alembic: a pod started without migrating (``XUEJI_AUTO_MIGRATE=false``, production's: the
# migration Job migrates) never needs it, ~8 MB with Mako and Pygments
LOADED_ON_FIRST_USE = ("openpyxl", "segno", "PIL", "weasyprint", "alembic", "mako", "pygments")


@pytest.mark.parametrize("tier", ["national", "province", "county", "school"])
def test_a_service_starts_without_the_libraries_of_its_rare_requests(tier: str) -> None:
    probe = (
        f"import sys, shared.runtime.cli, services.{tier}.bootstrap; "
        f"print(','.join(m for m in {LOADED_ON_FIRST_USE!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()
    assert loaded == "", f"{tier} imports {loaded} at start"
