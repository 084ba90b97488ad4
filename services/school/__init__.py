"""The school tier service (see docs/architecture.md)."""
