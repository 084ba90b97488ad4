"""County domain model: standard library only."""
