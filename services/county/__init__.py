"""The county tier service (see docs/architecture.md)."""
