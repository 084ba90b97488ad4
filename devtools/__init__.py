"""Developer tooling: the local federation launcher (``make run``), a local RabbitMQ and
PostgreSQL run as plain processes, and federation copies for tests and benchmarks.

Nothing here ships: services and ``shared`` never import it (an import-linter contract), and
the package is not among those ``pyproject.toml`` installs.
"""
