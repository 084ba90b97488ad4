"""National entry points: HTTP routers and message handlers."""
