"""The rest of the LND API through the adapter: info, balances, invoices, streams, auth, TLS."""

from __future__ import annotations

import asyncio

import pytest

from backend.lightning import (
    IncorrectPaymentDetailsError,
    InvalidRequestError,
    InvoiceNotFoundError,
    LightningNode,
    NodeUnavailableError,
    UnauthenticatedError,
    load_polar_network,
)
from backend.lightning.lndconnect import make_lndconnect
from backend.lightning.simnet import Simnet, SimnetError


async def test_get_info_channels_and_balances(nodes):
    alice, bob = nodes["alice"], nodes["bob"]
    info = await alice.get_info()
    assert info.alias == "alice" and info.network == "regtest"
    assert len(bytes.fromhex(info.pubkey)) == 33 and info.uris[0].startswith(info.pubkey + "@")
    channels = await bob.list_channels()
    assert len(channels) == 2 and all(c.active for c in channels)
    to_alice = next(c for c in channels if c.remote_pubkey == info.pubkey)
    assert (to_alice.capacity_sat, to_alice.local_balance_sat, to_alice.remote_balance_sat) == (
        10_000_000, 9_000_000, 1_000_000)
    assert to_alice.initiator
    balance = await bob.channel_balance()
    assert balance.local_msat == 9_000_000_000 and balance.remote_msat == 6_000_000_000
    assert (await bob.wallet_balance()).total_sat == 0  # no chain in the simnet


async def test_lookup_of_an_unknown_invoice_and_bad_hash(nodes):
    with pytest.raises(InvoiceNotFoundError):
        await nodes["alice"].lookup_invoice("00" * 32)
    with pytest.raises(InvalidRequestError):
        await nodes["alice"].lookup_invoice("xyz")
    # an invoice of bob's is not alice's to look up
    invoice = await nodes["bob"].add_invoice(1)
    with pytest.raises(InvoiceNotFoundError):
        await nodes["alice"].lookup_invoice(invoice.payment_hash)


@pytest.mark.parametrize("amount_msat, memo, expiry", [
    (-1, "", 3600), (1, "x" * 1025, 3600), (1, "", -5),
])
async def test_add_invoice_refuses_bad_arguments(nodes, amount_msat, memo, expiry):
    with pytest.raises(InvalidRequestError):
        await nodes["alice"].add_invoice(amount_msat, memo=memo, expiry=expiry)
    assert await nodes["alice"].list_invoices() == []


async def test_wait_invoice_settled_returns_when_paid(nodes):
    alice = nodes["alice"]
    invoice = await alice.add_invoice(2_000)
    waiter = asyncio.create_task(alice.wait_invoice_settled(invoice.payment_hash, timeout=10))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await nodes["bob"].send_payment(invoice.payment_request, fee_limit_msat=0)
    settled = await waiter
    assert settled.settled and settled.amt_paid_msat == 2_000


async def test_wait_invoice_settled_fails_on_cancel_and_times_out(nodes):
    alice = nodes["alice"]
    invoice = await alice.add_invoice(2_000)
    with pytest.raises(TimeoutError):
        await alice.wait_invoice_settled(invoice.payment_hash, timeout=0.2)
    waiter = asyncio.create_task(alice.wait_invoice_settled(invoice.payment_hash, timeout=10))
    await asyncio.sleep(0.05)
    await alice.cancel_invoice(invoice.payment_hash)
    with pytest.raises(IncorrectPaymentDetailsError):
        await waiter


async def test_subscribe_invoices_replays_by_index_then_streams_live(nodes):
    alice, bob = nodes["alice"], nodes["bob"]
    first = await alice.add_invoice(1_000)
    second = await alice.add_invoice(2_000)
    await bob.send_payment(first.payment_request, fee_limit_msat=0)

    seen = []

    async def collect():
        async for invoice in alice.subscribe_invoices(add_index=1, settle_index=0):
            seen.append((invoice.payment_hash, invoice.state))
            if len(seen) == 3:
                return

    collector = asyncio.create_task(collect())
    await asyncio.sleep(0.1)
    third = await alice.add_invoice(3_000)
    await bob.send_payment(third.payment_request, fee_limit_msat=0)
    await asyncio.wait_for(collector, 5)
    assert seen == [
        (second.payment_hash, "OPEN"),  # replayed: added after index 1
        (third.payment_hash, "OPEN"),  # live add
        (third.payment_hash, "SETTLED"),  # live settle
    ]


async def test_subscribe_invoices_replays_settles_after_settle_index(nodes):
    alice, bob = nodes["alice"], nodes["bob"]
    invoices = [await alice.add_invoice(1_000) for _ in range(3)]
    for invoice in invoices:
        await bob.send_payment(invoice.payment_request, fee_limit_msat=0)
    stream = alice.subscribe_invoices(add_index=3, settle_index=1)
    replayed = [await anext(stream), await anext(stream)]
    await stream.aclose()
    assert [(i.payment_hash, i.settle_index) for i in replayed] == [
        (invoices[1].payment_hash, 2), (invoices[2].payment_hash, 3)]


def _node(network_file, data_dir, name, macaroon="admin"):
    return LightningNode.from_polar(network_file, name, data_dir, macaroon=macaroon)


async def test_invoice_macaroon_can_invoice_but_cannot_pay(simnet, network_file, data_dir):
    async with _node(network_file, data_dir, "bob", "invoice") as bob:
        invoice = await bob.add_invoice(1_000)
        assert invoice.state == "OPEN"
        async with _node(network_file, data_dir, "alice") as alice:
            to_pay = await alice.add_invoice(1_000)
        with pytest.raises(UnauthenticatedError, match="permission denied"):
            await bob.send_payment(to_pay.payment_request, fee_limit_msat=0)
        with pytest.raises(UnauthenticatedError):
            await bob.get_info()


async def test_readonly_macaroon_reads_but_cannot_write(simnet, network_file, data_dir):
    async with _node(network_file, data_dir, "alice", "readonly") as alice:
        assert (await alice.get_info()).alias == "alice"
        assert (await alice.channel_balance()).local_msat > 0
        with pytest.raises(UnauthenticatedError, match="permission denied"):
            await alice.add_invoice(1_000)


async def test_missing_and_foreign_macaroons_are_refused(simnet, network_file, data_dir):
    spec = simnet.network.lnd("alice")
    cert = spec.tls_cert.read_bytes()
    async with LightningNode(spec.grpc_host, cert, b"", name="alice") as nobody:
        with pytest.raises(UnauthenticatedError, match="expected 1 macaroon"):
            await nobody.get_info()
    bobs = simnet.network.lnd("bob").macaroon_path("admin").read_bytes()
    async with LightningNode(spec.grpc_host, cert, bobs, name="alice") as impostor:
        with pytest.raises(UnauthenticatedError, match="verification failed"):
            await impostor.get_info()
    async with LightningNode(spec.grpc_host, cert, b"\x02garbage", name="alice") as garbage:
        with pytest.raises(UnauthenticatedError):
            await garbage.get_info()


async def test_tls_is_pinned_to_the_nodes_certificate(simnet):
    alice, bob = simnet.network.lnd("alice"), simnet.network.lnd("bob")
    macaroon = alice.macaroon_path("admin").read_bytes()
    async with LightningNode(alice.grpc_host, bob.tls_cert.read_bytes(), macaroon) as wrong:
        with pytest.raises(NodeUnavailableError):
            await wrong.get_info()


async def test_connect_by_host_files_and_by_lndconnect_uri(simnet):
    spec = simnet.network.lnd("carol")
    admin = spec.macaroon_path("admin")
    async with LightningNode.from_files(spec.grpc_host, spec.tls_cert, admin) as by_files:
        pubkey = (await by_files.get_info()).pubkey
    uri = make_lndconnect(spec.grpc_host, spec.tls_cert.read_bytes(), admin.read_bytes())
    async with LightningNode.from_lndconnect(uri) as by_uri:
        assert (await by_uri.get_info()).pubkey == pubkey


async def test_missing_credentials_and_stopped_node_are_clear_errors(
    network_file, data_dir, tmp_path
):
    with pytest.raises(NodeUnavailableError, match="not found"):
        _node(network_file, tmp_path / "nowhere", "alice")
    network = load_polar_network(network_file, data_dir)
    async with Simnet(network, data_dir):
        node = _node(network_file, data_dir, "alice")
    with pytest.raises(NodeUnavailableError):  # the simnet has stopped
        await node.get_info()
    await node.close()


async def test_restart_keeps_keys_balances_invoices_and_macaroons(network_file, data_dir):
    network = load_polar_network(network_file, data_dir)
    async with Simnet(network, data_dir):
        async with _node(network_file, data_dir, "alice") as alice, \
                _node(network_file, data_dir, "bob") as bob:
            pubkey = (await alice.get_info()).pubkey
            paid = await alice.add_invoice(12_345)
            await bob.send_payment(paid.payment_request, fee_limit_msat=0)
            unpaid = await alice.add_invoice(1)
            balance = await alice.channel_balance()
        old_macaroon = network.lnd("alice").macaroon_path("admin").read_bytes()
    async with Simnet(network, data_dir):
        spec = network.lnd("alice")
        async with LightningNode(spec.grpc_host, spec.tls_cert.read_bytes(), old_macaroon) as a:
            assert (await a.get_info()).pubkey == pubkey
            assert await a.channel_balance() == balance
            assert (await a.lookup_invoice(paid.payment_hash)).state == "SETTLED"
            assert (await a.lookup_invoice(unpaid.payment_hash)).state == "OPEN"
            fresh = await a.add_invoice(5)
            assert fresh.add_index == unpaid.add_index + 1


async def test_one_data_dir_serves_one_simnet(simnet, network_file, data_dir):
    with pytest.raises(SimnetError, match="in use"):
        async with Simnet(load_polar_network(network_file, data_dir), data_dir):
            pass


async def test_port_in_use_is_a_clear_error(network_file, tmp_path):
    async with Simnet(load_polar_network(network_file, tmp_path / "one"), tmp_path / "one"):
        second = Simnet(load_polar_network(network_file, tmp_path / "two"), tmp_path / "two")
        with pytest.raises(SimnetError, match="cannot listen on 127.0.0.1"):
            await second.start()
