"""The simnet's books: node keys, channels, invoices and payments in one SQLite file.

Every payment is one transaction: the balance moves along every hop, the invoice's
settlement and the payer's record commit together or not at all, so a crash (even
``kill -9``) never creates, loses or duplicates a millisatoshi, and no invoice shows
settled that nobody paid. WAL with ``synchronous=NORMAL`` keeps every commit through a
process crash (not through a power cut, which a simulator need not survive).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from coincurve import PrivateKey

from ...sqlite import open_database, transaction
from ..polar import PolarNetwork
from .payreq import CURRENCY, decode_payment_request, encode_payment_request
from .routing import ChannelEdge, Route, RoutingFailure, find_route

DEFAULT_INVOICE_EXPIRY = 86400  # LND's default, seconds
SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    name TEXT PRIMARY KEY, private_key BLOB NOT NULL, root_key BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS channels (
    chan_id INTEGER PRIMARY KEY, channel_point TEXT UNIQUE NOT NULL,
    node1 TEXT NOT NULL, node2 TEXT NOT NULL, capacity_msat INTEGER NOT NULL,
    balance1_msat INTEGER NOT NULL, balance2_msat INTEGER NOT NULL,
    base_fee_msat INTEGER NOT NULL, fee_rate_ppm INTEGER NOT NULL,
    sent1_msat INTEGER NOT NULL DEFAULT 0, sent2_msat INTEGER NOT NULL DEFAULT 0,
    num_updates INTEGER NOT NULL DEFAULT 0,
    CHECK (balance1_msat >= 0 AND balance2_msat >= 0
           AND balance1_msat + balance2_msat = capacity_msat));
CREATE TABLE IF NOT EXISTS invoices (
    payment_hash BLOB PRIMARY KEY, node TEXT NOT NULL, preimage BLOB NOT NULL,
    payment_addr BLOB NOT NULL, memo TEXT NOT NULL, value_msat INTEGER NOT NULL,
    creation_date INTEGER NOT NULL, expiry INTEGER NOT NULL,
    payment_request TEXT UNIQUE NOT NULL, state TEXT NOT NULL,
    amt_paid_msat INTEGER NOT NULL DEFAULT 0, settle_date INTEGER NOT NULL DEFAULT 0,
    add_index INTEGER NOT NULL, settle_index INTEGER NOT NULL DEFAULT 0,
    UNIQUE (node, add_index));
CREATE INDEX IF NOT EXISTS invoices_open ON invoices (state, creation_date);
CREATE INDEX IF NOT EXISTS invoices_settled ON invoices (node, settle_index);
CREATE TABLE IF NOT EXISTS payments (
    payer TEXT NOT NULL, payment_hash BLOB NOT NULL, payment_index INTEGER NOT NULL,
    payment_request TEXT NOT NULL, value_msat INTEGER NOT NULL, fee_msat INTEGER NOT NULL,
    status TEXT NOT NULL, failure_reason TEXT NOT NULL, preimage BLOB,
    creation_time_ns INTEGER NOT NULL, route TEXT NOT NULL,
    PRIMARY KEY (payer, payment_hash));
CREATE INDEX IF NOT EXISTS payments_by_index ON payments (payer, payment_index);
"""


class PaymentRejected(Exception):
    """The payer's node refuses to start the payment; ``code`` is a gRPC status name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class NodeKeys:
    name: str
    private_key: bytes
    root_key: bytes  # macaroon root key
    pubkey: str  # hex, compressed: derived once, it is asked for on every call

    @classmethod
    def load(cls, name: str, private_key: bytes, root_key: bytes) -> NodeKeys:
        pubkey = PrivateKey(private_key).public_key.format(compressed=True).hex()
        return cls(name, private_key, root_key, pubkey)


@dataclass(frozen=True)
class Channel:
    chan_id: int
    channel_point: str
    node1: str
    node2: str
    capacity_msat: int
    balance1_msat: int
    balance2_msat: int
    base_fee_msat: int
    fee_rate_ppm: int
    sent1_msat: int
    sent2_msat: int
    num_updates: int

    def side(self, node: str) -> tuple[int, int, int, int]:
        """(local, remote, sent, received) msat as ``node`` sees the channel."""
        if node == self.node1:
            return self.balance1_msat, self.balance2_msat, self.sent1_msat, self.sent2_msat
        return self.balance2_msat, self.balance1_msat, self.sent2_msat, self.sent1_msat

    def edge(self) -> ChannelEdge:
        return ChannelEdge(self.chan_id, self.node1, self.node2, self.balance1_msat,
                           self.balance2_msat, self.base_fee_msat, self.fee_rate_ppm)


@dataclass(frozen=True)
class Invoice:
    payment_hash: bytes
    node: str
    preimage: bytes
    payment_addr: bytes
    memo: str
    value_msat: int
    creation_date: int
    expiry: int
    payment_request: str
    state: str  # OPEN | SETTLED | CANCELED, as LND names them
    amt_paid_msat: int
    settle_date: int
    add_index: int
    settle_index: int


@dataclass(frozen=True)
class Payment:
    payer: str
    payment_hash: bytes
    payment_index: int
    payment_request: str
    value_msat: int
    fee_msat: int
    status: str  # SUCCEEDED | FAILED
    failure_reason: str  # LND's PaymentFailureReason name
    preimage: bytes | None
    creation_time_ns: int
    route: str  # JSON list of hops, empty when the payment failed before routing


@dataclass(frozen=True)
class PaymentTarget:
    """Who a payment goes to, for what hash and amount (None: not a node of the network)."""

    payee: str | None
    payment_hash: bytes
    payment_addr: bytes
    amount_msat: int
    payment_request: str


@dataclass(frozen=True)
class PaymentOutcome:
    payment: Payment
    changed_invoice: Invoice | None  # settled, or canceled because it had expired


class Ledger:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._db = open_database(path, SCHEMA, synchronous="NORMAL")
        self._keys: dict[str, NodeKeys] = {}

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db)

    # -- the network --------------------------------------------------------------

    def open_network(self, network: PolarNetwork) -> None:
        """Create node keys and the file's channels on first start; keep them after."""
        with self._transaction() as db:
            for name in network.lnd_nodes:
                db.execute(
                    "INSERT OR IGNORE INTO nodes VALUES (?, ?, ?)",
                    (name, PrivateKey().secret, os.urandom(32)),
                )
            for spec in network.channels:
                next_id = db.execute("SELECT COUNT(*) FROM channels").fetchone()[0]
                db.execute(
                    "INSERT OR IGNORE INTO channels (chan_id, channel_point, node1, node2,"
                    " capacity_msat, balance1_msat, balance2_msat, base_fee_msat, fee_rate_ppm)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (_short_channel_id(next_id), spec.channel_point, spec.opener, spec.peer,
                     spec.capacity_sat * 1000, spec.opener_balance_sat * 1000,
                     spec.peer_balance_sat * 1000, spec.base_fee_msat, spec.fee_rate_ppm),
                )
        for row in self._db.execute("SELECT * FROM nodes"):
            self._keys[row["name"]] = NodeKeys.load(row["name"], row["private_key"],
                                                    row["root_key"])

    def keys(self, node: str) -> NodeKeys:
        return self._keys[node]

    def node_by_pubkey(self, pubkey: str) -> str | None:
        return next((k.name for k in self._keys.values() if k.pubkey == pubkey), None)

    def channels(self, node: str | None = None) -> list[Channel]:
        sql, args = "SELECT * FROM channels", ()
        if node is not None:
            sql, args = sql + " WHERE node1 = ? OR node2 = ?", (node, node)
        return [Channel(**dict(row)) for row in self._db.execute(sql + " ORDER BY chan_id", args)]

    # -- invoices -----------------------------------------------------------------

    def add_invoice(
        self, node: str, value_msat: int, memo: str = "", expiry: int = 0,
        preimage: bytes | None = None,
    ) -> Invoice:
        preimage = preimage or os.urandom(32)
        payment_hash = hashlib.sha256(preimage).digest()
        payment_addr = os.urandom(32)
        expiry = expiry or DEFAULT_INVOICE_EXPIRY
        now = int(self._clock())
        request = encode_payment_request(
            private_key=self._keys[node].private_key, payment_hash=payment_hash,
            payment_addr=payment_addr, amount_msat=value_msat, memo=memo, expiry=expiry,
            timestamp=now,
        )
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM invoices WHERE payment_hash = ?",
                          (payment_hash,)).fetchone():
                raise PaymentRejected("ALREADY_EXISTS", "invoice with payment hash already exists")
            add_index = db.execute(
                "SELECT COALESCE(MAX(add_index), 0) + 1 FROM invoices WHERE node = ?", (node,)
            ).fetchone()[0]
            db.execute(
                "INSERT INTO invoices (payment_hash, node, preimage, payment_addr, memo,"
                " value_msat, creation_date, expiry, payment_request, state, add_index)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'OPEN', ?)",
                (payment_hash, node, preimage, payment_addr, memo, value_msat, now, expiry,
                 request, add_index),
            )
        return self._invoice("payment_hash = ?", payment_hash)

    def lookup_invoice(self, node: str, payment_hash: bytes) -> Invoice | None:
        invoice = self._invoice("payment_hash = ?", payment_hash)
        return invoice if invoice and invoice.node == node else None

    def invoices(self, node: str, add_index: int = 0, settle_index: int = 0) -> list[Invoice]:
        """Invoices added after add_index, then those settled after settle_index (LND's replay)."""
        rows = self._db.execute(
            "SELECT * FROM invoices WHERE node = ? AND add_index > ? ORDER BY add_index",
            (node, add_index),
        ).fetchall()
        if settle_index:
            rows += self._db.execute(
                "SELECT * FROM invoices WHERE node = ? AND settle_index > ?"
                " ORDER BY settle_index", (node, settle_index),
            ).fetchall()
        return [Invoice(**dict(row)) for row in rows]

    def cancel_invoice(self, node: str, payment_hash: bytes) -> Invoice:
        with self._transaction() as db:
            invoice = self.lookup_invoice(node, payment_hash)
            if invoice is None:
                raise PaymentRejected("NOT_FOUND", "unable to locate invoice")
            if invoice.state == "SETTLED":
                raise PaymentRejected("FAILED_PRECONDITION", "invoice already settled")
            db.execute("UPDATE invoices SET state = 'CANCELED' WHERE payment_hash = ?",
                       (payment_hash,))
        return self._invoice("payment_hash = ?", payment_hash)

    def expire_invoices(self) -> list[Invoice]:
        """Cancel open invoices past their expiry, as LND's invoice registry does."""
        now = int(self._clock())
        with self._transaction() as db:
            rows = db.execute(
                "UPDATE invoices SET state = 'CANCELED' WHERE state = 'OPEN'"
                " AND creation_date + expiry <= ? RETURNING *", (now,),
            ).fetchall()
        return [Invoice(**dict(row)) for row in rows]

    def _invoice(self, where: str, *args: object) -> Invoice | None:
        row = self._db.execute(f"SELECT * FROM invoices WHERE {where}", args).fetchone()
        return Invoice(**dict(row)) if row else None

    # -- payments -----------------------------------------------------------------

    def payment(self, payer: str, payment_hash: bytes) -> Payment | None:
        row = self._db.execute(
            "SELECT * FROM payments WHERE payer = ? AND payment_hash = ?", (payer, payment_hash)
        ).fetchone()
        return Payment(**dict(row)) if row else None

    def payments(self, payer: str) -> list[Payment]:
        rows = self._db.execute(
            "SELECT * FROM payments WHERE payer = ? ORDER BY payment_index", (payer,)
        )
        return [Payment(**dict(row)) for row in rows]

    def send_payment(
        self, payer: str, target: PaymentTarget, fee_limit_msat: int = 0
    ) -> PaymentOutcome:
        """Route and settle in one transaction; failures are recorded, not raised.

        Raises PaymentRejected only where LND refuses to start a payment at all.
        """
        with self._transaction() as db:
            earlier = self.payment(payer, target.payment_hash)
            if earlier is not None and earlier.status == "SUCCEEDED":
                raise PaymentRejected("ALREADY_EXISTS", "invoice is already paid")
            now_ns = int(self._clock() * 1e9)
            changed = None
            try:
                if target.payee is None:
                    raise RoutingFailure("FAILURE_REASON_NO_ROUTE", "unknown destination")
                edges = [c.edge() for c in self.channels()]
                route = find_route(edges, payer, target.payee, target.amount_msat,
                                   fee_limit_msat)
                changed = self._accept_htlc(db, target, now_ns)
                self._move_balances(db, route)
                outcome = ("SUCCEEDED", "FAILURE_REASON_NONE", changed.preimage, route)
            except RoutingFailure as failure:
                outcome = ("FAILED", failure.reason, None, None)
            except _HtlcRejected as rejected:
                changed = rejected.canceled
                outcome = ("FAILED", "FAILURE_REASON_INCORRECT_PAYMENT_DETAILS", None, None)
            status, reason, preimage, route = outcome
            payment = self._record_payment(db, payer, target, status, reason, preimage,
                                           route, now_ns)
        return PaymentOutcome(payment, changed)

    def payment_target(
        self, payer: str, *, payment_request: str = "", dest: str = "",
        payment_hash: bytes = b"", payment_addr: bytes = b"", amount_msat: int = 0,
    ) -> PaymentTarget:
        """Who is paid, how much, for which hash: from a payment request or spelled out."""
        if payer not in self._keys:
            raise PaymentRejected("INVALID_ARGUMENT", f"unknown payer {payer!r}")
        if amount_msat < 0:
            raise PaymentRejected("INVALID_ARGUMENT", "amount must not be negative")
        if payment_request:
            invoice = self._invoice("payment_request = ?", payment_request.strip().lower())
            if invoice is not None:
                fields = (invoice.node, invoice.payment_hash, invoice.payment_addr,
                          invoice.value_msat)
            else:
                fields = self._decode_foreign(payment_request)
            payee, payment_hash, payment_addr, value_msat = fields
            if value_msat and amount_msat:
                raise PaymentRejected("INVALID_ARGUMENT", "amount must not be specified "
                                      "when paying a non-zero amount invoice")
            if not value_msat and not amount_msat:
                raise PaymentRejected("INVALID_ARGUMENT", "amount must be specified when "
                                      "paying a zero amount invoice")
            amount_msat = value_msat or amount_msat
        else:
            if len(payment_hash) != 32:
                raise PaymentRejected("INVALID_ARGUMENT", "payment hash must be 32 bytes")
            if amount_msat <= 0:
                raise PaymentRejected("INVALID_ARGUMENT", "amount must be specified")
            if not dest:
                raise PaymentRejected("INVALID_ARGUMENT", "destination must be specified")
            payee = self.node_by_pubkey(dest)
        if payee == payer:
            raise PaymentRejected("INVALID_ARGUMENT", "no self-payments allowed")
        return PaymentTarget(payee, payment_hash, payment_addr, amount_msat,
                       payment_request.strip().lower())

    def _decode_foreign(self, payment_request: str) -> tuple:
        """An invoice the simnet did not make: its payee may still be one of our nodes."""
        try:
            decoded = decode_payment_request(payment_request)
        except ValueError as exc:
            raise PaymentRejected("INVALID_ARGUMENT", str(exc)) from None
        if decoded.currency != CURRENCY:
            raise PaymentRejected("INVALID_ARGUMENT", "invoice not for current active network "
                                  f"'regtest' (it is for {decoded.currency!r})")
        return (self.node_by_pubkey(decoded.payee), bytes.fromhex(decoded.payment_hash),
                bytes.fromhex(decoded.payment_secret or ""), int(decoded.amount_msat or 0))

    def _accept_htlc(self, db: sqlite3.Connection, target: PaymentTarget, now_ns: int) -> Invoice:
        """The payee's checks, then settlement; _HtlcRejected where LND's payee says no."""
        invoice = self.lookup_invoice(target.payee, target.payment_hash)
        if invoice is None or invoice.state != "OPEN":
            raise _HtlcRejected(None)
        now = now_ns // 1_000_000_000
        if invoice.creation_date + invoice.expiry <= now:
            db.execute("UPDATE invoices SET state = 'CANCELED' WHERE payment_hash = ?",
                       (invoice.payment_hash,))
            raise _HtlcRejected(self._invoice("payment_hash = ?", invoice.payment_hash))
        if target.payment_addr and target.payment_addr != invoice.payment_addr:
            raise _HtlcRejected(None)
        paid = target.amount_msat
        if invoice.value_msat and not invoice.value_msat <= paid <= 2 * invoice.value_msat:
            raise _HtlcRejected(None)
        settle_index = db.execute(
            "SELECT COALESCE(MAX(settle_index), 0) + 1 FROM invoices WHERE node = ?",
            (invoice.node,),
        ).fetchone()[0]
        db.execute(
            "UPDATE invoices SET state = 'SETTLED', amt_paid_msat = ?, settle_date = ?,"
            " settle_index = ? WHERE payment_hash = ? AND state = 'OPEN'",
            (paid, now, settle_index, invoice.payment_hash),
        )
        return self._invoice("payment_hash = ?", invoice.payment_hash)

    def _move_balances(self, db: sqlite3.Connection, route: Route) -> None:
        for hop in route.hops:
            db.execute(
                "UPDATE channels SET"
                " balance1_msat = balance1_msat + CASE WHEN node1 = ? THEN -? ELSE ? END,"
                " balance2_msat = balance2_msat + CASE WHEN node2 = ? THEN -? ELSE ? END,"
                " sent1_msat = sent1_msat + CASE WHEN node1 = ? THEN ? ELSE 0 END,"
                " sent2_msat = sent2_msat + CASE WHEN node2 = ? THEN ? ELSE 0 END,"
                " num_updates = num_updates + 1 WHERE chan_id = ?",
                (hop.sender, hop.amount_msat, hop.amount_msat,
                 hop.sender, hop.amount_msat, hop.amount_msat,
                 hop.sender, hop.amount_msat, hop.sender, hop.amount_msat, hop.chan_id),
            )

    def _record_payment(self, db, payer, target, status, reason, preimage, route,
                        now_ns) -> Payment:
        index = db.execute(
            "SELECT COALESCE(MAX(payment_index), 0) + 1 FROM payments WHERE payer = ?", (payer,)
        ).fetchone()[0]
        hops = [] if route is None else [hop.__dict__ for hop in route.hops]
        db.execute(
            "INSERT OR REPLACE INTO payments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (payer, target.payment_hash, index, target.payment_request, target.amount_msat,
             route.total_fees_msat if route else 0, status, reason, preimage, now_ns,
             json.dumps(hops)),
        )
        return self.payment(payer, target.payment_hash)


class _HtlcRejected(Exception):
    def __init__(self, canceled: Invoice | None) -> None:
        self.canceled = canceled


def _short_channel_id(index: int) -> int:
    """A plausible short channel id (block << 40 | tx << 16 | output) for the n-th channel."""
    return (101 + index) << 40 | 1 << 16
