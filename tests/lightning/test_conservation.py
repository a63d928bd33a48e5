"""Property: any sequence of payments keeps the network's total and each node's books exact."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.lightning import InsufficientBalanceError, LightningNode, PaymentError
from backend.lightning.polar import copy_with_free_ports, load_polar_network
from backend.lightning.simnet import Simnet
from tests.conftest import NETWORK_FILE

NAMES = ("alice", "bob", "carol")
payments = st.lists(
    st.tuples(
        st.sampled_from(NAMES),  # payer
        st.sampled_from(NAMES),  # payee
        st.one_of(st.integers(1, 5_000), st.integers(1, 12_000_000_000)),  # msat
        st.sampled_from([0, 999, 1_000, 50_000, 10_000_000]),  # fee limit, msat
    ).filter(lambda p: p[0] != p[1]),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payments)
def test_random_payment_sequences_conserve_the_network(sequence):
    asyncio.run(_run(sequence))


async def _run(sequence) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        network_file = copy_with_free_ports(NETWORK_FILE, Path(tmp) / "network.json")
        data_dir = Path(tmp) / "data"
        async with Simnet(load_polar_network(network_file, data_dir), data_dir):
            nodes = {n: LightningNode.from_polar(network_file, n, data_dir) for n in NAMES}
            try:
                await _check(nodes, sequence)
            finally:
                for node in nodes.values():
                    await node.close()


async def _check(nodes, sequence) -> None:
    pubkey_of = {n: (await node.get_info()).pubkey for n, node in nodes.items()}
    name_of = {key: name for name, key in pubkey_of.items()}
    books = {n: (await node.channel_balance()).local_msat for n, node in nodes.items()}
    total = sum(books.values())
    for payer, payee, amount, fee_limit in sequence:
        invoice = await nodes[payee].add_invoice(amount)
        try:
            payment = await nodes[payer].send_payment(invoice.payment_request,
                                                      fee_limit_msat=fee_limit)
        except InsufficientBalanceError:
            assert books[payer] < amount  # only said when the payer's channels lack it
        except PaymentError:
            pass  # no route within liquidity or fee limit: nothing may move
        else:
            assert payment.fee_msat <= fee_limit
            books[payer] -= amount + payment.fee_msat
            books[payee] += amount
            route = [name_of[key] for key in payment.hops]
            assert route[-1] == payee
            if len(route) == 2:  # the one forwarder keeps the whole fee
                books[route[0]] += payment.fee_msat
            else:
                assert payment.fee_msat == 0
        now = {n: (await node.channel_balance()).local_msat for n, node in nodes.items()}
        assert now == books
        assert sum(now.values()) == total
