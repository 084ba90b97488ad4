"""National use cases, handlers and sagas."""
