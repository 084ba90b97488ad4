"""What every tier service is made of: settings, the runtime (database, broker, relay,
consumer), the FastAPI app factory and the command line entry point."""
