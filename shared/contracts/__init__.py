"""Message contracts between tiers: the only thing tiers share about each other.

Importing this package registers every contract with the envelope registry.
"""

from shared.contracts import audit as audit
from shared.contracts import duplicates as duplicates
from shared.contracts import filing as filing
from shared.contracts import graduation as graduation
from shared.contracts import merger as merger
from shared.contracts import progression as progression
from shared.contracts import promotion as promotion
from shared.contracts import registration as registration
from shared.contracts import statistics as statistics
from shared.contracts import status as status
from shared.contracts import transfer as transfer
from shared.contracts import transfer_report as transfer_report
from shared.contracts import verification as verification

__all__ = [
    "audit",
    "duplicates",
    "graduation",
    "merger",
    "progression",
    "promotion",
    "registration",
    "statistics",
    "status",
    "transfer",
    "verification",
]
