"""Where a session's learner lives: in the web process (``local``, the default), or as a
Ray actor named by its session (``ray``), which any web process finds by that name and
which outlives the web process that made it.

Either way the web side holds a handle and awaits ``call(method, *args)``: a learner's
method or property, run off the event loop (on the host's threads, or in the actor).
Fits run in the background on ``fits`` threads: the web process's own (``workers`` of
them, shut down with the app, and measured for /metrics), or each actor's one. An actor's
fits run at the lowest priority (SCHED_IDLE) and only in one of its machine's fit slots
(slots.py): fifty sessions' actors fitting at once on a few cores would keep every call
waiting, so calls come first and the models catch up in the time left over.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import threading
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import numpy as np

from ..config import PoolRules
from ..metrics import Metrics
from .pool import PoolLearner
from .slots import FitSlots
from .stream import StreamLearner
from .validation import check_pool

NAMESPACE = "alsats"  # Ray's namespace for the learners' actors
ACTOR_CONCURRENCY = 4  # calls one actor runs at once (a query beside a teach)
ACTOR_FIT_THREADS = 1  # each actor's background fits: a session fits one model at a time


class LearnerLost(Exception):
    """The learner's process is gone (a Ray actor killed, its node lost): the session
    starts again with an empty model, as after a restart."""


def make_learner(settings: dict, pool: np.ndarray | None, rules: PoolRules | None,
                 fits: Executor) -> PoolLearner | StreamLearner:
    """A session's learner from its settings (and, in pool mode, its uploaded pool)."""
    if pool is None:
        return StreamLearner(settings["classes"], estimator=settings["estimator"],
                             strategy=settings["strategy"], threshold=settings["threshold"])
    return PoolLearner(pool, settings["classes"], estimator=settings["estimator"],
                       strategy=settings["strategy"], rules=rules, fits=fits,
                       owned=True)  # the upload, just read


def fit_threads(count: int) -> ThreadPoolExecutor:
    """Threads for background fits, each run only when the CPU has nothing else to do."""
    return ThreadPoolExecutor(count, thread_name_prefix="alsats-fit",
                              initializer=_background_priority)


def _background_priority() -> None:
    """This thread alone under Linux's SCHED_IDLE policy (a thread id names one thread to
    the scheduler; elsewhere it would name the whole process, so nothing is done)."""
    if sys.platform == "linux":
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))


def _run(learner: Any, method: str, *args: Any) -> Any:
    value = getattr(learner, method)
    return value(*args) if callable(value) else value


class LocalLearner:
    """A learner in this process."""

    def __init__(self, learner: PoolLearner | StreamLearner, calls: ThreadPoolExecutor) -> None:
        self.learner = learner
        self.pool_mode = isinstance(learner, PoolLearner)
        self.id = id(learner)
        self._calls = calls

    async def call(self, method: str, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._calls,
                                          functools.partial(_run, self.learner, method, *args))


class LocalHost:
    """Learners in the web process: each session's is lost when the process ends."""

    shared = False  # no other web process can reach these

    def __init__(self, workers: int, metrics: Metrics | None = None) -> None:
        self._calls = ThreadPoolExecutor(workers, thread_name_prefix="alsats-learner")
        # at the calls' priority: with only ``workers`` of them they cannot crowd the
        # calls out, and a lone user's next ranking wants its model soon
        fits = ThreadPoolExecutor(workers, thread_name_prefix="alsats-fit")
        self._fits = metrics.timed(fits) if metrics is not None else fits

    async def new(self, session_id: str, settings: dict, pool: np.ndarray | None = None,
                  rules: PoolRules | None = None, replace: bool = True) -> LocalLearner:
        loop = asyncio.get_running_loop()
        learner = await loop.run_in_executor(
            self._calls, make_learner, settings, pool, rules, self._fits)
        return LocalLearner(learner, self._calls)

    async def find(self, session_id: str) -> None:
        """None: a learner of this host lives in the process that made it only."""

    async def drop(self, session_id: str) -> None:
        """Nothing to do: the session's handle is its only reference."""

    def close(self) -> None:
        self._calls.shutdown(wait=True, cancel_futures=True)
        self._fits.shutdown(wait=True, cancel_futures=True)


class LearnerActor:
    """The Ray actor that holds one session's learner (made remote by RayHost)."""

    def __init__(self, settings: dict, pool: np.ndarray | None, rules: PoolRules | None) -> None:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=1)  # as the web process: many actors share the cores
        self._fits = FitSlots(fit_threads(ACTOR_FIT_THREADS))  # one fit a core, machine-wide
        self._learner = make_learner(settings, pool, rules, self._fits)
        self._used = time.monotonic()

    def call(self, method: str, *args: Any) -> Any:
        self._used = time.monotonic()
        return _run(self._learner, method, *args)

    def pool_mode(self) -> bool:
        return isinstance(self._learner, PoolLearner)

    def idle_seconds(self) -> float:
        return time.monotonic() - self._used


class RayLearner:
    """A learner in a Ray actor; a dead actor is LearnerLost."""

    def __init__(self, actor: Any, pool_mode: bool) -> None:
        self._actor = actor
        self.pool_mode = pool_mode
        self.id = actor._actor_id.hex()

    async def call(self, method: str, *args: Any) -> Any:
        from ray.exceptions import RayActorError, RayTaskError
        try:
            return await self._actor.call.remote(method, *args)
        except RayActorError as exc:
            raise LearnerLost(f"the session's learner is gone: {exc}") from None
        except RayTaskError as exc:  # the learner's own error (bad input), as raised there:
            raise exc.cause from None  # Ray's wrapper would carry the remote traceback


class RayHost:
    """Learners as detached Ray actors named by their session, in NAMESPACE: made by one
    web process, found by any, and they outlive each; the pool goes through Ray's object
    store. An actor reserves no CPU, so many sessions share a machine's cores."""

    shared = True

    def __init__(self, address: str | None) -> None:
        import ray
        self._ray = ray
        if not ray.is_initialized():
            ray.init(address=address, namespace=NAMESPACE, log_to_driver=False,
                     configure_logging=False)
        self._actor_class = ray.remote(LearnerActor)
        self._threads = ThreadPoolExecutor(4, thread_name_prefix="alsats-ray")

    async def _blocking(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, functools.partial(fn, *args))

    async def new(self, session_id: str, settings: dict, pool: np.ndarray | None = None,
                  rules: PoolRules | None = None, replace: bool = True) -> RayLearner:
        """A new learner for the session, replacing any it had (``replace=False``: the
        one another web process made meanwhile, if it did)."""
        if pool is not None:  # refused here, with the learner's message, not in the actor
            pool = await self._blocking(functools.partial(check_pool, pool, rules, copy=False))
        if replace:
            await self.drop(session_id)
        pool_ref = None if pool is None else await self._blocking(self._ray.put, pool)
        actor = self._actor_class.options(
            name=session_id, namespace=NAMESPACE, lifetime="detached", num_cpus=0,
            max_concurrency=ACTOR_CONCURRENCY, get_if_exists=not replace,
        ).remote(settings, pool_ref, rules)
        learner = RayLearner(actor, pool is not None)
        await learner.call("n_labeled")  # made: a bad pool or settings fail here
        return learner

    async def find(self, session_id: str) -> RayLearner | None:
        """The session's learner, made by any web process; None if it has none."""
        try:
            actor = await self._blocking(self._ray.get_actor, session_id, NAMESPACE)
        except ValueError:
            return None
        try:
            return RayLearner(actor, await actor.pool_mode.remote())
        except self._ray.exceptions.RayActorError:
            return None

    async def drop(self, session_id: str) -> None:
        try:
            actor = await self._blocking(self._ray.get_actor, session_id, NAMESPACE)
        except ValueError:
            return
        await self._blocking(self._ray.kill, actor)
        for _ in range(100):  # the name is free once the actor is dead
            try:
                await self._blocking(self._ray.get_actor, session_id, NAMESPACE)
            except ValueError:
                return
            await asyncio.sleep(0.05)

    async def idle(self, idle_seconds: float) -> list[str]:
        """Drop the learners no call has used for ``idle_seconds`` (whichever web process
        made or used them); returns their sessions."""
        names = await self._blocking(self._ray.util.list_named_actors, False)
        dropped = []
        for name in names:
            learner = await self.find(name)
            if learner is None:
                continue
            try:
                idle = await learner._actor.idle_seconds.remote()
            except self._ray.exceptions.RayActorError:
                continue
            if idle >= idle_seconds:
                await self.drop(name)
                dropped.append(name)
        return dropped

    def close(self) -> None:
        """This web process lets go of Ray; the actors live on for the others."""
        self._threads.shutdown(wait=True)
        self._ray.shutdown()


def open_host(learners: str, workers: int,
              metrics: Metrics | None = None) -> LocalHost | RayHost:
    """The host ``--learners`` names: local, ray (the local Ray the supervisor started,
    found through RAY_ADDRESS) or ray://ADDRESS. ``metrics`` measure a local host's fits
    (a Ray actor's run in its own process, out of reach)."""
    if learners == "local":
        return LocalHost(workers, metrics)
    return RayHost(None if learners == "ray" else learners)
