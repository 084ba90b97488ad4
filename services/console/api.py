"""The tiers' public APIs as the console calls them: the user's token, Chinese answers.

Every call goes to the instance hosting the unit it is about (the federation configuration
says which), with ``Authorization: Bearer <the user's token>`` and ``Accept-Language:
zh-CN``. A refusal becomes :class:`ApiError` carrying the API's status, rule, message and
article; a 401 becomes :class:`SessionExpired` (the token expired or was revoked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.federation.config import NATIONAL_CODE, Federation, Tier, UnitRef

ACCEPT_LANGUAGE = "zh-CN, zh;q=0.9"


@dataclass
class FieldError:
    field: str  # dotted path inside the body, e.g. "id_number" or "extended.guardians.0.name"
    rule: str
    message: str


@dataclass
class ApiError(Exception):
    status: int
    rule: str | None
    message: str
    article: str | None = None
    fields: list[FieldError] = field(default_factory=list)
    retry_after: int | None = None  # seconds, when the API says when to try again
    message_zh: str | None = None  # the API catalogue's Chinese text for the code

    def __str__(self) -> str:
        return f"{self.status} {self.rule}: {self.message}"


NATIONAL_NAME = "教育部"  # the national unit (CN), as officials call it


class SessionExpired(Exception):
    """The API refused the token (401): the user must log in again."""


class UnknownUnit(Exception):
    """No instance of the federation hosts this unit."""


def unit_of_code(code: str) -> UnitRef | None:
    """A unit from the code a user types: CN, a 2-digit province, 4-digit city / prefecture
    (州、市, decision 0034), 6-digit county, 10-digit school."""
    code = code.strip().upper()
    tier = {2: Tier.PROVINCE, 4: Tier.CITY, 6: Tier.COUNTY, 10: Tier.SCHOOL}.get(len(code))
    if code == NATIONAL_CODE:
        tier = Tier.NATIONAL
    if tier is None or (tier is not Tier.NATIONAL and not code.isdigit()):
        return None
    return UnitRef(tier=tier, code=code)


class Directory:
    """Where each unit's instance answers."""

    def __init__(self, federation: Federation, overrides: dict[str, str]) -> None:
        self.federation = federation
        self._overrides = overrides

    def base_url(self, unit: UnitRef) -> str:
        instance = self.federation.instance_hosting(unit)
        if instance is None:
            raise UnknownUnit(str(unit))
        if instance.name in self._overrides:
            return self._overrides[instance.name].rstrip("/")
        host = "127.0.0.1" if instance.host in ("0.0.0.0", "::") else instance.host
        return f"http://{host}:{instance.port}"

    def unit_name(self, unit: UnitRef | str) -> str:
        """The unit's Chinese name (教育部, a province's, city's, county's or school's); its
        code when the federation does not name it."""
        ref = UnitRef.parse(unit) if isinstance(unit, str) else unit
        if ref.tier is Tier.NATIONAL:
            return NATIONAL_NAME
        if ref.tier is Tier.SCHOOL:
            school = self.federation.school(ref.code)
            return school.name if school else ref.code
        if ref.tier is Tier.COUNTY:
            county = self.federation.county(ref.code)
            return county.name if county else ref.code
        if ref.tier is Tier.CITY:
            city = self.federation.city(ref.code)
            return city.name if city else ref.code
        if ref.tier is Tier.PROVINCE:
            for province in self.federation.provinces:
                if province.code == ref.code:
                    return province.name
        return ref.code


class Api:
    """One user's calls: ``api.get(unit, path)`` at the instance hosting ``unit``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        directory: Directory,
        token: str | None,
        client_address: str | None = None,
    ) -> None:
        self.http = http
        self.directory = directory
        self.token = token
        self.client_address = client_address

    def _headers(self) -> dict[str, str]:
        headers = {"Accept-Language": ACCEPT_LANGUAGE}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.client_address:
            # The user's address, for the tier's login throttle and audit: set here, never
            # passed on from the browser; the tier believes it only from the peers it trusts
            # (XUEJI_HTTP_FORWARDED_ALLOW_IPS, decision 0032).
            headers["X-Forwarded-For"] = self.client_address
        return headers

    async def request(self, method: str, unit: UnitRef, path: str, **kwargs: Any) -> httpx.Response:
        url = self.directory.base_url(unit) + path
        headers = self._headers() | kwargs.pop("headers", {})
        try:
            response = await self.http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            raise ApiError(503, "service_unavailable", "", None) from error
        if response.status_code == 401 and self.token:
            raise SessionExpired()
        if response.status_code >= 400:
            raise error_of(response)
        return response

    async def get(self, unit: UnitRef, path: str, **kwargs: Any) -> Any:
        return (await self.request("GET", unit, path, **kwargs)).json()

    async def post(self, unit: UnitRef, path: str, **kwargs: Any) -> Any:
        response = await self.request("POST", unit, path, **kwargs)
        return response.json() if response.content else None


def error_of(response: httpx.Response) -> ApiError:
    """The API's refusal (``ErrorResponse``: code, message, message_zh, rule, article, errors;
    decision 0028); a validation refusal names its fields in ``errors``."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        fields = []
        for item in errors:
            if not isinstance(item, dict):
                continue
            loc = [str(p) for p in item.get("loc", []) if p not in ("body", "query", "path")]
            fields.append(
                FieldError(".".join(loc), str(item.get("type", "")), str(item.get("msg", "")))
            )
        rule = fields[0].rule if fields else "invalid_input"
        return ApiError(response.status_code, rule, "", None, fields)
    wait = response.headers.get("retry-after", "")
    return ApiError(
        response.status_code,
        body.get("rule") or body.get("code"),
        str(body.get("message") or ""),
        body.get("article"),
        retry_after=int(wait) if wait.isdigit() else None,
        message_zh=body.get("message_zh"),
    )
