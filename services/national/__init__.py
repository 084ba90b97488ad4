"""The national tier service (see docs/architecture.md)."""
