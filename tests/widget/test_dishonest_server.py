"""AlsatsClient against a DISHONEST alsats server: it pays only what it expected, within caps.

The one stand-in of this module is ``DishonestServer``, a small aiohttp app that plays an
alsats server lying in its 402 challenges (the real backend cannot be made to misbehave).
Everything else is real: the embedded simnet serving LND's gRPC API, BOLT11 invoices made
and signed by alice's (or carol's) node, L402 macaroons minted by ``backend.l402``, and
bob's ``LightningWallet`` paying over gRPC+TLS. The network is the seed's, except that bob
can also pay carol, so an invoice payable to carol would really go through if the client
paid it; each refused invoice that a node could pay is then paid by bob's node directly, to
show that the refusal was the client's, not the network's.

Threads: the simnet and the test server run on the test's event loop; the client (blocking
``requests``) and the wallet's blocking calls run in worker threads (``asyncio.to_thread``),
so the loop keeps serving them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from alsats_widget import (
    AlsatsClient,
    AlsatsError,
    LightningWallet,
    OverBudgetError,
    PaymentFailedError,
    UnexpectedInvoiceError,
)
from backend import l402
from backend.lightning import LightningNode, PaymentInFlightError
from tests.conftest import FakeClock

PRICE = 1000  # msat per iteration, as /info quotes it
FEE_LIMIT = 10_000  # the client's default fee limit, which its budget check reserves
SESSION = "session-1"
SAMPLE = [[0.0, 1.0]]

# How a server may write its challenge: (macaroon, invoice, another macaroon for the same
# invoice), base64 and BOLT 11, to its WWW-Authenticate lines.
ACCEPTED_FORMS = {
    "alsats": lambda m, i, _: [l402.format_challenge(base64.b64decode(m), i)],
    "deployed": lambda m, i, _: [f'L402 macaroon="{m}", invoice="{i}"'],
    "specification": lambda m, i, _: [f'L402 version="0", token="{m}", invoice="{i}"'],
    "any_order_unknown_parameters": lambda m, i, _: [
        f'L402 invoice={i}, expires="3600", token="{m}", note="a, b"'],
    "lsat": lambda m, i, _: [f'LSAT macaroon="{m}", invoice="{i}"'],
    "beside_other_schemes": lambda m, i, _: [
        f'Basic realm="alsats", L402 token="{m}", invoice="{i}", Bearer abc=='],
    "several_lines": lambda m, i, _: [
        'Basic realm="alsats"', f'LSAT macaroon="{m}", invoice="{i}"',
        f'L402 version="0", token="{m}", invoice="{i}"'],
    "newer_version_beside": lambda m, i, o: [
        f'L402 version="1", token="{o}", invoice="{i}"', f'L402 token="{m}", invoice="{i}"'],
}
MALFORMED_FORMS = {  # the form, and what the client's refusal says
    "none": (lambda m, i, _: [], r"no L402 challenge \(schemes offered: none\)"),
    "bearer_scheme": (lambda m, i, _: [f'Bearer macaroon="{m}", invoice="{i}"'],
                      r"no L402 challenge \(schemes offered: 'Bearer'\)"),
    "quote_left_open": (lambda m, i, _: [f'L402 macaroon="{m}, invoice="{i}"'],
                        r"not a list of challenges \(RFC 9110\)"),
    "token_and_macaroon_differ": (
        lambda m, i, o: [f'L402 macaroon="{m}", invoice="{i}", version="0", token="{o}"'],
        "token and macaroon differ"),
    "unknown_version": (lambda m, i, _: [f'L402 version="1", token="{m}", invoice="{i}"'],
                        "unknown L402 version '1': this client reads version 0"),
    "no_invoice": (lambda m, i, _: [f'L402 macaroon="{m}", version="0", token="{m}"'],
                   "the L402 challenge has no invoice"),
    "two_offers": (lambda m, i, o: [f'L402 token="{m}", invoice="{i}"',
                                    f'LSAT token="{o}", invoice="{i}"'],
                   "offer different invoices or macaroons: which one to pay is ambiguous"),
}


@pytest.fixture
def network_file(network_file: Path) -> Path:
    """The seed's network, but the carol-bob channel is balanced: bob can pay carol too."""
    doc = json.loads(network_file.read_text())
    for link in doc["chart"]["links"].values():
        if link["properties"].get("type") == "open-channel" and link["from"]["nodeId"] == "carol":
            link["properties"].update(fromBalance="2500000", toBalance="2500000")
    network_file.write_text(json.dumps(doc, indent=2))
    return network_file


@dataclass(frozen=True)
class Seen:
    """One request the test server received."""

    method: str
    path: str
    authorization: str | None
    idempotency_key: str | None
    status: int


@dataclass(frozen=True)
class Offer:
    """One challenge the test server sent, and the invoice behind it."""

    node: str  # whose invoice: "alice" (the server's node) or "carol"
    payment_hash: str
    invoice: str
    macaroon: str  # base64, as in the header


class DishonestServer:
    """The stand-in: an alsats server whose 402 challenges follow ``behaviour``.

    ``/info`` is honest (alice's pubkey, ``price_msat``). The first ``honest_first``
    challenges are honest, then every challenge lies as ``behaviour`` says (see
    ``_challenge``), its header written in ``form`` (one of ACCEPTED_FORMS or
    MALFORMED_FORMS). With ``accept_credentials`` False it answers 402 again after being
    paid. ``seen`` records every request, ``offers`` every challenge.
    """

    def __init__(self, nodes: dict[str, LightningNode], clock: FakeClock) -> None:
        self.nodes = nodes
        self.clock = clock
        self.price_msat = PRICE
        self.behaviour = "honest"
        self.honest_first = 0
        self.form = "alsats"
        self.accept_credentials = True
        self.seen: list[Seen] = []
        self.offers: list[Offer] = []
        self.made: list[tuple[str, str]] = []  # (node, payment hash) of every invoice made
        self._root_key = os.urandom(32)
        self._credits: dict[bytes, int] = {}  # payment hash -> credits left
        self._server: TestServer | None = None
        self._last: tuple[dict, dict] = ({}, {})  # the last challenge's body and headers
        self.url = ""

    async def start(self) -> None:
        self._alice_pubkey = (await self.nodes["alice"].get_info()).pubkey
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/info", self._info)
        app.router.add_post("/pay/initialize", self._initialize)
        app.router.add_delete("/session", self._close_session)
        app.router.add_route("*", "/{call:.*}", self._paid_call)
        self._server = TestServer(app, host="127.0.0.1")  # binds a free port itself
        await self._server.start_server()
        self.url = str(self._server.make_url("/"))

    async def close(self) -> None:
        await self._server.close()

    def spend_all(self) -> None:
        """Every credential sold counts as used up from now on."""
        self._credits = dict.fromkeys(self._credits, 0)

    @web.middleware
    async def _record(self, request: web.Request, handler) -> web.StreamResponse:
        response = await handler(request)
        self.seen.append(Seen(request.method, request.path,
                              request.headers.get("Authorization"),
                              request.headers.get("Idempotency-Key"), response.status))
        return response

    async def _info(self, request: web.Request) -> web.Response:
        return web.json_response({"node_pubkey": self._alice_pubkey,
                                  "price_msat": self.price_msat, "network": "regtest",
                                  "version": "dishonest"})

    async def _initialize(self, request: web.Request) -> web.Response:
        body = await request.json()
        return await self._challenge(body.get("session_id", SESSION), body["iterations"])

    async def _close_session(self, request: web.Request) -> web.Response:
        return web.json_response({"closed": True})

    async def _paid_call(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        try:
            grant = l402.verify(self._root_key, l402.parse_authorization(header),
                                now=int(time.time()))
        except l402.L402Error:
            grant = None
        if grant is not None and self.accept_credentials and self._credits[grant.payment_hash]:
            self._credits[grant.payment_hash] -= 1
            return web.json_response({"credits_left": self._credits[grant.payment_hash]})
        return await self._challenge(SESSION, 1)  # no credential, or used up: buy one more

    async def _challenge(self, session_id: str, iterations: int) -> web.Response:
        lie = "honest" if len(self.offers) < self.honest_first else self.behaviour
        if lie == "replayed_invoice":  # the challenge it was already paid for, again
            self.offers.append(self.offers[-1])
            return web.json_response(self._last[0], status=402, headers=self._last[1])
        node, amount, offered = "alice", iterations * self.price_msat, iterations
        expiry = 3600
        if lie == "overcharge":
            amount += 1
        elif lie == "more_iterations":  # amount and body agree, on more than was asked
            offered = iterations + 4
            amount = offered * self.price_msat
        elif lie == "other_payee":
            node = "carol"
        elif lie == "any_amount":
            amount = 0
        elif lie == "other_session":
            session_id = "someone-elses-session"
        elif lie == "expired":  # made two hours ago, valid a minute; the simnet's clock
            # stays two hours back, so the simnet would still let it be paid
            self.clock.now = time.time() - 2 * 3600
            expiry = 60
        made = await self._invoice(node, amount, expiry)
        invoice = made.payment_request
        if lie == "undecodable_invoice":
            invoice = "lnbcrt10n1" + "q" * 60
        macaroon, other = (self._macaroon(made.payment_hash, session_id, offered)
                           for _ in range(2))
        self._credits[bytes.fromhex(made.payment_hash)] = offered
        self.offers.append(Offer(node, made.payment_hash, invoice, macaroon))
        form = ACCEPTED_FORMS.get(self.form) or MALFORMED_FORMS[self.form][0]
        headers = CIMultiDict(("WWW-Authenticate", line)
                              for line in form(macaroon, invoice, other))
        body = {"error": "payment required", "session_id": session_id,
                "payment_request": invoice, "payment_hash": made.payment_hash,
                "amount_msat": amount, "iterations": offered, "macaroon": macaroon}
        if lie == "no_session":
            del body["session_id"]
        elif lie == "body_names_another_invoice":
            body["payment_request"] = (await self._invoice("alice", amount)).payment_request
        self._last = (body, headers)
        return web.json_response(body, status=402, headers=headers)

    def _macaroon(self, payment_hash: str, session_id: str, iterations: int) -> str:
        """A real macaroon bound to the invoice (a new token id each time), in base64."""
        return base64.b64encode(l402.mint(
            self._root_key, l402.Identifier(bytes.fromhex(payment_hash), os.urandom(32)),
            [l402.session_caveat(session_id), l402.iterations_caveat(iterations),
             l402.valid_until_caveat(int(time.time()) + 3600)])).decode()

    async def _invoice(self, node: str, amount_msat: int, expiry: int = 3600):
        made = await self.nodes[node].add_invoice(amount_msat, memo="dishonest", expiry=expiry)
        self.made.append((node, made.payment_hash))
        return made


@pytest.fixture
async def server(nodes: dict[str, LightningNode], clock: FakeClock):
    dishonest = DishonestServer(nodes, clock)
    await dishonest.start()
    yield dishonest
    await dishonest.close()


@pytest.fixture
async def wallet(simnet, network_file: Path, data_dir: Path):
    """Bob's real wallet (gRPC to the simnet), the one the client pays with."""
    bob = LightningWallet.from_polar(network_file, "bob", data_dir)
    yield bob
    await asyncio.to_thread(bob.close)


class Client:
    """An AlsatsClient driven from the event loop: each blocking call runs in a thread."""

    def __init__(self, server: DishonestServer, wallet: LightningWallet, **options) -> None:
        self.sync = AlsatsClient(server.url, wallet, retries=0, **options)

    async def label(self) -> dict:
        return await asyncio.to_thread(self.sync.label, SAMPLE)

    async def close(self) -> None:
        await asyncio.to_thread(self.sync.close)


async def balance(wallet: LightningWallet) -> int:
    return await asyncio.to_thread(wallet.balance_msat)


async def settled(server: DishonestServer) -> int:
    """How many of the invoices the server made (alice's or carol's) were settled."""
    count = 0
    for node, payment_hash in server.made:
        count += (await server.nodes[node].lookup_invoice(payment_hash)).settled
    return count


def payments_tried(simnet, payer: str = "bob") -> int:
    """Every payment the payer's node attempted, failed ones included (the simnet's books)."""
    return len(simnet.ledger.payments(payer))


# -- the honest control ---------------------------------------------------------------


async def test_honest_control_buys_what_a_call_needs_before_the_call(server, wallet, nodes):
    before = await balance(wallet)
    client = Client(server, wallet)
    assert (await client.label())["credits_left"] == 0  # buys one, uses it
    assert (await client.label())["credits_left"] == 0  # used up: buys one, then calls
    await client.close()

    assert before - await balance(wallet) == 2 * PRICE  # direct channel: no routing fee
    assert await settled(server) == 2
    assert client.sync.spending.payments == 2 and client.sync.spending.total_msat == 2 * PRICE

    calls = [s for s in server.seen if s.path == "/label"]
    assert [s.status for s in calls] == [200, 200]  # no 402 to turn down: none left open
    assert [s.status for s in server.seen if s.path == "/pay/initialize"] == [402, 402]
    proofs = [(await nodes["alice"].lookup_invoice(o.payment_hash)).preimage
              for o in server.offers]
    for offer, preimage in zip(server.offers, proofs, strict=True):
        assert hashlib.sha256(bytes.fromhex(preimage)).hexdigest() == offer.payment_hash
    assert [c.authorization for c in calls] == [
        f"L402 {o.macaroon}:{p}" for o, p in zip(server.offers, proofs, strict=True)]
    assert calls[0].idempotency_key != calls[1].idempotency_key  # another call, another key


async def test_a_402_to_a_call_is_paid_and_the_call_repeated_with_its_key(server, wallet,
                                                                          nodes):
    client = Client(server, wallet)
    await asyncio.to_thread(client.sync.buy, 2)
    assert (await client.label())["credits_left"] == 1
    server.spend_all()  # the server counts fewer than the client (say a lost answer's)
    assert (await client.label())["credits_left"] == 0  # 402, pays 1 more, repeats
    await client.close()

    calls = [s for s in server.seen if s.path == "/label"]
    assert [s.status for s in calls] == [200, 402, 200]
    first, second = server.offers
    proofs = [(await nodes["alice"].lookup_invoice(o.payment_hash)).preimage
              for o in server.offers]
    assert calls[1].authorization == calls[0].authorization == f"L402 {first.macaroon}:" \
        f"{proofs[0]}"
    assert calls[2].authorization == f"L402 {second.macaroon}:{proofs[1]}"
    assert calls[1].idempotency_key == calls[2].idempotency_key  # the retry repeats its key
    assert client.sync.spending.payments == 2


# -- every form a compliant server may write its challenge in -------------------------


@pytest.mark.parametrize("form", ACCEPTED_FORMS)
async def test_every_compliant_challenge_form_is_paid_once(server, wallet, nodes, form):
    server.form = form
    before = await balance(wallet)
    client = Client(server, wallet)
    assert (await client.label())["credits_left"] == 0
    await client.close()

    assert before - await balance(wallet) == PRICE and await settled(server) == 1
    (offer,) = server.offers
    proof = (await nodes["alice"].lookup_invoice(offer.payment_hash)).preimage
    calls = [s for s in server.seen if s.path == "/label"]
    assert [(c.status, c.authorization) for c in calls] == [
        (200, f"L402 {offer.macaroon}:{proof}")]


@pytest.mark.parametrize(("form", "message"),
                         [(name, message) for name, (_, message) in MALFORMED_FORMS.items()],
                         ids=list(MALFORMED_FORMS))
async def test_a_malformed_or_ambiguous_challenge_pays_nothing(server, wallet, nodes, simnet,
                                                               form, message):
    server.form = form
    before = await balance(wallet)
    client = Client(server, wallet)
    with pytest.raises(UnexpectedInvoiceError, match=f"no valid L402 challenge: .*{message}"):
        await client.label()
    await client.close()

    assert await balance(wallet) == before
    assert await settled(server) == 0 and payments_tried(simnet) == 0
    assert not [s for s in server.seen if s.path == "/label"]  # refused before the call
    await nodes["bob"].send_payment(server.offers[-1].invoice, fee_limit_msat=FEE_LIMIT)
    assert await settled(server) == 1  # it was payable: the refusal was the client's own


# -- refusals: nothing leaves bob's node ----------------------------------------------

REFUSALS = [
    # behaviour, honest challenges first, client options, error, what its message says
    ("overcharge", 0, {}, UnexpectedInvoiceError,
     r"asks 1001 msat for 1 iterations at the quoted 1000 msat"),
    ("overcharge", 1, {}, UnexpectedInvoiceError, r"asks 1001 msat"),
    ("more_iterations", 0, {}, UnexpectedInvoiceError,
     r"offers 5 iterations; this client asked for at most 1"),
    ("more_iterations", 0, {"block_size": 3}, UnexpectedInvoiceError,
     r"offers 7 iterations; this client asked for at most 3"),
    ("more_iterations", 1, {}, UnexpectedInvoiceError, r"offers 5 iterations"),
    ("other_payee", 0, {}, UnexpectedInvoiceError, r"another node than the server's"),
    ("other_payee", 1, {}, UnexpectedInvoiceError, r"another node"),
    ("other_session", 1, {}, UnexpectedInvoiceError, r"another session"),
    ("expired", 0, {}, UnexpectedInvoiceError, r"expired"),
    ("any_amount", 0, {}, UnexpectedInvoiceError, r"invoice asks (None|no|any)"),
    ("body_names_another_invoice", 0, {}, UnexpectedInvoiceError,
     r"names two different invoices"),
    ("body_names_another_invoice", 1, {}, UnexpectedInvoiceError,
     r"names two different invoices"),
    ("undecodable_invoice", 0, {}, UnexpectedInvoiceError, r"does not decode"),
    ("replayed_invoice", 1, {}, PaymentFailedError, r"already paid"),  # bob's node says no
    ("no_session", 0, {}, UnexpectedInvoiceError, r"names no session"),
    ("honest", 0, {"max_payment_msat": PRICE + FEE_LIMIT - 1}, OverBudgetError,  # fees count
     r"1000 msat \(\+ up to 10000 msat in fees\) is over the per-payment cap of 10999 msat"),
    ("honest", 0, {"block_size": 50, "max_payment_msat": 50 * PRICE}, OverBudgetError,
     r"50000 msat \(\+ up to 10000 msat in fees\) is over the per-payment cap of 50000"),
    ("honest", 1, {"budget_msat": PRICE + FEE_LIMIT + PRICE - 1}, OverBudgetError,
     r"would pass the budget of 11999 msat \(1000 spent or in flight\)"),
]
UNPAYABLE = {"any_amount", "undecodable_invoice", "replayed_invoice"}  # nor could bob's node


@pytest.mark.parametrize(("behaviour", "honest_first", "options", "error", "message"),
                         REFUSALS, ids=[f"{c[0]}-after-{c[1]}-{i}"
                                        for i, c in enumerate(REFUSALS)])
async def test_refuses_what_it_did_not_expect(server, wallet, nodes, simnet, behaviour,
                                              honest_first, options, error, message):
    server.behaviour, server.honest_first = behaviour, honest_first
    before = await balance(wallet)
    client = Client(server, wallet, **options)
    for _ in range(honest_first):  # the honest challenges establish the session
        await client.label()
    with pytest.raises(error, match=message):
        await client.label()
    await client.close()

    paid = honest_first * PRICE * options.get("block_size", 1)
    assert before - await balance(wallet) == paid
    assert await settled(server) == honest_first
    assert payments_tried(simnet) == honest_first  # the refused one was never even tried
    assert client.sync.spending.total_msat == paid

    refused = server.offers[-1]
    if behaviour not in UNPAYABLE:  # it was payable: the refusal was the client's own
        await nodes["bob"].send_payment(refused.invoice, fee_limit_msat=FEE_LIMIT)
        assert await settled(server) == honest_first + 1


async def test_a_huge_price_quoted_honestly_is_still_refused_by_the_cap(server, wallet,
                                                                       simnet):
    server.price_msat = 5_000_000  # /info says so; the invoice agrees
    before = await balance(wallet)
    client = Client(server, wallet, max_payment_msat=100_000)
    with pytest.raises(OverBudgetError, match=r"5000000 msat \(.*\) is over the per-payment cap"):
        await client.label()
    await client.close()
    assert await balance(wallet) == before
    assert await settled(server) == 0 and payments_tried(simnet) == 0


# -- a server that keeps asking: the budget stops it ----------------------------------


@pytest.mark.parametrize("payments", [1, 2, 3])
async def test_repeated_challenges_are_paid_up_to_the_budget_then_refused(
        server, wallet, simnet, payments):
    server.accept_credentials = False  # takes the money, answers 402 again
    budget = payments * PRICE + FEE_LIMIT  # room for exactly that many, fees reserved
    before = await balance(wallet)
    client = Client(server, wallet, budget_msat=budget)
    with pytest.raises(OverBudgetError,
                       match=rf"would pass the budget of {budget} msat "
                             rf"\({payments * PRICE} spent or in flight\)"):
        await client.label()
    await client.close()

    spent = before - await balance(wallet)
    assert spent == payments * PRICE <= budget
    assert await settled(server) == payments and len(server.made) == payments + 1
    assert payments_tried(simnet) == payments
    labels = [s for s in server.seen if s.path == "/label"]
    assert len({s.idempotency_key for s in labels}) == 1  # all one call, retried


async def test_calling_again_and_again_never_passes_the_budget(server, wallet, simnet):
    server.accept_credentials = False
    budget = 9 * PRICE + FEE_LIMIT
    before = await balance(wallet)
    client = Client(server, wallet, budget_msat=budget)
    for _ in range(10):
        try:
            await client.label()
        except OverBudgetError:
            break
        except AlsatsError as exc:  # one call gives up after a few payments; call again
            assert "still asked to pay" in str(exc)
    else:
        raise AssertionError("the budget never stopped the client")
    await client.close()
    assert before - await balance(wallet) == 9 * PRICE <= budget
    assert client.sync.spending.total_msat == 9 * PRICE
    assert await settled(server) == 9 == payments_tried(simnet)


async def test_a_call_never_pays_for_a_credential_it_will_not_use(server, wallet, simnet):
    server.accept_credentials = False  # takes the money, answers 402 again, forever
    client = Client(server, wallet)
    with pytest.raises(AlsatsError, match="still asked to pay after 3 payments"):
        await client.label()
    await client.close()
    labels = [s for s in server.seen if s.path == "/label"]
    presented = {s.authorization for s in labels if s.authorization}
    # the first credential is bought before the call, then one per challenge it answered
    assert client.sync.spending.payments == len(presented) == 1 + 3
    assert await settled(server) == payments_tried(simnet) == 4
    assert labels[-1].status == 402  # the last challenge was left unpaid


class InFlightWallet:
    """MOCK FAULT (the simnet always answers at once): bob's real wallet pays for real,
    then reports the payment in flight, as LND does when its stream ends too early."""

    def __init__(self, wallet: LightningWallet, tracked: bool = True) -> None:
        self.wallet = wallet
        self.tracked = tracked  # False: tracking gives no final answer either

    def pay(self, invoice: str, **options):
        payment = self.wallet.pay(invoice, **options)
        raise PaymentInFlightError("bob: payment stream ended without a final state",
                                   payment.payment_hash)

    def track_payment(self, payment_hash: str):
        if not self.tracked:
            raise PaymentInFlightError("bob: still in flight", payment_hash)
        return self.wallet.track_payment(payment_hash)


async def test_a_payment_left_in_flight_counts_against_the_budget(server, wallet, simnet):
    budget = 2 * (PRICE + FEE_LIMIT) - 1  # room for one payment with its fee limit, not two
    client = AlsatsClient(server.url, InFlightWallet(wallet, tracked=False), retries=0,
                          budget_msat=budget)
    before = await balance(wallet)
    with pytest.raises(PaymentFailedError, match="without a final state") as failed:
        await asyncio.to_thread(client.label, SAMPLE)
    assert failed.value.reason == "IN_FLIGHT"
    assert client.spending.in_flight_msat == PRICE + FEE_LIMIT
    with pytest.raises(PaymentFailedError, match="no final answer yet"):
        await asyncio.to_thread(client.label, SAMPLE)  # never paid again while unknown
    assert before - await balance(wallet) == PRICE  # the in-flight one did go through
    assert payments_tried(simnet) == 1


async def test_a_payment_left_in_flight_that_settled_buys_its_credits(server, wallet, simnet):
    client = AlsatsClient(server.url, InFlightWallet(wallet), retries=0)
    before = await balance(wallet)
    with pytest.raises(PaymentFailedError, match="without a final state"):
        await asyncio.to_thread(client.label, SAMPLE)
    answer = await asyncio.to_thread(client.label, SAMPLE)  # tracked: it settled
    assert answer["credits_left"] == 0
    assert client.unsettled is None and client.spending.in_flight_msat == 0
    assert client.spending.payments == 1 and client.spending.paid_msat == PRICE
    assert before - await balance(wallet) == PRICE
    assert payments_tried(simnet) == 1
