"""Labeler: the labeling loop behind the widget, with no user interface of its own.

A human must never wait for the server. So a click only writes the label to the label
file, updates the counters and shows the next sample from a queue of candidates the
server ranked earlier; the server calls (teach, undo, query, paying as they go) run in
one worker thread, in order. After each call that changed the model it asks for a fresh
ranking, which replaces the queue, before it sends more. Anything that goes wrong in the
worker stops it with a ``Problem`` the widget shows; the labels stay in the file and in
the outbox, and ``retry()`` carries on where it stopped. A refusal no retry can fix (input
the server refuses) says what to correct instead.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import requests

from backend.lightning import LightningError

from .client import (
    AlsatsClient,
    InputError,
    OverBudgetError,
    PaymentFailedError,
    ServerError,
    UnexpectedInvoiceError,
)
from .labelfile import GivenLabel, LabelFile

SESSION_LOST = (409, 410)  # the learner is gone (the server restarted), or the session
WORTH_RETRYING = (402, 408, 429, *SESSION_LOST)  # the 4xx answers that may pass on a retry
UPLOAD_SHOWN_EVERY = 0.25  # seconds between two showings of the pool's upload
ASK_AGAIN_SECONDS = 0.25  # a ranking or held-out accuracy of a model still fitting: asked again


@dataclass(frozen=True)
class Candidate:
    """A pool sample the server ranked, with the model's guess for it."""

    index: int
    predicted: Any = None  # None while the model knows nothing (a diverse pick)
    uncertainty: float | None = None
    model_version: int = 0
    top_classes: tuple[tuple[Any, float], ...] | None = None  # (class, probability), two


@dataclass(frozen=True)
class Problem:
    """Why the worker stopped; ``kind`` is budget, payment, refused, input, server or
    error. ``retry``: whether Retry may help (not for input the server refuses)."""

    kind: str
    message: str
    retry: bool = True


@dataclass(frozen=True)
class Status:
    """The counters, read in one go so that the widget shows a consistent picture."""

    labels: int
    skipped: int
    iterations_paid: int
    msat_spent: int
    credits_left: int
    balance_msat: int | None
    pending: int  # labels and undos not yet on the server
    model_version: int
    connected: bool
    finished: bool
    problem: Problem | None
    uploaded: tuple[int, int] | None = None  # (bytes sent, in all) while the pool goes up


class Labeler:
    """Label a pool through ``client``, saving every event to ``label_file`` first.

    ``holdout``: optional (X, y) the server predicts (it never sees y) after each model
    update, for held-out accuracy. ``prefetch``: candidates kept ready.
    """

    def __init__(self, client: AlsatsClient, pool: np.ndarray, classes: Sequence[Any],
                 label_file: LabelFile, *, holdout: tuple[Any, Any] | None = None,
                 prefetch: int = 8, on_change: Callable[[bool], None] | None = None) -> None:
        self.client = client
        self.pool = pool
        self.classes = list(classes)
        self.file = label_file
        self.prefetch = prefetch
        self._holdout = None if holdout is None else (np.asarray(holdout[0]),
                                                      np.asarray(holdout[1]))
        self._on_change = on_change or (lambda background: None)
        replay = label_file.replay
        self.given: list[GivenLabel] = list(replay.labels)  # in the order given
        self.skipped: set[int] = set(replay.skipped)
        self.holdout_accuracy: list[tuple[int, int, float]] = []  # (labels, msat, accuracy)
        self.current: Candidate | None = None
        self._labeled: dict[int, Candidate] = {}  # as shown when labeled here, for undo
        self._queue: list[Candidate] = []
        self._outbox: deque[tuple[str, int, Any]] = deque()  # ("teach"|"undo", index, label)
        self._in_flight: list[tuple[str, int, Any]] = []
        self._paid_before = (replay.iterations_paid, replay.msat_spent)
        self._spent_at_start = (client.spending.iterations_bought, client.spending.total_msat)
        self._connected = False  # the server has the pool and every label in ``given``
        self._uploaded: tuple[int, int] | None = None  # the pool's upload, while it runs
        self._upload_shown = 0.0  # when its progress was last shown
        self._stale = True  # the queue was ranked before the newest labels
        self._rerank_after: float | None = None  # monotonic time: its model trailed them
        self._sent_since_ranking = False
        self._rebuilt = False  # the session was rebuilt and nothing went through since
        self._evaluated_version = -1
        self._evaluate_after = 0.0  # monotonic time: the server's model trailed, ask later
        self._model_version = 0
        self._balance_msat: int | None = None
        self._balance_stale = True
        self._finished = False
        self._busy = False
        self._closed = False
        self.problem: Problem | None = None
        self._cond = threading.Condition(threading.RLock())
        self._worker = threading.Thread(target=self._work, daemon=True, name="alsats-labeler")
        self._worker.start()

    # -- what a click does (the caller's thread; never waits for the server) ------------

    def label(self, label: Any) -> bool:
        """Label the sample shown and show the next; False when no sample is shown."""
        label = self._class_of(label)
        with self._cond:
            shown = self.current
            if shown is None:
                return False
            given = GivenLabel(shown.index, label, shown.predicted, shown.uncertainty)
            self.file.label(given)  # on disk before anything else happens to it
            self.given.append(given)
            self._labeled[shown.index] = shown
            self._outbox.append(("teach", shown.index, label))
            self._advance()
        self._on_change(False)
        return True

    def skip(self) -> bool:
        """Leave the sample shown unlabeled (it is not offered again); show the next."""
        with self._cond:
            shown = self.current
            if shown is None:
                return False
            self.file.skip(shown.index)
            self.skipped.add(shown.index)
            self._advance()
        self._on_change(False)
        return True

    def undo(self) -> GivenLabel | None:
        """Take the last label back, here and on the server, and show its sample again."""
        with self._cond:
            if not self.given:
                return None
            given = self.given.pop()
            self.file.undo(given.index)
            if ("teach", given.index, given.label) in self._outbox:
                self._outbox.remove(("teach", given.index, given.label))  # never sent
            else:
                self._outbox.append(("undo", given.index, None))
            if self.current is not None:
                self._queue.insert(0, self.current)
            self.current = self._labeled.pop(given.index, None) or Candidate(
                given.index, given.predicted, given.uncertainty)  # one from the file
            self._stale = True
            self._cond.notify_all()
        self._on_change(False)
        return given

    def retry(self) -> None:
        """Carry on after a problem (say, once the budget was raised or the server is back)."""
        with self._cond:
            self.problem = None
            self._cond.notify_all()
        self._on_change(False)

    def _advance(self) -> None:
        """Show the next queued candidate that is still unlabeled and not skipped."""
        taken = {g.index for g in self.given} | self.skipped
        while self._queue and self._queue[0].index in taken:
            self._queue.pop(0)
        self.current = self._queue.pop(0) if self._queue else None
        self._stale = True
        self._cond.notify_all()

    def _class_of(self, label: Any) -> Any:
        """The class object equal to ``label`` (so NumPy scalars become the class itself)."""
        for known in self.classes:
            if known == label:
                return known
        raise ValueError(f"{label!r} is not one of the classes {self.classes}")

    # -- reading the state ---------------------------------------------------------------

    def status(self) -> Status:
        with self._cond:
            spending = self.client.spending
            return Status(
                labels=len(self.given), skipped=len(self.skipped),
                iterations_paid=self._paid_before[0] + spending.iterations_bought
                - self._spent_at_start[0],
                msat_spent=self._msat_spent(),
                credits_left=self.client.credits_left, balance_msat=self._balance_msat,
                pending=len(self._outbox) + len(self._in_flight),
                model_version=self._model_version, connected=self._connected,
                finished=self._finished, problem=self.problem,
                uploaded=None if self._connected else self._uploaded)

    def _msat_spent(self) -> int:
        return self._paid_before[1] + self.client.spending.total_msat - self._spent_at_start[1]

    def rolling_accuracy(self, window: int) -> list[tuple[int, int | None, float]]:
        """(labels given, msat spent, accuracy) after each label the model had guessed:
        how often its guess before the label was right, over the last ``window``."""
        points, hits = [], []
        with self._cond:
            for count, given in enumerate(self.given, start=1):
                if given.predicted is None:
                    continue
                hits.append(given.predicted == given.label)
                recent = hits[-window:]
                points.append((count, given.msat_spent, sum(recent) / len(recent)))
        return points

    def wait_for_sample(self, timeout: float = 60.0) -> Candidate | None:
        """The sample shown, waiting for one; None when the pool is done or on a problem."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.current is not None or self._finished
                                       or self.problem is not None, timeout):
                raise TimeoutError(f"no sample to show after {timeout} s")
            return self.current

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Wait until the server has every label and a fresh ranking (or a problem)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.problem is not None or self._idle(),
                                       timeout):
                raise TimeoutError(f"the server has not caught up after {timeout} s")

    def _idle(self) -> bool:
        return not self._busy and self._next_job() is None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._worker.join(timeout=60)
        self.file.close()

    # -- the worker: the server calls, one at a time, in order ------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                job = None
                while not self._closed and (self.problem is not None or (
                        job := self._next_job(time.monotonic())) is None):
                    self._cond.wait(ASK_AGAIN_SECONDS)  # or until notified
                if self._closed:
                    return
                self._busy = True
            try:
                self._run(job)
                self._run(lambda: self._on_change(True))  # idle only once it is shown
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _run(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - every failure is shown, none kills
            self._stopped_by(exc)

    def _next_job(self, now: float | None = None) -> Callable[[], None] | None:
        """What the worker should do next (called with the lock held), or None; ``now``
        holds back a held-out evaluation that is not due yet (None: count it as work)."""
        if not self._connected:
            return self._connect
        if self._outbox and not (self._stale and self._sent_since_ranking):
            return self._send  # sends and rankings take turns: a quick person's queue
        if self._stale:        # is refilled between sends, never left to run dry
            return self._refill
        if self._rerank_after is not None and (now is None or now >= self._rerank_after):
            return self._refill  # ranked by a model that trailed the labels (or by none)
        if self._holdout is not None and self._evaluated_version < self._model_version \
                and self.given and (now is None or now >= self._evaluate_after):
            return self._evaluate
        if self._balance_stale:
            return self._refresh_balance
        return None

    def _connect(self) -> None:
        """Give the server the pool (and held-out samples); a new learner knows no label,
        so every label given so far goes in the outbox again, to be sent in as few
        payments as the per-payment cap allows (one, for a resume that fits in it)."""
        if self.client.session_id is None:  # buy what the backlog needs, not one more
            self.client.check_pool(self.pool)  # by the server's rules, before paying
            with self._cond:
                backlog = min(len(self.given), self._labels_per_payment())
            self.client.initialize(max(self.client.block_size, backlog))
        self.client.upload_pool(self.pool, self._upload_progress)
        if self._holdout is not None:
            self.client.upload_holdout(self._holdout[0])
        with self._cond:
            self._outbox = deque(("teach", g.index, g.label) for g in self.given)
            self._model_version, self._evaluated_version = 0, -1  # a new learner counts anew
            self._connected = True
            self._stale = True

    def _upload_progress(self, sent: int, total: int) -> None:
        """Show how much of the pool is up, a few times a second at most."""
        with self._cond:
            self._uploaded = (sent, total)
        now = time.monotonic()
        if sent == total or now - self._upload_shown >= UPLOAD_SHOWN_EVERY:
            self._upload_shown = now
            self._on_change(True)

    def _labels_per_payment(self) -> int:
        """As many labels per call as one payment within the per-payment cap can buy."""
        price = max(1, self.client.info()["price_msat"])
        room = self.client.max_payment_msat - self.client.fee_limit_msat
        return max(1, room // price)

    def _send(self) -> None:
        """The next undo, or the next run of teaches as one call (one refit)."""
        self.client.track_unsettled()  # credits a lost answer bought count in the batch
        with self._cond:
            batch = [self._outbox.popleft()]
            if batch[0][0] == "teach":
                # the credits left first (a bigger call would buy afresh and drop them),
                # with the labels the server teaches again free after a restart
                limit = (self.client.credits_left + self.client.relearn_free
                         or self._labels_per_payment())
                while self._outbox and self._outbox[0][0] == "teach" and len(batch) < limit:
                    batch.append(self._outbox.popleft())
            self._in_flight = batch
        try:
            if batch[0][0] == "undo":
                result = self.client.undo(batch[0][1])
            elif len(batch) == 1:
                result = self.client.teach(batch[0][1], batch[0][2])
            else:
                result = self.client.teach_many([i for _, i, _ in batch],
                                                [y for _, _, y in batch])
        except BaseException:
            with self._cond:
                self._outbox.extendleft(reversed(self._in_flight))
                self._in_flight = []
            raise
        with self._cond:
            self._in_flight = []
            self._sent_since_ranking = True
            self._rebuilt = False
            if batch[0][0] == "undo":
                self._model_version = result["model_version"]
        if batch[0][0] == "teach":
            with self._cond:
                indices = {i for _, i, _ in batch}
                taught = [g for g in self.given if g.index in indices]
            self._taught(taught, result["model_version"])

    def _taught(self, labels: list[GivenLabel], model_version: int) -> None:
        """The server has learned ``labels``: note what that cost, in memory and on disk."""
        with self._cond:
            msat = self._msat_spent()
            for given in labels:
                given.msat_spent = msat
            self._model_version = model_version
            self._balance_stale = True
            self.file.taught([g.index for g in labels], self.status().iterations_paid, msat)

    def _refill(self) -> None:
        """A fresh ranking from the newest model replaces the queue."""
        with self._cond:
            exclude = self.skipped | {g.index for g in self.given}
            if self.current is not None:
                exclude.add(self.current.index)
        result = self.client.query(self.prefetch, exclude=sorted(exclude))
        version = result["model_version"]
        with self._cond:
            taken = self.skipped | {g.index for g in self.given}
            if self.current is not None:
                taken.add(self.current.index)
            self._queue = [_candidate(s, version) for s in result["samples"]
                           if s["index"] not in taken]
            self._model_version = max(self._model_version, result.get("labels_version", version))
            if self.current is None:
                self.current = self._queue.pop(0) if self._queue else None
            self._finished = self.current is None and not result["samples"]
            # still stale with labels to send, or if every pick was taken meanwhile
            self._stale = bool(self._outbox) or (self.current is None and not self._finished)
            self._sent_since_ranking = False
            self._rebuilt = False
            trailing = version < result.get("labels_version", version) and self._queue
            self._rerank_after = time.monotonic() + ASK_AGAIN_SECONDS if trailing else None
            self._cond.notify_all()

    def _evaluate(self) -> None:
        """Held-out accuracy of the newest model the server has finished; that may trail
        the labels (it fits in the background), and then it is asked again shortly, so
        the plot's last point is the model of every label."""
        with self._cond:
            asked = self._model_version
        result = self.client.holdout_predictions()
        with self._cond:
            self._evaluated_version = result["model_version"]
            if result["model_version"] < asked:  # still fitting in the background
                self._evaluate_after = time.monotonic() + ASK_AGAIN_SECONDS
            if result["predicted"] is not None:
                accuracy = float(np.mean(np.asarray(result["predicted"]) == self._holdout[1]))
                point = (len(self.given), self._msat_spent(), accuracy)
                if self.holdout_accuracy and self.holdout_accuracy[-1][0] == point[0]:
                    self.holdout_accuracy[-1] = point  # a newer model, at the same labels
                else:
                    self.holdout_accuracy.append(point)

    def _refresh_balance(self) -> None:
        try:
            balance = self.client.wallet.balance_msat()
        except LightningError:
            balance = None
        with self._cond:
            self._balance_msat = balance
            self._balance_stale = False

    def _stopped_by(self, exc: Exception) -> None:
        """Turn a failure into the Problem the widget shows, or rebuild a lost session
        (once: lost again before anything went through, it is a problem too)."""
        lost = isinstance(exc, ServerError) and exc.status in SESSION_LOST
        if lost and self._connected and not self._rebuilt:
            with self._cond:  # the server lost our learner (it restarted) or the session
                self._connected, self._rebuilt = False, True
                if exc.status == 410:
                    self.client.forget_session()
            return
        with self._cond:
            self.problem = describe(exc, self.file.path)
            self._cond.notify_all()


def _candidate(sample: dict, model_version: int) -> Candidate:
    """A sample of a query's answer (an older server sends no top_classes: the guess alone)."""
    top = sample.get("top_classes")
    return Candidate(sample["index"], sample["predicted"], sample["uncertainty"], model_version,
                     None if top is None else tuple((t["label"], t["probability"]) for t in top))


def describe(exc: Exception, label_file: Any) -> Problem:
    """What went wrong, in words for the person at the widget."""
    saved = f"Your labels are safe in {label_file}."
    fix = ("Retrying cannot fix this: correct it, then run the cells that make the client "
           f"and the widget again. {saved}")
    if isinstance(exc, OverBudgetError):
        return Problem("budget", f"Budget reached: {exc}. {saved} Raise the client's "
                       "budget_msat (or max_payment_msat) and press Retry.")
    if isinstance(exc, PaymentFailedError):
        charged = ("It may have settled: Retry looks it up first and, if it did, uses "
                   "the credits it bought."
                   if exc.reason == "IN_FLIGHT" else "Nothing was charged for the call.")
        return Problem("payment", f"The payment failed ({exc.reason}): {exc}. {charged} "
                       f"{saved} Press Retry.")
    if isinstance(exc, UnexpectedInvoiceError):
        return Problem("refused", f"Refused to pay the server: {exc}. {saved}")
    if isinstance(exc, InputError):
        return Problem("input", f"Bad input: {exc}. {fix}", retry=False)
    if isinstance(exc, ServerError) and 400 <= exc.status < 500 \
            and exc.status not in WORTH_RETRYING:
        return Problem("input", f"The server refused it ({exc.status}): {exc.message}. "
                       f"{fix}", retry=False)
    if isinstance(exc, ServerError):
        where = "cannot be reached" if exc.status == 0 else f"answered {exc.status}"
        return Problem("server", f"The server {where}: {exc.message}. {saved} "
                       "Press Retry when it is back.")
    if isinstance(exc, requests.RequestException | LightningError):
        return Problem("server", f"{type(exc).__name__}: {exc}. {saved} Press Retry.")
    return Problem("error", f"Unexpected {type(exc).__name__}: {exc}. {saved} Press Retry.")
