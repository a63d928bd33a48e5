"""Resident memory of the backend per pool-mode session, and whether closing gives it back.

Each run and pool starts the backend as its own process: ``local_stack()``, that is
``alsats-backend --simnet`` in a subprocess with a fresh data dir on free ports (the
simnet, alice's and bob's LND, lives in that process too). Its resident set size (RSS:
psutil, else VmRSS in /proc/<pid>/status) is read

- at rest, before any session (``baseline``);
- for each of N sessions (5 by default), opened one after another and all kept open, the
  way the widget drives them (``AlsatsClient``, bob paying): after PUT /pool (the pool as
  one .npy; per-pool work the server starts in the background may be under way) and after
  teaching ``--labels`` true labels of seeded random digits in one paid POST /teach and
  one POST /query {"k": 8}, once the session's model has learned them (POST /query k=1
  until its model_version reaches labels_version: the server fits in the background);
- after each session is closed (DELETE /session), and once more a moment after the last
  (GET /healthz must then count no live session);
- through a second round, the same again on the same server: memory kept after the first
  round but reused shows up as a second round costing less and keeping no more; a leak as
  the kept memory growing again.

Per pool (the 10,000 MNIST test digits, and 60,000: benchmarks/pools.py) the figures are the
baseline, the first session's increase (with one-time costs: worker threads, their
allocator arenas), the increase per session (the least-squares slope of RSS over sessions
1..N), what upload and teach + query each add, the RSS with all N open, after closing them
(and the share given back), the second round's, and the peak (VmHWM; above the RSS with N
open, it is the transient of an upload). For scale, the pool's size as float32 (n x 784
x 4 bytes; the server keeps pools as float32 since commit 0781284) is given too. Every figure is the
median across runs, with min and max.
Usage::

    python benchmarks/memory.py [--sessions N] [--labels L] [--pools 10k,60k] [--runs R]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from pools import POOLS, load_pool  # noqa: E402
from report import proc_status_mib, rounded, table, write_json  # noqa: E402

from alsats_widget import local_stack  # noqa: E402
from alsats_widget.datasets import DatasetError  # noqa: E402
from backend.learners import registry  # noqa: E402

try:
    import psutil
except ImportError:  # it is in the test extras; /proc does on Linux without it
    psutil = None

DEFAULT_OUT = REPO / "benchmarks" / "results" / "memory.json"
MiB = 2**20
PRICE_MSAT = 1000  # the backend's default: 1 sat an iteration
FEE_LIMIT_MSAT = 10_000
WAIT_S = 600  # the longest a session's model may take to learn its labels


class BenchmarkError(Exception):
    """The server answered something the benchmark does not expect; the message says what."""


# -- reading the server's memory ---------------------------------------------------------


def rss_mib(pid: int) -> float:
    """The process's resident set size now, in MiB."""
    if psutil is not None:
        return psutil.Process(pid).memory_info().rss / MiB
    rss = proc_status_mib(pid, "VmRSS")
    if rss is None:
        raise BenchmarkError("no psutil and no /proc: cannot read the server's RSS")
    return rss


def slope(values: list[float]) -> float:
    """Least-squares increase per step of values taken at steps 1, 2, ..."""
    if len(values) < 2:
        return float("nan")
    return float(np.polyfit(np.arange(1, len(values) + 1), values, 1)[0])


# -- one run on one pool ------------------------------------------------------------------


def open_session(stack, images: np.ndarray, labels: np.ndarray, args: argparse.Namespace,
                 seed: int, measure: Callable[[], float]) -> tuple[object, dict]:
    """Open a pool session as the widget does; RSS after the upload and after teach+query."""
    client = stack.client("bob", mode="pool", block_size=args.labels,
                          max_payment_msat=args.labels * PRICE_MSAT + FEE_LIMIT_MSAT,
                          budget_msat=10**9, fee_limit_msat=FEE_LIMIT_MSAT)
    opened = client.initialize()
    t0 = time.perf_counter()
    uploaded = client.upload_pool(images)
    t1 = time.perf_counter()
    if uploaded["n_pool"] != len(images):
        raise BenchmarkError(f"the pool came back as {uploaded}")
    after_upload = measure()
    picked = np.random.default_rng(seed).choice(len(images), args.labels, replace=False)
    t2 = time.perf_counter()
    taught = client.teach_many([int(i) for i in picked], [int(labels[i]) for i in picked])
    asked = client.query(args.query_k)
    if taught["n_labeled"] != args.labels or taught["credits_left"] != 0 \
            or len(asked["samples"]) != args.query_k:
        raise BenchmarkError(f"unexpected answers: {taught}, {len(asked['samples'])} samples")
    while asked.get("labels_version", 0) != asked.get("model_version", 0):
        # the server fits in the background: wait until the model (and the pool's graph
        # it needs) is done, so the reading holds it all and no fit's scratch memory
        if time.perf_counter() - t2 > WAIT_S:
            raise BenchmarkError(f"the model still trails the labels after {WAIT_S}s")
        time.sleep(0.1)
        asked = client.query(1)
    t3 = time.perf_counter()
    return client, {"estimator": opened["settings"]["estimator"],
                    "strategy": opened["settings"]["strategy"],
                    "after_upload_mib": after_upload, "after_teach_query_mib": measure(),
                    "upload_s": t1 - t0, "teach_query_fitted_s": t3 - t2}


def one_round(stack, name: str, images: np.ndarray, labels: np.ndarray,
              args: argparse.Namespace, seed: int, measure: Callable[[], float],
              progress: Callable[[str], None]) -> dict:
    """Open N sessions one after another, keeping them open; then close them all."""
    sessions, clients = [], []
    for k in range(1, args.sessions + 1):
        client, detail = open_session(stack, images, labels, args, seed + k, measure)
        clients.append(client)
        sessions.append(detail)
        progress(f"{name}: session {k}: {detail['after_upload_mib']:7.1f} MiB after "
                 f"upload, {detail['after_teach_query_mib']:7.1f} MiB after teach+query")
    closes = []
    for client in clients:
        client.close()  # DELETE /session
        closes.append(measure())
    time.sleep(max(1.0, args.settle))
    closed = measure()
    with urllib.request.urlopen(stack.url + "/healthz", timeout=10) as answer:
        live = json.load(answer)["sessions"]  # sessions the server still holds in memory
    if live:
        raise BenchmarkError(f"{live} sessions still live after closing them all")
    return {"sessions": sessions, "after_close_each_mib": closes, "after_close_mib": closed,
            "open_mib": [s["after_teach_query_mib"] for s in sessions]}


def one_pool(args: argparse.Namespace, name: str, images: np.ndarray, labels: np.ndarray,
             run: int, progress: Callable[[str], None]) -> dict:
    with tempfile.TemporaryDirectory(prefix="alsats-memory-") as tmp, \
            local_stack(Path(tmp) / "stack", price_msat=PRICE_MSAT, reuse=False) as stack:
        pid = stack.process.pid

        def measure() -> float:
            time.sleep(args.settle)
            return rss_mib(pid)

        baseline = measure()
        first = one_round(stack, name, images, labels, args, args.seed + 1000 * run,
                          measure, progress)
        progress(f"{name}: all {args.sessions} closed: {first['after_close_mib']:7.1f} MiB "
                 f"(baseline {baseline:.1f})")
        second = None
        if args.rounds == 2:
            progress(f"{name}: round 2")
            second = one_round(stack, name, images, labels, args,
                               args.seed + 1000 * run + 500, measure, progress)
            progress(f"{name}: all {args.sessions} closed again: "
                     f"{second['after_close_mib']:7.1f} MiB")
        peak = proc_status_mib(pid, "VmHWM")

    sessions, open_rss = first["sessions"], first["open_mib"]
    before = [baseline, *open_rss[:-1]]
    all_open = open_rss[-1]
    closed = first["after_close_mib"]
    nan = float("nan")
    peak_or_nan = peak if peak is not None else nan
    round_two = {} if second is None else {
        "second_first_session_mib": second["open_mib"][0] - closed,
        "second_all_open_mib": second["open_mib"][-1],
        "second_after_close_mib": second["after_close_mib"],
        "second_given_back_pct": 100 * (second["open_mib"][-1] - second["after_close_mib"])
        / (second["open_mib"][-1] - closed),
        "kept_after_second_close_mib": second["after_close_mib"] - baseline,
    }
    return {
        "pool": name, "n_pool": len(images),
        "estimator": sessions[0]["estimator"], "strategy": sessions[0]["strategy"],
        "baseline_mib": baseline, "first_round": first, "second_round": second,
        "peak_mib": peak,
        "figures": {
            "baseline_mib": baseline,
            "first_session_mib": open_rss[0] - baseline,
            "per_session_mib": slope(open_rss) if len(open_rss) > 1 else open_rss[0] - baseline,
            "upload_mib": statistics.mean(
                s["after_upload_mib"] - b for s, b in zip(sessions, before, strict=True)),
            "teach_query_mib": statistics.mean(
                s["after_teach_query_mib"] - s["after_upload_mib"] for s in sessions),
            "all_open_mib": all_open,
            "after_close_mib": closed,
            "given_back_pct": 100 * (all_open - closed) / (all_open - baseline),
            "kept_after_close_mib": closed - baseline,
            **round_two,
            "peak_mib": peak_or_nan,
            "peak_over_all_open_mib": peak_or_nan - max(
                all_open, second["open_mib"][-1] if second else all_open),
            "float32_pool_mib": len(images) * images[0].size * 4 / MiB,
            "upload_s": statistics.median(s["upload_s"] for s in sessions),
            "teach_query_fitted_s": statistics.median(s["teach_query_fitted_s"]
                                                      for s in sessions),
        },
    }


# -- reporting ------------------------------------------------------------------------------

ROWS = [  # (key, label, unit); prefixed with the pool's name
    ("float32_pool_mib", "the pool as float32, for scale", "MiB"),
    ("baseline_mib", "server RSS at rest, no session", "MiB"),
    ("first_session_mib", "first session adds", "MiB"),
    ("per_session_mib", "each session adds (slope over 1..N)", "MiB"),
    ("upload_mib", "  after PUT /pool (graph building)", "MiB"),
    ("teach_query_mib", "  then teach + query, model fitted", "MiB"),
    ("all_open_mib", "RSS with N sessions open", "MiB"),
    ("after_close_mib", "RSS after closing them all", "MiB"),
    ("given_back_pct", "share given back on close", "%"),
    ("kept_after_close_mib", "kept after close (over baseline)", "MiB"),
    ("second_first_session_mib", "round 2: first session adds", "MiB"),
    ("second_all_open_mib", "round 2: RSS with N open again", "MiB"),
    ("second_given_back_pct", "round 2: share given back on close", "%"),
    ("kept_after_second_close_mib", "round 2: kept after close", "MiB"),
    ("peak_mib", "peak RSS (VmHWM)", "MiB"),
    ("peak_over_all_open_mib", "  peak over N open (upload transient)", "MiB"),
    ("upload_s", "PUT /pool, median", "s"),
    ("teach_query_fitted_s", "teach + query until fitted, median", "s"),
]


def figure_rows(pools: list[str], rounds: int) -> list[tuple[str, str, str]]:
    return [(f"{p}_{key}", f"{p}: {label}", unit) for p in pools for key, label, unit in ROWS
            if rounds == 2 or not key.startswith(("second_", "kept_after_second"))]


def git_state() -> dict:
    """The commit, whether backend/ differs from it, and a hash of backend/'s sources."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "backend").rglob("*.py")):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())

    def run(*cmd: str) -> str:
        try:
            return subprocess.run(["git", *cmd], cwd=REPO, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": run("rev-parse", "HEAD"),
            "backend_uncommitted_changes": bool(run("status", "--porcelain", "backend")),
            "backend_sources_sha256": digest.hexdigest()}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=5,
                        help="sessions opened one after another and kept open (5)")
    parser.add_argument("--labels", type=int, default=100,
                        help="true labels each session is taught, in one paid call (100)")
    parser.add_argument("--pools", default="10k,60k",
                        help=f"pools, comma-separated, of {', '.join(POOLS)} (10k,60k)")
    parser.add_argument("--query-k", type=int, default=8,
                        help="k of the query after teaching (8, the widget's prefetch)")
    parser.add_argument("--rounds", type=int, choices=(1, 2), default=2,
                        help="rounds of N sessions per server: the second tells memory "
                             "kept for reuse from a leak (2)")
    parser.add_argument("--runs", type=int, default=3,
                        help="runs, each on a fresh backend per pool (3)")
    parser.add_argument("--settle", type=float, default=0.3,
                        help="seconds to wait before each RSS reading (0.3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the labeled digits (0)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where the JSON goes (benchmarks/results/memory.json)")
    args = parser.parse_args(argv)
    args.pools = [p.strip() for p in args.pools.split(",") if p.strip()]
    if not args.pools or any(p not in POOLS for p in args.pools):
        parser.error(f"--pools takes some of {', '.join(POOLS)}")
    for name in ("sessions", "labels", "runs", "query_k"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.settle < 0:
        parser.error("--settle must not be negative")
    if args.runs < 3:
        print(f"note: {args.runs} run(s); medians are meant to be taken over 3 or more",
              file=sys.stderr)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    pools = {}
    try:
        for name in args.pools:
            start = time.perf_counter()
            pools[name] = load_pool(name)
            progress(f"pool {name}: {len(pools[name].images)} digits, "
                     f"{pools[name].source} ({time.perf_counter() - start:.1f}s)")
    except (DatasetError, OSError) as exc:
        print(f"memory: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    runs, per_run = [], []
    for r in range(1, args.runs + 1):
        run_start = time.perf_counter()
        results, figures = {}, {}
        for name in args.pools:
            result = one_pool(args, name, pools[name].images, pools[name].labels, r,
                              lambda text, r=r: progress(f"run {r}/{args.runs}: {text}"))
            results[name] = result
            figures.update({f"{name}_{k}": v for k, v in result["figures"].items()})
        runs.append(results)
        per_run.append(figures)
        progress(f"run {r}/{args.runs}: done in {time.perf_counter() - run_start:.1f}s")
    rows = figure_rows(args.pools, args.rounds)
    medians = {key: statistics.median(f[key] for f in per_run) for key, _, _ in rows}
    estimators = sorted({res["estimator"] for run in runs for res in run.values()})
    default = getattr(registry, "DEFAULT_POOL_ESTIMATOR", registry.DEFAULT_ESTIMATOR)
    report = rounded({
        "benchmark": "memory",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - started,
        "parameters": {
            "runs": args.runs, "rounds": args.rounds, "sessions": args.sessions,
            "labels_per_session": args.labels,
            "query_k": args.query_k, "settle_s": args.settle, "seed": args.seed,
            "pools": {name: f"{len(d.images)} digits, uint8 {tuple(d.images.shape)}, "
                            f"{d.source}" for name, d in pools.items()},
            "estimator": estimators, "estimator_note": "the server's default (no estimator "
            "named when the session is opened), as its 402 answer's settings report it",
            "registry_default_estimator": default,
            "server": "local_stack(): alsats-backend --simnet in a subprocess (the simnet "
                      "in the same process), fresh temp data dir per run and pool",
            "client": "AlsatsClient with bob's LightningWallet, block_size = labels: "
                      "POST /pay/initialize (402, paid), PUT /pool, POST /teach {indices, "
                      "labels}, POST /query; DELETE /session to close",
            "rss": "psutil memory_info().rss" if psutil else "/proc/<pid>/status VmRSS",
            "peak": "/proc/<pid>/status VmHWM at the end of the pool's run",
        },
        "environment": {
            "python": sys.version.split()[0],
            "implementation": platform.python_implementation(),
            "platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "memory_total_mib": psutil.virtual_memory().total / MiB if psutil else None,
            "numpy": np.__version__, "scikit-learn": sklearn.__version__,
            "psutil": psutil.__version__ if psutil else None, "git": git_state(),
        },
        "median": medians,
        "runs": [{"figures": f, "detail": run} for f, run in zip(per_run, runs, strict=True)],
    })
    print(f"estimator: {', '.join(estimators)} (the server's default for pool mode; the "
          f"learner registry's default here: {default})")
    print(table(rows, report["median"], [r["figures"] for r in report["runs"]], args.runs))
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
