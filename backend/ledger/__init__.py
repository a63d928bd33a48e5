"""The credit ledger, behind one async interface, in SQLite (the embedded default) or
PostgreSQL (shared by several web processes): ``open_ledger("sqlite:///PATH")``."""

from .ledger import (
    LEASE_SECONDS,
    CallInFlight,
    CreditError,
    CreditsExhausted,
    Ledger,
    LedgerUnavailable,
    Reservation,
    SessionRecord,
    UnknownCredential,
    open_ledger,
)
from .stores import LedgerUrlError

__all__ = ["LEASE_SECONDS", "CallInFlight", "CreditError", "CreditsExhausted", "Ledger",
           "LedgerUnavailable", "LedgerUrlError", "Reservation", "SessionRecord",
           "UnknownCredential", "open_ledger"]
