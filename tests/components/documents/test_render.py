"""The templates render as one A4 page each, with the CJK glyphs embedded and every field in
its box, read back with poppler; a character outside the cached font still prints."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from components.documents import fonts
from components.documents import render as render_module
from components.documents.render import Renderer, renderer
from devtools.document_samples import SAMPLES, context, template_of
from tests.components.documents import pdf

TEMPLATES = sorted(SAMPLES)  # every document, with its sample


@pytest.fixture(scope="module")
def render() -> Renderer:
    return renderer()


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_document_is_one_a4_page_with_embedded_cjk_fonts(
    render: Renderer, template: str, tmp_path: Path
) -> None:
    document = render.render(template_of(template), [SAMPLES[template]])
    info = pdf.info(document)
    assert (info.pages, info.a4) == (1, True)
    found = pdf.fonts(document)
    assert found and all(font.embedded and font.unicode for font in found)
    assert any(fonts.FAMILY.replace(" ", "-") in font.name for font in found)
    image = Image.open(pdf.raster(document, tmp_path / "page.png")).convert("L")
    assert image.size == (497, 702)  # A4 at 60 dpi (pdftoppm rounds 495.9 up)
    dark = sum(image.histogram()[:128])
    assert dark > 5000  # text, table lines and the QR code, not a blank page


def test_the_registration_proof_says_who_where_since_when_and_status(render: Renderer) -> None:
    sample = context()
    lines = pdf.lines(render.render("registration_proof.html", [sample]))
    text = "\n".join(lines)
    assert lines[0] == "学籍证明"
    assert "兹证明张三（男，2018年3月7日出生）" in text
    assert "自2024年9月1日起在郑州市中原区第一实验小学就读" in text.replace("\n", "")
    assert "学籍状态：在读" in text
    # the boxes of the table: each label beside its value
    assert "姓 名 张三 性 别 男" in lines
    assert "学籍号 G410102201803070017" in lines
    assert "证件类型 居民身份证 证件号码 410102201803070017" in lines
    assert "年级班级 一年级 一年级2班 学籍状态 在读" in lines
    assert "入学日期 2024年9月1日 用 途 转学" in lines
    footer = lines[-1]
    assert footer.startswith("出具单位：郑州市中原区第一实验小学 出具日期：2025年3月1日")
    assert footer.endswith(f"验证码：{sample['footer']['code']}")


def test_the_basic_information_sheet_fills_its_boxes(render: Renderer) -> None:
    sample = context(id_number="4101**********0017", class_name="三年级1班", grade=3)
    lines = pdf.lines(render.render("basic_info.html", [sample]))
    assert lines[0] == "学生基本信息表"
    assert "姓 名 张三 性 别 男" in lines and "照片" in lines
    assert "证件号码 4101**********0017" in lines
    assert "年 级 三年级 班 级 三年级1班" in lines
    assert "学籍状态 在读" in " ".join(lines)


def test_a_name_outside_gb2312_prints_from_the_full_font(render: Renderer) -> None:
    rare = "王䶮"  # U+4DAE, CJK extension A: not in the cached subset
    assert fonts.missing_characters(rare) == {"䶮"}
    document = render.render("registration_proof.html", [context(name=rare)])
    assert f"兹证明{rare}" in pdf.text(document)
    assert all(font.embedded for font in pdf.fonts(document))


def test_many_documents_make_one_pdf_of_one_page_each(render: Renderer) -> None:
    samples = [context(name=name) for name in ("张三", "李四", "王五")]
    document = render.render("registration_proof.html", samples)
    assert pdf.info(document).pages == 3
    pages = pdf.text(document).split("\f")
    assert [("李四" in page) for page in pages[:3]] == [False, True, False]


def test_a_large_batch_renders_on_every_core_in_order() -> None:
    names = [f"学生{n:02d}" for n in range(render_module.PARALLEL_FROM + 5)]
    document = render_module.render_batch(
        "registration_proof.html", [context(signed=False, name=name) for name in names]
    )
    assert pdf.info(document).pages == len(names)
    pages = pdf.text(document).split("\f")
    assert [next(n for n in names if f"兹证明{n}" in page) for page in pages[: len(names)]] == names
    assert all(font.embedded for font in pdf.fonts(document))


def test_a_zip_batch_renders_one_pdf_per_document_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(render_module, "PARALLEL_FROM", 3)  # through the worker processes
    names = ["赵一", "钱二", "孙三", "李四"]
    documents = render_module.render_each(
        "registration_proof.html", [context(name=name) for name in names]
    )
    assert [pdf.info(one).pages for one in documents] == [1, 1, 1, 1]
    texts = [pdf.text(one) for one in documents]
    assert [f"兹证明{name}" in text for text, name in zip(texts, names, strict=True)] == [True] * 4


def test_the_qr_code_is_drawn_from_the_statement_when_the_page_is_rendered() -> None:
    sample = context(signed=False)
    issued = {**sample, "footer": {**sample["footer"], "statement": "eyJ" + "a" * 300}}
    drawn = render_module.with_qr(issued)
    assert drawn["footer"]["qr"].startswith("data:image/png;base64,")
    assert render_module.with_qr(sample) is sample  # a form without a statement: no QR
