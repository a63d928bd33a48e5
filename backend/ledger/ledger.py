"""The credit ledger: what each L402 credential bought and used.

Verification of a credential is stateless (backend/l402); counting is not, and lives here.
A paid call first *reserves* its credits: a row in ``reservations`` that holds them while
the call runs, on a lease its process renews every RENEW_SECONDS; then it *commits*: the
credits are used and the call's Idempotency-Key recorded in one transaction. A call that
fails releases its reservation, so it costs nothing; a process killed mid-call stops
renewing, and its reservations lapse within LEASE_SECONDS, so a crash costs nothing either.
Because the reservations are rows, any number of web processes can share one ledger and
never sell a credit twice: a reservation is taken with the credential's row locked.

Only accounting is stored: token ids, payment hashes, counts, session settings. Nothing a
user sends (samples, labels) and nothing derived from it is written here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from .migrations import migrate
from .stores import Connection, Store, open_store

LEASE_SECONDS = 5.0  # a reservation its process no longer renews lapses after this
RENEW_SECONDS = 1.0
WAIT_STEP_SECONDS = 0.05  # how often a retry looks whether the first call is done


class CreditError(Exception):
    """Base of the ledger's refusals."""


class UnknownCredential(CreditError):
    """The credential verifies but this server never sold it (another server's root key?)."""


class CreditsExhausted(CreditError):
    """Every credit of this credential is used (or reserved by a call in flight)."""


class CreditsHeld(CreditsExhausted):
    """Too few credits are free, but calls in flight hold some: they may yet be released
    (a call that fails, or a killed process's lapsing)."""


class CallInFlight(CreditError):
    """A call with this Idempotency-Key is running still (here or in another process)."""


class LedgerUnavailable(Exception):
    """The store cannot be reached (a PostgreSQL server down, a disk gone): the server's
    trouble, answered 503, and nothing is charged."""


@dataclass(frozen=True)
class SessionRecord:
    session_id: str
    settings: dict
    created: int
    expires: int
    closed: bool
    labels_held: int = 0  # labels its model held, as of the last change (a count only)
    relearn_free: int = 0  # labels it may teach again free: its learner was lost


@dataclass
class Reservation:
    reservation_id: str
    token_id: bytes
    idempotency_key: str | None
    already_charged: bool  # a retry of a call that was charged before: free this time
    count: int = 1  # credits the call costs
    cap: int | None = None  # the credential's own iteration caveat
    done: bool = False
    used: int = 0  # set by commit: the credits it used (none for a retry already charged)
    paid_msat: int = 0  # set by commit: the credential's price, if this was its first use


class Ledger:
    """The ledger's async interface over a store (stores.py), every query on its threads."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time,
                 in_flight_wait: float = LEASE_SECONDS + 1,
                 observe: Callable[[str, float], None] | None = None) -> None:
        self._store = store
        self._clock = clock
        self._in_flight_wait = in_flight_wait
        self._observe = observe  # (op, seconds) of each operation: the metrics
        self._holder = os.urandom(8).hex()  # this process's name on its reservations
        self._held: set[str] = set()  # reservation ids held here, renewed while held
        self.store_name = store.name

    async def _run(self, fn: Callable, *args: Any, op: str = "other") -> Any:
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        try:
            return await loop.run_in_executor(self._store.executor,
                                              functools.partial(fn, *args))
        except self._store.unavailable as exc:
            raise LedgerUnavailable(f"the credit ledger is unavailable: {exc}") from exc
        finally:
            if self._observe is not None:
                self._observe(op, time.perf_counter() - start)

    def _query(self, sql: str, params: tuple = (), all_rows: bool = False) -> Any:
        """One statement's rows, or its first row (None if none): read to the end, so
        that a write with RETURNING is done (SQLite steps a statement as it is read)."""
        with self._store.connection() as db:
            rows = db.execute(sql, params).fetchall()
        return rows if all_rows else (rows[0] if rows else None)

    async def _read(self, sql: str, *params: Any) -> Any:
        return await self._run(self._query, sql, params)

    async def _write(self, sql: str, *params: Any, op: str = "other") -> int:
        def write() -> int:
            with self._store.connection() as db:
                return db.execute(sql, params).rowcount
        return await self._run(write, op=op)

    async def renew_forever(self) -> None:
        """Keep this process's reservations alive (run as a task for the app's life)."""
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            if self._held:
                await self._write("UPDATE reservations SET expires = ? WHERE holder = ?",
                                  self._clock() + LEASE_SECONDS, self._holder)

    # -- sessions -------------------------------------------------------------------

    async def open_session(self, session_id: str, settings: dict,
                           ttl_seconds: int) -> SessionRecord:
        now = int(self._clock())
        await self._write("INSERT INTO sessions (session_id, settings, created, expires)"
                          " VALUES (?, ?, ?, ?)",
                          session_id, json.dumps(settings), now, now + ttl_seconds)
        return SessionRecord(session_id, settings, now, now + ttl_seconds, False)

    async def session(self, session_id: str) -> SessionRecord | None:
        row = await self._read("SELECT * FROM sessions WHERE session_id = ?", session_id)
        if row is None:
            return None
        return SessionRecord(row["session_id"], json.loads(row["settings"]), row["created"],
                             row["expires"], bool(row["closed"]), row["labels_held"],
                             row["relearn_free"])

    _SET_LABELS_HELD = "UPDATE sessions SET labels_held = ? WHERE session_id = ?"

    async def set_labels_held(self, session_id: str, count: int) -> None:
        await self._write(self._SET_LABELS_HELD, count, session_id)

    async def set_relearn_free(self, session_id: str, count: int) -> None:
        await self._write("UPDATE sessions SET relearn_free = ? WHERE session_id = ?",
                          count, session_id)

    async def take_relearn_free(self, session_id: str, wanted: int) -> tuple[int, int]:
        """Take up to ``wanted`` of the session's free labels, once across processes ->
        (taken, left)."""
        row = await self._read("SELECT relearn_free FROM sessions WHERE session_id = ?",
                               session_id)
        if row is None or not row["relearn_free"] or not wanted:
            return 0, row["relearn_free"] if row else 0

        def take() -> tuple[int, int]:
            with self._store.transaction() as db:
                free = db.execute("SELECT relearn_free FROM sessions WHERE session_id = ?"
                                  + self._store.for_update, (session_id,)).fetchone()
                taken = min(wanted, free["relearn_free"])
                db.execute("UPDATE sessions SET relearn_free = relearn_free - ?"
                           " WHERE session_id = ?", (taken, session_id))
                return taken, free["relearn_free"] - taken
        return await self._run(take)

    async def give_back_relearn_free(self, session_id: str, count: int) -> int:
        """Return free labels a call did not use; -> how many the session has then."""
        row = await self._read("UPDATE sessions SET relearn_free = relearn_free + ?"
                               " WHERE session_id = ? RETURNING relearn_free",
                               count, session_id)
        return row["relearn_free"] if row else 0

    async def extend_session(self, session_id: str, expires: int) -> None:
        await self._write("UPDATE sessions SET expires = ? WHERE session_id = ?"
                          " AND expires < ?", expires, session_id, expires)

    async def close_session(self, session_id: str) -> None:
        await self._write("UPDATE sessions SET closed = 1 WHERE session_id = ?", session_id)

    # -- credentials ----------------------------------------------------------------

    async def record_sale(self, *, token_id: bytes, payment_hash: bytes, session_id: str,
                          iterations: int, amount_msat: int, valid_until: int) -> None:
        """Remember a challenge we issued; it becomes credits once its invoice is paid."""
        await self._write(
            "INSERT INTO credentials (token_id, payment_hash, session_id, iterations,"
            " amount_msat, created, valid_until) VALUES (?, ?, ?, ?, ?, ?, ?)",
            token_id, payment_hash, session_id, iterations, amount_msat,
            int(self._clock()), valid_until)

    async def remaining(self, token_id: bytes, cap: int | None = None) -> int:
        """Credits a credential has not used: what its holder is told it has left.

        Credits a call in flight holds count as left until it commits: told otherwise
        after a crash (a killed process's reservation lapses only after LEASE_SECONDS), a
        client would buy afresh and leave them behind, while a call that needs them waits
        for the lapse (reserve). ``cap``: the iterations the credential itself grants (a
        holder may have attenuated its macaroon to fewer than were sold); the smaller
        count wins.
        """
        return await self._run(self._remaining, token_id, cap)

    _UNUSED = "SELECT iterations, used FROM credentials WHERE token_id = ?"

    def _remaining(self, token_id: bytes, cap: int | None, db: Connection | None = None) -> int:
        params = (token_id,)
        row = db.execute(self._UNUSED, params).fetchone() if db else \
            self._query(self._UNUSED, params)
        return _unused(row, cap)

    _LEFT = ("SELECT iterations, used, CAST(COALESCE((SELECT SUM(credits) FROM reservations"
             " WHERE reservations.token_id = credentials.token_id AND expires > ?), 0)"
             " AS BIGINT) AS held FROM credentials WHERE token_id = ?")

    def _left_and_held(self, token_id: bytes, cap: int | None,
                       db: Connection) -> tuple[int, int]:
        """(credits free, credits held by calls in flight)."""
        row = db.execute(self._LEFT, (self._clock(), token_id)).fetchone()
        unused = _unused(row, cap)
        return max(unused - row["held"], 0), min(row["held"], unused)

    async def session_spending(self, session_id: str) -> dict:
        """Bought and used over every credential of a session (paid or not is not known
        here: a credential counts once it has been used at least once)."""
        row = await self._read(
            "SELECT COALESCE(SUM(iterations), 0) AS bought, COALESCE(SUM(used), 0) AS used,"
            " COALESCE(SUM(amount_msat), 0) AS msat FROM credentials"
            " WHERE session_id = ? AND used > 0", session_id)
        return {"iterations_bought": int(row["bought"]), "iterations_used": int(row["used"]),
                "msat_paid": int(row["msat"])}

    async def has_paid(self, session_id: str) -> bool:
        """Whether a credential of the session was ever used (so, paid)."""
        return await self._read("SELECT 1 AS paid FROM credentials WHERE session_id = ?"
                                " AND used > 0 LIMIT 1", session_id) is not None

    async def open_challenges(self, session_id: str, since: int) -> tuple[int, int | None]:
        """How many never-used credentials of the session were sold after ``since`` (their
        invoices may still be paid), and when the oldest of them was."""
        row = await self._read(
            "SELECT COUNT(*) AS n, MIN(created) AS oldest FROM credentials"
            " WHERE session_id = ? AND used = 0 AND created > ?", session_id, since)
        return row["n"], row["oldest"]

    # -- forgetting what was never paid ---------------------------------------------

    async def unused_before(self, created_before: int) -> list[Any]:
        """Credentials never used and sold at or before ``created_before``: unpaid, or
        paid and not used yet (only the node can tell which), oldest first."""
        return await self._run(
            self._query, "SELECT token_id, payment_hash, session_id, valid_until"
            " FROM credentials WHERE used = 0 AND created <= ? ORDER BY created",
            (created_before,), True)

    async def forget_unused(self, token_ids: list[bytes]) -> int:
        """Delete credentials that no call can ever use (the caller knows why); one in use
        or used meanwhile is kept. Returns how many were deleted."""
        def forget() -> int:
            forgotten = 0
            with self._store.transaction() as db:
                for token_id in token_ids:
                    forgotten += db.execute(
                        "DELETE FROM credentials WHERE token_id = ? AND used = 0 AND NOT"
                        " EXISTS (SELECT 1 FROM reservations WHERE reservations.token_id ="
                        " credentials.token_id AND expires > ?)",
                        (token_id, self._clock())).rowcount
            return forgotten
        return await self._run(forget) if token_ids else 0

    async def forget_sessions_without_credentials(self, session_ids: list[str],
                                                  created_after: int,
                                                  created_before: int) -> list[str]:
        """Delete the sessions, among ``session_ids`` and those opened after
        ``created_after``, opened at or before ``created_before`` that have no credential
        (none left, or none ever sold: the node failed); returns their ids."""
        orphan = ("created <= ? AND NOT EXISTS (SELECT 1 FROM credentials"
                  " WHERE credentials.session_id = sessions.session_id)")

        def forget() -> list[str]:
            with self._store.transaction() as db:
                rows = db.execute(f"DELETE FROM sessions WHERE created > ? AND {orphan}"
                                  " RETURNING session_id",
                                  (created_after, created_before)).fetchall()
                for session_id in set(session_ids):
                    rows += db.execute(f"DELETE FROM sessions WHERE session_id = ? AND"
                                       f" {orphan} RETURNING session_id",
                                       (session_id, created_before)).fetchall()
            return [row["session_id"] for row in rows]
        return await self._run(forget)

    async def counts(self) -> dict[str, int]:
        """Rows per table: what the ledger holds."""
        def count() -> dict[str, int]:
            return {table: self._query(f"SELECT COUNT(*) AS n FROM {table}")["n"]
                    for table in ("sessions", "credentials", "charged_calls", "reservations")}
        return await self._run(count)

    # -- spending -------------------------------------------------------------------

    async def reserve(self, token_id: bytes, idempotency_key: str | None = None,
                      cap: int | None = None, count: int = 1) -> Reservation:
        """Hold ``count`` credits for a call about to run; raises CreditsExhausted.

        ``cap`` as for remaining().

        A retried call (same credential, same Idempotency-Key) that was charged before is
        let through without holding anything: it will not be charged again. One whose
        first call is still running waits for it, and so does a call that finds the
        credits it needs held by calls in flight (up to ``in_flight_wait`` seconds: long
        enough for the lease of a killed process's call to lapse), then goes on as their
        ends decide: a credit a crash held is used, not left behind for a new one.
        """
        deadline = time.monotonic() + self._in_flight_wait
        while True:
            try:
                return await self._run(self._reserve, token_id, idempotency_key, cap, count,
                                       op="reserve")
            except CallInFlight:
                if time.monotonic() >= deadline:
                    raise CallInFlight("a call with this Idempotency-Key is still running; "
                                       "try again when it has answered") from None
            except CreditsHeld as exc:
                if time.monotonic() >= deadline:
                    raise CreditsExhausted(str(exc)) from None
            await asyncio.sleep(WAIT_STEP_SECONDS)

    def _reserve(self, token_id: bytes, key: str | None, cap: int | None,
                 count: int) -> Reservation:
        now = self._clock()
        with self._store.transaction() as db:
            if db.execute("SELECT token_id FROM credentials WHERE token_id = ?"
                          + self._store.for_update, (token_id,)).fetchone() is None:
                raise UnknownCredential("this credential was not issued by this server")
            db.execute("DELETE FROM reservations WHERE token_id = ? AND expires <= ?",
                       (token_id, now))  # a killed process's, lapsed
            charged = False
            if key is not None:
                if db.execute("SELECT 1 AS held FROM reservations WHERE token_id = ? AND"
                              " idempotency_key = ?", (token_id, key)).fetchone():
                    raise CallInFlight(key)
                charged = db.execute("SELECT 1 AS charged FROM charged_calls WHERE"
                                     " token_id = ? AND idempotency_key = ?",
                                     (token_id, key)).fetchone() is not None
            if not charged:
                left, held = self._left_and_held(token_id, cap, db)
                refusal = CreditsHeld if left + held >= count else CreditsExhausted
                if left <= 0:
                    raise refusal("every iteration of this credential is used; buy more")
                if left < count:
                    raise refusal(f"this call costs {count} iterations and the credential "
                                  f"has {left} left; buy more")
            reservation = Reservation(os.urandom(12).hex(), token_id, key, charged,
                                      count=count, cap=cap)
            db.execute("INSERT INTO reservations (reservation_id, token_id, idempotency_key,"
                       " credits, holder, expires) VALUES (?, ?, ?, ?, ?, ?)",
                       (reservation.reservation_id, token_id, key, 0 if charged else count,
                        self._holder, now + LEASE_SECONDS))
        self._held.add(reservation.reservation_id)
        return reservation

    async def commit(self, reservation: Reservation,
                     labels_held: tuple[str, int] | None = None) -> int:
        """The call succeeded: use its credits (once) and return the credits left; the
        reservation then says how many it used and, if it was the credential's first use
        (so its invoice was paid), the price. ``labels_held``: (session id, count), as
        set_labels_held, in the same transaction."""
        self._finish(reservation)
        return await self._run(self._commit, reservation, labels_held, op="commit")

    def _commit(self, reservation: Reservation, labels_held: tuple[str, int] | None) -> int:
        token_id, key = reservation.token_id, reservation.idempotency_key
        with self._store.transaction() as db:
            db.execute("DELETE FROM reservations WHERE reservation_id = ?",
                       (reservation.reservation_id,))
            if not reservation.already_charged:
                # within the sold count even if the lease lapsed meanwhile (a process
                # stalled past LEASE_SECONDS): then this one call is served free
                used = db.execute("UPDATE credentials SET used = used + ? WHERE token_id = ?"
                                  " AND used + ? <= iterations RETURNING used, amount_msat",
                                  (reservation.count, token_id, reservation.count)).fetchall()
                if used:
                    reservation.used = reservation.count
                    if used[0]["used"] == reservation.count:  # none used before
                        reservation.paid_msat = used[0]["amount_msat"]
                if key is not None:
                    db.execute("INSERT INTO charged_calls (token_id, idempotency_key,"
                               " charged_at, credits) VALUES (?, ?, ?, ?)"
                               " ON CONFLICT DO NOTHING",
                               (token_id, key, int(self._clock()), reservation.count))
            if labels_held is not None:  # after the credential's row, as reserve locks it
                db.execute(self._SET_LABELS_HELD, labels_held[::-1])
            return self._remaining(token_id, reservation.cap, db)

    async def release(self, reservation: Reservation) -> None:
        """The call failed: give the credits back."""
        self._finish(reservation)
        await self._write("DELETE FROM reservations WHERE reservation_id = ?",
                          reservation.reservation_id, op="release")

    def _finish(self, reservation: Reservation) -> None:
        if reservation.done:
            raise RuntimeError("a reservation is committed or released once")
        reservation.done = True
        self._held.discard(reservation.reservation_id)


@contextlib.asynccontextmanager
async def open_ledger(url: str, clock: Callable[[], float] = time.time,
                      **options: Any) -> AsyncIterator[Ledger]:
    """The ledger at ``url`` (stores.open_store), migrated to the newest version, with its
    reservations renewed while it is open."""
    store = await asyncio.get_running_loop().run_in_executor(None, open_store, url)
    try:
        await asyncio.get_running_loop().run_in_executor(store.executor, migrate, store)
        ledger = Ledger(store, clock, **options)
        renewing = asyncio.create_task(ledger.renew_forever())
        try:
            yield ledger
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
    finally:
        await asyncio.get_running_loop().run_in_executor(None, store.close)


def _unused(row: Any, cap: int | None) -> int:
    """A credential row's credits not used, within ``cap`` (see remaining)."""
    if row is None:
        raise UnknownCredential("this credential was not issued by this server")
    granted = row["iterations"] if cap is None else min(cap, row["iterations"])
    return max(granted - row["used"], 0)
