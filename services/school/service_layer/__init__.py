"""School use cases, handlers and sagas."""
