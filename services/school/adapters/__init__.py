"""School adapters: ORM tables and repositories."""
