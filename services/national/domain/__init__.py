"""National domain model: standard library only."""
