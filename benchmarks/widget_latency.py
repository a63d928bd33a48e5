"""Click-to-next-sample latency through LabelingWidget's own code path, payment included.

Each run starts a local stack (``alsats-backend --simnet`` in a subprocess, fresh data dir,
free ports, 1 sat an iteration) and, for each pool and each level of labels already given
(0, 100 and 1,000 by default), a LabelingWidget with bob's wallet paying per iteration.
The pools (``--pools``): the 10,000 MNIST test digits, and 60,000 samples made of the
15,000 real digits with small shifts (``pools.shifted_pool``). The session is pool mode's
default: label spreading, margin sampling, fitted in the background. A level's labels
(true labels of seeded random digits) are written to a label file first, so the widget
resumes them: one paid teach of them all. Then, per level:

Once the widget has resumed, the benchmark waits until the server's model has caught up
with the labels (``model_ready_s``: the pool's graph is built once per upload, in the
background; meanwhile queries get the cold start's spread-out samples). Then:

- ``click``: a person who takes their time. Wait until the server has taken every label
  and ranked afresh (with the newest model it has finished), and at least ``--pace``
  seconds since the last click, then press the true label's
  button; timed from the click until the widget shows the next sample
  (``Button.click()`` returns with the new image set).
- ``fresh``: from that same click until the server has learned the label and the queue
  holds a fresh ranking (teach, paid, + query): what the widget hides from the person.
- ``brisk``: a quick person, one click every ``--pace`` seconds (0.3), never waiting for
  the server: click to the next sample shown.
- ``burst``: a machine clicking as fast as the widget lets it: press, wait until a sample
  is shown, press again. The prefetched queue answers until it runs dry; then the click
  waits for the worker's next ranking (teach + query), the worst case there is.
- ``baseline``: in the same run, on the same session, what a widget without prefetch
  would make the person wait for: paid POST /teach, POST /query k=1, render the PNG.

Every figure is the median across runs of its per-run p50 (or p95). The digits are the
10,000 MNIST test digits that ship with alsats. Usage::

    python benchmarks/widget_latency.py [--clicks N] [--runs R] [--levels 0,100,1000]
                                        [--pools 10k,60k]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO))

import ipywidgets  # noqa: E402
import numpy as np  # noqa: E402
from paid_iteration import load_t10k  # noqa: E402
from pools import POOLS, shifted_pool  # noqa: E402
from report import rounded, summary_ms, table, write_json  # noqa: E402

from alsats_widget import LabelingWidget, local_stack  # noqa: E402
from alsats_widget.datasets import DatasetError  # noqa: E402
from alsats_widget.display import sample_png  # noqa: E402
from alsats_widget.labelfile import GivenLabel, LabelFile  # noqa: E402

DEFAULT_OUT = REPO / "benchmarks" / "results" / "widget_latency.json"
CLASSES = list(range(10))
PRICE_MSAT = 1000  # the backend's default: 1 sat an iteration
WAIT_S = 600  # the longest any step may take before the benchmark gives up


class BenchmarkError(Exception):
    """The widget did not do what the benchmark expects; the message says what."""


def seed_labels(path: Path, images: np.ndarray, labels: np.ndarray, count: int,
                seed: int) -> None:
    """A label file holding ``count`` true labels, as if a person had given them."""
    picked = np.random.default_rng(seed).choice(len(images), size=count, replace=False)
    with LabelFile(path, images, CLASSES) as file:
        for index in picked:
            file.label(GivenLabel(int(index), int(labels[index])))


def drawn(widget: LabelingWidget) -> int:
    """Wait until the widget shows a sample; its pool index."""
    deadline = time.monotonic() + WAIT_S
    while True:
        current = widget.labeler.wait_for_sample(WAIT_S)
        if current is None:
            raise BenchmarkError(f"no sample to show: {widget.labeler.problem}")
        if widget._shown == current.index:
            return current.index
        if time.monotonic() > deadline:
            raise BenchmarkError("the widget never drew its sample")
        time.sleep(0.0005)


def press(widget: LabelingWidget, labels: np.ndarray, index: int) -> None:
    widget._class_buttons[CLASSES.index(int(labels[index]))].click()


def paced_clicks(widget: LabelingWidget, labels: np.ndarray, count: int, pace: float
                 ) -> tuple[list[int], list[int]]:
    """A person who waits for the server each time, and takes at least ``pace`` seconds
    a label (faster, the widget would hold back showing some clicks: it shows at most
    20 a second): click and fresh-ranking times (ns)."""
    clicks, fresh = [], []
    for _ in range(count):
        started = time.monotonic()
        widget.labeler.wait_idle(WAIT_S)
        index = drawn(widget)
        time.sleep(max(0.0, pace - (time.monotonic() - started)))
        start = time.perf_counter_ns()
        press(widget, labels, index)
        shown = widget._shown
        clicked = time.perf_counter_ns()
        if shown is None or shown == index:
            raise BenchmarkError("a click did not show the next sample at once")
        widget.labeler.wait_idle(WAIT_S)
        clicks.append(clicked - start)
        fresh.append(time.perf_counter_ns() - start)
    return clicks, fresh


def unpaced_clicks(widget: LabelingWidget, labels: np.ndarray, count: int,
                   pace: float) -> list[int]:
    """Clicks ``pace`` seconds apart (or as soon as a sample is drawn, for 0), never
    waiting for the server: click to the next sample drawn (ns)."""
    widget.labeler.wait_idle(WAIT_S)
    index, times = drawn(widget), []
    for _ in range(count):
        start = time.perf_counter_ns()
        press(widget, labels, index)
        index = drawn(widget)
        times.append(time.perf_counter_ns() - start)
        time.sleep(max(0.0, pace - (time.perf_counter_ns() - start) / 1e9))
    return times


def baseline(widget: LabelingWidget, images: np.ndarray, labels: np.ndarray,
             count: int) -> list[int]:
    """Without prefetch: paid teach, query, render, one after another (ns)."""
    client, times = widget.labeler.client, []
    index = client.query(1, exclude=list(widget.labels))["samples"][0]["index"]
    for _ in range(count):
        start = time.perf_counter_ns()
        client.teach(index, int(labels[index]))
        index = client.query(1)["samples"][0]["index"]
        sample_png(images[index], (28, 28), 8)
        times.append(time.perf_counter_ns() - start)
    return times


def caught_up(client) -> float:
    """Wait until the server's newest model knows every label (it fits in the background;
    for a new pool it first builds the pool's graph); the perf_counter when it does."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        answer = client.query(1)
        if answer["model_version"] == answer["labels_version"]:
            return time.perf_counter()
        time.sleep(0.05)
    raise BenchmarkError("the server's model never caught up with the labels")


def one_level(stack, images: np.ndarray, labels: np.ndarray, level: int,
              args: argparse.Namespace, folder: Path) -> dict:
    path = folder / f"labels-{len(images)}-{level}.jsonl"
    seed_labels(path, images, labels, level, args.seed + level)
    client = stack.client("bob", mode="pool", max_payment_msat=10**9, budget_msat=10**12)
    started = time.perf_counter()
    widget = LabelingWidget(client, images, label_file=path)
    try:
        widget.labeler.wait_idle(WAIT_S)
        resumed = time.perf_counter() - started
        if client.session_info()["n_labeled"] != level:
            raise BenchmarkError(f"the server did not learn the {level} resumed labels")
        model_ready = caught_up(client) - started
        paced_clicks(widget, labels, args.warmup, args.pace)
        clicks, fresh = paced_clicks(widget, labels, args.clicks, args.pace)
        brisk = unpaced_clicks(widget, labels, args.clicks, args.pace)
        burst = unpaced_clicks(widget, labels, args.clicks, 0.0)
        widget.labeler.wait_idle(WAIT_S)
        status = widget.labeler.status()
        expected = level + args.warmup + 3 * args.clicks
        if (status.labels, client.session_info()["n_labeled"]) != (expected, expected):
            raise BenchmarkError(f"expected {expected} labels here and on the server, got "
                                 f"{status.labels} and {client.session_info()['n_labeled']}")
        base = baseline(widget, images, labels, args.baseline)
    finally:
        widget.close()
        client.close()
    return {"labels_at_start": level, "resume_s": resumed, "model_ready_s": model_ready,
            "iterations_paid": status.iterations_paid, "msat_spent": status.msat_spent,
            "click": summary_ms(clicks), "fresh": summary_ms(fresh),
            "brisk": summary_ms(brisk), "burst": summary_ms(burst), "baseline": summary_ms(base)}


def one_run(pools: dict[str, tuple[np.ndarray, np.ndarray]], args: argparse.Namespace,
            run: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="alsats-widget-bench-") as tmp:
        folder = Path(tmp)
        with local_stack(folder / "stack", price_msat=PRICE_MSAT, reuse=False) as stack:
            levels = {}
            for (name, (images, labels)), level in itertools.product(pools.items(),
                                                                     args.levels):
                began = time.perf_counter()
                key = f"{name}/{level}"
                levels[key] = one_level(stack, images, labels, level, args, folder)
                figures = levels[key]
                print(f"run {run}/{args.runs}, pool {name}, {level:>5} labels: "
                      f"model ready after {figures['model_ready_s']:.1f}s, "
                      f"click p50 {figures['click']['p50_ms']:.2f} ms, "
                      f"brisk p95 {figures['brisk']['p95_ms']:.1f} ms, "
                      f"burst p95 {figures['burst']['p95_ms']:.1f} ms, "
                      f"baseline p50 {figures['baseline']['p50_ms']:.0f} ms "
                      f"({time.perf_counter() - began:.0f}s)", flush=True)
    return levels


def flatten(run: dict) -> dict[str, float]:
    figures = {}
    for level, detail in run.items():
        for key in ("click", "fresh", "brisk", "burst", "baseline"):
            figures[f"{key}_p50_ms@{level}"] = detail[key]["p50_ms"]
            figures[f"{key}_p95_ms@{level}"] = detail[key]["p95_ms"]
        figures[f"baseline_over_click_p50@{level}"] = (detail["baseline"]["p50_ms"]
                                                       / detail["click"]["p50_ms"])
        figures[f"model_ready_s@{level}"] = detail["model_ready_s"]
    return figures


def figure_labels(levels: list[str]) -> list[tuple[str, str, str]]:
    rows = []
    for level in levels:
        for key, what in (("click", "click to next sample"), ("brisk", "brisk clicks"),
                          ("burst", "burst clicks"),
                          ("fresh", "click to fresh ranking"), ("baseline", "baseline")):
            for q in ("p50", "p95"):
                rows.append((f"{key}_{q}_ms@{level}", f"{level} labels: {what} {q}", "ms"))
        rows.append((f"baseline_over_click_p50@{level}",
                     f"{level} labels: baseline p50 / click p50", "x"))
        rows.append((f"model_ready_s@{level}", f"{level} labels: opened to model ready", "s"))
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=30,
                        help="timed clicks per phase, level and run (30)")
    parser.add_argument("--baseline", type=int, default=10,
                        help="timed baseline iterations per level and run (10)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed paced clicks per level before measuring (2)")
    parser.add_argument("--pace", type=float, default=0.3,
                        help="seconds between brisk clicks (0.3)")
    parser.add_argument("--runs", type=int, default=3, help="runs, each on a fresh stack (3)")
    parser.add_argument("--levels", default="0,100,1000",
                        help="labels already given, comma-separated (0,100,1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resumed labels (0)")
    parser.add_argument("--pools", default=",".join(POOLS),
                        help=f"pools to label, comma-separated ({','.join(POOLS)})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where the JSON goes (benchmarks/results/widget_latency.json)")
    args = parser.parse_args(argv)
    try:
        args.levels = [int(v) for v in args.levels.split(",")]
    except ValueError:
        parser.error("--levels must be whole numbers separated by commas, e.g. 0,100,1000")
    if min(args.clicks, args.baseline, args.runs) < 1 or min(args.warmup, args.pace) < 0:
        parser.error("--clicks, --baseline and --runs must be at least 1; --warmup and "
                     "--pace at least 0")
    if not all(0 <= level <= 9000 for level in args.levels):  # room for the clicks
        parser.error("each level must be between 0 and 9000 labels")
    args.pools = args.pools.split(",")
    if not set(args.pools) <= set(POOLS):
        parser.error(f"--pools takes {', '.join(POOLS)}, comma-separated")
    if args.runs < 3:
        print(f"note: {args.runs} run(s); medians are meant to be taken over 3 or more",
              file=sys.stderr)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        images, labels, data = load_t10k()
    except DatasetError as exc:
        print(f"widget_latency: {exc}", file=sys.stderr)
        return 2
    print(f"MNIST: {len(images)} digits, {data['pool']}", flush=True)
    pools = {"10k": (images, labels)}
    if "60k" in args.pools:
        shifted = shifted_pool()
        pools["60k"] = (shifted.images, shifted.labels)
    pools = {name: pools[name] for name in args.pools}
    started = time.perf_counter()
    runs = [one_run(pools, args, r) for r in range(1, args.runs + 1)]
    per_run = [flatten(run) for run in runs]
    rows = figure_labels([f"{p}/{level}" for p in args.pools for level in args.levels])
    medians = {key: statistics.median(f[key] for f in per_run) for key, _, _ in rows}
    report = rounded({
        "benchmark": "widget_latency",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - started,
        "parameters": {
            "runs": args.runs, "clicks": args.clicks, "baseline": args.baseline,
            "warmup": args.warmup, "levels": args.levels, "pace_s": args.pace, "seed": args.seed,
            "pools": {"10k": "MNIST test digits, uint8 (10000, 28, 28)",
                      "60k": "the 15,000 real digits x4, shifted up to 2 px (60000, 28, 28)"},
            "data": data,
            "price_msat": PRICE_MSAT, "block_size": 1, "prefetch": 8,
            "stack": "local_stack(): alsats-backend --simnet in a subprocess, loopback",
            "session": "pool mode's defaults: label_spreading, margin sampling, fitted in "
                       "the background",
        },
        "environment": {
            "python": sys.version.split()[0], "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "numpy": np.__version__,
            "ipywidgets": ipywidgets.__version__,
        },
        "median": medians,
        "runs": [{"figures": f, "detail": run} for f, run in zip(per_run, runs, strict=True)],
    })
    print()
    print(table(rows, report["median"], [r["figures"] for r in report["runs"]], args.runs))
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
