"""National adapters: ORM tables and repositories."""
