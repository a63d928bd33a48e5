"""alsats paid through an L402 client written by others: Alby's ``@getalby/lightning-tools``
(``fetchWithL402``, from npm), run by Node against a real backend with its simnet.

Alby's client pays through a wallet object (``payInvoice``). The script's wallet asks a
loopback endpoint of this test, which pays with bob's node and answers the preimage, so
every payment is a real one and this test sees each. tests/alby/package.json pins the
version; scripts/test.sh installs it into tests/alby/node_modules.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bolt11
import pytest

from alsats_widget import LightningWallet, local_stack
from backend.lightning import LightningError

ALBY = Path(__file__).resolve().parents[1] / "alby"
PRICE = 2000  # msat: 2 sat, so Alby's whole-satoshi amount is not 0


class _PayWithBob(BaseHTTPRequestHandler):
    """POST {"invoice"}: bob's node pays it; {"preimage", "fees_paid"} (msat) back."""

    server: BobPays

    def do_POST(self) -> None:
        invoice = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["invoice"]
        try:
            payment = self.server.wallet.pay(invoice)
        except LightningError as exc:
            self._answer(502, {"error": str(exc)})
            return
        self.server.payments.append((invoice, payment))
        self._answer(200, {"preimage": payment.preimage, "fees_paid": payment.fee_msat})

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:  # quiet: the test reads what it needs
        pass


class BobPays(ThreadingHTTPServer):
    """The wallet behind the script's payInvoice, on a free loopback port."""

    def __init__(self, wallet: LightningWallet) -> None:
        super().__init__(("127.0.0.1", 0), _PayWithBob)
        self.wallet = wallet
        self.payments: list = []  # (invoice, Payment), in order
        self.url = f"http://127.0.0.1:{self.server_address[1]}/pay"
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self) -> BobPays:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join()


def run_alby(server_url: str, wallet_url: str) -> dict:
    node = shutil.which("node")
    assert node, "Node is missing: bash scripts/test.sh installs it (Debian's nodejs)"
    assert (ALBY / "node_modules" / "@getalby" / "lightning-tools").is_dir(), (
        "Alby's lightning-tools is not installed: bash scripts/test.sh installs it "
        "(or run npm install in tests/alby)")
    run = subprocess.run([node, "pay.mjs", server_url, wallet_url], cwd=ALBY,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.slow
def test_alby_pays_a_call_once_and_reuses_its_credential(tmp_path):
    with local_stack(tmp_path, price_msat=PRICE) as stack:
        bob = stack.wallet("bob")
        before = bob.balance_msat()
        with BobPays(bob) as wallet:
            seen = run_alby(stack.url, wallet.url)
        spent = before - bob.balance_msat()

    train, session, credentials = seen["train"], seen["session"], seen["credentials"]
    assert (train["status"], train["paid"], train["amountSat"]) == (200, True, 2)
    assert train["body"]["n_labeled"] == 2 and train["body"]["credits_left"] == 0
    ((invoice, payment),) = wallet.payments  # one payment, of the price, direct: no fee
    assert bolt11.decode(invoice).amount_msat == PRICE == spent
    assert credentials["header"] == "Authorization"
    assert credentials["value"].startswith("L402 ")
    assert credentials["value"].endswith(f":{payment.preimage}")
    # the credential Alby keeps opens the same session, and nothing more is paid
    assert (session["status"], session["paid"]) == (200, False)
    assert session["body"]["n_labeled"] == 2 and session["body"]["credits_left"] == 0
    assert session["body"]["settings"]["mode"] == "stream"
