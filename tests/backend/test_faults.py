"""Faults a real part shows: the Lightning node goes away, then comes back."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from backend.app import create_app
from backend.l402 import format_authorization, parse_challenge
from backend.lightning import LightningNode
from backend.lightning.errors import PaymentError
from backend.lightning.polar import load_polar_network
from backend.lightning.simnet import Simnet
from tests.backend.conftest import Buyer

X = [[0.0] * 64]


async def start_simnet(network_file: Path, data_dir: Path, clock) -> Simnet:
    simnet = Simnet(load_polar_network(network_file, data_dir), data_dir, clock=clock)
    await simnet.__aenter__()
    return simnet


async def test_a_node_that_is_gone_gives_503s_charges_nothing_and_comes_back(
        config, network_file: Path, data_dir: Path, clock) -> None:
    # The backend speaks to a simnet it does not run, as it would to a real LND node.
    simnet = await start_simnet(network_file, data_dir, clock)
    app = create_app(replace(config, simnet=False, lnd_data_dir=data_dir), clock=clock)
    server = TestServer(app, host="127.0.0.1")  # binds a free port itself
    await server.start_server()
    http = aiohttp.ClientSession(base_url=str(server.make_url("/")))
    bob = LightningNode.from_polar(network_file, "bob", data_dir)
    buyer = Buyer(http, bob)
    try:
        auth, _ = await buyer.buy(2)
        await simnet.__aexit__(None, None, None)  # alice's node (and bob's) stop

        async with http.post("/pay/initialize", json={"iterations": 1}) as response:
            body = await response.json()
            assert response.status == 503 and "Lightning node" in body["error"]
            assert "Traceback" not in body["error"]
        status, answer = await buyer.call("POST", "/label", auth, json={"x": X})
        assert status == 200 and answer["credits_left"] == 1  # paid credits still work

        simnet = await start_simnet(network_file, data_dir, clock)  # back: same ports, keys
        for _ in range(100):  # the backend's channel reconnects by itself, within seconds
            async with http.post("/pay/initialize", json={"iterations": 1}) as response:
                if response.status == 402:
                    break
            await asyncio.sleep(0.1)
        assert response.status == 402
        more, _ = await buyer.buy(1)
        status, answer = await buyer.call("POST", "/label", more, json={"x": X})
        assert status == 200 and answer["credits_left"] == 0
        _, session = await buyer.call("GET", "/session", auth)
        assert session["credits_left"] == 1  # nothing was charged while the node was gone
    finally:
        await bob.close()
        await http.close()
        await server.close()
        await simnet.__aexit__(None, None, None)


async def test_an_invoice_that_expires_before_it_is_paid_sells_nothing(buyer, backend):
    async with buyer.http.post("/pay/initialize", json={"iterations": 3}) as response:
        assert response.status == 402
        macaroon, invoice = parse_challenge(response.headers["WWW-Authenticate"])
    before = (await buyer.wallet.channel_balance()).local_msat
    backend.clock.advance(backend.config.invoice_expiry_seconds + 1)  # the node's time too
    with pytest.raises(PaymentError) as failed:
        await buyer.wallet.send_payment(invoice, fee_limit_msat=10_000)
    assert failed.value.reason == "FAILURE_REASON_INCORRECT_PAYMENT_DETAILS"
    assert (await buyer.wallet.channel_balance()).local_msat == before  # nothing moved
    status, _ = await buyer.call("POST", "/label", format_authorization(macaroon, bytes(32)),
                                 json={"x": X})
    assert status == 401  # never paid: the credential buys nothing


async def test_a_client_that_hangs_up_mid_request_is_charged_nothing(buyer, backend):
    auth, _ = await buyer.buy(2)
    host, port = backend.server.host, backend.server.port
    body = json.dumps({"x": [[1.0] * 64] * 2000}).encode()
    for sent in (0, len(body) // 2, len(body) - 1):  # headers only, half, all but a byte
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"POST /label HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                     f"\r\n".encode() + body[:sent])
        await writer.drain()
        writer.close()  # gone before the body is complete
        await writer.wait_closed()
    await asyncio.sleep(0.2)
    status, session = await buyer.call("GET", "/session", auth)
    assert status == 200 and session["credits_left"] == 2
    status, answer = await buyer.call("POST", "/label", auth, json={"x": X})
    assert status == 200 and answer["credits_left"] == 1  # and it serves on
