"""``python -m shared.federation``: run the whole federation locally (``make run``)."""

from shared.federation.launcher import main

raise SystemExit(main())
