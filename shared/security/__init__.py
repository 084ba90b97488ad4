"""Authentication and authorization of every service (issue #6).

- :mod:`shared.security.principal`: ``Role`` and ``Principal``; after authentication a
  request carries the principal as ``request.state.principal``.
- :mod:`shared.security.authz`: how a route declares who may call it — ``requires(*roles,
  unit=..., reach=..., barred=...)`` or ``public()``; read its docstring before adding a route.
  Every route must declare one (``tests/security/test_matrix.py`` fails otherwise).
- :mod:`shared.security.tokens`: short-lived JWTs verified locally by every service.
- :mod:`shared.security.accounts`, :mod:`shared.security.http`: accounts of the hosted units,
  ``POST /api/v1/auth/token`` (OAuth2 password flow), password rotation, dormant
  accounts sealed and unsealed by the level above.
- :mod:`shared.security.throttle`, :mod:`shared.security.passwords`: failed logins slow
  further attempts down per username and per address (never a lock), and Argon2 runs in a
  bounded number of slots (decision 0026).
- :mod:`shared.security.testing`: tokens for tests and tools (``auth_headers(unit, *roles)``).
"""
