"""AlsatsClient and LightningWallet against a local stack (a real backend subprocess)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import requests
from sklearn.datasets import load_digits

from alsats_widget import (
    AlsatsClient,
    OverBudgetError,
    ServerError,
    UnexpectedInvoiceError,
    local_stack,
)
from alsats_widget.client import InputError, NpyBody
from tests.nginx import NginxProxy
from tests.tls import self_signed

PRICE = 7


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.data, data.target


def test_wallet_pays_and_reports_balance(stack):
    bob = stack.wallet("bob")
    assert len(bytes.fromhex(bob.pubkey)) == 33
    before = bob.balance_msat()
    client = stack.client("bob")
    client.label([[0.0] * 64])
    assert bob.balance_msat() == before - PRICE  # pay per iteration, direct: no fee
    client.close()


def test_pay_per_iteration_buys_exactly_one_each_time(stack, digits):
    x, y = digits
    with stack.client("bob") as client:
        client.train(x[:50], y[:50])
        for i in range(3):
            answer = client.label(x[50 + i:51 + i])
            assert answer["credits_left"] == 0
        assert client.spending.payments == 4 and client.spending.paid_msat == 4 * PRICE
        assert client.spending.iterations_bought == 4


def test_blocks_save_payments_and_carol_pays_fees_through_bob(stack, digits):
    x, y = digits
    with stack.client("carol", block_size=10) as client:
        client.train(x[:100], y[:100])
        for i in range(12):
            client.label(x[100 + i:101 + i])
        assert client.spending.payments == 2 and client.spending.iterations_bought == 20
        assert client.spending.fees_msat == 2 * 1000  # bob's base fee, per payment
        assert client.credits_left == 7


def test_pool_mode_query_teach_undo_and_model(stack, digits):
    x, y = digits
    with stack.client("bob", block_size=5, mode="pool") as client:
        assert client.upload_pool(x[:300])["n_pool"] == 300
        picked = client.query(3)["samples"]
        assert [s["index"] for s in picked] != [0, 1, 2]
        index = picked[0]["index"]
        client.teach(index, int(y[index]))
        others = [i for i in range(20) if i != index][:9]
        client.teach_many(others, [int(y[i]) for i in others])
        assert client.session_info()["n_labeled"] == 10
        client.undo(index)
        assert client.session_info()["n_labeled"] == 9
        assert len(client.download_model()) > 1000


def test_the_pool_streams_with_progress(stack):
    """A pool goes up in chunks, never copied whole, and progress counts up to its size."""
    pool = np.random.default_rng(0).integers(0, 256, (3000, 784), dtype=np.uint8)
    told: list[tuple[int, int]] = []
    with stack.client("bob", mode="pool") as client:
        assert client.upload_pool(pool, lambda sent, total: told.append((sent, total))) \
            == {"n_pool": 3000, "n_features": 784, "credits_left": 1, "relearn_free": 0}
    sizes = {total for _, total in told}
    assert sizes == {len(npy_bytes(pool))} and len(told) == 3  # 2.35 MB in 1 MiB chunks
    assert [sent for sent, _ in told] == sorted({sent for sent, _ in told})
    assert told[-1][0] == told[-1][1]


@pytest.mark.parametrize("array", [np.arange(12, dtype=np.uint8).reshape(3, 4),
                                   np.asfortranarray(np.eye(5, 3, dtype=np.float32))])
def test_an_npy_body_is_numpys_bytes_every_time_it_is_read(array):
    body = NpyBody(array, chunk=7)
    assert len(body) == len(npy_bytes(array))
    assert b"".join(body) == b"".join(body) == npy_bytes(np.ascontiguousarray(array))


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_holdout_exclude_and_a_forgotten_session(stack, digits):
    x, y = digits
    with stack.client("bob", block_size=30, mode="pool") as client:
        client.upload_pool(x[:300])
        assert client.upload_holdout(x[1000:1100]) == {"n_holdout": 100, "credits_left": 30}
        assert client.holdout_predictions()["predicted"] is None  # nothing taught yet
        first = [s["index"] for s in client.query(5)["samples"]]
        again = [s["index"] for s in client.query(5, exclude=first)["samples"]]
        assert not set(first) & set(again)
        client.teach_many(list(range(25)), [int(v) for v in y[:25]])
        deadline = time.monotonic() + 30  # the model is fitted in the background
        while (answer := client.holdout_predictions())["model_version"] < 1 \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert answer["model_version"] == 1 and len(answer["predicted"]) == 100
        assert client.credits_left == 5  # held-out predictions and queries are free

        old = client.session_id
        client.forget_session()  # as after a 410: the next paid call starts a new session
        assert client.session_id is None and client.credits_left == 0
        assert client.upload_pool(x[:50])["n_pool"] == 50
        assert client.session_id not in (None, old) and client.spending.payments == 2


def test_pay_per_iteration_stays_per_iteration_after_a_bigger_call(stack, digits):
    x, y = digits
    with stack.client("bob", block_size=1, mode="pool") as client:
        client.upload_pool(x[:50])  # buys 1 iteration: a credential to upload with
        client.teach_many(list(range(5)), [int(v) for v in y[:5]])  # costs 5: buys 5
        client.teach(5, int(y[5]))  # buys 1, not the 5 the server would offer
        assert client.spending.iterations_bought == 1 + 5 + 1
        assert client.spending.payments == 3 and client.credits_left == 0
        # each block was bought before the call that needed it: no 402 offer was turned
        # down, so no invoice was left open (the upload's credit is left: the call after
        # it cost 5)
        with sqlite3.connect(stack.data_dir / "backend" / "credits.sqlite") as db:
            sold = db.execute("SELECT iterations, used FROM credentials WHERE session_id = ?",
                              (client.session_id,)).fetchall()
        assert sorted(sold) == [(1, 0), (1, 1), (5, 5)]


def test_closing_a_session_closed_already_is_fine(stack):
    client = stack.client("bob")
    client.label([[0.0] * 64])
    auth = {"Authorization": client._authorization}
    assert requests.delete(client.base_url + "/session", headers=auth, timeout=10).ok
    client.close()  # the server answers 410: closed already, as asked
    assert client.session_id is None


def test_never_beyond_the_caps(stack):
    bob = stack.wallet("bob")
    before = bob.balance_msat()
    with pytest.raises(OverBudgetError, match="per-payment cap"):
        stack.client("bob", block_size=100, max_payment_msat=100 * PRICE - 1).label(
            [[1.0] * 64])
    client = stack.client("bob", budget_msat=2 * PRICE + 10_000)
    client.label([[1.0] * 64])
    client.label([[1.0] * 64])
    with pytest.raises(OverBudgetError, match="budget"):
        client.label([[1.0] * 64])
    assert before - bob.balance_msat() == 2 * PRICE


def test_never_pays_an_unexpected_invoice(stack, monkeypatch):
    bob = stack.wallet("bob")
    before = bob.balance_msat()
    client = stack.client("bob")
    info = client.info()
    monkeypatch.setitem(info, "price_msat", PRICE - 1)  # the server asks more than quoted
    with pytest.raises(UnexpectedInvoiceError, match="quoted"):
        client.label([[1.0] * 64])
    monkeypatch.setitem(info, "price_msat", PRICE)
    monkeypatch.setitem(info, "node_pubkey", "02" + "11" * 32)  # payee is not the server
    with pytest.raises(UnexpectedInvoiceError, match="another node"):
        client.label([[1.0] * 64])
    assert bob.balance_msat() == before


@pytest.mark.parametrize(("doctor", "match"), [
    (lambda value: value + ', version="0"', "'version' appears twice"),
    (lambda value: value.replace('version="0"', 'version="1"'), "unknown L402 version '1'"),
    (lambda value: value.replace('macaroon="', 'macaroon="*'), "not base64"),
    (lambda value: re.sub(r'token="[^"]+"', 'token="AgE="', value), "token and macaroon differ"),
    (lambda value: re.sub(r'invoice="\w+", ', "", value), "has no invoice"),
    (lambda value: re.sub(r'invoice="\w+"', 'invoice="lnbcrt1other"', value), "two different"),
])
def test_never_pays_a_malformed_challenge(stack, monkeypatch, doctor, match):
    bob = stack.wallet("bob")
    before = bob.balance_msat()
    client = stack.client("bob")
    send = client._send

    def doctored(method, path, **kwargs):
        response = send(method, path, **kwargs)
        if response.status_code == 402:
            response.headers["WWW-Authenticate"] = doctor(response.headers["WWW-Authenticate"])
        return response

    monkeypatch.setattr(client, "_send", doctored)
    with pytest.raises(UnexpectedInvoiceError, match=match):
        client.label([[1.0] * 64])
    assert bob.balance_msat() == before and client.spending.payments == 0


def test_server_errors_carry_the_servers_message_and_cost_nothing(stack):
    with stack.client("bob", block_size=3) as client:
        client.label([[1.0] * 64])
        with pytest.raises(ServerError) as error:
            client.label([[1.0] * 10])
        assert error.value.status == 400 and "64" in error.value.message
        assert client.session_info()["credits_left"] == 2


def test_an_unreachable_server_is_a_clear_error(stack):
    client = AlsatsClient("http://127.0.0.1:9", stack.wallet("bob"), retries=0)
    with pytest.raises(ServerError, match="cannot reach"):
        client.info()


def test_reuse_attaches_and_stopping_leaves_no_process(tmp_path):
    first = local_stack(tmp_path, price_msat=3)
    try:
        again = local_stack(tmp_path)
        assert again.url == first.url and again.process is None
        assert again.client("bob").info()["price_msat"] == 3
        again.stop()  # an attached stack does not stop the owner's backend
        assert first.process.poll() is None
    finally:
        first.stop()
    assert first.process.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(first.process.pid, 0)


def test_the_backend_dies_with_its_parent(tmp_path):
    script = ("import sys, time; from alsats_widget import local_stack; "
              f"s = local_stack({str(tmp_path)!r}); print(s.process.pid, flush=True); "
              "time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              text=True)
    child = int(parent.stdout.readline())
    parent.kill()  # kill -9: no atexit, no cleanup in the parent
    parent.wait()
    parent.stdout.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    raise AssertionError("the backend outlived its parent")



def test_the_public_api_is_pinned():
    import alsats_widget

    assert sorted(alsats_widget.__all__) == [
        "AlsatsClient", "AlsatsError", "DatasetError", "Digits", "LabelFileError",
        "LabelingWidget", "LightningWallet",
        "LocalStack", "OverBudgetError", "PaymentFailedError", "ServerError", "StackError",
        "UnexpectedInvoiceError", "combined_mnist", "load_mnist", "local_stack",
        "pool_and_holdout"]
    assert all(hasattr(alsats_widget, name) for name in alsats_widget.__all__)


def test_input_the_server_would_refuse_is_refused_before_anything_is_bought(stack):
    bob = stack.wallet("bob")
    before = bob.balance_msat()
    with stack.client("bob", mode="pool", classes=[0, 1]) as client:
        with pytest.raises(InputError, match="pool has NaN or infinity at row 1"):
            client.upload_pool([[0.0, 1.0], [np.nan, 0.0]])
        with pytest.raises(InputError, match="holdout holds text, not numbers: make features"):
            client.upload_holdout("digits.npy")
        with pytest.raises(InputError, match=r"pool has shape \(2, 3, 3, 2\); the server "
                                             r"takes \(n, d\), \(n, h, w\), \(n, h, w, c\)"):
            client.upload_pool(np.zeros((2, 3, 3, 2)))  # rules the server published
        with pytest.raises(InputError, match="label 7 at position 0 is not one of the "
                                             r"session's classes \[0, 1\]"):
            client.teach(0, 7)
        with pytest.raises(InputError, match="label 'a' at position 1"):
            client.teach_many([0, 1], [1, "a"])
        assert client.session_id is None and client.spending.total_msat == 0
    with stack.client("bob", mode="pool", strategy="qbc") as client, pytest.raises(
            InputError, match="unknown strategy 'qbc': expected one of"):
        client.initialize()
    assert bob.balance_msat() == before


def test_numpy_values_are_sent_as_the_plain_labels_they_are(stack):
    with stack.client("bob", mode="pool", classes=np.arange(3)) as client:
        client.upload_pool(np.eye(3))
        assert client.teach(1, np.int64(2))["label"] == 2
        assert client.teach_many(np.array([0]), np.array([1]))["n_labeled"] == 2



def dies_after_its_first_label(backend: tuple[str, int]) -> tuple[socket.socket, list[bytes]]:
    """A web process, in front of `backend`, that dies with its first POST /label in it:
    the call reaches the backend (and is charged), then the process is gone before the
    answer is sent on (the connection reset). Returns its listening socket, and the
    requests that died in it."""
    listener = socket.create_server(("127.0.0.1", 0))
    died: list[bytes] = []

    def pipe(source: socket.socket, sink: socket.socket, watch: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if watch and not died and chunk.startswith(b"POST /label"):
                    died.append(chunk)
                    sink.sendall(chunk)
                    time.sleep(1.0)  # the backend carries the call out, charges it
                    source.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      struct.pack("ii", 1, 0))
                    source.close()
                    sink.close()
                    return
                sink.sendall(chunk)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.close()

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                front, _ = listener.accept()
                back = socket.create_connection(backend)
                threading.Thread(target=pipe, args=(front, back, True), daemon=True).start()
                threading.Thread(target=pipe, args=(back, front, False), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener, died


def test_a_call_a_proxy_answers_502_is_sent_again_and_charged_once(stack, tmp_path,
                                                                    monkeypatch):
    """Behind nginx, a web process that dies with a paid call in it makes nginx answer 502
    (it never passes a sent POST on): the client sends the call again with the same
    Idempotency-Key, and the next web process answers it without charging it again."""
    host, port = stack.url.removeprefix("http://").split(":")
    dying, died = dies_after_its_first_label((host, int(port)))
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    try:
        with NginxProxy([f"127.0.0.1:{dying.getsockname()[1]}", f"{host}:{port}"],
                        tmp_path / "nginx", cert, key) as proxy, \
                AlsatsClient(proxy.url, stack.wallet("bob"), block_size=6) as client:
            answers = [client.label([[float(i)] * 64]) for i in range(5)]
    finally:
        dying.close()
    assert died, "no paid call died in the dying web process"
    assert [answer["credits_left"] for answer in answers] == [5, 4, 3, 2, 1]  # each once
