"""查验: anyone holding a printed document checks it, without an account (decision 0036).

The page asks for the issuing unit's code and the verification code printed in the
document's footer and shows the issuing instance's answer (``GET
/api/v1/documents/verifications/{code}``): genuine or not, who issued it and when, whether it
still stands — nothing else.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.console.api import ApiError, UnknownUnit, unit_of_code
from services.console.web import AnyonePage
from shared.federation.config import Tier

router = APIRouter()

_CODE = re.compile(r"^[0-9A-Za-z-]{16,24}$")
# schools issue proofs and forms; a province issues the certificates of its register (0037)
_ISSUERS = (Tier.SCHOOL, Tier.PROVINCE)


@router.get("/verify")
async def verify(
    page: AnyonePage,
    unit: Annotated[str, Query(max_length=20)] = "",
    code: Annotated[str, Query(max_length=30)] = "",
) -> Response:
    values = {"unit": unit.strip(), "code": code.strip()}
    if not (values["unit"] or values["code"]):
        return page.render("verify.html", values=values, answer=None, error=None)
    issuer = unit_of_code(values["unit"])
    if issuer is None or issuer.tier not in _ISSUERS or not _CODE.match(values["code"]):
        return page.render("verify.html", values=values, answer=None, error="malformed")
    try:
        answer = await page.public_api.get(
            issuer, f"/api/v1/documents/verifications/{values['code']}"
        )
    except UnknownUnit:
        answer = {"genuine": False}
    except ApiError:
        return page.render("verify.html", values=values, answer=None, error="unavailable")
    return page.render("verify.html", values=values, answer=answer, error=None)
