"""A NUL character (U+0000) anywhere a handler would read it is a 422 with a reason."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, File, Form, UploadFile

from shared.runtime.nul import RULE, RefuseNulMiddleware

app = FastAPI()
app.add_middleware(RefuseNulMiddleware)


@app.get("/items/{name}")
async def read(name: str, q: str = "") -> dict[str, str]:
    return {"name": name, "q": q}


@app.post("/json")
async def post_json(body: dict[str, Any]) -> dict[str, Any]:
    return body


@app.post("/form")
async def post_form(name: Annotated[str, Form()]) -> dict[str, str]:
    return {"name": name}


@app.post("/upload")
async def upload(file: Annotated[UploadFile, File()]) -> dict[str, int]:
    return {"size": len(await file.read())}


@pytest.fixture
async def client() -> Any:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("GET", "/items/a%00b", {}),
        ("GET", "/items/a", {"params": {"q": "x\x00"}}),
        ("POST", "/json", {"json": {"name": "张\x00三"}}),
        ("POST", "/form", {"data": {"name": "a\x00"}}),
        ("GET", "/items/a", {"headers": {"X-Xueji-Purpose": "audit%00"}}),
    ],
)
async def test_a_nul_character_is_refused_with_a_reason(
    client: httpx.AsyncClient, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    response = await client.request(method, url, **kwargs)
    assert response.status_code == 422
    assert response.json()["rule"] == RULE and "NUL" in response.json()["message"]


async def test_clean_requests_and_binary_uploads_pass(client: httpx.AsyncClient) -> None:
    assert (await client.get("/items/a%2500", params={"q": "100%"})).json() == {
        "name": "a%00",
        "q": "100%",
    }
    assert (await client.post("/json", json={"name": "张三"})).json() == {"name": "张三"}
    assert (await client.post("/form", data={"name": "李四"})).json() == {"name": "李四"}
    upload = await client.post("/upload", files={"file": ("a.xlsx", b"PK\x03\x04\x00\x00")})
    assert upload.json() == {"size": 6}
