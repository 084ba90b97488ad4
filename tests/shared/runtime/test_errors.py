"""Every refusal answers the one error model, through a real tier app (shared/runtime/app.py).

Domain errors, FastAPI's validation errors, its 404/405, authentication's 401 and the
service's own 500 all carry ``code`` and ``message``; the Chinese text comes from the zh-CN
catalogue when ``Accept-Language`` prefers Chinese, and never otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI, Query

from shared import i18n
from shared.runtime.errors import Conflict, DomainError, ErrorResponse, wants_chinese
from shared.security.authz import NATIONAL_UNIT, public, requires
from shared.security.principal import Role
from tests.shared.audit.test_coverage import app_of


async def refuse() -> None:
    raise DomainError(
        "a suspension lasts at most 12 months", rule="weak_password", article="HA art. 11"
    )


async def conflict() -> None:
    raise Conflict("the task was decided meanwhile", rule="task_already_decided")


async def count(n: Annotated[int, Query(ge=1)]) -> dict[str, int]:
    return {"n": n}


async def fail() -> None:
    raise RuntimeError("boom")


async def protected() -> None:
    return None


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    application = app_of("national", tmp_path_factory.mktemp("app"))
    anyone = [public()]
    application.add_api_route("/test/refuse", refuse, dependencies=anyone)
    application.add_api_route("/test/conflict", conflict, methods=["POST"], dependencies=anyone)
    application.add_api_route("/test/count", count, dependencies=anyone)
    application.add_api_route("/test/fail", fail, dependencies=anyone)
    application.add_api_route(
        "/test/protected", protected, dependencies=[requires(Role.AUDITOR, unit=NATIONAL_UNIT)]
    )
    return application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


def body(response: httpx.Response) -> ErrorResponse:
    assert response.headers["content-type"].startswith("application/json")
    return ErrorResponse.model_validate_json(response.content, strict=True)


async def test_a_domain_refusal_names_its_rule_and_article_in_chinese_when_asked(
    client: httpx.AsyncClient,
) -> None:
    english = await client.get("/test/refuse")
    chinese = await client.get("/test/refuse", headers=ZH)

    assert english.status_code == chinese.status_code == 422
    assert english.json() == {
        "code": "weak_password",
        "message": "a suspension lasts at most 12 months",
        "message_zh": None,
        "rule": "weak_password",
        "article": "HA art. 11",
        "errors": [],
    }
    # the Chinese sentence cites the article the Chinese way; the article field stays a code
    assert body(chinese).message_zh == f"{i18n.message('weak_password')}（豫 第十一条）"
    assert body(chinese).article == "HA art. 11"
    assert chinese.json()["message_zh"] and "密码" in chinese.json()["message_zh"]


async def test_a_conflict_is_409_with_the_same_model(client: httpx.AsyncClient) -> None:
    response = await client.post("/test/conflict", headers=ZH)
    assert response.status_code == 409
    refused = body(response)
    assert (refused.code, refused.rule) == ("task_already_decided", "task_already_decided")
    assert refused.message_zh == i18n.message("task_already_decided")


async def test_an_invalid_request_names_each_field_without_echoing_the_input(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/test/count", params={"n": "41010220180307001X"}, headers=ZH)
    assert response.status_code == 422
    refused = body(response)
    assert (refused.code, refused.rule) == ("validation_failed", None)
    assert [(e.loc, e.type) for e in refused.errors] == [(["query", "n"], "int_parsing")]
    assert refused.message.startswith("query.n: ")
    assert refused.message_zh == i18n.message("validation_failed")
    assert "41010220180307001X" not in response.text


async def test_routing_refusals_use_the_model(client: httpx.AsyncClient) -> None:
    missing = await client.get("/no/such/path")
    assert missing.status_code == 404 and body(missing).code == "not_found"
    wrong_method = await client.delete("/test/count")
    assert wrong_method.status_code == 405 and body(wrong_method).code == "method_not_allowed"
    assert wrong_method.headers["allow"] == "GET"


async def test_an_unauthenticated_call_is_401_and_says_how(client: httpx.AsyncClient) -> None:
    response = await client.get("/test/protected", headers=ZH)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    refused = body(response)
    assert refused.code == refused.rule == "authentication_required"
    assert refused.message_zh == i18n.message("authentication_required")


async def test_the_services_own_failure_is_500_in_the_model_without_internals(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/test/fail", headers=ZH)
    assert response.status_code == 500
    refused = body(response)
    assert refused.code == "internal_error" and "boom" not in response.text
    assert refused.message_zh == i18n.message("internal_error")


@pytest.mark.parametrize(
    ("header", "chinese"),
    [
        (None, False),
        ("", False),
        ("en-US,en;q=0.9", False),
        ("zh-CN", True),
        ("zh", True),
        ("zh-Hans-CN;q=0.9, en;q=0.5", True),
        ("en;q=0.5, zh;q=0.8", True),
        ("zh;q=0.3, en;q=0.7", False),
        ("fr, zh;q=0.1", True),
        ("zh;q=oops", False),
    ],
)
def test_accept_language_decides_the_chinese_text(header: str | None, chinese: bool) -> None:
    assert wants_chinese(header) is chinese
