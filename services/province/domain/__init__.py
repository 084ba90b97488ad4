"""Province domain model: standard library only."""
