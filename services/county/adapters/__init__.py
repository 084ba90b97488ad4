"""County adapters: ORM tables and repositories."""
