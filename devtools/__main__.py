"""``python -m devtools``: run the whole federation locally (``make run``)."""

from devtools.launcher import main

raise SystemExit(main())
