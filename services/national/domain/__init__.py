"""National rules as pure functions over plain data: identity, dedup, student numbers."""
