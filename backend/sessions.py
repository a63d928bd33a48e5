"""Active-learning sessions: settings in the credit ledger, learners in memory only.

A session's settings (mode, estimator, strategy, threshold, classes) are accounting, kept
so that credits bought survive a restart; its learner, pool and labels live in this
process only and are gone when the session closes, expires or the server restarts (the
session then starts again with an empty model, and says so, and the labels its model held
are taught again free: a count kept in the ledger, so it is spent once).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import PoolRules
from .learners import LearnerError, check_classes, strategy
from .learners.hosts import LearnerLost, LocalHost, RayHost
from .learners.registry import (
    DEFAULT_ESTIMATOR,
    DEFAULT_POOL_ESTIMATOR,
    DEFAULT_POOL_STRATEGY,
    DEFAULT_STRATEGY,
    check_estimator_name,
)
from .learners.validation import check_threshold
from .ledger import Ledger, SessionRecord

log = logging.getLogger("alsats.backend")
MODES = ("stream", "pool")
EXTEND_EVERY_SECONDS = 60  # a session's expiry moves on at most this often, not per call
DEFAULT_CLASSES = list(range(10))  # MNIST's digits, the showcase
MAX_CLASS_NAME = 100  # characters


class SessionGone(Exception):
    """No such session, or it was closed or expired."""


@dataclass
class LiveSession:
    record: SessionRecord
    learner: Any  # the host's handle (hosts.LocalLearner, hosts.RayLearner), or None
    restored: bool  # made again after a restart: the model starts empty
    last_used: float = field(default_factory=time.time)
    relearn_free: int = 0  # labels it may teach again free, as the ledger last said
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


class SessionStore:
    """The sessions this web process serves: records in the ledger, learners on the host
    (hosts.py), and what it knows of each cached here. With a shared host (Ray) another
    web process may serve the same session; everything they must agree on (labels held,
    free relearning) is in the ledger."""

    def __init__(self, ledger: Ledger, host: LocalHost | RayHost, idle_seconds: int,
                 clock: Callable[[], float] = time.time) -> None:
        self._ledger = ledger
        self._host = host
        self._idle_seconds = idle_seconds
        self._clock = clock
        self._live: dict[str, LiveSession] = {}

    async def open(self, settings: dict) -> LiveSession:
        session_id = secrets.token_urlsafe(16)
        record = await self._ledger.open_session(session_id, settings, self._idle_seconds)
        learner = None if settings["mode"] == "pool" else \
            await self._host.new(session_id, settings)
        now = self._clock()
        live = LiveSession(record, learner, restored=False, last_used=now, extended_at=now)
        self._live[session_id] = live
        return live

    async def get(self, session_id: str) -> LiveSession:
        """The live session: cached, found on a shared host, or made again from its
        settings (its learner lost: a restart, a killed actor)."""
        now = self._clock()
        live = self._live.get(session_id)
        if live is None:
            record = await self._ledger.session(session_id)
            if record is None or record.closed or record.expires <= now:
                raise SessionGone(f"session {session_id} is closed or has expired")
            learner = await self._host.find(session_id)
            live = LiveSession(record, learner, restored=learner is None,
                               relearn_free=record.relearn_free,
                               labels_held=record.labels_held)
            if learner is None:
                await self._lost(live)
            self._live[session_id] = live
        elif live.learner is None and self._host.shared:  # another process's upload?
            live.learner = await self._host.find(session_id)
        live.last_used = now
        if now - live.extended_at >= EXTEND_EVERY_SECONDS:  # a write (an fsync) a minute
            await self._ledger.extend_session(session_id, int(now) + self._idle_seconds)
            live.extended_at = now
        return live

    async def _lost(self, live: LiveSession) -> None:
        """The session's learner is gone: it starts again empty (a stream-mode one at
        once, a pool-mode one when its pool is uploaded again), and the labels its model
        held are taught again free."""
        live.restored = True
        live.learner = None if live.settings["mode"] == "pool" else \
            await self._host.new(live.session_id, live.settings, replace=False)
        if live.labels_held > live.relearn_free:
            await self._ledger.set_relearn_free(live.session_id, live.labels_held)
            live.relearn_free = live.labels_held

    async def call(self, live: LiveSession, method: str, *args: Any) -> Any:
        """The session's learner's ``method(*args)``. A learner found lost is looked for
        again (another web process may have made it anew), else made anew: then a
        pool-mode call is LearnerLost (the pool must come again), a stream-mode call runs
        on the new, empty learner."""
        try:
            return await live.learner.call(method, *args)
        except LearnerLost:
            log.warning("session %s: its learner was lost", live.session_id)
            found = await self._host.find(live.session_id)
            if found is not None and found.id != live.learner.id:
                live.learner = found
            else:
                await self._lost(live)
                if live.learner is None:
                    raise
            return await live.learner.call(method, *args)

    async def attach_pool(self, live: LiveSession, pool: np.ndarray, rules: PoolRules) -> Any:
        """A pool-mode session's learner, made from its uploaded pool (replacing any, and
        with it any held-out set: that is uploaded again for the new pool)."""
        live.learner = await self._host.new(live.session_id, live.settings, pool, rules)
        return live.learner

    async def take_free(self, live: LiveSession, cost: int) -> int:
        """How many of a teach's ``cost`` labels are free: a restart (or a day idle) lost
        the session's model, so as many labels as it held are taught again for nothing.
        Asked of the ledger whenever another web process may have found the loss."""
        if not live.relearn_free and not self._host.shared:
            return 0
        free, live.relearn_free = await self._ledger.take_relearn_free(live.session_id, cost)
        return free

    def holds(self, live: LiveSession, free: int,
              cost: int) -> Callable[[dict], tuple[str, int] | None]:
        """What a teach's charge writes with its credits, in the same transaction: the
        model's count of labels after it, if learned() would write it."""
        def labels_held(result: dict) -> tuple[str, int] | None:
            added = labels_added(result, cost)
            held = _to_hold(live, live.relearn_free + _unused(free, added), result["n_labeled"])
            if held is None:
                return None
            live.labels_held = held
            return live.session_id, held
        return labels_held

    async def learned(self, live: LiveSession, free: int, added: int,
                      n_labeled: int | None) -> None:
        """After a teach or undo: give back the free labels that added nothing (a retry's,
        a label the model had, a call that failed), and keep the model's count of labels
        (``n_labeled``, None if the call failed) in the ledger, unless the charge did."""
        unused = _unused(free, added)
        if unused:
            live.relearn_free = await self._ledger.give_back_relearn_free(live.session_id,
                                                                          unused)
        held = _to_hold(live, live.relearn_free, n_labeled)
        if held is not None:
            await self._ledger.set_labels_held(live.session_id, held)
            live.labels_held = held

    async def close(self, session_id: str) -> None:
        self._live.pop(session_id, None)
        await self._host.drop(session_id)
        await self._ledger.close_session(session_id)

    async def drop(self, session_ids: list[str]) -> None:
        """Forget the sessions whose records the ledger has deleted (never paid)."""
        for session_id in session_ids:
            self._live.pop(session_id, None)
            await self._host.drop(session_id)

    async def sweep(self) -> list[str]:
        """Free the learners of sessions idle past their time; returns their ids."""
        cutoff = self._clock() - self._idle_seconds
        idle = [sid for sid, live in self._live.items() if live.last_used <= cutoff]
        for session_id in idle:
            del self._live[session_id]
        if self._host.shared:  # idle for every web process: the actor says
            idle += await self._host.idle(self._idle_seconds)
        return sorted(set(idle))

    def __len__(self) -> int:
        return len(self._live)


def labels_added(result: dict | None, cost: int) -> int:
    """The labels a teach of ``cost`` added to its model (an index counts once per call;
    none if the call failed)."""
    return cost - int(result["replaced"]) if result else 0


def _unused(free: int, added: int) -> int:
    """The free labels a call did not use: those beyond the labels it added."""
    return free - min(free, max(added, 0))


def _to_hold(live: LiveSession, relearn_free: int, n_labeled: int | None) -> int | None:
    """The count of labels to keep in the ledger for the session's model, None to leave
    the one there (none changed, the call failed, or a lost model is being taught again:
    the count it had stands until it is passed)."""
    if n_labeled is None or n_labeled == live.labels_held:
        return None
    return n_labeled if relearn_free == 0 or n_labeled > live.labels_held else None
