"""The audit trail: who read or changed what, when, from where and why — append-only, chained.

"谁使用（查询、导出）、谁负责" (ZJ art. 30): whoever queries or exports is accountable; no
registration data leaves without the authority's approval (N2013 art. 25; N2025 art. 24).

- :mod:`.tables`: ``kernel_audit_entry`` (one row per audited request) and
  ``kernel_audit_head`` (the chain head), in every tier's database (each tier's migrations);
- :mod:`.chain`: the canonical form of an entry, its hash (SHA-256, or HMAC-SHA256 with
  ``XUEJI_AUDIT_KEY``) over the entry and the previous entry's hash, appending under the
  head row's lock, and verification (``xueji-ops audit verify``);
- :mod:`.recording`: ``audited("read", "student")`` — a route-level declaration that
  writes the request's entry: inside the request's own transaction when it commits a change,
  else (reads, refusals) in a transaction of its own before the response leaves;
- :mod:`.http`: ``GET /api/v1/audit`` for auditors;
- :mod:`.anchors`: the head, signed with the instance key, sent periodically to the level
  above and kept there (``audit.anchored``), which ``xueji-ops audit verify`` checks against.

What the chain protects against, and what not: docs/decisions/0010-audit-hash-chain.md.
"""
