from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.services.province.support import Province, province_service


@pytest.fixture
async def province(tmp_path: Path, database_url: str) -> AsyncIterator[Province]:
    async with province_service(tmp_path / "federation", database_url) as service:
        yield service
