"""Active-learning sessions: settings in the credit ledger, learners in memory only.

A session's settings (mode, estimator, strategy, threshold, classes) are accounting, kept
so that credits bought survive a restart; its learner, pool and labels live in this
process only and are gone when the session closes, expires or the server restarts (the
session then starts again with an empty model, and says so).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .config import PoolRules
from .credits import CreditLedger, SessionRecord
from .learners import LearnerError, PoolLearner, StreamLearner, check_classes, strategy
from .learners.registry import (
    DEFAULT_ESTIMATOR,
    DEFAULT_POOL_ESTIMATOR,
    DEFAULT_POOL_STRATEGY,
    DEFAULT_STRATEGY,
    check_estimator_name,
)
from .learners.validation import check_threshold

MODES = ("stream", "pool")
EXTEND_EVERY_SECONDS = 60  # a session's expiry moves on at most this often, not per call
DEFAULT_CLASSES = list(range(10))  # MNIST's digits, the showcase
MAX_CLASS_NAME = 100  # characters


class SessionGone(Exception):
    """No such session, or it was closed or expired."""


@dataclass
class LiveSession:
    record: SessionRecord
    learner: StreamLearner | PoolLearner | None
    restored: bool  # made again after a restart: the model starts empty
    last_used: float = field(default_factory=time.time)
    relearn_free: int = 0  # labels it may teach again for free (the ones a restart lost)
    labels_held: int = 0  # the count the ledger keeps
    extended_at: float = 0.0  # when its expiry in the ledger was last moved on

    @property
    def session_id(self) -> str:
        return self.record.session_id

    @property
    def settings(self) -> dict:
        return self.record.settings


def check_settings(body: dict) -> dict:
    """The session settings of an initialize request, with defaults; LearnerError if bad."""
    mode = body.get("mode", "stream")
    if mode not in MODES:
        raise LearnerError(f"mode must be one of {list(MODES)}, got {mode!r}")
    pool = mode == "pool"
    settings = {
        "mode": mode,
        "estimator": body.get("estimator", DEFAULT_POOL_ESTIMATOR if pool else DEFAULT_ESTIMATOR),
        "strategy": body.get("strategy", DEFAULT_POOL_STRATEGY if pool else DEFAULT_STRATEGY),
        "threshold": body.get("threshold", 0.5),
        "classes": body.get("classes", DEFAULT_CLASSES),
    }
    check_estimator_name(settings["estimator"], mode)
    strategy(settings["strategy"])
    check_threshold(settings["threshold"])
    check_classes(settings["classes"])
    _check_class_names(settings["classes"])
    return settings


def _check_class_names(classes: list) -> None:
    """Class names are stored with the session, even one never paid: keep them short."""
    for name in classes:
        if isinstance(name, str) and len(name) > MAX_CLASS_NAME:
            raise LearnerError(f"a class name is at most {MAX_CLASS_NAME} characters: got "
                               f"one of {len(name)}")


def _stream_learner(settings: dict) -> StreamLearner:
    return StreamLearner(settings["classes"], estimator=settings["estimator"],
                         strategy=settings["strategy"], threshold=settings["threshold"])


class SessionStore:
    def __init__(self, ledger: CreditLedger, idle_seconds: int,
                 clock: Callable[[], float] = time.time) -> None:
        self._ledger = ledger
        self._idle_seconds = idle_seconds
        self._clock = clock
        self._live: dict[str, LiveSession] = {}

    def open(self, settings: dict) -> LiveSession:
        session_id = secrets.token_urlsafe(16)
        record = self._ledger.open_session(session_id, settings, self._idle_seconds)
        now = self._clock()
        live = LiveSession(record, self._new_learner(settings), restored=False,
                           last_used=now, extended_at=now)
        self._live[session_id] = live
        return live

    def get(self, session_id: str) -> LiveSession:
        """The live session, made again from its settings after a restart."""
        now = self._clock()
        live = self._live.get(session_id)
        if live is None:
            record = self._ledger.session(session_id)
            if record is None or record.closed or record.expires <= now:
                raise SessionGone(f"session {session_id} is closed or has expired")
            live = LiveSession(record, self._new_learner(record.settings), restored=True,
                               relearn_free=record.labels_held,
                               labels_held=record.labels_held)
            self._live[session_id] = live
        live.last_used = now
        if now - live.extended_at >= EXTEND_EVERY_SECONDS:  # a write (an fsync) a minute
            self._ledger.extend_session(session_id, int(now) + self._idle_seconds)
            live.extended_at = now
        return live

    def attach_pool(self, live: LiveSession, pool: np.ndarray, rules: PoolRules) -> PoolLearner:
        """A pool-mode session's learner, made from its uploaded pool (replacing any, and
        with it any held-out set: that is uploaded again for the new pool)."""
        settings = live.settings
        live.learner = PoolLearner(pool, settings["classes"], estimator=settings["estimator"],
                                   strategy=settings["strategy"], rules=rules,
                                   background=True, owned=True)  # the upload just read
        return live.learner

    def take_free(self, live: LiveSession, cost: int) -> int:
        """How many of a teach's ``cost`` labels are free: a restart (or a day idle) lost
        the session's model, so as many labels as it held are taught again for nothing."""
        free = min(cost, live.relearn_free)
        live.relearn_free -= free
        return free

    def learned(self, live: LiveSession, free: int, added: int) -> None:
        """After a teach or undo: give back the free labels that added nothing (a retry's,
        a label the model had), and keep the model's count of labels in the ledger; while
        a lost model is being taught again, the count it had stands."""
        live.relearn_free += free - min(free, max(added, 0))
        held = live.learner.n_labeled
        if held != live.labels_held and (live.relearn_free == 0 or held > live.labels_held):
            self._ledger.set_labels_held(live.session_id, held)
            live.labels_held = held

    def close(self, session_id: str) -> None:
        self._live.pop(session_id, None)
        self._ledger.close_session(session_id)

    def drop(self, session_ids: list[str]) -> None:
        """Forget the live sessions whose records the ledger has deleted (never paid)."""
        for session_id in session_ids:
            self._live.pop(session_id, None)

    def sweep(self) -> list[str]:
        """Free the learners of sessions idle past their time; returns their ids."""
        cutoff = self._clock() - self._idle_seconds
        idle = [sid for sid, live in self._live.items() if live.last_used <= cutoff]
        for session_id in idle:
            del self._live[session_id]
        return idle

    def __len__(self) -> int:
        return len(self._live)

    @staticmethod
    def _new_learner(settings: dict) -> StreamLearner | None:
        return _stream_learner(settings) if settings["mode"] == "stream" else None
