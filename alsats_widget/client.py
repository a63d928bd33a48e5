"""AlsatsClient: the HTTP API as methods, paying 402 challenges by itself within caps.

It pays only invoices it expected: payee the server's node (from /info), amount the
quoted price times the iterations asked for, for its own session, within the per-payment
cap and the total budget. Every paid call carries an Idempotency-Key that its retries
repeat, so a retry is never charged twice.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import bolt11
import numpy as np
import requests

from backend.config import DEFAULT_POOL_RULES
from backend.l402 import MalformedHeaderError, format_authorization, parse_challenge
from backend.lightning import (
    LightningError,
    NodeUnavailableError,
    PaymentError,
    PaymentInFlightError,
)

from .pool_check import PoolInputError, prepared_pool
from .wallet import LightningWallet

UPLOAD_CHUNK = 1 << 20  # bytes of a pool sent at a time
Progress = Callable[[int, int], None]  # (bytes sent, bytes in all)
MAX_PAYMENTS_PER_CALL = 3  # a call pays at most this many challenges before giving up
GATEWAY_FAILURES = frozenset({502, 504})  # a reverse proxy's: its upstream died or hung


class AlsatsError(Exception):
    """Base of the client's failures."""


class ServerError(AlsatsError):
    """The server refused the call; ``message`` is its own explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"server answered {status}: {message}")
        self.status = status
        self.message = message


class OverBudgetError(AlsatsError):
    """Paying would pass the per-payment cap or the total budget: nothing was paid."""


class UnexpectedInvoiceError(AlsatsError):
    """The server asked for a payment the client did not expect: nothing was paid."""


class InputError(AlsatsError, ValueError):
    """Input the server would refuse (the server's own rules), found before anything was
    sent or paid; retrying cannot help, correcting the input does."""


class PaymentFailedError(AlsatsError):
    """The wallet could not pay; ``reason`` is LND's."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class Spending:
    payments: int = 0
    paid_msat: int = 0  # invoice amounts
    fees_msat: int = 0  # routing fees on top
    iterations_bought: int = 0
    in_flight_msat: int = 0  # a payment with no final answer (amount + fee limit): may settle

    @property
    def total_msat(self) -> int:
        return self.paid_msat + self.fees_msat


@dataclass(frozen=True)
class UnsettledPayment:
    """A payment the wallet gave no final answer for (its node went away): it may settle."""

    macaroon: bytes
    payment_hash: str
    iterations: int
    amount_msat: int
    session_id: str
    offer: dict  # the 402 answer it paid


class AlsatsClient:
    """Speak to an alsats backend, paying for iterations with ``wallet``.

    ``block_size``: iterations bought per payment (1 = pay per iteration, the default).
    ``settings``: the session's mode, estimator, strategy, threshold and classes.
    """

    def __init__(self, base_url: str, wallet: LightningWallet, *, block_size: int = 1,
                 max_payment_msat: int = 100_000, budget_msat: int = 10_000_000,
                 fee_limit_msat: int = 10_000, timeout: float = 120.0, retries: int = 2,
                 **settings: Any) -> None:
        if block_size < 1:
            raise ValueError("block_size must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.wallet = wallet
        self.block_size = block_size
        self.max_payment_msat = max_payment_msat
        self.budget_msat = budget_msat
        self.fee_limit_msat = fee_limit_msat
        self.timeout = timeout
        self.retries = retries
        self.settings = settings
        self.spending = Spending()
        self.session_id: str | None = None
        self.credits_left = 0
        self.relearn_free = 0  # labels the server teaches again free (a restart lost them)
        self.unsettled: UnsettledPayment | None = None
        self._authorization: str | None = None
        self._info: dict | None = None
        self._http = requests.Session()

    # -- the API ----------------------------------------------------------------------

    def info(self) -> dict:
        if self._info is None:
            self._info = self._call("GET", "/info", paid=False)
        return self._info

    def initialize(self, iterations: int | None = None) -> dict:
        """Start a session (settings from the constructor) and buy its first credits."""
        if self.session_id is not None:
            raise AlsatsError("this client already has a session; call buy() for more")
        return self._buy(iterations or self.block_size, check_settings(self.settings))

    def buy(self, iterations: int | None = None) -> dict:
        """Buy more credits for this session now (they are bought as needed anyway)."""
        if self.session_id is None:
            return self.initialize(iterations)
        return self._buy(iterations or self.block_size, {"session_id": self.session_id})

    def train(self, x: Any, y: Any) -> dict:
        return self._call("POST", "/train", json={"x": _listed(x), "y": _listed(y)})

    def label(self, x: Any) -> dict:
        return self._call("POST", "/label", json={"x": _listed(x)})

    def check_pool(self, samples: Any, name: str = "pool") -> np.ndarray:
        """``samples`` as the server takes a pool (its rules from /info: shapes, dtypes,
        sizes), made dense and numeric where that is all they lack; else an InputError
        that names the fix. Nothing is sent or paid either way."""
        try:
            rules = self.info().get("pool") or DEFAULT_POOL_RULES.published()  # older servers
        except ServerError as exc:
            if exc.status != 0:
                raise
            rules = DEFAULT_POOL_RULES.published()  # unreachable: checked again on upload
        try:
            return prepared_pool(samples, rules, name)
        except PoolInputError as exc:
            raise InputError(f"{exc} (nothing was sent or paid)") from None

    def upload_pool(self, pool: Any, progress: Progress | None = None) -> dict:
        """The pool to label, streamed; ``progress(sent, total)`` is told in bytes."""
        return self._call("PUT", "/pool", data=NpyBody(self.check_pool(pool), progress),
                          cost=0, headers={"Content-Type": "application/octet-stream"})

    def upload_holdout(self, x: Any, progress: Progress | None = None) -> dict:
        """Held-out samples (unlabeled: their labels stay here) for a free accuracy curve."""
        return self._call("PUT", "/holdout",
                          data=NpyBody(self.check_pool(x, "holdout"), progress), cost=0,
                          headers={"Content-Type": "application/octet-stream"})

    def holdout_predictions(self) -> dict:
        """The newest model's predictions for the held-out samples (free)."""
        return self._call("GET", "/holdout", cost=0)

    def query(self, k: int = 1, exclude: list[int] | None = None) -> dict:
        """The k most uncertain samples, never one of the pool indices in ``exclude``."""
        body: dict[str, Any] = {"k": k}
        if exclude:
            body["exclude"] = [int(i) for i in exclude]
        return self._call("POST", "/query", json=body, cost=0)

    def teach(self, index: int, label: Any) -> dict:
        label = self._checked_labels([label])[0]
        return self._call("POST", "/teach", json={"index": int(index), "label": label},
                          relearn=True)

    def teach_many(self, indices: list[int], labels: list[Any]) -> dict:
        return self._call("POST", "/teach", json={"indices": [int(i) for i in indices],
                                                  "labels": self._checked_labels(labels)},
                          cost=len(indices), relearn=True)

    def _checked_labels(self, labels: Sequence[Any]) -> list:
        """The labels as the session's classes, checked before a credit is bought for
        them; as given when the classes are the server's default (it checks them)."""
        classes = self.settings.get("classes")
        return list(labels) if classes is None else check_labels(labels, classes)

    def undo(self, index: int) -> dict:
        return self._call("POST", "/undo", json={"index": int(index)}, cost=0)

    def session_info(self) -> dict:
        return self._call("GET", "/session", cost=0)

    def download_model(self) -> bytes:
        """The trained model as skops bytes (one iteration)."""
        return self._call("GET", "/model", raw=True)

    def close(self) -> None:
        """Close the session on the server (frees its memory) and the HTTP connection."""
        try:
            if self.session_id is not None and self._authorization is not None:
                try:
                    self._call("DELETE", "/session", cost=0)
                except ServerError as exc:
                    if exc.status != 410:  # 410: closed already, as we wanted
                        raise
                self.forget_session()
        finally:
            self._http.close()

    def forget_session(self) -> None:
        """Drop the session and its credential (say the server lost them: it answered
        410); the next paid call starts a new session. Spending is kept."""
        self.session_id = None
        self._authorization = None
        self.credits_left = self.relearn_free = 0

    # -- paying -----------------------------------------------------------------------

    def _buy(self, iterations: int, body: dict) -> dict:
        recovered = self.track_unsettled()
        if recovered is not None:  # a purchase thought lost had gone through: use it first
            return recovered
        response = self._send("POST", "/pay/initialize",
                              json={"iterations": iterations, **body})
        if response.status_code != 402:
            raise _server_error(response)
        return self._pay(response, iterations)

    def _pay(self, response: requests.Response, most_iterations: int) -> dict:
        """Check a 402 challenge against what we expect, pay it, keep the credential."""
        try:  # several WWW-Authenticate lines come joined by ", ": one list of challenges
            macaroon, invoice = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        except MalformedHeaderError as exc:
            raise UnexpectedInvoiceError(
                f"the 402 answer carries no valid L402 challenge: {exc}") from None
        body = _json(response)
        if body.get("payment_request") != invoice:
            raise UnexpectedInvoiceError("the 402 answer names two different invoices")
        decoded = _decode(invoice)
        info = self.info()
        iterations = body.get("iterations")
        if decoded.payee != info["node_pubkey"]:
            raise UnexpectedInvoiceError("the invoice is payable to another node than the "
                                         f"server's ({decoded.payee[:16]}...)")
        if not isinstance(iterations, int) or not 1 <= iterations <= most_iterations:
            raise UnexpectedInvoiceError(f"the server offers {iterations!r} iterations; "
                                         f"this client asked for at most {most_iterations}")
        if decoded.amount_msat != iterations * info["price_msat"]:
            raise UnexpectedInvoiceError(
                f"the invoice asks {decoded.amount_msat} msat for {iterations} iterations at "
                f"the quoted {info['price_msat']} msat each")
        session_id = body.get("session_id")
        if not isinstance(session_id, str) or not session_id:
            raise UnexpectedInvoiceError("the 402 answer names no session")
        if self.session_id is not None and session_id != self.session_id:
            raise UnexpectedInvoiceError("the invoice is for another session")
        if decoded.has_expired():
            raise UnexpectedInvoiceError("the invoice has expired")
        amount = int(decoded.amount_msat)
        if amount + self.fee_limit_msat > self.max_payment_msat:
            raise OverBudgetError(
                f"{amount} msat (+ up to {self.fee_limit_msat} msat in fees) is over the "
                f"per-payment cap of {self.max_payment_msat} msat")
        committed = self.spending.total_msat + self.spending.in_flight_msat
        if committed + amount + self.fee_limit_msat > self.budget_msat:
            raise OverBudgetError(
                f"paying {amount} msat (+ up to {self.fee_limit_msat} msat in fees) would pass "
                f"the budget of {self.budget_msat} msat ({committed} spent or in flight)")
        try:
            payment = self.wallet.pay(invoice, fee_limit_msat=self.fee_limit_msat)
        except (PaymentInFlightError, NodeUnavailableError) as exc:
            # no final answer: it may have settled. It counts against the budget, and is
            # looked up before anything else is paid (track_unsettled).
            self.unsettled = UnsettledPayment(macaroon, decoded.payment_hash, iterations,
                                              amount, session_id, body)
            self.spending.in_flight_msat += amount + self.fee_limit_msat
            raise PaymentFailedError(f"payment failed: {exc}", "IN_FLIGHT") from exc
        except LightningError as exc:
            raise PaymentFailedError(f"payment failed: {exc}",
                                     getattr(exc, "reason", type(exc).__name__)) from exc
        self._count_payment(payment.fee_msat, iterations, amount)
        self._use_credential(macaroon, payment.preimage, iterations, session_id)
        return body

    def _count_payment(self, fee_msat: int, iterations: int, amount: int) -> None:
        self.spending.payments += 1
        self.spending.paid_msat += amount
        self.spending.fees_msat += fee_msat
        self.spending.iterations_bought += iterations

    def _use_credential(self, macaroon: bytes, preimage: str, iterations: int,
                        session_id: str) -> None:
        self.session_id = session_id
        self._authorization = format_authorization(macaroon, bytes.fromhex(preimage))
        self.credits_left = iterations

    def track_unsettled(self) -> dict | None:
        """Before paying anything else, learn how a payment left without an answer ended:
        settled, its credential is the one to use (the credits bought are not lost), and
        its 402 answer is returned; failed or never started, it is forgotten. Still
        unknown: PaymentFailedError, nothing paid."""
        pending = self.unsettled
        if pending is None:
            return None
        try:
            payment = self.wallet.track_payment(pending.payment_hash)
        except (PaymentInFlightError, NodeUnavailableError) as exc:
            raise PaymentFailedError(f"the last payment has no final answer yet: {exc}",
                                     "IN_FLIGHT") from exc
        except PaymentError:
            payment = None  # it failed, or never reached the node: nothing left bob's node
        self.unsettled = None
        self.spending.in_flight_msat -= pending.amount_msat + self.fee_limit_msat
        if payment is not None:
            self._count_payment(payment.fee_msat, pending.iterations, pending.amount_msat)
            if self.session_id in (None, pending.session_id):  # not a session left since
                self._use_credential(pending.macaroon, payment.preimage, pending.iterations,
                                     pending.session_id)
                return pending.offer
        return None

    # -- HTTP -------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, paid: bool = True, raw: bool = False,
              cost: int = 1, relearn: bool = False, **kwargs: Any) -> Any:
        """One API call; pays the challenges it meets (at most a few) and retries.

        ``paid``: the call carries the credential; ``cost``: the credits it uses (0 for
        the free calls that only name the session); ``relearn``: a teach, free while the
        server teaches again the labels a restart lost (``relearn_free``)."""
        headers = {**kwargs.pop("headers", {}), "Idempotency-Key": uuid.uuid4().hex}
        if relearn:
            cost -= min(cost, self.relearn_free)
        if paid and cost:  # a payment left without an answer is settled before another
            self.track_unsettled()
        if paid and (self._authorization is None or self.credits_left < cost):
            # buy what the call needs first: a 402 would offer the server's size, and an
            # offer turned down is an invoice left open
            self.buy(max(self.block_size, cost))
        for payments in range(MAX_PAYMENTS_PER_CALL + 1):
            if paid:
                headers["Authorization"] = self._authorization
            response = self._send(method, path, headers=headers, **kwargs)
            if response.status_code == 402 and paid:
                if payments == MAX_PAYMENTS_PER_CALL:
                    break
                wanted = max(self.block_size, cost)
                if _offered(response) == wanted:
                    self._pay(response, wanted)
                else:  # the server offers another size (its last block): buy this client's
                    self.buy(wanted)
                continue
            if response.status_code >= 400:
                raise _server_error(response)
            if raw:
                self.credits_left = int(response.headers.get("X-Credits-Left",
                                                             self.credits_left))
                return response.content
            body = _json(response)
            self.credits_left = body.get("credits_left", self.credits_left)
            self.relearn_free = body.get("relearn_free", self.relearn_free)
            return body
        raise AlsatsError(f"{path}: still asked to pay after {MAX_PAYMENTS_PER_CALL} payments")

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send, retrying connection failures and a proxy's word that the web process
        behind it died or hung mid-call (502, 504): the call may have run, and its
        Idempotency-Key makes sending it again safe (charged once)."""
        for attempt in range(self.retries + 1):
            try:
                response = self._http.request(method, self.base_url + path,
                                              timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == self.retries:
                    raise ServerError(0, f"cannot reach {self.base_url}: {exc}") from None
            else:
                if response.status_code not in GATEWAY_FAILURES or attempt == self.retries:
                    return response
            time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    def __enter__(self) -> AlsatsClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _offered(response: requests.Response) -> Any:
    """How many iterations a 402 answer offers (checked properly only if it is paid)."""
    try:
        return response.json().get("iterations")
    except (ValueError, AttributeError):
        return None


class NpyBody:
    """An array's .npy bytes for requests to stream, a chunk at a time and never copied
    whole (a million digits are 784 MB), telling ``progress(sent, total)`` as it goes.
    Each iteration starts afresh, so a retried or re-paid request sends it all again;
    its length gives the request a Content-Length, which lets the server refuse a body
    too large before it is sent."""

    def __init__(self, array: np.ndarray, progress: Progress | None = None,
                 chunk: int = UPLOAD_CHUNK) -> None:
        self._array = np.ascontiguousarray(array)
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, np.lib.format.header_data_from_array_1_0(self._array))
        self._header = header.getvalue()
        self._progress = progress or (lambda sent, total: None)
        self._chunk = chunk

    def __len__(self) -> int:
        return len(self._header) + self._array.nbytes

    def __iter__(self) -> Iterator[bytes]:
        total = len(self)
        yield self._header
        data = memoryview(self._array).cast("B")
        for start in range(0, len(data), self._chunk):
            piece = data[start:start + self._chunk]
            yield piece.tobytes()
            self._progress(len(self._header) + start + len(piece), total)


def _listed(values: Any) -> Any:
    return values.tolist() if isinstance(values, np.ndarray) else values


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        raise ServerError(response.status_code, response.text[:200]) from None
    if not isinstance(body, dict):
        raise ServerError(response.status_code, "the answer is not a JSON object")
    return body


def _server_error(response: requests.Response) -> ServerError:
    try:
        message = response.json().get("error", response.text)
    except ValueError:
        message = response.text[:200]
    return ServerError(response.status_code, message)


def _decode(invoice: str):
    try:
        return bolt11.decode(invoice)
    except Exception as exc:  # noqa: BLE001 - bolt11 raises many types
        raise UnexpectedInvoiceError(f"the invoice does not decode: {exc}") from None


# -- input checks: the server's own rules, run before anything is sent or paid -----------

def check_settings(settings: dict) -> dict:
    """A session's settings as POST /pay/initialize takes them (classes as plain ints or
    strings), or an InputError naming what is wrong. Fields it does not know are left to
    the server: a newer one may take more."""
    with _server_rules():
        from backend.learners.validation import check_classes
        from backend.sessions import check_settings as rules

        rules(settings)
        if "classes" not in settings:
            return dict(settings)
        return {**settings, "classes": check_classes(settings["classes"])}


def check_labels(labels: Sequence[Any], classes: Sequence[Any]) -> list:
    """Each label as the class it is (a NumPy 3 becomes 3), or an InputError for one
    that is not among ``classes``."""
    with _server_rules():
        from backend.learners.validation import check_classes
        from backend.learners.validation import check_labels as rules

        known = check_classes(classes)
        return [known[code] for code in rules(labels, known, len(labels))]


@contextmanager
def _server_rules() -> Iterator[None]:
    """The backend's checks, imported on first use (they bring scikit-learn, a slow import
    that the client needs for nothing else); their refusal becomes an InputError."""
    from backend.learners import LearnerError

    try:
        yield
    except LearnerError as exc:
        raise InputError(f"{exc} (nothing was sent or paid)") from None
