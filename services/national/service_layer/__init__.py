"""National use cases: one module per workflow; the only place that decides."""
