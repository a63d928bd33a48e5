"""Prometheus metrics: what the server sold, how fast it answered, how busy its fits are.

Served at GET /metrics (free, no credential) unless ``--no-metrics``. Each app holds a
registry of its own, not prometheus_client's global one, so that many apps in one process
(the tests) count apart. Each web process counts what it sees itself: with
``--processes N`` an operator scrapes every process and sums (prometheus_client's
multiprocess mode would merge them in one answer; alsats does not use it).

This module imports nothing of the backend, so the paywall, the ledger and the learners'
host can all be handed a ``Metrics`` without an import cycle.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# calls take milliseconds; a model download or a big upload takes seconds
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FIT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
LEDGER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
LEDGER_OPS = ("reserve", "commit", "release")  # every other query is "other"


class Metrics:
    """One app's metrics and the registry /metrics serves."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.paid_iterations = Counter(
            "alsats_paid_iterations_total",
            "credits used by paid calls, by route (a retry already charged and a label "
            "taught again free after a restart use none)", ["path"], registry=registry)
        self.challenges = Counter(
            "alsats_challenges_total",
            "L402 challenges issued: an invoice made for each", registry=registry)
        self.payments = Counter(
            "alsats_payments_total",
            "payments seen: a credential's first charged call (only the payer holds the "
            "preimage it carries). A paid invoice never used is not counted, and in a "
            "multi-process deployment each payment is counted by one process",
            registry=registry)
        self.paid_msat = Counter(
            "alsats_paid_msat_total",
            "msat of those payments: each credential's invoice amount, at its first use",
            registry=registry)
        self.request_seconds = Histogram(
            "alsats_request_seconds",
            "time to answer a request, by route (its path pattern; 'other' for no route) "
            "and status class", ["path", "status"], buckets=REQUEST_BUCKETS,
            registry=registry)
        self.fits = Counter(
            "alsats_fits_total",
            "background tasks run on this process's fit threads: model fits, and each "
            "pool's neighbour graph. Local learners only: Ray actors fit in their own "
            "processes, not counted here", registry=registry)
        self.fit_seconds = Histogram(
            "alsats_fit_seconds", "time each of those tasks ran (local learners only)",
            buckets=FIT_BUCKETS, registry=registry)
        self.fit_queue = Gauge(
            "alsats_fit_queue",
            "those tasks waiting for a fit thread (local learners only)", registry=registry)
        self.open_sessions = Gauge(
            "alsats_open_sessions",
            "sessions this web process holds live (their learners in reach)",
            registry=registry)
        self.ledger_seconds = Histogram(
            "alsats_ledger_seconds",
            "time of a credit ledger operation on the store's threads, waiting included, "
            "by op: reserve, commit, release or other", ["op"], buckets=LEDGER_BUCKETS,
            registry=registry)

    def count_sessions(self, live: Callable[[], int]) -> None:
        """Read the open sessions from ``live`` at each scrape: nothing to keep up to date."""
        self.open_sessions.set_function(live)

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        self.request_seconds.labels(path, f"{status // 100}xx").observe(seconds)

    def observe_ledger(self, op: str, seconds: float) -> None:
        self.ledger_seconds.labels(op if op in LEDGER_OPS else "other").observe(seconds)

    def charged(self, path: str, credits: int, paid_msat: int) -> None:
        """A paid call committed: the credits it used, and its payment if it was the
        credential's first use (``paid_msat`` > 0)."""
        if credits:
            self.paid_iterations.labels(path).inc(credits)
        if paid_msat:
            self.payments.inc()
            self.paid_msat.inc(paid_msat)

    def timed(self, fits: Executor) -> Executor:
        """``fits``, counting the tasks that wait for its threads and timing each."""
        return TimedExecutor(fits, self)


def route_path(request: web.Request) -> str:
    """A request's route as a label: its path pattern, a bounded set (a raw URL is not)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "other"


class TimedExecutor(Executor):
    """An executor in front of another: queued, run and timed tasks go to the metrics.

    The learners' host gives it to PoolLearner as its ``fits``, so the fits are measured
    without the learner knowing."""

    def __init__(self, inner: Executor, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        metrics = self._metrics

        def run() -> Any:
            metrics.fit_queue.dec()
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                metrics.fit_seconds.observe(time.perf_counter() - start)
                metrics.fits.inc()

        metrics.fit_queue.inc()
        try:
            future = self._inner.submit(run)
        except BaseException:  # shut down: it never queued
            metrics.fit_queue.dec()
            raise
        future.add_done_callback(lambda done: done.cancelled() and metrics.fit_queue.dec())
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._inner.shutdown(wait=wait, cancel_futures=cancel_futures)
