"""School domain model: standard library only."""
