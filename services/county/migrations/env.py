from services.county.tables import metadata
from shared.db.migrate import run_env

run_env(metadata)
