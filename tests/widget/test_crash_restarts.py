"""kill -9 of the backend (its simnet inside it) at random moments of a paid labeling run.

A widget labels a pool by clicks, paying per iteration, while the backend process is
killed with SIGKILL at a random moment, clicked on a little while it is down, started
again on the same data dir and ports, and the widget's Retry pressed until it has caught
up. After every restart the books are audited:

- money: the network's total msat is what it was, alice gained exactly what the settled
  invoices ask, and bob lost exactly that (his channel to alice is direct, no fees);
- credits: every settled invoice's credential is held by the client; every credit used was
  used by a call that answered 200, or by the one call a kill cut off; no call (one
  Idempotency-Key) was charged twice; every credential but the current one is used in
  full and the current one's credits are still there to use; each label was paid once
  (the labels a restart lost are taught again free), but for a call a kill cut off;
- labels: the label file holds every label the widget accepted, in order, and once caught
  up the server holds them all.

Every WORST_MOMENT-th kill is not random: it lands just after a payment settled, before the
client learned it had (the widest gap between money and credits).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from pymacaroons.serializers import BinarySerializer

from alsats_widget import AlsatsClient, LabelingWidget, local_stack
from backend.l402 import Identifier, parse_authorization
from backend.lightning import LightningNode, NodeUnavailableError
from tests.digits import digit_pool
from tests.ledger_rows import ledger_rows
from tests.robustness import soak

pytestmark = pytest.mark.slow
PRICE = 10  # msat per iteration
CHARGED_PATHS = ("/teach", "/train", "/label", "/model")
NODES = ("alice", "bob", "carol")
WORST_MOMENT = 5


@dataclass
class SentCall:
    path: str
    cost: int
    statuses: list[int | None] = field(default_factory=list)  # None: no answer came


class AuditedClient(AlsatsClient):
    """AlsatsClient that notes every call it sends with a credential: the credential's token
    id, the Idempotency-Key, what the call costs and each answer's status."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sent: dict[tuple[bytes, str], SentCall] = {}
        self.payments_tracked = 0  # payments a kill left without an answer, looked up

    def track_unsettled(self) -> dict | None:
        pending = self.unsettled
        recovered = super().track_unsettled()
        self.payments_tracked += pending is not None and self.unsettled is None
        return recovered

    def _send(self, method: str, path: str, **kwargs):
        headers = kwargs.get("headers") or {}
        auth, key = headers.get("Authorization"), headers.get("Idempotency-Key")
        if auth is None or key is None:
            return super()._send(method, path, **kwargs)
        body = kwargs.get("json") or {}
        cost = len(body["indices"]) if path == "/teach" and "indices" in body else 1
        call = self.sent.setdefault((token_id(auth), key), SentCall(path, cost))
        try:
            response = super()._send(method, path, **kwargs)
        except Exception:
            call.statuses.append(None)
            raise
        call.statuses.append(response.status_code)
        return response

    def current_token(self) -> bytes | None:
        return None if self._authorization is None else token_id(self._authorization)


class KillingWallet:
    """bob's real wallet which, when armed, kills the backend (bob's node is in it) with
    SIGKILL right after a payment settled, before the client sees the proof. MOCK FAULT for
    the answer only: no real part can be made to lose it at exactly that moment, so the
    wallet raises the NodeUnavailableError the adapter raises when its node dies mid-call."""

    def __init__(self, wallet, stack) -> None:
        self.wallet, self.stack = wallet, stack
        self.armed = threading.Event()

    def pay(self, invoice: str, **options):
        payment = self.wallet.pay(invoice, **options)
        if self.armed.is_set():
            self.armed.clear()
            os.kill(self.stack.process.pid, signal.SIGKILL)
            raise NodeUnavailableError("bob: the node went away before it answered")
        return payment

    def __getattr__(self, name: str):
        return getattr(self.wallet, name)


def token_id(authorization: str) -> bytes:
    macaroon = BinarySerializer().deserialize_raw(parse_authorization(authorization).macaroon)
    return Identifier.decode(macaroon.identifier_bytes).token_id


class Clicker:
    """Clicks the true label of the sample shown, every few milliseconds, in a thread;
    notes each label the widget accepted."""

    def __init__(self, widget: LabelingWidget, truth: np.ndarray, rng: random.Random) -> None:
        self.widget, self.truth, self.rng = widget, truth, rng
        self.accepted: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._click, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _click(self) -> None:
        labeler = self.widget.labeler
        while not self._stop.is_set():
            shown = labeler.current
            if shown is not None and labeler.label(int(self.truth[shown.index])):
                given = labeler.given[-1]
                self.accepted.append((given.index, given.label))
            time.sleep(self.rng.uniform(0.0, 0.03))


def labels_in_file(path: Path) -> list[tuple[int, int]]:
    """The labels a label file holds, in the order given (this run never undoes)."""
    lines = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    return [(r["index"], r["label"]) for r in lines if r["event"] == "label"]


async def books(stack) -> dict:
    """Every node's spendable msat, and alice's settled invoices (hash -> msat)."""
    simnet_dir = stack.data_dir / "backend" / "simnet"
    nodes = {n: LightningNode.from_polar(stack.network_file, n, simnet_dir) for n in NODES}
    try:
        local = {n: (await node.channel_balance()).local_msat for n, node in nodes.items()}
        invoices = await nodes["alice"].list_invoices()
    finally:
        for node in nodes.values():
            await node.close()
    return {"local": local, "settled": {bytes.fromhex(i.payment_hash): i.amt_paid_msat
                                        for i in invoices if i.settled}}


def ledger(url: str) -> tuple[dict[bytes, dict], list[tuple[bytes, str, int]]]:
    """The server's credentials (by payment hash) and charged calls, read only."""
    credentials = {bytes(r["payment_hash"]): r
                   for r in ledger_rows(url, "SELECT * FROM credentials")}
    charged = [(bytes(r["token_id"]), r["idempotency_key"], r["credits"])
               for r in ledger_rows(url, "SELECT * FROM charged_calls")]
    return credentials, charged


def sqlite_ledger(stack) -> str:
    """The URL of a one-process stack's ledger: the SQLite file in its data dir."""
    return f"sqlite:///{stack.data_dir / 'backend' / 'credits.sqlite'}"


def audit(stack, client: AuditedClient, start: dict, kills: int, ledger_url: str) -> dict:
    now = asyncio.run(books(stack))
    assert sum(now["local"].values()) == sum(start["local"].values())  # no msat made or lost
    paid = sum(now["settled"].values()) - sum(start["settled"].values())
    assert now["local"]["alice"] - start["local"]["alice"] == paid
    assert start["local"]["bob"] - now["local"]["bob"] == paid

    credentials, charged = ledger(ledger_url)
    sold = {h: c for h, c in credentials.items() if h in now["settled"]}
    assert all(credentials[h]["used"] == 0 for h in set(credentials) - set(sold))
    assert sum(c["amount_msat"] for c in sold.values()) == paid
    held = {token for token, _ in client.sent} | {client.current_token()}
    lost = [c["payment_hash"].hex() for c in sold.values() if bytes(c["token_id"]) not in held]
    assert not lost, f"paid for, and the client does not have them: {lost}"

    assert max(Counter(key for _, key, _ in charged).values(), default=1) == 1  # never twice
    cut_off = cut_off_credits = 0
    used: Counter[bytes] = Counter()
    for token, key, credits in charged:
        call = client.sent[(token, key)]
        assert call.path in CHARGED_PATHS and 1 <= credits <= call.cost
        if 200 not in call.statuses:  # charged, but the answer was lost in a kill (no
            assert call.statuses[-1] in (None, 502)  # answer, or nginx's, every retry)
            cut_off += 1
            cut_off_credits += credits
        used[token] += credits
    assert cut_off <= kills
    for credential in sold.values():
        token = bytes(credential["token_id"])
        assert credential["used"] == used[token]
        if token != client.current_token():
            calls = [call for (held, _), call in client.sent.items() if held == token]
            assert credential["used"] == credential["iterations"], \
                f"credits left behind on {dict(credential)}, its calls {calls}"
    info = client.session_info()
    current = next(c for c in sold.values() if bytes(c["token_id"]) == client.current_token())
    assert info["credits_left"] == current["iterations"] - current["used"]
    # every label paid once: a model a restart lost is taught again for free; only a call
    # whose answer a kill cut off may be paid again when it is sent again
    assert client.spending.iterations_bought <= info["n_labeled"] + cut_off_credits
    return {"paid_msat": paid, "cut_off": cut_off, "info": info}


def catch_up(widget: LabelingWidget, timeout: float = 120) -> int:
    """Press Retry until the widget has sent everything with no problem; returns presses."""
    deadline = time.monotonic() + timeout
    presses = 0
    while True:
        widget.labeler.retry()
        presses += 1
        widget.labeler.wait_idle(timeout)
        if widget.labeler.problem is None:
            return presses
        assert time.monotonic() < deadline, widget.labeler.problem
        time.sleep(0.3)  # the wallet's gRPC channel reconnects to the new process


@pytest.mark.timeout(soak(900, 7200))
def test_kill_9_during_a_paid_labeling_run_loses_no_money_and_no_label(tmp_path, robustness):
    restarts, seed = soak(20, 200), 7
    rng = random.Random(seed)
    pool, truth = digit_pool(soak(1, 12_000))  # a pool the run does not finish
    label_file = tmp_path / "labels.jsonl"
    with local_stack(tmp_path / "stack", reuse=False, price_msat=PRICE) as stack:
        start = asyncio.run(books(stack))
        wallet = KillingWallet(stack.wallet("bob"), stack)
        client = AuditedClient(stack.url, wallet, fee_limit_msat=0, mode="pool")
        widget = LabelingWidget(client, pool, label_file=label_file)
        clicker = Clicker(widget, truth, rng)
        began, presses, cut_off, problems = time.monotonic(), 0, 0, Counter()
        try:
            for kills in range(1, restarts + 1):
                worst = kills % WORST_MOMENT == 0
                if worst:
                    wallet.armed.set()
                clicker.start()
                if worst:
                    stack.process.wait(60)
                else:
                    time.sleep(rng.uniform(0.05, 1.5))
                    os.kill(stack.process.pid, signal.SIGKILL)
                    stack.process.wait()
                time.sleep(rng.uniform(0.0, 0.5))  # clicks go on while it is down
                clicker.stop()
                problem = widget.labeler.problem
                problems[f"{problem.kind} problem" if problem else "still retrying"] += 1
                assert labels_in_file(label_file) == clicker.accepted
                stack.restart()
                presses += catch_up(widget)
                assert labels_in_file(label_file) == clicker.accepted
                checked = audit(stack, client, start, kills, sqlite_ledger(stack))
                assert checked["info"]["n_labeled"] == len(clicker.accepted)
                cut_off = checked["cut_off"]
        finally:
            widget.close()
            client.close()
    assert len(clicker.accepted) > restarts  # the kills landed in a run that made progress
    robustness.record(
        "Crashes",
        f"kill -9 of the backend (simnet inside) at random moments of a paid widget "
        f"labeling run, {restarts} restarts (seed {seed}); every {WORST_MOMENT}th just "
        f"after a payment settled, before the client saw it",
        f"after each restart: total msat conserved, {checked['paid_msat']:,} msat paid = "
        f"credits sold, no credential lost, no Idempotency-Key charged twice, "
        f"{cut_off} charged call(s) whose answer a kill cut off; {len(clicker.accepted):,} "
        f"labels accepted, all in the label file and on the server; what the widget "
        f"showed after a kill: {shown(problems)}; {client.payments_tracked} payment(s) "
        f"a kill left unanswered, looked up; {presses} Retry presses; "
        f"{client.spending.iterations_bought:,} iterations paid for them (a model a "
        f"restart lost is taught again free); {time.monotonic() - began:.0f} s")


def shown(problems: Counter) -> str:
    return ", ".join(f"{what} {count}×" for what, count in problems.most_common())
