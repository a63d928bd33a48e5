"""A backend with its simnet in process, on real sockets, and bob's node paying for calls."""

from __future__ import annotations

import base64
import io
from dataclasses import replace
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from aiohttp.test_utils import TestServer

from backend.app import create_app
from backend.config import Config, Limits
from backend.l402 import format_authorization, parse_challenge
from backend.lightning import LightningNode
from tests.conftest import FakeClock

PRICE_MSAT = 5  # "as little as a few millisats"


class Buyer:
    """Speaks the API as a client would: answers 402 challenges by paying with bob's node."""

    def __init__(self, http: aiohttp.ClientSession, wallet: LightningNode) -> None:
        self.http = http
        self.wallet = wallet

    async def pay(self, response: aiohttp.ClientResponse) -> tuple[str, dict]:
        """Pay a 402 challenge; returns the Authorization header value and the 402 body."""
        assert response.status == 402, await response.text()
        macaroon, invoice = parse_challenge(response.headers["WWW-Authenticate"])
        body = await response.json()
        assert body["payment_request"] == invoice
        payment = await self.wallet.send_payment(invoice, fee_limit_msat=10_000)
        return format_authorization(macaroon, bytes.fromhex(payment.preimage)), body

    async def buy(self, iterations: int, **settings) -> tuple[str, dict]:
        async with self.http.post("/pay/initialize",
                                  json={"iterations": iterations, **settings}) as response:
            return await self.pay(response)

    async def upload_pool(self, auth: str, pool: np.ndarray) -> tuple[int, dict]:
        return await self.call("PUT", "/pool", auth, data=npy(pool), headers=OCTET)

    async def call(self, method: str, path: str, auth: str, **kwargs) -> tuple[int, dict]:
        headers = {"Authorization": auth, **kwargs.pop("headers", {})}
        async with self.http.request(method, path, headers=headers, **kwargs) as response:
            return response.status, await response.json()


OCTET = {"Content-Type": "application/octet-stream"}


def npy(array: np.ndarray) -> bytes:
    """An array as the .npy bytes PUT /pool and PUT /holdout take."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def macaroon_of(auth: str) -> bytes:
    return base64.b64decode(auth.split(" ", 1)[1].split(":", 1)[0])


class Backend:
    """Start, stop and start again a backend on one data dir."""

    def __init__(self, config: Config, clock: FakeClock) -> None:
        self.config = config
        self.clock = clock
        self.server: TestServer | None = None
        self.http: aiohttp.ClientSession | None = None
        self.wallet: LightningNode | None = None
        self.running = False

    async def start(self) -> Buyer:
        # Port 0: the socket binds a free port itself. A port picked first and bound
        # later can be taken in between (a CI run saw "address already in use").
        self.server = TestServer(create_app(self.config, clock=self.clock), host="127.0.0.1")
        await self.server.start_server()
        self.http = aiohttp.ClientSession(base_url=str(self.server.make_url("/")))
        self.wallet = LightningNode.from_polar(self.config.network_file, "bob",
                                               self.config.simnet_dir)
        self.running = True
        return Buyer(self.http, self.wallet)

    async def stop(self) -> None:
        self.running = False
        await self.wallet.close()
        await self.http.close()
        await self.server.close()


@pytest.fixture
def config(network_file: Path, tmp_path: Path) -> Config:
    return Config(network_file=network_file, node="alice", data_dir=tmp_path / "backend",
                  simnet=True, price_msat=PRICE_MSAT, workers=2,
                  limits=replace(Limits(), max_json_bytes=2_000_000, max_pool_bytes=4_000_000))


@pytest.fixture
async def backend(config: Config, clock: FakeClock):
    server = Backend(config, clock)
    yield server
    if server.running:
        await server.stop()


@pytest.fixture
async def buyer(backend: Backend) -> Buyer:
    return await backend.start()
