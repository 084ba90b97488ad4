"""Message contracts between tiers: the only thing tiers share about each other.

Importing this package registers every contract with the envelope registry.
"""

from shared.contracts import registration as registration
from shared.contracts import status as status
from shared.contracts import transfer as transfer

__all__ = ["registration", "status", "transfer"]
