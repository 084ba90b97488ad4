"""Province adapters: ORM tables and repositories."""
