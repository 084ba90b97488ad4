"""The messaging kernel: envelope, topology, transactional outbox, idempotent inbox, consumer."""
