"""The L402 paywall: sell credits with a challenge, check credentials, charge per call.

Only wiring: the protocol is backend/l402 (pure), the counting backend/credits, the
invoices backend/lightning. A credential verifies statelessly (signature, caveats,
sha256(preimage) == payment hash); the ledger then says how many credits it has left.
"""

from __future__ import annotations

import base64
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import l402
from .credits import CreditError, CreditLedger, CreditsExhausted, UnknownCredential
from .errors import json_error
from .lightning import LightningNode

SCHEMES = ("L402", "LSAT")
MAX_REMEMBERED_ANSWERS = 10_000  # answers kept for Idempotency-Key retries, newest last


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


class Paywall:
    def __init__(self, node: LightningNode, ledger: CreditLedger, root_key: bytes, *,
                 price_msat: int, invoice_expiry: int, credential_ttl: int,
                 clock: Callable[[], float] = time.time) -> None:
        self._node = node
        self._ledger = ledger
        self._root_key = root_key
        self.price_msat = price_msat
        self._invoice_expiry = invoice_expiry
        self._credential_ttl = credential_ttl
        self._clock = clock
        self._answers: OrderedDict[tuple[bytes, str], tuple[Any, int]] = OrderedDict()

    async def challenge(self, session_id: str, iterations: int) -> Challenge:
        """An invoice for ``iterations`` and a macaroon bound to its payment hash."""
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
        self._ledger.record_sale(token_id=token_id, payment_hash=payment_hash,
                                 session_id=session_id, iterations=iterations,
                                 amount_msat=amount_msat, valid_until=valid_until)
        return Challenge(session_id, iterations, amount_msat, invoice.payment_request,
                         invoice.payment_hash, macaroon)

    def credential(self, request: web.Request) -> l402.Grant | None:
        """The request's verified grant, None without an L402 credential; 401 if bad."""
        header = request.headers.get("Authorization", "")
        if header.split(" ", 1)[0].upper() not in SCHEMES:
            return None
        try:
            grant = l402.verify(self._root_key, l402.parse_authorization(header),
                                now=int(self._clock()))
            self._ledger.remaining(grant.token_id)  # sold by this server?
        except (l402.L402Error, UnknownCredential) as exc:
            raise json_error(web.HTTPUnauthorized, f"invalid L402 credential: {exc}") from None
        return grant

    async def charge(self, request: web.Request, grant: l402.Grant,
                     work: Callable[[], Awaitable[Any]], cost: int = 1) -> tuple[Any, int]:
        """Run a paid call's work, using ``cost`` credits only if it succeeds.

        Returns (result, credits left).
        With an ``Idempotency-Key``, a retry of a call that was charged is not charged
        again: it gets the first answer from memory or, after a restart, the work runs
        again for free (answers are derived from user data, so they are never on disk).
        """
        key = idempotency_key(request)
        if key is not None and (grant.token_id, key) in self._answers:
            return self._answers[(grant.token_id, key)]
        try:
            reservation = self._ledger.reserve(grant.token_id, key, cap=grant.iterations,
                                               count=cost)
        except CreditsExhausted as exc:
            block = max(grant.iterations, cost)
            more = await self.challenge(grant.session_id, block)
            raise more.error(f"{exc}: this invoice buys {block} more",
                             credits_left=self.credits_left(grant)) from None
        except CreditError as exc:
            raise json_error(web.HTTPConflict, str(exc)) from None
        try:
            result = await work()
        except BaseException:
            self._ledger.release(reservation)
            raise
        answer = (result, self._ledger.commit(reservation))
        if key is not None:
            self._answers[(grant.token_id, key)] = answer
            while len(self._answers) > MAX_REMEMBERED_ANSWERS:
                self._answers.popitem(last=False)
        return answer

    def credits_left(self, grant: l402.Grant) -> int:
        return self._ledger.remaining(grant.token_id, cap=grant.iterations)


def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 255 and key.isprintable()):
        raise json_error(web.HTTPBadRequest,
                         "Idempotency-Key must be 1 to 255 printable characters")
    return key

