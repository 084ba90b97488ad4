"""The province tier service (see docs/architecture.md)."""
