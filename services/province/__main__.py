from services.province.bootstrap import build_app
from shared.federation.config import Tier
from shared.runtime.cli import main

main(Tier.PROVINCE, build_app)
