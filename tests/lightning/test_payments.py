"""Payments over real gRPC through the adapter: success paths, fees and every failure reason."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time

import bolt11
import pytest
from coincurve import PrivateKey

from backend.lightning import (
    AlreadyPaidError,
    IncorrectPaymentDetailsError,
    InsufficientBalanceError,
    InvalidRequestError,
    NoRouteError,
)
from backend.lightning.simnet.payreq import encode_payment_request


async def local_msat(node) -> int:
    return (await node.channel_balance()).local_msat


async def balances(nodes) -> dict[str, int]:
    return {name: await local_msat(node) for name, node in nodes.items()}


async def test_bob_pays_alice_directly(nodes):
    alice, bob = nodes["alice"], nodes["bob"]
    before = await balances(nodes)
    invoice = await alice.add_invoice(5_000, memo="one iteration")
    payment = await bob.send_payment(invoice.payment_request, fee_limit_msat=0)

    assert hashlib.sha256(bytes.fromhex(payment.preimage)).hexdigest() == invoice.payment_hash
    assert payment.fee_msat == 0 and payment.value_msat == 5_000
    assert payment.hops == ((await alice.get_info()).pubkey,)
    settled = await alice.lookup_invoice(invoice.payment_hash)
    assert settled.state == "SETTLED" and settled.amt_paid_msat == 5_000
    assert settled.settle_index == 1 and settled.settle_date > 0
    after = await balances(nodes)
    assert after["alice"] - before["alice"] == 5_000
    assert before["bob"] - after["bob"] == 5_000
    assert after["carol"] == before["carol"]


async def test_carol_pays_alice_through_bob_and_bob_keeps_the_fee(nodes):
    alice, bob, carol = nodes["alice"], nodes["bob"], nodes["carol"]
    before = await balances(nodes)
    amount = 2_000_000
    expected_fee = 1000 + amount * 1 // 1_000_000  # LND's default policy at bob
    invoice = await alice.add_invoice(amount)
    payment = await carol.send_payment(invoice.payment_request, fee_limit_msat=10_000)

    assert payment.fee_msat == expected_fee
    assert payment.hops == ((await bob.get_info()).pubkey, (await alice.get_info()).pubkey)
    after = await balances(nodes)
    assert after["alice"] - before["alice"] == amount
    assert before["carol"] - after["carol"] == amount + expected_fee
    assert after["bob"] - before["bob"] == expected_fee  # +amount+fee in, -amount out


async def test_fee_limit_below_the_route_fee_is_no_route_and_moves_nothing(nodes):
    alice, carol = nodes["alice"], nodes["carol"]
    before = await balances(nodes)
    invoice = await alice.add_invoice(1_000)
    with pytest.raises(NoRouteError) as failure:
        await carol.send_payment(invoice.payment_request, fee_limit_msat=999)  # fee is 1000
    assert failure.value.reason == "FAILURE_REASON_NO_ROUTE"
    assert await balances(nodes) == before
    assert (await alice.lookup_invoice(invoice.payment_hash)).state == "OPEN"
    # the same invoice can then be paid with a sufficient limit, as in LND
    await carol.send_payment(invoice.payment_request, fee_limit_msat=1_000)


async def test_no_liquidity_in_the_needed_direction_is_no_route(nodes):
    # bob's side of the carol-bob channel is empty, so nobody can pay carol
    invoice = await nodes["carol"].add_invoice(1_000)
    with pytest.raises(NoRouteError):
        await nodes["alice"].send_payment(invoice.payment_request, fee_limit_msat=100_000)


async def test_paying_more_than_the_local_balance_is_insufficient_balance(nodes):
    bob_local = await local_msat(nodes["bob"])
    invoice = await nodes["alice"].add_invoice(bob_local + 1_000)
    with pytest.raises(InsufficientBalanceError):
        await nodes["bob"].send_payment(invoice.payment_request, fee_limit_msat=0)


async def test_second_payment_of_a_paid_invoice(nodes):
    alice, bob, carol = nodes["alice"], nodes["bob"], nodes["carol"]
    invoice = await alice.add_invoice(1_000)
    await bob.send_payment(invoice.payment_request, fee_limit_msat=0)
    before = await balances(nodes)
    with pytest.raises(AlreadyPaidError):  # the same payer: LND's ALREADY_EXISTS
        await bob.send_payment(invoice.payment_request, fee_limit_msat=0)
    with pytest.raises(IncorrectPaymentDetailsError):  # another payer: the payee refuses
        await carol.send_payment(invoice.payment_request, fee_limit_msat=10_000)
    assert await balances(nodes) == before


async def test_canceled_invoice_is_incorrect_payment_details(nodes):
    invoice = await nodes["alice"].add_invoice(1_000)
    await nodes["alice"].cancel_invoice(invoice.payment_hash)
    assert (await nodes["alice"].lookup_invoice(invoice.payment_hash)).state == "CANCELED"
    with pytest.raises(IncorrectPaymentDetailsError):
        await nodes["bob"].send_payment(invoice.payment_request, fee_limit_msat=0)


async def test_expired_invoice_is_canceled_and_refused(nodes, clock):
    invoice = await nodes["alice"].add_invoice(1_000, expiry=60)
    clock.advance(61)
    before = await balances(nodes)
    with pytest.raises(IncorrectPaymentDetailsError):
        await nodes["bob"].send_payment(invoice.payment_request, fee_limit_msat=0)
    assert (await nodes["alice"].lookup_invoice(invoice.payment_hash)).state == "CANCELED"
    assert await balances(nodes) == before


async def test_invoice_unknown_to_its_payee_is_incorrect_payment_details(simnet, nodes):
    # signed with alice's real key, but alice never made it (as if from a lost database)
    preimage = os.urandom(32)
    request = encode_payment_request(
        private_key=simnet.ledger.keys("alice").private_key,
        payment_hash=hashlib.sha256(preimage).digest(), payment_addr=os.urandom(32),
        amount_msat=1_000, memo="forged", expiry=3600, timestamp=int(simnet._clock()),
    )
    with pytest.raises(IncorrectPaymentDetailsError):
        await nodes["bob"].send_payment(request, fee_limit_msat=0)


async def test_invoice_of_a_node_outside_the_network_is_no_route(nodes):
    request = encode_payment_request(
        private_key=PrivateKey().secret, payment_hash=os.urandom(32),
        payment_addr=os.urandom(32), amount_msat=1_000, memo="elsewhere", expiry=3600,
        timestamp=int(time.time()),
    )
    with pytest.raises(NoRouteError):
        await nodes["bob"].send_payment(request, fee_limit_msat=0)


@pytest.mark.parametrize("bad", ["", "lnbcrt1garbage", "not an invoice at all"])
async def test_malformed_payment_request_is_an_invalid_request(nodes, bad):
    with pytest.raises(InvalidRequestError):
        await nodes["bob"].send_payment(bad, fee_limit_msat=0)


async def test_any_amount_invoice_needs_an_amount(nodes):
    alice, bob = nodes["alice"], nodes["bob"]
    invoice = await alice.add_invoice(0)
    with pytest.raises(InvalidRequestError, match="amount must be specified"):
        await bob.send_payment(invoice.payment_request, fee_limit_msat=0)
    payment = await bob.send_payment(invoice.payment_request, fee_limit_msat=0, amount_msat=7)
    assert payment.value_msat == 7
    assert (await alice.lookup_invoice(invoice.payment_hash)).amt_paid_msat == 7


async def test_invoice_is_real_bolt11_signed_by_the_node(nodes):
    alice = nodes["alice"]
    info = await alice.get_info()
    invoice = await alice.add_invoice(3, memo="alsats: 3 msat", expiry=600)
    decoded = bolt11.decode(invoice.payment_request)  # checks the signature
    assert decoded.currency == "bcrt" and decoded.is_regtest()
    assert decoded.payee == info.pubkey
    assert decoded.amount_msat == 3
    assert decoded.payment_hash == invoice.payment_hash
    assert decoded.payment_secret == invoice.payment_addr and len(decoded.payment_secret) == 64
    assert decoded.description == "alsats: 3 msat" and decoded.expiry == 600
    via_lnd = await nodes["bob"].decode_pay_req(invoice.payment_request)
    assert (via_lnd.destination, via_lnd.amount_msat, via_lnd.payment_hash) == (
        info.pubkey, 3, invoice.payment_hash)
    preimages = {(await alice.add_invoice(1)).preimage for _ in range(5)}
    assert len(preimages) == 5 and all(len(bytes.fromhex(p)) == 32 for p in preimages)


async def test_hundred_concurrent_payments_all_finish_correctly(nodes):
    alice = nodes["alice"]
    before = await balances(nodes)
    invoices = [await alice.add_invoice(1_000 + i) for i in range(100)]
    payers = [nodes["bob"] if i % 2 else nodes["carol"] for i in range(100)]
    payments = await asyncio.gather(*(
        payer.send_payment(inv.payment_request, fee_limit_msat=10_000)
        for payer, inv in zip(payers, invoices, strict=True)
    ))
    assert len({p.preimage for p in payments}) == 100
    received = sum(1_000 + i for i in range(100))
    fees = sum(p.fee_msat for p in payments)
    assert fees == sum(1000 + (1_000 + i) // 1_000_000 for i in range(0, 100, 2))
    after = await balances(nodes)
    assert after["alice"] - before["alice"] == received
    assert sum(after.values()) == sum(before.values())
    states = {(await alice.lookup_invoice(inv.payment_hash)).state for inv in invoices}
    assert states == {"SETTLED"}
