"""Documents a registrar prints (issue 17, decision 0036): PDF forms and proofs rendered from
HTML and CSS templates by WeasyPrint, each proof carrying a signed statement (QR code and short
code) that anyone can check online at the issuer's verification endpoint or offline with the
published keys (JWKS).

- ``fonts``: the CJK font, pre-subset once to GB 2312 and cached on disk (subsetting the whole
  system font per PDF costs seconds);
- ``render``: templates → PDF (one document, or many as one PDF);
- ``statements``: the signed statement (a compact JWS, EdDSA), the JWKS, offline verification;
- ``registry`` and ``tables``: every issued document, its code and its status (valid, revoked,
  superseded);
- ``http``: the public endpoints (keys, verification).

The hosting service gathers the facts and wires the routes (``services/school``).
"""
