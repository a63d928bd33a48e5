"""How the learner's costs grow with the pool: 10,000, 100,000 and 1,000,000 digits.

Each pool is ``pools.warped_pool(size)``: the 15,000 real MNIST digits (the first
``size`` of them for 10,000), then warped copies, 784 uint8 pixels each. Each run of a
size is a process of its own, so that its memory is its own. In it the learner is made
as the server makes a session's (``PoolLearner``, background fits, the upload handed
over, pool mode's defaults: ``auto``, which past 100,000 samples is label spreading
alone, with margin sampling), and measured:

- ``graph_s``: from the learner made until the pool's graph (a landmark graph past
  20,000 samples) and its clusters are ready: what the widget waits for after the upload
  before its questions are the model's (until then they are spread-out picks);
- the cold start's 10 questions (``query(10)``) labeled truly, then ``--labels`` labels
  one at a time as a person gives them: ``query`` (``query(1)``, the ranking cached per
  model), ``teach`` and ``refit`` (until the model has learned the label and ranked the
  pool again: ``settle``), their median and p95;
- ``spread_ms``: one spread of those labels over the graph (``GraphSpreading.spread``,
  median of 5);
- ``rss_mb`` and ``peak_mb``: the process's resident memory at the end and its peak
  (VmHWM, reset once the pool is made), less its resident memory before the pool was
  made: the session's, its pool included;
- with ``--widget``, the widget's click from ``widget_latency.py`` (``click`` and
  ``fresh``, p95) on the same sizes: the kinds ``digits`` (the real 10,000), ``digits-100k``
  and ``digits-1m``, one run each.

Every figure is the median over ``--runs`` runs. Usage::

    python benchmarks/scaling.py [--sizes 10000 100000 1000000] [--runs 3] [--labels 30]
                                 [--widget] [--out benchmarks/results/scaling.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from benchmarks.pools import warped_pool  # noqa: E402
from benchmarks.report import (  # noqa: E402
    environment,
    own_memory_mib,
    percentile,
    reset_peak_memory,
    rounded,
    write_json,
)

DEFAULT_OUT = REPO / "benchmarks" / "results" / "scaling.json"
SIZES = (10_000, 100_000, 1_000_000)
WIDGET_KINDS = {10_000: "digits", 100_000: "digits-100k", 1_000_000: "digits-1m"}
CLASSES = list(range(10))
SPREADS = 5


def one_run(size: int, labels: int, seed: int) -> dict:
    """One size, one run, in this process (``--child``)."""
    from backend.learners import PoolLearner
    from backend.learners.spreading import UNLABELED

    before = own_memory_mib("VmRSS")
    digits = warped_pool(size, seed=seed)
    pool, truth = digits.images, digits.labels
    reset_peak_memory()
    started = time.perf_counter()
    fits = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="alsats-fit")
    learner = PoolLearner(pool, CLASSES, fits=fits, owned=True, random_state=seed)
    del pool
    graph = learner._neighbour_graph()  # waits for the background build
    graph_s = time.perf_counter() - started
    first = [s["index"] for s in learner.query(10)["samples"]]
    learner.teach_many(first, truth[first].tolist())
    learner.settle()
    timings: dict[str, list[float]] = {"query": [], "teach": [], "refit": []}
    for _ in range(labels):
        t0 = time.perf_counter()
        index = learner.query(1)["samples"][0]["index"]
        t1 = time.perf_counter()
        learner.teach(index, int(truth[index]))
        t2 = time.perf_counter()
        learner.settle()
        t3 = time.perf_counter()
        for name, seconds in zip(timings, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            timings[name].append(seconds * 1000)
    codes = np.full(size, UNLABELED)
    for index, label in learner.labels().items():
        codes[index] = label
    spreads = []
    for _ in range(SPREADS):
        t0 = time.perf_counter()
        copy.copy(graph).spread(codes)
        spreads.append((time.perf_counter() - t0) * 1000)
    return {
        "size": size, "seed": seed, "graph_s": graph_s,
        "landmarks": None if graph.nodes_ is None else len(graph.nodes_),
        "classes_in_first_10": len(set(truth[first].tolist())),
        **{f"{name}_p50_ms": statistics.median(values) for name, values in timings.items()},
        **{f"{name}_p95_ms": percentile(values, 95) for name, values in timings.items()},
        "spread_ms": statistics.median(spreads),
        "rss_mb": own_memory_mib("VmRSS") - before, "peak_mb": own_memory_mib("VmHWM") - before,
    }


def run_child(size: int, labels: int, seed: int) -> dict:
    """One run in a fresh process, limited to 2 native threads as the server's fits are."""
    env = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, __file__, "--child", str(size), str(labels),
                           str(seed)], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the run of {size:,} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def widget_clicks(sizes: list[int]) -> dict:
    """widget_latency.py's click and fresh p95 for each size, one run."""
    kinds = [WIDGET_KINDS[size] for size in sizes]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "widget.json"
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "widget_latency.py"),
                        "--kinds", ",".join(kinds), "--runs", "1", "--clicks", "30",
                        "--baseline", "5", "--renders", "20", "--out", str(out)], check=True)
        median = json.loads(out.read_text())["median"]
    return {str(size): {key: median.get(f"{key}_ms@{kind}/100")
                        for key in ("click_p50", "click_p95", "fresh_p95")}
            for size, kind in zip(sizes, kinds, strict=True)}


def summarize(runs: list[dict]) -> dict:
    keys = [key for key in runs[0] if key not in ("size", "seed", "landmarks")]
    return {"landmarks": runs[0]["landmarks"],
            **{key: statistics.median(run[key] for run in runs) for key in keys}}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES),
                        help="pool sizes (10000 100000 1000000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (3)")
    parser.add_argument("--labels", type=int, default=30,
                        help="labels given one at a time after the first 10 (30)")
    parser.add_argument("--widget", action=argparse.BooleanOptionalAction, default=True,
                        help="also the widget's click, by widget_latency.py (on)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="the JSON (benchmarks/results/scaling.json)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.labels < 1 or min(args.sizes) < 1000:
        parser.error("--runs and --labels must be at least 1, and sizes at least 1,000")
    if args.widget and not set(args.sizes) <= set(WIDGET_KINDS):
        parser.error(f"--widget measures the sizes {', '.join(map(str, WIDGET_KINDS))} "
                     "only: pass --no-widget for others")
    return args


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--child"]:
        size, labels, seed = map(int, sys.argv[2:5])
        print(json.dumps(one_run(size, labels, seed)))
        return 0
    args = parse_args(argv)
    started = time.perf_counter()
    runs = []
    for size in args.sizes:
        for seed in range(args.runs):
            print(f"{size:,} samples, run {seed + 1} of {args.runs} ...", flush=True)
            runs.append(run_child(size, args.labels, seed))
            print("  " + ", ".join(f"{k} {v:.4g}" for k, v in runs[-1].items()
                                   if isinstance(v, float)), flush=True)
    sizes = {str(size): summarize([run for run in runs if run["size"] == size])
             for size in args.sizes}
    if args.widget:
        for size, clicks in widget_clicks(args.sizes).items():
            sizes[size]["widget"] = clicks
    report = rounded({
        "benchmark": "scaling",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - started,
        "parameters": {"sizes": args.sizes, "runs": args.runs, "labels": args.labels,
                       "pool": "benchmarks/pools.py warped_pool(size): uint8 28 x 28",
                       "learner": "PoolLearner as the server makes it: background fits, "
                                  "pool mode's defaults"},
        "environment": environment(),
        "sizes": sizes,
        "runs": runs,
    })
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
