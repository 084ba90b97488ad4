"""Certificates and the documents of issue 17 the school prints besides the proofs (decision
0037): the school's registrar issues its graduating class's certificates (one PDF or a zip),
reports a certificate lost and prints its 证明书, prints a foreign student's factual
certificate and a dropout report; the county's officers stamp (验印) their register.

Every page calls the tier APIs with the user's own token: who may do what is the API's rule
(another school's student or certificate answers 404 there). Certificates live in the
province's register, so the school's pages call its province's instance.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query
from fastapi.responses import Response

from services.console.web import CSRF, Page, UserPage
from shared.federation.config import Tier, UnitRef

router = APIRouter()


def _school(page: Page) -> UnitRef:
    if page.session.tier != Tier.SCHOOL.value:
        raise HTTPException(status_code=404)
    return page.unit


def _province_of(page: Page, school: UnitRef) -> UnitRef:
    found = page.console.directory.federation.school(school.code)
    if found is None:
        raise HTTPException(status_code=404)
    return UnitRef(tier=Tier.PROVINCE, code=found.province)


def _download(content: bytes, filename: str, media_type: str = "application/pdf") -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/certificates")
async def certificates_page(page: UserPage) -> Response:
    """证书与文件: the forms of the school's certificates and printed reports."""
    _school(page)
    return page.render("certificates.html")


@router.post("/certificates/issue", dependencies=[CSRF])
async def issue_certificates(
    page: UserPage,
    graduation_year: Annotated[int, Form(ge=2000, le=2100)],
    format: Annotated[str, Form(pattern="^(pdf|zip)$")] = "pdf",
) -> Response:
    """发放证书: the graduating class's certificates, numbered by the county's auxiliary
    numbers, as one PDF or a zip of one PDF per student."""
    school = _school(page)
    answer = await page.api.request(
        "POST",
        _province_of(page, school),
        f"/api/v1/schools/{school.code}/certificates",
        params={"graduation_year": graduation_year, "format": format},
        timeout=600,
    )
    if format == "zip":
        return _download(answer.content, f"certificates-{graduation_year}.zip", "application/zip")
    return _download(answer.content, f"certificates-{graduation_year}.pdf")


@router.post("/certificates/loss", dependencies=[CSRF])
async def report_lost(
    page: UserPage,
    number: Annotated[str, Form(min_length=16, max_length=24, pattern=r"^[0-9]{16}$")],
    reason: Annotated[str, Form(min_length=2, max_length=500)],
) -> Response:
    """证书遗失: the certificate is never reissued; its 证明书 is printed instead."""
    school = _school(page)
    answer = await page.api.request(
        "POST",
        _province_of(page, school),
        f"/api/v1/schools/{school.code}/certificates/{number}/loss",
        json={"reason": reason.strip()},
    )
    return _download(answer.content, f"statement-{number}-Z.pdf")


@router.post("/certificates/factual", dependencies=[CSRF])
async def factual_certificate(
    page: UserPage,
    student_number: Annotated[str, Form(min_length=2, max_length=19)],
    purpose: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """写实性证明 of a foreign student who did not finish (ZJ art. 27)."""
    school = _school(page)
    number = student_number.strip().upper()
    params = {"purpose": purpose.strip()} if purpose.strip() else {}
    answer = await page.api.request(
        "GET",
        school,
        f"/api/v1/schools/{school.code}/students/{number}/documents/factual-certificate.pdf",
        params=params,
    )
    return _download(answer.content, f"factual_certificate-{number}.pdf")


@router.post("/certificates/dropout-report", dependencies=[CSRF])
async def dropout_report(page: UserPage, change_id: Annotated[uuid.UUID, Form()]) -> Response:
    """辍学情况报告 of a reported dropout (N2013 art. 22)."""
    school = _school(page)
    answer = await page.api.request(
        "GET",
        school,
        f"/api/v1/schools/{school.code}/status-changes/{change_id}/documents/dropout-report.pdf",
    )
    return _download(answer.content, f"dropout_report-{change_id}.pdf")


# --- the county's register and its stamping (验印) -------------------------------------------


def _county(page: Page) -> UnitRef:
    if page.session.tier != Tier.COUNTY.value:
        raise HTTPException(status_code=404)
    return page.unit


def _province_of_county(page: Page, county: UnitRef) -> UnitRef:
    found = page.console.directory.federation.county(county.code)
    if found is None:
        raise HTTPException(status_code=404)
    return UnitRef(tier=Tier.PROVINCE, code=found.province)


@router.get("/certificate-register")
async def certificate_register(
    page: UserPage, stamped: Annotated[int | None, Query(ge=0)] = None
) -> Response:
    """证书验印: the certificates and 证明书 of the county's register waiting for its stamp."""
    county = _county(page)
    path = f"/api/v1/counties/{county.code}/certificates"
    province = _province_of_county(page, county)
    waiting = await page.api.get(province, path, params={"unstamped": "true", "limit": 500})
    return page.render("certificate_register.html", waiting=waiting, stamped=stamped)


@router.post("/certificate-register/stamping", dependencies=[CSRF])
async def stamp(page: UserPage, number: Annotated[list[str], Form()]) -> Response:
    """Record the stamping of the checked certificates (who and when: the API's)."""
    county = _county(page)
    answer = await page.api.post(
        _province_of_county(page, county),
        f"/api/v1/counties/{county.code}/certificates/stamping",
        json={"numbers": number},
    )
    return page.redirect(f"/certificate-register?stamped={len(answer['stamped'])}")
