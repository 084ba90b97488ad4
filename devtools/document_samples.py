"""Sample documents (real-shaped data, used by the tests) and the reference images of
docs/documents/: each document rendered with its sample and rasterised at 60 dpi
(``pdftoppm -r 60 -png``), so a reader sees every form without running the system.

    .venv/bin/python -m devtools.document_samples      # rewrites docs/documents/*.png
"""

from __future__ import annotations

import subprocess
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from components.documents import statements
from components.documents.render import qr_data_uri, renderer

SCHOOL = {"name": "郑州市中原区第一实验小学", "code": "4101020001"}


def student(**overrides: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "name": "张三",
        "gender": "male",
        "birth_date": date(2018, 3, 7),
        "id_type": "resident_id",
        "id_number": "410102201803070017",
        "nationality": "CHN",
        "ethnicity": "汉族",
        "grade": 1,
        "enrolled_on": date(2024, 9, 1),
        "student_number": "G410102201803070017",
        "status": "enrolled",
        "class_name": "一年级2班",
    }
    facts.update(overrides)
    return facts


def context(signed: bool = True, **overrides: Any) -> dict[str, Any]:
    """A document's template context, its footer signed like an issued one's."""
    code = "DM4WFNF1T07WCBXJ"  # fixed: the reference images change only with the layout
    return {
        "student": student(**overrides),
        "school": SCHOOL,
        "purpose": "转学",
        "footer": {
            "issuer_name": SCHOOL["name"],
            "unit_code": SCHOOL["code"],
            "issued_on": date(2025, 3, 1),
            "code": statements.format_code(code),
            "qr": qr_data_uri("eyJhbGciOiJFZERTQSJ9." + "x" * 420) if signed else None,
        },
    }


ZJ_SCHOOL = {"name": "杭州市上城区胜利小学", "code": "3301020001"}


def certificate(**overrides: Any) -> dict[str, Any]:
    """A certificate's facts as the province's register keeps them (ZJ arts. 24-26)."""
    facts: dict[str, Any] = {
        "number": "3301022027000021",
        "outcome": "graduated",
        "graduation_year": 2027,
        "enrolled_year": 2021,
        "replaces": None,
        "replaced_on": date(2027, 9, 3),
        "county_name": "杭州市上城区",
    }
    facts.update(overrides)
    return facts


# every template with a sample (devtools/document_samples.py draws docs/documents/ from them)
SAMPLES: dict[str, dict[str, Any]] = {
    "registration_proof.html": context(),
    "basic_info.html": context(id_number="4101**********0017"),
    "transfer_application.html": {
        **context(signed=False, name=None, ethnicity=None),
        "transfer": {
            "from_school": "郑州市中原区第一实验小学",
            "to_school": "郑州市金水区文化路小学",
            "grade": 3,
            "class_name": "三年级2班",
            "reason": "随父母工作调动迁居金水区",
        },
    },
    "status_application.html": {
        **context(signed=False),
        "change": {
            "kind": "suspend",
            "effective_on": date(2025, 2, 20),
            "reason": "因病需住院治疗三个月以上",
            "grade": 1,
            "class_name": "一年级2班",
        },
    },
    "attendance_proof.html": context(signed=False, grade=3, class_name="三年级1班"),
    "security_pledge.html": {
        **context(signed=False),
        "unit": SCHOOL,
        "account": "school:4101020001/li.registrar",
    },
    "certificate.html": {
        **context(name="王梓涵", gender="female", student_number="G330102201203070021"),
        "school": ZJ_SCHOOL,
        "certificate": certificate(),
        "footer": {**context()["footer"], "issuer_name": ZJ_SCHOOL["name"], "unit_code": "33"},
    },
    "factual_certificate.html": {
        **context(
            name="SMITH JOHN",
            nationality="USA",
            id_type="passport",
            id_number="P1234567",
            student_number="L33010220120001",
        ),
        "study": {"left_on": date(2025, 1, 17), "last_grade": 4, "status": "abroad"},
    },
    "dropout_report.html": {
        **context(signed=False, status="dropout", grade=8),
        "report": {
            "township": "中原区林山寨街道",
            "county_name": "郑州市中原区",
            "effective_on": date(2025, 2, 24),
            "reason": "连续旷课二十日以上，经多次家访劝返未果",
            "grade": 8,
            "class_name": "八年级3班",
        },
    },
}
SAMPLES["graduation_statement.html"] = {
    **SAMPLES["certificate.html"],
    "certificate": certificate(replaces="3301022027000021", number="3301022027000021-Z1"),
}


def template_of(sample: str) -> str:
    """The template a sample renders with (the 证明书 is the certificate's template)."""
    return "certificate.html" if sample == "graduation_statement.html" else sample


TARGET = Path(__file__).resolve().parents[1] / "docs" / "documents"


def main() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    render = renderer()
    with tempfile.TemporaryDirectory() as directory:
        for template, context in SAMPLES.items():
            name = template.removesuffix(".html")
            pdf = Path(directory) / f"{name}.pdf"
            pdf.write_bytes(render.render(template_of(template), [context]))
            subprocess.run(
                ["pdftoppm", "-r", "60", "-png", "-singlefile", str(pdf), str(TARGET / name)],
                check=True,
                timeout=60,
            )
            print(TARGET / f"{name}.png")


if __name__ == "__main__":
    main()
