"""The audit viewer: who read or changed what, when and from where ("谁使用、谁负责", ZJ art.
30), filtered by person, object and date, with whether the audit chain holds.

The entries about a unit are kept by the instance hosting it: the page asks that instance's
``GET /api/v1/audit`` (an auditor of the unit or of a unit above it; another unit's trail is
the API's 404) and its ``GET /api/v1/audit/chain`` (decisions 0010, 0027).
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from services.console.api import UnknownUnit
from services.console.web import BEIJING, UserPage
from shared.federation.config import UnitRef

router = APIRouter()

PAGE_SIZE = 50


def _day_start(day: date) -> str:
    """Midnight of a Beijing day, as the API takes instants."""
    return datetime(day.year, day.month, day.day, tzinfo=BEIJING).isoformat()


def _day(text: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise HTTPException(status_code=422) from None


@router.get("/audit")
async def audit(
    page: UserPage,
    unit: Annotated[str, Query(max_length=20)] = "",
    actor: Annotated[str, Query(max_length=60)] = "",
    object_id: Annotated[str, Query(max_length=80)] = "",
    from_text: Annotated[str, Query(alias="from", max_length=10)] = "",
    to_text: Annotated[str, Query(alias="to", max_length=10)] = "",
    after: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """The entries of the unit (the officer's own by default) and the units under it, oldest
    first, ``PAGE_SIZE`` at a time; ``to`` includes its whole day (an empty date field is no
    bound)."""
    from_day, to_day = _day(from_text), _day(to_text)
    ref = page.unit
    if unit:
        try:
            ref = UnitRef.parse(unit)
            page.console.directory.base_url(ref)
        except (ValueError, UnknownUnit):
            raise HTTPException(status_code=404) from None
    values = {
        "unit": str(ref),
        "actor": actor.strip(),
        "object_id": object_id.strip(),
        "from": from_day.isoformat() if from_day else "",
        "to": to_day.isoformat() if to_day else "",
    }
    params: dict[str, Any] = {"unit": str(ref), "limit": PAGE_SIZE}
    if values["actor"]:
        params["actor"] = values["actor"]
    if values["object_id"]:
        params["object_id"] = values["object_id"]
    if from_day:
        params["from"] = _day_start(from_day)
    if to_day:
        params["to"] = _day_start(to_day + timedelta(days=1))
    if after is not None:
        params["after"] = after
    entries, chain = await asyncio.gather(
        page.api.get(ref, "/api/v1/audit", params=params),
        page.api.get(ref, "/api/v1/audit/chain", params={"unit": str(ref)}),
    )
    following = None
    if entries["next_after"] is not None:
        kept = {k: v for k, v in values.items() if v}
        following = "/audit?" + urlencode({**kept, "after": entries["next_after"]})
    return page.render(
        "audit.html",
        unit=ref,
        values=values,
        entries=entries["items"],
        chain=chain,
        following=following,
    )
