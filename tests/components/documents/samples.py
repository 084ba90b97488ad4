"""Real-shaped documents for the tests, the bench and ``devtools/document_samples.py``."""

from __future__ import annotations

from datetime import date
from typing import Any

from components.documents import statements
from components.documents.render import qr_data_uri

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
    code = statements.new_code()
    return {
        "student": student(**overrides),
        "school": SCHOOL,
        "purpose": "转学",
        "footer": {
            "issuer_name": SCHOOL["name"],
            "issued_on": date(2025, 3, 1),
            "code": statements.format_code(code),
            "qr": qr_data_uri("eyJhbGciOiJFZERTQSJ9." + "x" * 420) if signed else None,
        },
    }
