"""Province use cases, handlers and sagas."""
