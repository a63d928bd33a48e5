"""Latency of a paid active-learning iteration through the real stack.

The backend app (``create_app`` with the simnet in process) is served on a real loopback
socket; an aiohttp client speaks its HTTP API and bob's node pays its invoices over
gRPC+TLS. Each run starts a fresh backend in a fresh temp dir, on free ports, opens a
pool-mode session (random forest, uncertainty sampling), uploads the 10,000 MNIST test
digits as one .npy, teaches 1,000 true labels of seeded random digits in one batch call,
then measures, N iterations each:

- ``teach``: POST /teach of the most uncertain digit (found by an untimed POST /query)
  with a prepaid block of credits; the server keeps the label and refits the forest on
  all labels in the background (the answer does not wait for it);
- ``bare_fit``: right after each teach, the baseline without HTTP or payment:
  ``make_estimator("random_forest")`` fitted in process on exactly the same labels: what
  a teach cost before fits moved to the background;
- ``payg``: then pay as you go: buy one iteration for the session (POST /pay/initialize
  -> 402), pay the invoice with bob's node, POST /teach with the new credential, end to
  end; ``payment`` is its initialize + send_payment part;
- ``noop_teach``: POST /teach of a digit's own label again: charged, but no refit, so
  it is what HTTP, L402 and the credit ledger cost;
- ``query``: POST /query {"k": 1} on the 10,000-digit pool, each followed by
  ``direct_query``, the session's own ``PoolLearner.query(1)`` called in process.

Interleaving a teach with its baseline and a pay-as-you-go teach lets all three see the
same machine: their ratios and paired differences hold even when the CPU's speed drifts.
Every figure is reported as the median across runs of its per-run p50 (or p95).
The digits are MNIST's 10,000 test digits, which ship with alsats.
Usage::

    python benchmarks/paid_iteration.py [--iterations N] [--runs R] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import io
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import grpc  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import threadpoolctl  # noqa: E402
from aiohttp import web  # noqa: E402
from report import rounded, summary_ms, table, write_json  # noqa: E402

from alsats_widget.datasets import BUNDLED_SHA256, DatasetError, load_mnist  # noqa: E402
from backend.app import create_app  # noqa: E402
from backend.config import Config  # noqa: E402
from backend.keys import SESSIONS  # noqa: E402
from backend.l402 import format_authorization, parse_challenge  # noqa: E402
from backend.learners import PoolLearner, make_estimator  # noqa: E402
from backend.lightning import LightningNode  # noqa: E402
from backend.lightning.polar import copy_with_free_ports, free_ports  # noqa: E402
from backend.lightning.simnet import SimnetError  # noqa: E402

NETWORK_FILE = REPO / "polar-network.json"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "paid_iteration.json"
ESTIMATOR, STRATEGY = "random_forest", "uncertainty"
FEE_LIMIT_MSAT = 10_000  # bob pays alice directly: the fee is 0
START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it


class BenchmarkError(Exception):
    """Something the benchmark needs is missing or answered wrongly; the message says what."""


# -- the data -----------------------------------------------------------------------


def load_t10k() -> tuple[np.ndarray, np.ndarray, dict]:
    """The 10,000 test digits that ship with alsats, their labels, and the report's note."""
    digits = load_mnist()
    return digits.images, digits.labels, {"pool": digits.source, "files": dict(BUNDLED_SHA256)}


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


# -- the stack ----------------------------------------------------------------------


class PaidBackend:
    """A fresh backend (alice, simnet in process) on a loopback socket, a client, bob."""

    def __init__(self, network_file: Path, price_msat: int, workers: int) -> None:
        self._source = network_file
        self._price_msat = price_msat
        self._workers = workers
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._runner: web.AppRunner | None = None
        self.app: web.Application | None = None
        self.http: aiohttp.ClientSession | None = None
        self.wallet: LightningNode | None = None

    async def __aenter__(self) -> PaidBackend:
        for attempt in range(1, START_ATTEMPTS + 1):
            self._tmp = tempfile.TemporaryDirectory(prefix="alsats-bench-")
            tmp = Path(self._tmp.name)
            config = Config(network_file=copy_with_free_ports(self._source, tmp / "network.json"),
                            node="alice", data_dir=tmp / "backend", simnet=True,
                            port=free_ports(1)[0], price_msat=self._price_msat,
                            workers=self._workers)
            self.app = create_app(config)
            self._runner = web.AppRunner(self.app)
            try:
                await self._runner.setup()  # the simnet, alice's node, ledger, paywall
                await web.TCPSite(self._runner, config.host, config.port).start()
                break
            except (SimnetError, OSError):
                with contextlib.suppress(Exception):
                    await self._runner.cleanup()
                self._tmp.cleanup()
                if attempt == START_ATTEMPTS:
                    raise
        self.http = aiohttp.ClientSession(base_url=f"http://{config.host}:{config.port}")
        self.wallet = LightningNode.from_polar(config.network_file, "bob", config.simnet_dir)
        return self

    async def __aexit__(self, *exc_info) -> None:
        if self.wallet is not None:
            await self.wallet.close()
        if self.http is not None:
            await self.http.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._tmp is not None:
            self._tmp.cleanup()

    async def call(self, method: str, path: str, auth: str | None = None,
                   expect: int = 200, **kwargs) -> dict:
        headers = {**({"Authorization": auth} if auth else {}), **kwargs.pop("headers", {})}
        async with self.http.request(method, path, headers=headers, **kwargs) as response:
            body = await response.json()
            if response.status != expect:
                raise BenchmarkError(f"{method} {path}: {response.status}, expected {expect}: "
                                     f"{body}")
            if expect == 402:
                macaroon, invoice = parse_challenge(response.headers["WWW-Authenticate"])
                if body["payment_request"] != invoice:
                    raise BenchmarkError("the 402 body and header name different invoices")
                body["_macaroon"] = macaroon
            return body

    async def pay(self, challenge: dict) -> str:
        """Pay a 402 challenge with bob's node; the Authorization header value."""
        payment = await self.wallet.send_payment(challenge["payment_request"],
                                                 fee_limit_msat=FEE_LIMIT_MSAT)
        if hashlib.sha256(bytes.fromhex(payment.preimage)).hexdigest() \
                != challenge["payment_hash"]:
            raise BenchmarkError("the preimage does not open the invoice's payment hash")
        return format_authorization(challenge["_macaroon"], bytes.fromhex(payment.preimage))


# -- measuring ----------------------------------------------------------------------


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (ru_maxrss: KiB on Linux, B on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


class Session:
    """One pool-mode session on the backend, tracking the labels it has taught."""

    def __init__(self, backend: PaidBackend, images: np.ndarray, labels: np.ndarray) -> None:
        self.backend = backend
        self.images = images
        self.true = labels
        self.session_id = ""
        self.block_auth = ""
        self.taught: dict[int, int] = {}  # pool index -> label, as the server has them

    async def open(self, block: int, initial: np.ndarray) -> dict:
        """Buy ``block`` iterations, upload the pool, teach ``initial`` in one call."""
        b = self.backend
        start = time.perf_counter()
        challenge = await b.call("POST", "/pay/initialize", expect=402, json={
            "iterations": block, "mode": "pool", "estimator": ESTIMATOR, "strategy": STRATEGY})
        self.session_id = challenge["session_id"]
        self.block_auth = await b.pay(challenge)
        bought = time.perf_counter()
        body = npy_bytes(self.images)
        uploaded = await b.call("PUT", "/pool", self.block_auth, data=body,
                                headers={"Content-Type": "application/octet-stream"})
        if (uploaded["n_pool"], uploaded["n_features"]) != (len(self.images), 28 * 28):
            raise BenchmarkError(f"the pool came back as {uploaded}")
        pooled = time.perf_counter()
        pairs = {int(i): int(self.true[i]) for i in initial}
        many = await b.call("POST", "/teach", self.block_auth, json={
            "indices": list(pairs), "labels": list(pairs.values())})
        taught = time.perf_counter()
        self.taught.update(pairs)
        self.check(many, block - len(pairs))
        return {"buy_block_s": bought - start, "upload_s": pooled - bought,
                "upload_bytes": len(body), "teach_many_s": taught - pooled,
                "teach_many_labels": len(pairs)}

    def check(self, answer: dict, credits_left: int) -> None:
        if answer["n_labeled"] != len(self.taught) or answer["credits_left"] != credits_left:
            raise BenchmarkError(f"expected {len(self.taught)} labels and {credits_left} "
                                 f"credits left, got {answer}")

    async def most_uncertain(self) -> int:
        answer = await self.backend.call("POST", "/query", self.block_auth, json={"k": 1})
        return answer["samples"][0]["index"]

    async def teach(self, auth: str, index: int) -> dict:
        label = int(self.true[index])
        answer = await self.backend.call("POST", "/teach", auth,
                                         json={"index": index, "label": label})
        self.taught[index] = label
        return answer



def labeled(images: np.ndarray, taught: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The labeled digits in index order, float64, as the server's PoolLearner fits them."""
    index = np.fromiter(sorted(taught), dtype=np.int64, count=len(taught))
    codes = np.fromiter((taught[i] for i in index), dtype=np.int64, count=len(index))
    return images[index].reshape(len(index), -1).astype(np.float64), codes


def bare_fit(images: np.ndarray, taught: dict[int, int]) -> int:
    """The server's work for one teach, bare: a fresh forest fitted on the same labels."""
    x, y = labeled(images, taught)
    start = time.perf_counter_ns()
    make_estimator(ESTIMATOR).fit(x, y)
    return time.perf_counter_ns() - start


async def prepaid_teach(session: Session, credits: int) -> tuple[int, int]:
    """Teach the most uncertain digit with the block; only the POST /teach is timed."""
    index = await session.most_uncertain()
    start = time.perf_counter_ns()
    answer = await session.teach(session.block_auth, index)
    elapsed = time.perf_counter_ns() - start
    session.check(answer, credits - 1)
    return elapsed, credits - 1


async def payg_teach(session: Session) -> dict[str, int]:
    """Buy one iteration, pay it, teach with it: timed end to end and by part."""
    b = session.backend
    index = await session.most_uncertain()
    t0 = time.perf_counter_ns()
    challenge = await b.call("POST", "/pay/initialize", expect=402,
                             json={"iterations": 1, "session_id": session.session_id})
    t1 = time.perf_counter_ns()
    auth = await b.pay(challenge)
    t2 = time.perf_counter_ns()
    answer = await session.teach(auth, index)
    t3 = time.perf_counter_ns()
    session.check(answer, 0)
    return {"payg": t3 - t0, "payment": t2 - t0, "initialize": t1 - t0,
            "send_payment": t2 - t1, "teach_call": t3 - t2}


async def teach_phase(session: Session, images: np.ndarray, count: int, warmup: int,
                      credits: int) -> tuple[dict[str, list[int]], list[int], int]:
    """Prepaid teach, its bare fit, pay-as-you-go teach, in turn: all see the same machine.

    Returns the samples by figure, the label counts of the prepaid teaches and the
    credits left on the block.
    """
    samples: dict[str, list[int]] = {k: [] for k in (
        "teach", "bare_fit", "teach_minus_bare_fit", "payg", "payment", "initialize",
        "send_payment", "teach_call")}
    n_labeled = []
    for i in range(warmup + count):
        if i == warmup:
            gc.collect()
        teach, credits = await prepaid_teach(session, credits)
        fit = bare_fit(images, session.taught)  # the labels the server has just fitted
        payg = await payg_teach(session)
        if i >= warmup:
            for key, value in {"teach": teach, "bare_fit": fit,
                               "teach_minus_bare_fit": teach - fit, **payg}.items():
                samples[key].append(value)
            n_labeled.append(len(session.taught) - 1)
    return samples, n_labeled, credits


async def noop_phase(session: Session, count: int, warmup: int, index: int,
                     credits: int) -> tuple[list[int], int]:
    """Teach a labeled digit its own label again: charged, but no refit (the stack's cost)."""
    samples = []
    for i in range(warmup + count):
        if i == warmup:
            gc.collect()
        start = time.perf_counter_ns()
        answer = await session.teach(session.block_auth, index)
        elapsed = time.perf_counter_ns() - start
        credits -= 1
        session.check(answer, credits)
        if answer["previous"] != answer["label"]:
            raise BenchmarkError(f"a no-op teach changed a label: {answer}")
        if i >= warmup:
            samples.append(elapsed)
    return samples, credits


async def query_phase(session: Session, learner: PoolLearner, count: int,
                      warmup: int) -> dict[str, list[int]]:
    """POST /query {k: 1}, each followed by the session's own PoolLearner.query(1)."""
    samples: dict[str, list[int]] = {"query": [], "direct_query": [],
                                     "query_minus_direct": []}
    if not learner.settle(600):  # both must rank with the same model
        raise BenchmarkError("the session's background fit did not finish")
    for i in range(warmup + count):
        if i == warmup:
            gc.collect()
        t0 = time.perf_counter_ns()
        over_http = await session.most_uncertain()
        t1 = time.perf_counter_ns()
        direct = learner.query(1)["samples"][0]["index"]
        t2 = time.perf_counter_ns()
        if direct != over_http:
            raise BenchmarkError(f"the learner picks {direct}, the API said {over_http}")
        if i >= warmup:
            samples["query"].append(t1 - t0)
            samples["direct_query"].append(t2 - t1)
            samples["query_minus_direct"].append((t1 - t0) - (t2 - t1))
    return samples


async def one_run(args: argparse.Namespace, images: np.ndarray, labels: np.ndarray,
                  progress: Callable[[str], None]) -> dict:
    n, warmup = args.iterations, args.warmup
    initial = np.random.default_rng(args.seed).choice(len(images), args.labels, replace=False)
    block = args.labels + 2 * (warmup + n)  # the batch, then the teaches and the no-ops
    async with PaidBackend(args.network, args.price_msat, args.workers) as backend:
        progress("setup")
        session = Session(backend, images, labels)
        setup = await session.open(block, initial)
        credits = block - args.labels

        progress("teach")
        teach, n_labeled, credits = await teach_phase(session, images, n, warmup, credits)

        progress("no-op teach")
        noop, credits = await noop_phase(session, n, warmup, int(initial[0]), credits)
        if credits != 0:
            raise BenchmarkError(f"{credits} prepaid credits left, expected 0")

        progress("query")
        # the session's learner, reached in process for the query baseline (read only)
        learner = (await backend.app[SESSIONS].get(session.session_id)).learner.learner
        query = await query_phase(session, learner, n, warmup)
        del learner
        n_labeled_end = len(session.taught)
        # free the session's pool and model now: aiohttp's middleware cache (an lru_cache
        # in aiohttp.web_app) keeps a reference to every Application a process has served
        await backend.call("DELETE", "/session", session.block_auth)

    return {
        "setup": setup,
        "n_labeled_at_timed_teaches": [min(n_labeled), max(n_labeled)],
        "n_labeled_end": n_labeled_end,
        **{key: summary_ms(values) for key, values in teach.items()},
        "noop_teach": summary_ms(noop),
        **{key: summary_ms(values) for key, values in query.items()},
        "peak_rss_mib": peak_rss_mib(),
    }


# -- reporting ----------------------------------------------------------------------

FIGURES = [  # (key in the summary, label, unit)
    ("teach_p50_ms", "teach, prepaid block (POST /teach), p50", "ms"),
    ("teach_p95_ms", "teach, prepaid block, p95", "ms"),
    ("noop_teach_p50_ms", "no-op teach (charged, no refit), p50", "ms"),
    ("noop_teach_p95_ms", "no-op teach, p95", "ms"),
    ("query_p50_ms", "query k=1 on 10,000 (POST /query), p50", "ms"),
    ("query_p95_ms", "query k=1, p95", "ms"),
    ("payg_p50_ms", "pay-as-you-go iteration, p50", "ms"),
    ("payg_p95_ms", "pay-as-you-go iteration, p95", "ms"),
    ("payment_p50_ms", "  its payment (initialize+pay), p50", "ms"),
    ("payment_p95_ms", "  its payment (initialize+pay), p95", "ms"),
    ("initialize_p50_ms", "    POST /pay/initialize -> 402, p50", "ms"),
    ("send_payment_p50_ms", "    bob send_payment, p50", "ms"),
    ("teach_call_p50_ms", "  its POST /teach, p50", "ms"),
    ("bare_fit_p50_ms", "bare random forest fit, p50", "ms"),
    ("bare_fit_p95_ms", "bare random forest fit, p95", "ms"),
    ("teach_minus_bare_fit_p50_ms", "teach - its bare fit (paired), p50", "ms"),
    ("direct_query_p50_ms", "PoolLearner.query(1) in process, p50", "ms"),
    ("query_minus_direct_p50_ms", "query - in-process query (paired), p50", "ms"),
    ("teach_over_bare_fit_p50", "teach p50 / bare fit p50", "x"),
    ("payg_over_teach_p50", "pay-as-you-go p50 / teach p50", "x"),
]


def flatten(run: dict) -> dict[str, float]:
    figures = {}
    for key in ("teach", "noop_teach", "query", "payg", "payment", "bare_fit"):
        figures[f"{key}_p50_ms"] = run[key]["p50_ms"]
        figures[f"{key}_p95_ms"] = run[key]["p95_ms"]
    for key in ("initialize", "send_payment", "teach_call", "teach_minus_bare_fit",
                "direct_query", "query_minus_direct"):
        figures[f"{key}_p50_ms"] = run[key]["p50_ms"]
    figures["teach_over_bare_fit_p50"] = run["teach"]["p50_ms"] / run["bare_fit"]["p50_ms"]
    figures["payg_over_teach_p50"] = run["payg"]["p50_ms"] / run["teach"]["p50_ms"]
    return figures


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=30,
                        help="timed iterations per phase and run (30)")
    parser.add_argument("--runs", type=int, default=3,
                        help="runs, each on a fresh backend and simnet (3)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed iterations of each phase before measuring (1)")
    parser.add_argument("--labels", type=int, default=1000,
                        help="true labels taught in one batch before measuring (1000)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random digits taught in the batch (0)")
    parser.add_argument("--price-msat", type=int, default=1000,
                        help="price of one iteration (1000 msat, the backend's default)")
    parser.add_argument("--workers", type=int, default=2,
                        help="the backend's learner threads (2, its default)")
    parser.add_argument("--network", type=Path, default=NETWORK_FILE,
                        help="Polar network file (its ports are replaced by free ones)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where the JSON goes (benchmarks/results/paid_iteration.json)")
    args = parser.parse_args(argv)
    for name in ("iterations", "runs", "labels", "price_msat", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if args.labels > 10_000 - 2 * (args.iterations + args.warmup):
        parser.error("--labels leaves too few unlabeled digits for the iterations")
    if args.runs < 3:
        print(f"note: {args.runs} run(s); medians are meant to be taken over 3 or more",
              file=sys.stderr)
    return args


async def main_async(args: argparse.Namespace, images: np.ndarray, labels: np.ndarray,
                     data: dict) -> dict:
    runs, per_run = [], []
    interactive = sys.stdout.isatty()
    redraw = "\r" if interactive else ""
    started = time.perf_counter()
    for r in range(1, args.runs + 1):
        run_start = time.perf_counter()

        def progress(phase: str, r: int = r) -> None:
            if interactive:  # redraw one line; a log file gets only the per-run lines
                print(f"\rrun {r}/{args.runs}: {phase:<16}", end="", flush=True)

        run = await one_run(args, images, labels, progress)
        figures = flatten(run)
        runs.append(run)
        per_run.append(figures)
        print(f"{redraw}run {r}/{args.runs}: done in {time.perf_counter() - run_start:5.1f}s  "
              f"teach p50 {figures['teach_p50_ms']:.1f} ms, "
              f"query p50 {figures['query_p50_ms']:.1f} ms, "
              f"payg p50 {figures['payg_p50_ms']:.1f} ms, "
              f"bare fit p50 {figures['bare_fit_p50_ms']:.1f} ms", flush=True)
    medians = {key: statistics.median(f[key] for f in per_run) for key, _, _ in FIGURES}
    return {
        "benchmark": "paid_iteration",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - started, 2),
        "parameters": {
            "runs": args.runs, "iterations": args.iterations, "warmup": args.warmup,
            "mode": "pool", "estimator": ESTIMATOR, "strategy": STRATEGY,
            "pool": "MNIST test digits, uint8 (10000, 28, 28), uploaded once as .npy",
            "initial_labels": args.labels, "initial_labels_seed": args.seed,
            "initial_labels_how": "true labels of seeded random digits "
                                  "(numpy default_rng(seed).choice), one POST /teach",
            "data": data,
            "price_msat": args.price_msat,
            "price_note": "the backend's default price (1 sat an iteration)"
                          if args.price_msat == 1000 else "set with --price-msat",
            "prepaid_block_iterations": args.labels + 2 * (args.warmup + args.iterations),
            "payg_iterations_bought": 1, "fee_limit_msat": FEE_LIMIT_MSAT,
            "backend_workers": args.workers,
            "native_thread_pools": "threadpoolctl.threadpool_limits(limits=1) in main, "
                                   "as alsats-backend does",
            "network": args.network.name,  # no machine path in a committed result
            "server": "create_app(simnet=True) on aiohttp AppRunner + TCPSite, 127.0.0.1",
            "client": "aiohttp ClientSession (keep-alive) in the same process and loop",
            "payer": "bob's LightningNode over gRPC+TLS (SendPaymentV2), direct to alice",
            "order": "per iteration of the teach phase: prepaid teach, its bare fit, then a "
                     "pay-as-you-go teach (so all three see the same machine load); then the "
                     "no-op teaches; then the queries, each followed by its in-process twin",
            "timed": {
                "teach": "POST /teach {index, label} with the prepaid credential; the index "
                         "from an untimed POST /query {k: 1} just before",
                "query": "POST /query {k: 1}",
                "payg": "POST /pay/initialize {iterations: 1, session_id} -> 402, "
                        "bob send_payment, POST /teach with the new credential",
                "payment": "the initialize + send_payment part of payg",
                "noop_teach": "POST /teach {index, label} of a digit already so labeled, "
                              "with the prepaid credential: charged, no refit",
                "bare_fit": "make_estimator('random_forest').fit on the labeled digits "
                            "(float64, index order) of each timed teach, in process, "
                            "right after it",
                "teach_minus_bare_fit": "per iteration, teach minus its bare fit: HTTP, "
                                        "L402, ledger and thread hand-off",
                "direct_query": "the session's own PoolLearner.query(1), in process, right "
                                "after each POST /query (it must pick the same digit)",
                "query_minus_direct": "per iteration, query minus its in-process twin",
            },
        },
        "environment": {
            "python": sys.version.split()[0], "implementation": platform.python_implementation(),
            "platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(),
            "numpy": np.__version__, "scikit-learn": sklearn.__version__,
            "aiohttp": aiohttp.__version__, "grpcio": grpc.__version__,
            "thread_pools": [{"library": info["internal_api"], "num_threads": info["num_threads"]}
                             for info in threadpoolctl.threadpool_info()],
        },
        "median": medians,
        "peak_rss": {
            "mib": peak_rss_mib(), "after_run_1_mib": runs[0]["peak_rss_mib"],
            "how": "resource.getrusage(RUSAGE_SELF).ru_maxrss of the one process that holds "
                   "the server, the simnet, the client and the baselines; it only grows, so "
                   "after_run_1 is one backend with one session (the pool is kept as float64, "
                   "63 MB), and mib is after all runs",
        },
        "runs": [{"figures": f, "detail": run}
                 for f, run in zip(per_run, runs, strict=True)],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # the backend's learners run in a thread pool: one native thread each, as in its CLI
    threadpoolctl.threadpool_limits(limits=1)
    try:
        images, labels, data = load_t10k()
    except DatasetError as exc:
        print(f"paid_iteration: {exc}", file=sys.stderr)
        return 2
    print(f"MNIST: {len(images)} digits, {data['pool']}", flush=True)
    report = rounded(asyncio.run(main_async(args, images, labels, data)))
    print()
    print(table(FIGURES, report["median"], [r["figures"] for r in report["runs"]],
                args.runs))
    rss = report["peak_rss"]
    print(f"\npeak RSS of the process: {rss['after_run_1_mib']:.0f} MiB after run 1, "
          f"{rss['mib']:.0f} MiB at the end")
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
