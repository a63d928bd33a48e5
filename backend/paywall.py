"""The L402 paywall: sell credits with a challenge, check credentials, charge per call.

Only wiring: the protocol is backend/l402 (pure), the counting backend/ledger, the
invoices backend/lightning. A credential verifies statelessly (signature, caveats,
sha256(preimage) == payment hash); the ledger then says how many credits it has left.

A challenge costs its asker nothing, so what it leaves behind is bounded. A client address
gets ``challenges_per_minute`` challenges for sessions that never paid (a new session's,
or more for one none of whose credentials was used), a session ``max_open_challenges``
unpaid invoices at once; beyond, 429 with Retry-After. And a challenge never paid is
forgotten once its invoice can no longer be paid (forget_unpaid), with the session it
opened if that session has no other.
"""

from __future__ import annotations

import base64
import ipaddress
import math
import os
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import l402
from .errors import json_error
from .ledger import CallInFlight, CreditsExhausted, Ledger, UnknownCredential
from .lightning import InvoiceNotFoundError, LightningError, LightningNode
from .metrics import Metrics, route_path

MAX_REMEMBERED_ANSWERS = 10_000  # answers kept for Idempotency-Key retries, newest last
MAX_REMEMBERED_BYTES = 64 * 1024  # a bigger answer (a model) is made again on a retry
IDEMPOTENCY_KEY = re.compile(r"[ -~]{1,255}")  # as the OpenAPI document says
SWEEP_GRACE_SECONDS = 60  # past an invoice's expiry before its challenge is looked at
MAX_LIMITED_ADDRESSES = 100_000  # rate limit buckets kept, least recently used dropped
MAX_KNOWN_CREDENTIALS = 100_000  # token ids the ledger was seen to hold, oldest forgotten


@dataclass(frozen=True)
class Challenge:
    session_id: str
    iterations: int
    amount_msat: int
    payment_request: str
    payment_hash: str
    macaroon: bytes

    def error(self, message: str, **extra: object) -> web.HTTPException:
        """402 Payment Required, with the L402 challenge in header and body (raise it)."""
        return json_error(
            web.HTTPPaymentRequired, message,
            headers={"WWW-Authenticate": l402.format_challenge(self.macaroon,
                                                               self.payment_request)},
            session_id=self.session_id, payment_request=self.payment_request,
            payment_hash=self.payment_hash, amount_msat=self.amount_msat,
            iterations=self.iterations, macaroon=base64.b64encode(self.macaroon).decode(),
            **extra,
        )


@dataclass(frozen=True)
class Forgotten:
    """What a sweep of unpaid challenges removed from the ledger."""

    credentials: int
    sessions: list[str]


class Paywall:
    def __init__(self, node: LightningNode, ledger: Ledger, root_key: bytes, *,
                 price_msat: int, invoice_expiry: int, credential_ttl: int,
                 challenges_per_minute: int = 120, max_open_challenges: int = 100,
                 clock: Callable[[], float] = time.time, metrics: Metrics | None = None) -> None:
        self._node = node
        self._ledger = ledger
        self._root_key = root_key
        self.price_msat = price_msat
        self._invoice_expiry = invoice_expiry
        self._credential_ttl = credential_ttl
        self._max_open = max_open_challenges
        self._limiter = RateLimiter(challenges_per_minute, clock)
        self._clock = clock
        self._answers: OrderedDict[tuple[bytes, str], tuple[Any, int]] = OrderedDict()
        self._paid_unused: set[bytes] = set()  # token ids the node said were paid
        self._known: OrderedDict[bytes, None] = OrderedDict()  # sold here (see credential)
        self._swept_until = 0  # sessions opened up to then were looked at
        self._metrics = metrics or Metrics()  # the app's, or counted for nobody

    async def limit(self, request: web.Request, session_id: str | None = None) -> None:
        """429 once the client's address has had its challenges for sessions that never
        paid: a new one (no ``session_id``) or one none of whose credentials was used."""
        if session_id is not None and await self._ledger.has_paid(session_id):
            return
        wait = self._limiter.take(client_address(request))
        if wait:
            raise too_many("too many challenges for unpaid sessions from your address: pay "
                           "one of the invoices you have, or wait", wait)

    async def challenge(self, session_id: str, iterations: int) -> Challenge:
        """An invoice for ``iterations`` and a macaroon bound to its payment hash."""
        await self._check_open_challenges(session_id)
        amount_msat = iterations * self.price_msat
        invoice = await self._node.add_invoice(
            amount_msat, memo=f"alsats: {iterations} iteration(s)", expiry=self._invoice_expiry)
        payment_hash = bytes.fromhex(invoice.payment_hash)
        token_id = os.urandom(32)
        valid_until = int(self._clock()) + self._credential_ttl
        macaroon = l402.mint(self._root_key, l402.Identifier(payment_hash, token_id), [
            l402.session_caveat(session_id),
            l402.iterations_caveat(iterations),
            l402.valid_until_caveat(valid_until),
        ])
        await self._ledger.record_sale(token_id=token_id, payment_hash=payment_hash,
                                 session_id=session_id, iterations=iterations,
                                 amount_msat=amount_msat, valid_until=valid_until)
        self._metrics.challenges.inc()
        return Challenge(session_id, iterations, amount_msat, invoice.payment_request,
                         invoice.payment_hash, macaroon)

    async def _check_open_challenges(self, session_id: str) -> None:
        """429 when the session has max_open_challenges invoices that may still be paid."""
        now = int(self._clock())
        count, oldest = await self._ledger.open_challenges(session_id, now - self._invoice_expiry)
        if count >= self._max_open:
            raise too_many(f"this session has {count} unpaid invoices still open: pay one, "
                           "or wait for the oldest to expire", oldest + self._invoice_expiry - now)

    async def forget_unpaid(self) -> Forgotten:
        """Delete the credentials that no call can ever use, and the sessions left with none.

        Never a paid one: a credential goes only if it was never used and either its
        invoice is CANCELED, as the node does when an invoice expires unpaid (final: it can
        never be paid then, so nobody has the preimage), or its own valid_until has passed
        (it verifies no more). A credential paid just before its invoice expired is
        SETTLED and stays, usable to its valid_until, which is long after the invoice's
        expiry. An invoice the node cannot say about (unreachable, unknown) stays too.
        """
        now = int(self._clock())
        cutoff = now - self._invoice_expiry - SWEEP_GRACE_SECONDS
        candidates = await self._ledger.unused_before(cutoff)
        self._paid_unused &= {row["token_id"] for row in candidates}
        dead = []
        for row in candidates:
            try:
                if row["valid_until"] <= now or await self._never_paid(row):
                    dead.append(row)
            except LightningError:  # the node is away: the rest waits for the next sweep
                break
        forgotten = await self._ledger.forget_unused([row["token_id"] for row in dead])
        sessions = await self._ledger.forget_sessions_without_credentials(
            [row["session_id"] for row in dead], self._swept_until, cutoff)
        self._swept_until = max(self._swept_until, cutoff)
        return Forgotten(forgotten, sessions)

    async def _never_paid(self, row: Any) -> bool:
        """Whether the node says the credential's invoice is canceled (so never paid)."""
        if row["token_id"] in self._paid_unused:
            return False
        try:
            invoice = await self._node.lookup_invoice(row["payment_hash"].hex())
        except InvoiceNotFoundError:
            return False
        if invoice.settled:
            self._paid_unused.add(row["token_id"])
        return invoice.state == "CANCELED"

    async def credential(self, request: web.Request) -> l402.Grant | None:
        """The request's verified grant, None without an L402 credential; 401 if bad.

        Whether this server sold it is asked of the ledger once: a credential that
        verifies was paid (its preimage), and the ledger forgets a paid one only once its
        valid_until has passed, when it no longer verifies."""
        header = request.headers.get("Authorization", "")
        if header.split(" ", 1)[0].upper() not in l402.SCHEMES:
            return None
        try:
            grant = l402.verify(self._root_key, l402.parse_authorization(header),
                                now=int(self._clock()))
            if grant.token_id not in self._known:
                await self._ledger.remaining(grant.token_id)  # UnknownCredential if not
                self._known[grant.token_id] = None
                if len(self._known) > MAX_KNOWN_CREDENTIALS:
                    self._known.popitem(last=False)
        except (l402.L402Error, UnknownCredential) as exc:
            raise json_error(web.HTTPUnauthorized, f"invalid L402 credential: {exc}") from None
        return grant

    async def charge(self, request: web.Request, grant: l402.Grant,
                     work: Callable[[], Awaitable[Any]], cost: int = 1, free: int = 0,
                     held: Callable[[Any], tuple[str, int] | None] | None = None,
                     ) -> tuple[Any, int]:
        """Run a paid call's work, using ``cost`` credits (less ``free``) only if it
        succeeds; ``held(result)``: a session's count of labels held to write with them
        (sessions.holds).

        Returns (result, credits left).
        With an ``Idempotency-Key``, a retry of a call that was charged is not charged
        again: it gets the first answer from memory or, after a restart, the work runs
        again for free (answers are derived from user data, so they are never on disk).
        """
        key = idempotency_key(request)
        if key is not None and (grant.token_id, key) in self._answers:
            return self._answers[(grant.token_id, key)]
        count = cost - free
        if count == 0:
            return await work(), await self.credits_left(grant)
        try:
            reservation = await self._ledger.reserve(grant.token_id, key,
                                                     cap=grant.iterations, count=count)
        except CreditsExhausted as exc:
            block = max(grant.iterations, count)
            more = await self.challenge(grant.session_id, block)
            raise more.error(f"{exc}: this invoice buys {block} more",
                             credits_left=await self.credits_left(grant)) from None
        except CallInFlight as exc:
            raise json_error(web.HTTPConflict, str(exc)) from None
        try:
            result = await work()
        except BaseException:
            await self._ledger.release(reservation)
            raise
        labels_held = held(result) if held is not None else None
        answer = (result, await self._ledger.commit(reservation, labels_held))
        self._metrics.charged(route_path(request), reservation.used, reservation.paid_msat)
        if key is not None and _small(result):
            self._answers[(grant.token_id, key)] = answer
            while len(self._answers) > MAX_REMEMBERED_ANSWERS:
                self._answers.popitem(last=False)
        return answer

    async def credits_left(self, grant: l402.Grant) -> int:
        return await self._ledger.remaining(grant.token_id, cap=grant.iterations)


def _small(result: Any) -> bool:
    """Whether an answer is kept for retries: not a model's bytes, which a retry makes
    again for free (the charge is on disk), so 10,000 kept answers stay small."""
    return not isinstance(result, bytes) or len(result) <= MAX_REMEMBERED_BYTES


def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise json_error(web.HTTPBadRequest,
                         "Idempotency-Key must be 1 to 255 printable ASCII characters")
    return key


class RateLimiter:
    """A token bucket per key: ``per_minute`` at once, refilled at ``per_minute`` a
    minute; 0 is no limit. A full bucket is as good as none, so those are dropped first
    when there are too many."""

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self._capacity = float(per_minute)
        self._per_second = per_minute / 60
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when

    def take(self, key: str) -> float:
        """0 and one token taken, or (nothing taken) the seconds until there is one."""
        if not self._capacity:
            return 0.0
        now = self._clock()
        tokens = self._tokens(key, now)
        if tokens < 1:
            return (1 - tokens) / self._per_second
        self._buckets[key] = (tokens - 1, now)
        self._buckets.move_to_end(key)
        if len(self._buckets) > MAX_LIMITED_ADDRESSES:
            self._prune(now)
        return 0.0

    def _tokens(self, key: str, now: float) -> float:
        tokens, when = self._buckets.get(key, (self._capacity, now))
        return min(self._capacity, tokens + (now - when) * self._per_second)

    def _prune(self, now: float) -> None:
        for key in [k for k in self._buckets if self._tokens(k, now) >= self._capacity]:
            del self._buckets[key]
        while len(self._buckets) > MAX_LIMITED_ADDRESSES:
            self._buckets.popitem(last=False)


def client_address(request: web.Request) -> str:
    """What a rate limit counts: the peer's IP address, or an IPv6 peer's /64 network
    (one host commonly holds a whole /64)."""
    remote = request.remote or ""
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(getattr(address, "ipv4_mapped", None) or address)


def too_many(message: str, retry_after: float) -> web.HTTPException:
    """429 with Retry-After (whole seconds, at least 1) in the header and the body."""
    seconds = max(1, math.ceil(retry_after))
    return json_error(web.HTTPTooManyRequests, message, headers={"Retry-After": str(seconds)},
                      retry_after=seconds)

