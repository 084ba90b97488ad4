"""Business components that several tiers plug in, each wired by the hosting service's
``bootstrap.py``: the approval desk (every party that decides something) and exports.

A component imports ``shared`` (the runtime kernel) and no service; ``shared`` imports no
component (import-linter contracts in ``pyproject.toml``).
"""
