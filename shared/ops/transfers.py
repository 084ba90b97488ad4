"""Transfers as the operator sees them, read from the national API (national runs every
transfer as one saga, so one place answers "what is this transfer waiting for, until when?").

    xueji-ops transfer show ID          the transfer, every step, who decided, what it waits for
    xueji-ops transfer overdue --unit U the open steps past due whose party or superior is U

The national URL is ``--national-url``, else ``XUEJI_NATIONAL_URL``, else the ``base_url`` of
the national instance in ``federation.json``. The bearer token is ``--token``, else
``XUEJI_TOKEN`` (``POST /api/v1/auth/token`` gives one), else — for a federation started by
``make run`` — a login as national's development account from ``dev-credentials.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TextIO

import httpx

from shared.ops.federation import OpsError, RunningFederation

Table = Callable[[Sequence[Sequence[str]], TextIO], None]


def national_url(fed: RunningFederation, given: str | None) -> str:
    url = given or os.environ.get("XUEJI_NATIONAL_URL")
    if not url:
        national = [i for i in fed.instances if i.get("tier") == "national" and i.get("base_url")]
        url = str(national[0]["base_url"]) if national else None
    if not url:
        raise OpsError(f"no national URL: pass --national-url (no national instance in {fed.path})")
    return url.rstrip("/")


def national_token(fed: RunningFederation, base_url: str, given: str | None) -> str | None:
    token = given or os.environ.get("XUEJI_TOKEN")
    if token:
        return token
    credentials = fed.data_dir / "dev-credentials.json"
    if not credentials.exists():
        return None
    accounts = json.loads(credentials.read_text(encoding="utf-8")).get("accounts", [])
    for account in accounts:
        if account.get("unit") == "national:CN":
            form = {"username": account["username"], "password": account["password"]}
            try:
                response = httpx.post(base_url + "/api/v1/auth/token", data=form, timeout=10)
            except httpx.HTTPError as exc:
                raise OpsError(f"cannot reach national at {base_url}: {exc!r}") from exc
            if response.status_code != 200:
                raise OpsError(f"login as {account['username']} failed: {_detail(response)}")
            return str(response.json()["access_token"])
    return None


class NationalApi:
    """The few national endpoints the tool reads; problems become :class:`OpsError`."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 10.0) -> None:
        self.base_url = base_url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout

    def transfer(self, transfer_id: str) -> dict[str, Any]:
        return self._get(f"/api/v1/transfers/{transfer_id}")

    def overdue(self, unit: str, as_of: date | None) -> dict[str, Any]:
        params = {"unit": unit} | ({"as_of": as_of.isoformat()} if as_of else {})
        return self._get("/api/v1/transfers/overdue", params)

    def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            response = httpx.get(
                self.base_url + path, params=params, headers=self._headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            raise OpsError(f"cannot reach national at {self.base_url}: {exc!r}") from exc
        if response.status_code == 401:
            raise OpsError(
                f"national answered 401: {_detail(response)} (pass --token or XUEJI_TOKEN)"
            )
        if response.status_code != 200:
            raise OpsError(f"national answered {response.status_code}: {_detail(response)}")
        body: dict[str, Any] = response.json()
        return body


def _detail(response: httpx.Response) -> str:
    """The refusal's message (ErrorResponse, decision 0028), else the raw text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if not isinstance(body, dict) or "message" not in body:
        return response.text[:200]
    return str(body["message"])[:200]


def _text(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def _due(step: dict[str, Any]) -> str:
    """A due date, ``~`` when it counted a year without holiday data."""
    return _text(step.get("due_on")) + ("~" if step.get("due_approximate") else "")


def _note(step: dict[str, Any]) -> str:
    parts = ["intervention"] if step.get("intervention") else []
    parts += [f"rule {step['rule']}"] if step.get("rule") else []
    parts += [str(step["reason"])] if step.get("reason") else []
    return "; ".join(parts) or "-"


def print_transfer(body: dict[str, Any], out: TextIO, table: Table) -> None:
    print(f"transfer {body['transfer_id']}  {body['state']}", file=out)
    print(
        f"student  {body['student_number']}  grade {body['grade']}  "
        f"class {_text(body.get('class_name'))}",
        file=out,
    )
    print(f"from     school:{body['from_school']} (province {body['from_province']})", file=out)
    print(f"to       school:{body['to_school']} (province {body['to_province']})", file=out)
    print(f"requested {body['requested_on']}", file=out)
    waiting = body.get("waiting_for")
    if waiting:
        print(
            f"waiting for {waiting['role']} {waiting['party_unit']} until "
            f"{_text(waiting['due_on'])}",
            file=out,
        )
    if body.get("closing_rule"):
        print(f"closed   {body['closing_rule']}: {_text(body.get('closing_reason'))}", file=out)
    if body.get("archive_due_on"):
        print(f"archive to be handed over by {body['archive_due_on']}", file=out)
    steps = body.get("steps") or []
    if not steps:
        return
    header = ("SEQ", "ROLE", "PARTY", "STATE", "OPENED", "DUE", "DECIDED BY", "UNIT", "AT", "NOTE")
    rows = [
        (
            str(s["seq"]), s["role"], s["party_unit"], s["state"], _text(s.get("opened_on")),
            _due(s), _text(s.get("decided_by")), _text(s.get("decided_unit")),
            _text(s.get("decided_at"))[:19], _note(s),
        )
        for s in steps
    ]  # fmt: skip
    print("", file=out)
    table([header, *rows], out)


def print_overdue(body: dict[str, Any], out: TextIO, table: Table) -> None:
    items = body.get("items") or []
    print(f"{len(items)} overdue step(s) for {body['unit']} on {body['as_of']}", file=out)
    if not items:
        return
    header = ("TRANSFER", "ROLE", "PARTY", "SUPERIOR", "DUE", "STUDENT", "FROM", "TO", "TOLD")
    rows = [
        (
            i["transfer_id"], i["role"], i["party_unit"], i["superior_unit"], _due(i),
            i["student_number"], i["from_school"], i["to_school"],
            _text(i.get("overdue_notified_at"))[:19],
        )
        for i in items
    ]  # fmt: skip
    table([header, *rows], out)
