from services.national.adapters.orm import metadata
from shared.db.migrate import run_env

run_env(metadata)
