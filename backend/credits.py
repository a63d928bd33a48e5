"""The credit ledger: what each L402 credential bought and used, in SQLite.

Verification of a credential is stateless (backend/l402); counting is not, and lives here.
A paid call first *reserves* a credit (in memory: a reservation dies with the process,
which is exactly when its work dies too), does its work, then *commits*: the credit is
used and the call's Idempotency-Key recorded in one transaction. A call that fails
releases its reservation, so it costs nothing; a crash before the commit costs nothing.

Only accounting is stored: token ids, payment hashes, counts, session settings. Nothing a
user sends (samples, labels) and nothing derived from it is written here.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from .sqlite import open_database, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY, settings TEXT NOT NULL,
    created INTEGER NOT NULL, expires INTEGER NOT NULL, closed INTEGER NOT NULL DEFAULT 0,
    labels_held INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS credentials (
    token_id BLOB PRIMARY KEY, payment_hash BLOB UNIQUE NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (session_id),
    iterations INTEGER NOT NULL, amount_msat INTEGER NOT NULL,
    created INTEGER NOT NULL, valid_until INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0 AND used <= iterations));
CREATE INDEX IF NOT EXISTS credentials_by_session ON credentials (session_id);
CREATE INDEX IF NOT EXISTS credentials_unused ON credentials (created) WHERE used = 0;
CREATE INDEX IF NOT EXISTS sessions_by_created ON sessions (created);
CREATE TABLE IF NOT EXISTS charged_calls (
    token_id BLOB NOT NULL, idempotency_key TEXT NOT NULL, charged_at INTEGER NOT NULL,
    credits INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (token_id, idempotency_key));
"""


class CreditError(Exception):
    """Base of the ledger's refusals."""


class UnknownCredential(CreditError):
    """The credential verifies but this server never sold it (another server's root key?)."""


class CreditsExhausted(CreditError):
    """Every credit of this credential is used (or reserved by a call in flight)."""


@dataclass(frozen=True)
class SessionRecord:
    session_id: str
    settings: dict
    created: int
    expires: int
    closed: bool
    labels_held: int = 0  # labels its model held, as of the last change (a count only)


@dataclass
class Reservation:
    token_id: bytes
    idempotency_key: str | None
    already_charged: bool  # a retry of a call that was charged before: free this time
    count: int = 1  # credits the call costs
    cap: int | None = None  # the credential's own iteration caveat
    done: bool = False


class CreditLedger:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._db = open_database(path, SCHEMA, synchronous="FULL")
        self._add_column("sessions", "labels_held")
        self._add_column("charged_calls", "credits", default=1)
        self._reserved: dict[bytes, int] = {}
        self._in_flight: set[tuple[bytes, str]] = set()

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db)

    def _add_column(self, table: str, column: str, default: int = 0) -> None:
        """A ledger written by an earlier version gets a count column it lacks."""
        columns = {row["name"] for row in self._db.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER NOT NULL"
                             f" DEFAULT {default}")

    # -- sessions -------------------------------------------------------------------

    def open_session(self, session_id: str, settings: dict, ttl_seconds: int) -> SessionRecord:
        now = int(self._clock())
        with self._transaction() as db:
            db.execute("INSERT INTO sessions (session_id, settings, created, expires)"
                       " VALUES (?, ?, ?, ?)",
                       (session_id, json.dumps(settings), now, now + ttl_seconds))
        return self.session(session_id)

    def session(self, session_id: str) -> SessionRecord | None:
        row = self._db.execute("SELECT * FROM sessions WHERE session_id = ?",
                               (session_id,)).fetchone()
        if row is None:
            return None
        return SessionRecord(row["session_id"], json.loads(row["settings"]), row["created"],
                             row["expires"], bool(row["closed"]), row["labels_held"])

    def set_labels_held(self, session_id: str, count: int) -> None:
        self._db.execute("UPDATE sessions SET labels_held = ? WHERE session_id = ?",
                         (count, session_id))

    def extend_session(self, session_id: str, expires: int) -> None:
        self._db.execute("UPDATE sessions SET expires = MAX(expires, ?) WHERE session_id = ?",
                         (expires, session_id))

    def close_session(self, session_id: str) -> None:
        self._db.execute("UPDATE sessions SET closed = 1 WHERE session_id = ?", (session_id,))

    # -- credentials ----------------------------------------------------------------

    def record_sale(self, *, token_id: bytes, payment_hash: bytes, session_id: str,
                    iterations: int, amount_msat: int, valid_until: int) -> None:
        """Remember a challenge we issued; it becomes credits once its invoice is paid."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO credentials (token_id, payment_hash, session_id, iterations,"
                " amount_msat, created, valid_until) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (token_id, payment_hash, session_id, iterations, amount_msat,
                 int(self._clock()), valid_until),
            )

    def remaining(self, token_id: bytes, cap: int | None = None) -> int:
        """Credits left on a credential, not counting calls in flight.

        ``cap``: the iterations the credential itself grants (a holder may have attenuated
        its macaroon to fewer than were sold); the smaller count wins.
        """
        row = self._row(token_id)
        granted = row["iterations"] if cap is None else min(cap, row["iterations"])
        return max(granted - row["used"], 0)

    def session_spending(self, session_id: str) -> dict:
        """Bought and used over every credential of a session (paid or not is not known
        here: a credential counts once it has been used at least once)."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(iterations), 0) AS bought, COALESCE(SUM(used), 0) AS used,"
            " COALESCE(SUM(amount_msat), 0) AS msat FROM credentials"
            " WHERE session_id = ? AND used > 0", (session_id,)).fetchone()
        return {"iterations_bought": row["bought"], "iterations_used": row["used"],
                "msat_paid": row["msat"]}

    def has_paid(self, session_id: str) -> bool:
        """Whether a credential of the session was ever used (so, paid)."""
        return self._db.execute(
            "SELECT 1 FROM credentials WHERE session_id = ? AND used > 0 LIMIT 1",
            (session_id,)).fetchone() is not None

    def open_challenges(self, session_id: str, since: int) -> tuple[int, int | None]:
        """How many never-used credentials of the session were sold after ``since`` (their
        invoices may still be paid), and when the oldest of them was."""
        row = self._db.execute(
            "SELECT COUNT(*) AS n, MIN(created) AS oldest FROM credentials"
            " WHERE session_id = ? AND used = 0 AND created > ?", (session_id, since)).fetchone()
        return row["n"], row["oldest"]

    def _row(self, token_id: bytes) -> sqlite3.Row:
        row = self._db.execute("SELECT * FROM credentials WHERE token_id = ?",
                               (token_id,)).fetchone()
        if row is None:
            raise UnknownCredential("this credential was not issued by this server")
        return row

    # -- forgetting what was never paid ---------------------------------------------

    def unused_before(self, created_before: int) -> list[sqlite3.Row]:
        """Credentials never used and sold at or before ``created_before``: unpaid, or
        paid and not used yet (only the node can tell which), oldest first."""
        return self._db.execute(
            "SELECT token_id, payment_hash, session_id, valid_until FROM credentials"
            " WHERE used = 0 AND created <= ? ORDER BY created", (created_before,)).fetchall()

    def forget_unused(self, token_ids: list[bytes]) -> int:
        """Delete credentials that no call can ever use (the caller knows why); one in use
        or used meanwhile is kept. Returns how many were deleted."""
        forgotten = 0
        with self._transaction() as db:
            for token_id in token_ids:
                if token_id in self._reserved:
                    continue
                forgotten += db.execute("DELETE FROM credentials WHERE token_id = ? AND used = 0",
                                        (token_id,)).rowcount
        return forgotten

    def forget_sessions_without_credentials(self, session_ids: list[str], created_after: int,
                                            created_before: int) -> list[str]:
        """Delete the sessions, among ``session_ids`` and those opened after
        ``created_after``, opened at or before ``created_before`` that have no credential
        (none left, or none ever sold: the node failed); returns their ids."""
        orphan = ("created <= ? AND NOT EXISTS (SELECT 1 FROM credentials"
                  " WHERE credentials.session_id = sessions.session_id)")
        with self._transaction() as db:
            rows = db.execute(f"DELETE FROM sessions WHERE created > ? AND {orphan}"
                              " RETURNING session_id", (created_after, created_before)).fetchall()
            for session_id in set(session_ids):
                rows += db.execute(f"DELETE FROM sessions WHERE session_id = ? AND {orphan}"
                                   " RETURNING session_id", (session_id, created_before)).fetchall()
        return [row["session_id"] for row in rows]

    def counts(self) -> dict[str, int]:
        """Rows per table: what the ledger holds."""
        return {table: self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("sessions", "credentials", "charged_calls")}

    # -- spending -------------------------------------------------------------------

    def reserve(self, token_id: bytes, idempotency_key: str | None = None,
                cap: int | None = None, count: int = 1) -> Reservation:
        """Hold ``count`` credits for a call about to run; raises CreditsExhausted.

        ``cap`` as for remaining().

        A retried call (same credential, same Idempotency-Key) that was charged before is
        let through without holding anything: it will not be charged again.
        """
        left = self.remaining(token_id, cap) - self._reserved.get(token_id, 0)
        if idempotency_key is not None:
            if (token_id, idempotency_key) in self._in_flight:
                raise CreditError("a call with this Idempotency-Key is still running")
            if self._charged(token_id, idempotency_key):
                self._in_flight.add((token_id, idempotency_key))
                return Reservation(token_id, idempotency_key, already_charged=True, cap=cap)
        if left <= 0:
            raise CreditsExhausted("every iteration of this credential is used; buy more")
        if left < count:
            raise CreditsExhausted(f"this call costs {count} iterations and the credential "
                                   f"has {left} left; buy more")
        self._reserved[token_id] = self._reserved.get(token_id, 0) + count
        if idempotency_key is not None:
            self._in_flight.add((token_id, idempotency_key))
        return Reservation(token_id, idempotency_key, already_charged=False, count=count,
                           cap=cap)

    def commit(self, reservation: Reservation) -> int:
        """The call succeeded: use its credits (once) and return the credits left."""
        self._finish(reservation)
        if not reservation.already_charged:
            with self._transaction() as db:
                db.execute("UPDATE credentials SET used = used + ? WHERE token_id = ?",
                           (reservation.count, reservation.token_id))
                if reservation.idempotency_key is not None:
                    db.execute("INSERT INTO charged_calls VALUES (?, ?, ?, ?)",
                               (reservation.token_id, reservation.idempotency_key,
                                int(self._clock()), reservation.count))
        return max(self.remaining(reservation.token_id, reservation.cap)
                   - self._reserved.get(reservation.token_id, 0), 0)

    def release(self, reservation: Reservation) -> None:
        """The call failed: give the credit back."""
        self._finish(reservation)

    def _finish(self, reservation: Reservation) -> None:
        if reservation.done:
            raise RuntimeError("a reservation is committed or released once")
        reservation.done = True
        if reservation.idempotency_key is not None:
            self._in_flight.discard((reservation.token_id, reservation.idempotency_key))
        if not reservation.already_charged:
            left = self._reserved[reservation.token_id] - reservation.count
            if left:
                self._reserved[reservation.token_id] = left
            else:
                del self._reserved[reservation.token_id]

    def _charged(self, token_id: bytes, idempotency_key: str) -> bool:
        return self._db.execute(
            "SELECT 1 FROM charged_calls WHERE token_id = ? AND idempotency_key = ?",
            (token_id, idempotency_key)).fetchone() is not None
