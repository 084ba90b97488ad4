"""Offline verification of a document's QR code with the published keys.

::

    python -m components.documents.verify keys.json 'eyJhbGciOiJFZERTQSIs…'

``keys.json`` is the JWKS from ``GET /api/v1/documents/keys`` (saved once; no network is
needed afterwards). Prints what the statement says and exits 0 when genuine; prints why not
and exits 1 otherwise. Offline, a verifier cannot know of a later revocation: the online
endpoint answers that.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from components.documents.statements import NotGenuine, keys_of_jwks, verify


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a Xueji document's QR code offline.")
    parser.add_argument("jwks", type=Path, help="the published keys (JWKS JSON)")
    parser.add_argument("statement", help="the QR code's text (a compact JWS)")
    args = parser.parse_args(argv)
    keys = keys_of_jwks(json.loads(args.jwks.read_text(encoding="utf-8")))
    try:
        statement = verify(args.statement.strip(), keys)
    except NotGenuine as exc:
        print(f"NOT GENUINE: {exc.reason}")
        return 1
    print(
        json.dumps(
            {
                "genuine": True,
                "kind": statement.kind,
                "issuer": statement.issuer,
                "issuer_name": statement.issuer_name,
                "issued_on": statement.issued_on.isoformat(),
                "student_number": statement.subject,
                "name": statement.subject_name,
                "code": statement.code,
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
