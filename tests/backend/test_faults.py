"""Faults a real part shows: the Lightning node goes away and comes back, a payment fails
at a hop or at the payee, clients that trickle, fall silent or read slowly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from aiohttp.test_utils import TestServer
from sklearn.datasets import load_digits

from alsats_widget import AlsatsClient, LightningWallet, PaymentFailedError
from alsats_widget.labeler import Labeler
from alsats_widget.labelfile import LabelFile
from backend.app import create_app, server_options
from backend.config import Config
from backend.l402 import format_authorization, parse_challenge
from backend.lightning import LightningNode
from backend.lightning.errors import PaymentError
from backend.lightning.polar import load_polar_network
from backend.lightning.simnet import Simnet
from tests.backend.conftest import Backend, Buyer
from tests.conftest import FakeClock

X = [[0.0] * 64]
NODES = ("alice", "bob", "carol")


async def start_simnet(network_file: Path, data_dir: Path, clock) -> Simnet:
    simnet = Simnet(load_polar_network(network_file, data_dir), data_dir, clock=clock)
    await simnet.__aenter__()
    return simnet


@pytest.mark.parametrize("outage", [0, pytest.param(15, marks=pytest.mark.slow)])  # gRPC's
# reconnect backoff grows with the outage; 15 s of it is for the whole suite only
async def test_a_node_that_is_gone_gives_503s_charges_nothing_and_comes_back(
        config, network_file: Path, data_dir: Path, clock, robustness, outage) -> None:
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
        for _ in range(outage):  # the backend keeps trying the node meanwhile
            async with http.post("/pay/initialize", json={"iterations": 1}) as response:
                assert response.status == 503
            await asyncio.sleep(1)

        simnet = await start_simnet(network_file, data_dir, clock)  # back: same ports, keys
        back = time.monotonic()
        for _ in range(100):  # the backend's channel reconnects by itself, within seconds
            async with http.post("/pay/initialize", json={"iterations": 1}) as response:
                if response.status == 402:
                    break
            await asyncio.sleep(0.1)
        assert response.status == 402
        recovered = time.monotonic() - back
        more, _ = await buyer.buy(1)
        status, answer = await buyer.call("POST", "/label", more, json={"x": X})
        assert status == 200 and answer["credits_left"] == 0
        _, session = await buyer.call("GET", "/session", auth)
        assert session["credits_left"] == 1  # nothing was charged while the node was gone
        gone = f"goes away for {outage} s" if outage else "goes away"
        robustness.record(
            "Faults", f"the server's Lightning node {gone}, then comes back",
            "503 'Lightning node is unavailable' (no traceback) while it is gone, credits "
            f"already paid still served, charged 0; selling again {recovered:.1f} s after "
            "the node is back, with no restart of the server")
    finally:
        await bob.close()
        await http.close()
        await server.close()
        await simnet.__aexit__(None, None, None)


async def test_an_invoice_that_expires_before_it_is_paid_sells_nothing(buyer, backend,
                                                                       robustness):
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
    robustness.record("Faults", "an invoice expires before it is paid",
                      f"the payee refuses it ({failed.value.reason}); 0 msat moved; its "
                      "credential is refused (401): nothing sold")


async def test_a_client_that_hangs_up_mid_request_is_charged_nothing(buyer, backend,
                                                                     robustness):
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
    robustness.record("Faults", "a client hangs up mid-request (a paid call's headers only, "
                      "half its body, all but a byte)",
                      f"3 hang-ups with a {len(body):,} byte body: charged 0 (2 credits "
                      "before and after), the next call served")


# -- a payment that fails midway ---------------------------------------------------------

REFILL_MSAT = 10_000  # what alice pushes back to bob to fix the route


async def balances(nodes: dict[str, LightningNode]) -> dict[str, int]:
    """What each node can spend over its channels, in msat."""
    return {name: (await node.channel_balance()).local_msat for name, node in nodes.items()}


@contextlib.asynccontextmanager
async def admin_nodes(config: Config) -> AsyncIterator[dict[str, LightningNode]]:
    """Admin adapters to alice, bob and carol of the backend's simnet."""
    nodes = {name: LightningNode.from_polar(config.network_file, name, config.simnet_dir)
             for name in NODES}
    try:
        yield nodes
    finally:
        for node in nodes.values():
            await node.close()


@pytest.fixture
def short_hop_config(config: Config) -> Config:
    """Bob's side of bob → alice holds 1 sat and an iteration costs 1 sat: carol's first
    iteration crosses that hop, and then bob has nothing left to forward to alice."""
    doc = json.loads(config.network_file.read_text())
    for link in doc["chart"]["links"].values():
        if (link["from"]["nodeId"], link["to"]["nodeId"]) == ("bob", "alice"):
            capacity = int(link["properties"]["capacity"])
            link["properties"].update(fromBalance="1", toBalance=str(capacity - 1))
    config.network_file.write_text(json.dumps(doc, indent=2))
    return replace(config, price_msat=1000)


async def label_next(labeler: Labeler, y: np.ndarray) -> None:
    """Click the true label of the sample shown, then wait for the worker (or a problem)."""
    shown = await asyncio.to_thread(labeler.wait_for_sample, 60)
    assert await asyncio.to_thread(labeler.label, int(y[shown.index]))
    await asyncio.to_thread(labeler.wait_idle, 60)


async def session_of(backend: Backend, client: AlsatsClient) -> dict:
    async with backend.http.get("/session", headers={
            "Authorization": client._authorization}) as response:
        assert response.status == 200
        return await response.json()


async def test_a_payment_that_fails_at_a_hop_charges_nothing_and_retry_pays_once(
        short_hop_config: Config, clock: FakeClock, tmp_path: Path, robustness) -> None:
    config = short_hop_config
    backend = Backend(config, clock)
    await backend.start()
    X, y = load_digits(return_X_y=True)
    pool, classes = X[:100], list(range(10))
    carol = LightningWallet.from_polar(config.network_file, "carol", config.simnet_dir)
    client = AlsatsClient(str(backend.server.make_url("/")), carol, mode="pool")
    labeler = Labeler(client, pool, classes, LabelFile(tmp_path / "labels.jsonl", pool, classes))
    try:
        async with admin_nodes(config) as nodes:
            await label_next(labeler, y)  # carol's first sat crosses bob → alice
            assert labeler.problem is None and labeler.status().pending == 0
            before, spent = await balances(nodes), replace(client.spending)

            await label_next(labeler, y)  # the next payment cannot cross bob → alice
            problem, status = labeler.problem, labeler.status()
            assert problem is not None and problem.kind == "payment", problem
            assert "FAILURE_REASON_NO_ROUTE" in problem.message
            assert "Nothing was charged" in problem.message
            assert status.labels == 2 and status.pending == 1  # kept, waiting for Retry
            with pytest.raises(PaymentFailedError) as failed:  # the client's own call
                await asyncio.to_thread(client.teach, 0, int(y[0]))
            assert failed.value.reason == "FAILURE_REASON_NO_ROUTE"
            assert await balances(nodes) == before  # no msat moved on any node
            assert client.spending == spent  # nothing paid, nothing counted
            session = await session_of(backend, client)
            assert session["n_labeled"] == 1 and session["credits_left"] == 0  # no credit
            invoices = await nodes["alice"].list_invoices()
            assert [i.state for i in invoices].count("SETTLED") == 1  # the first one only

            refill = await nodes["bob"].add_invoice(REFILL_MSAT, memo="rebalance")
            await nodes["alice"].send_payment(refill.payment_request, fee_limit_msat=0)
            refilled = await balances(nodes)
            retried = time.monotonic()
            labeler.retry()
            await asyncio.to_thread(labeler.wait_idle, 60)
            retry_seconds = time.monotonic() - retried
            assert labeler.problem is None and labeler.status().pending == 0
            fee = client.spending.fees_msat - spent.fees_msat
            assert client.spending.payments == spent.payments + 1  # charged once
            assert client.spending.paid_msat == spent.paid_msat + config.price_msat
            after = await balances(nodes)
            assert after == {"alice": refilled["alice"] + config.price_msat,
                             "bob": refilled["bob"] + fee,
                             "carol": refilled["carol"] - config.price_msat - fee}
            session = await session_of(backend, client)
            assert session["n_labeled"] == 2 and session["credits_left"] == 0
    finally:
        await asyncio.to_thread(labeler.close)
        await asyncio.to_thread(client.close)
        await asyncio.to_thread(carol.close)
        await backend.stop()
    robustness.record(
        "Faults", "a payment that fails midway (carol → bob → alice, bob's hop short of "
        "liquidity)",
        f"PaymentFailedError {failed.value.reason}; the widget shows a 'payment' problem "
        "and keeps the label pending; 2 failed payments: 0 msat moved on alice, bob and "
        "carol, charged 0, no credit; after alice refills bob's side, Retry teaches it in "
        f"{1000 * retry_seconds:.0f} ms with one payment ({config.price_msat} msat + "
        f"{fee} msat fee)")


async def test_a_payment_the_payee_refuses_midway_moves_nothing(buyer, backend,
                                                                robustness) -> None:
    async with admin_nodes(backend.config) as nodes:
        carol = Buyer(buyer.http, nodes["carol"])
        async with carol.http.post("/pay/initialize", json={"iterations": 2}) as response:
            assert response.status == 402
            macaroon, invoice = parse_challenge(response.headers["WWW-Authenticate"])
            payment_hash = (await response.json())["payment_hash"]
        await nodes["alice"].cancel_invoice(payment_hash)  # the payee will refuse it
        before = await balances(nodes)
        with pytest.raises(PaymentError) as failed:  # through bob, refused at alice
            await carol.wallet.send_payment(invoice, fee_limit_msat=10_000)
        assert failed.value.reason == "FAILURE_REASON_INCORRECT_PAYMENT_DETAILS"
        assert await balances(nodes) == before  # bob's hop was not left half-settled
        status, _ = await carol.call("POST", "/label", format_authorization(macaroon, bytes(32)),
                                     json={"x": X})
        assert status == 401  # never paid: nothing was sold

        auth, _ = await carol.buy(2)  # a new invoice goes through, paid once
        after = await balances(nodes)
        price = backend.config.price_msat
        fee = after["bob"] - before["bob"]
        assert after["alice"] == before["alice"] + 2 * price
        assert after["carol"] == before["carol"] - 2 * price - fee
        status, answer = await carol.call("POST", "/label", auth, json={"x": X})
        assert status == 200 and answer["credits_left"] == 1
    robustness.record(
        "Faults", "a payment the payee refuses midway (carol → bob → alice, alice canceled "
        "the invoice)",
        f"{failed.value.reason}; 0 msat moved on alice, bob and carol; its credential is "
        f"refused (401); a new invoice is paid once ({2 * price} msat + {fee} msat fee)")


# -- slow clients -----------------------------------------------------------------------

TRICKLERS = 20
READ_TIMEOUT = 1.0  # seconds, for the test's server (the default is 60)
MODEL_SAMPLES = 1_500  # of noise: a model of several MB, more than the kernel buffers
SLOW_READ = 64 * 1024  # bytes read every 20 ms


def request_head(server: TestServer, path: str, auth: str, length: int = 0,
                 method: str = "POST") -> bytes:
    """A paid call's request line and headers; the server closes the connection after."""
    body = (f"Content-Type: application/json\r\nContent-Length: {length}\r\n"
            if method == "POST" else "")
    return (f"{method} {path} HTTP/1.1\r\nHost: {server.host}\r\nAuthorization: {auth}"
            f"\r\n{body}Connection: close\r\n\r\n").encode()


def answer_of(raw: bytes) -> tuple[int, dict]:
    """Status and JSON body of a raw HTTP answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def trickle(server: TestServer, auth: str, body: bytes, pieces: int,
                  gap: float) -> tuple[int, dict, float]:
    """Send a paid call's body in ``pieces``, ``gap`` seconds apart; the answer and when
    it came (time.monotonic)."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(request_head(server, "/label", auth, len(body)))
        step = -(-len(body) // pieces)
        for start in range(0, len(body), step):
            await asyncio.sleep(gap)
            writer.write(body[start:start + step])
            await writer.drain()
        status, answer = answer_of(await reader.read())
        return status, answer, time.monotonic()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def timed(call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """How long ``call`` took, and when it ended (time.monotonic)."""
    start = time.monotonic()
    await call()
    end = time.monotonic()
    return end - start, end


async def probe_others(buyer: Buyer) -> tuple[list[float], float, float]:
    """What other clients see meanwhile: /healthz times, and a paid call's (402, payment,
    the call); and when the last of them ended."""
    async def healthz() -> None:
        async with buyer.http.get("/healthz") as response:
            assert response.status == 200

    async def paid_call() -> None:
        auth, _ = await buyer.buy(1)
        status, _ = await buyer.call("POST", "/label", auth, json={"x": X})
        assert status == 200

    health = []
    for _ in range(10):
        seconds, _ = await timed(healthz)
        health.append(seconds)
        await asyncio.sleep(0.05)
    paid, ended = await timed(paid_call)
    return health, paid, ended


async def test_slowloris_tricklers_do_not_block_other_clients(buyer, backend,
                                                              robustness) -> None:
    auth, _ = await buyer.buy(TRICKLERS)
    body = json.dumps({"x": X}).encode()
    started = time.monotonic()
    tricklers = [asyncio.create_task(trickle(backend.server, auth, body, pieces=30, gap=0.1))
                 for _ in range(TRICKLERS)]
    await asyncio.sleep(0.3)  # every trickler is in the middle of its body now
    health, paid, probes_ended = await probe_others(buyer)
    answers = await asyncio.gather(*tricklers)
    first_done = min(done for _, _, done in answers)
    assert probes_ended < first_done  # the sanity bound: answered before the tricklers end
    assert all(status == 200 for status, _, _ in answers)
    status, session = await buyer.call("GET", "/session", auth)
    assert session["credits_left"] == 0  # each trickler served and charged once
    robustness.record(
        "Faults", f"a slow client, slowloris: {TRICKLERS} clients trickle a paid call's body",
        f"bodies trickled over {first_done - started:.1f} s; meanwhile /healthz answered in "
        f"{1000 * statistics.median(health):.0f} ms median ({1000 * max(health):.0f} ms "
        f"max) and another client's paid call (402, payment, call) in {1000 * paid:.0f} ms; "
        "each trickler served and charged once")


async def fall_silent(server: TestServer, sent: bytes) -> tuple[bytes, float]:
    """Send ``sent``, then nothing: what the server answers before it hangs up, and when."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    start = time.monotonic()
    try:
        writer.write(sent)
        await writer.drain()
        async with asyncio.timeout(30):  # the sanity bound: never held forever
            raw = await reader.read()
        return raw, time.monotonic() - start
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def serving(config: Config, clock: FakeClock) -> AsyncIterator[tuple[TestServer, Buyer]]:
    """The backend with the server options alsats-backend takes from its config."""
    server = TestServer(create_app(config, clock=clock), host="127.0.0.1")
    await server.start_server(**server_options(config))  # its runner's options
    http = aiohttp.ClientSession(base_url=str(server.make_url("/")))
    bob = LightningNode.from_polar(config.network_file, "bob", config.lightning_data_dir)
    try:
        yield server, Buyer(http, bob)
    finally:
        await bob.close()
        await http.close()
        await server.close()


async def test_a_silent_client_is_dropped_after_the_read_timeout(config, clock,
                                                                 robustness) -> None:
    async with serving(replace(config, read_timeout_seconds=READ_TIMEOUT), clock) as (
            server, buyer):
        auth, _ = await buyer.buy(2)
        body = json.dumps({"x": X}).encode()
        head = request_head(server, "/label", auth, len(body))
        silent = [fall_silent(server, head),  # headers, then nothing
                  fall_silent(server, head + body[:len(body) // 2]),  # half the body
                  fall_silent(server, head[:len(head) // 2])]  # half the headers
        steady = trickle(server, auth, body, pieces=8, gap=READ_TIMEOUT / 4)
        *dropped, (status, answer, _) = await asyncio.gather(*silent, steady)

        for raw, seconds in dropped[:2]:
            dropped_status, dropped_answer = answer_of(raw)
            assert dropped_status == 408, raw
            assert "stopped arriving" in dropped_answer["error"]
            assert "Traceback" not in dropped_answer["error"]
            assert 0.9 * READ_TIMEOUT <= seconds < 10  # not aiohttp's 10 s lingering
        raw, half_headers = dropped[2]
        assert raw == b"" and 0.9 * READ_TIMEOUT <= half_headers < 10  # closed, no answer
        # a body slower than the timeout as a whole, its gaps shorter: it is served
        assert status == 200 and answer["credits_left"] == 1
        status, session = await buyer.call("GET", "/session", auth)
        assert session["credits_left"] == 1  # the silent ones were charged nothing
    (_, headers_only), (_, half_body) = dropped[:2]
    robustness.record(
        "Faults", "a slow client that sends a paid call's headers (or half its body, or "
        "half its headers) and falls silent",
        f"with a read timeout of {READ_TIMEOUT:g} s (default 60 s, --read-timeout): "
        f"408 JSON then closed after {headers_only:.2f} s (headers only) and "
        f"{half_body:.2f} s (half the body); half the headers: closed after "
        f"{half_headers:.2f} s; charged 0; a body trickled over 2 s in gaps under the "
        "timeout is served")


def buffered_by_server(server: TestServer) -> int:
    """Bytes of answers the server holds, written but not yet taken by the kernel."""
    return sum(handler.transport.get_write_buffer_size()
               for handler in server.runner.server.connections if handler.transport)


async def test_a_slow_reader_holds_nothing_others_wait_for(buyer, backend,
                                                            robustness) -> None:
    auth, _ = await buyer.buy(3)
    rng = np.random.default_rng(0)  # noise: a forest of many leaves, a model of megabytes
    x, y = rng.random((MODEL_SAMPLES, 1)), rng.integers(0, 2, MODEL_SAMPLES)
    status, _ = await buyer.call("POST", "/train", auth, json={"x": x.tolist(),
                                                               "y": y.tolist()})
    assert status == 200
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window
    sock.connect((backend.server.host, backend.server.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=SLOW_READ)
    answering, held = asyncio.Event(), [0]

    async def read_slowly() -> bytes:
        chunks = []
        while chunk := await reader.read(SLOW_READ):
            chunks.append(chunk)
            answering.set()
            held[0] = max(held[0], buffered_by_server(backend.server))
            await asyncio.sleep(0.02)
        return b"".join(chunks)

    try:
        writer.write(request_head(backend.server, "/model", auth, method="GET"))
        started = time.monotonic()
        slow = asyncio.create_task(read_slowly())
        await answering.wait()  # its answer is on its way, a little at a time
        health, paid, _ = await probe_others(buyer)
        status, session = await buyer.call("GET", "/session", auth)
        still_reading = not slow.done()
        assert session["credits_left"] == 1  # its call was charged before its answer left
        raw = await slow
        read_seconds = time.monotonic() - started
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head, _, model = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"X-Credits-Left: 1" in head
    assert f"Content-Length: {len(model)}".encode() in head  # all of it, in the end
    robustness.record(
        "Faults", "a slow client that reads a big answer slowly (GET /model)",
        f"a {len(model) / 1e6:.1f} MB model read {SLOW_READ // 1024} KB per 20 ms "
        f"({read_seconds:.1f} s; the server held up to {held[0] / 1e6:.1f} MB of it "
        f"waiting): meanwhile /healthz answered in {1000 * statistics.median(health):.0f} "
        f"ms median ({1000 * max(health):.0f} ms max), another client's paid call in "
        f"{1000 * paid:.0f} ms{'' if still_reading else ' (after it had read it all)'}; "
        "its credit was used before the answer went out")
