"""Database plumbing every tier shares: engines, sessions, migrations."""
