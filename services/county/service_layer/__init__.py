"""County use cases, handlers and sagas."""
