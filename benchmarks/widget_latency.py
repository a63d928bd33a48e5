"""Click-to-next-sample latency through LabelingWidget's own code path, for each kind of
item, its rendering and the payment included.

Each run starts a local stack (``alsats-backend --simnet`` in a subprocess, fresh data dir,
free ports, 1 sat an iteration) and, for each kind of item and each level of labels
already given (100 by default), a LabelingWidget with bob's wallet paying per iteration.
The kinds (``--kinds``): X is what the server learns from, the items what a person sees
(``alsats_widget.features`` makes X of texts, pictures and tables):

- ``digits``: the 10,000 MNIST test digits, grey 28x28, X the pixels (shown 8x enlarged);
- ``digits-60k``: the 15,000 real digits x4 with small shifts (``pools.shifted_pool``);
- ``digits-100k``, ``digits-1m``: 100,000 and 1,000,000 digits, the real ones and warped
  copies (``pools.warped_pool``), for ``benchmarks/scaling.py``;
- ``patches``: the 1,936 32x32 colour patches of ``load_photo_patches`` (enlarged),
  X their ``image_features``;
- ``photos``: the same patches' features, each item its photograph as a 1000x800 RGB
  array (24 of them, a few crops of each photo): what shrinking a large picture costs;
- ``text``: the standard library's docstrings (``load_docstrings``), X ``text_features``;
- ``long-text``: as many texts of 10,000 to 60,000 characters (each its package's next
  docstrings joined), past the 20,000 the view sends;
- ``table``: the 344 penguins (``load_penguins``) ten times over (3,440 rows), X
  ``table_features``, each item a DataFrame row.

The session is pool mode's default: ``auto``, margin sampling, fitted in the
background. A level's labels (true labels of seeded random samples) are written to a
label file first, so the widget resumes them: one paid teach of them all. Once the widget
has resumed, the benchmark waits until the server's model has caught up with the labels
(``model_ready_s``). Then, per kind and level:

- ``click``: a person who takes their time. Wait until the server has taken every label
  and ranked afresh, and at least ``--pace`` seconds since the last click, then press the
  true label's button; timed from the click until the widget shows the next sample's item
  (``Button.click()`` returns with the item view's value set).
- ``fresh``: from that same click until the server has learned the label and the queue
  holds a fresh ranking (teach, paid, + query): what the widget hides from the person.
- ``brisk``: a quick person, one click every ``--pace`` seconds (0.3), never waiting for
  the server: click to the next item shown.
- ``burst``: a machine clicking as fast as the widget lets it: press, wait until an item
  is shown, press again. The prefetched queue answers until it runs dry; then the click
  waits for the worker's next ranking (teach + query), the worst case there is.
- ``baseline``: in the same run, on the same session, what a widget without prefetch
  would make the person wait for: paid POST /teach, POST /query k=1, render the item.
- ``render``: the item view alone (``ItemView.show``) on ``--renders`` seeded random
  items of the pool: the part of a click that is the item's.

Every figure is the median across runs of its per-run p50 (or p95). Usage::

    python -m benchmarks.widget_latency [--quick] [--clicks N] [--runs R]
                                        [--levels 100] [--kinds digits,text,...]
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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO))

import ipywidgets  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import PIL  # noqa: E402
import threadpoolctl  # noqa: E402
from PIL import Image  # noqa: E402

from alsats_widget import LabelingWidget, local_stack  # noqa: E402
from alsats_widget.datasets import BUNDLED_SHA256, DatasetError, load_mnist  # noqa: E402
from alsats_widget.examples import (  # noqa: E402
    PHOTOS,
    load_docstrings,
    load_penguins,
    load_photo_patches,
)
from alsats_widget.features import image_features, table_features, text_features  # noqa: E402
from alsats_widget.items import ItemView, as_items, infer_display  # noqa: E402
from alsats_widget.labelfile import GivenLabel, LabelFile  # noqa: E402
from benchmarks.pools import shifted_pool, warped_pool  # noqa: E402
from benchmarks.report import rounded, summary_ms, table, write_json  # noqa: E402

DEFAULT_OUT = REPO / "benchmarks" / "results" / "widget_latency.json"
KINDS = ("digits", "digits-60k", "digits-100k", "digits-1m", "patches", "photos", "text",
         "long-text", "table")
DEFAULT_KINDS = ("digits", "patches", "photos", "text", "long-text", "table")
PHASES = ("click", "fresh", "brisk", "burst", "baseline", "render")
PRICE_MSAT = 1000  # the backend's default: 1 sat an iteration
WAIT_S = 600  # the longest any step may take before the benchmark gives up
PHOTO_SIZE = (1000, 800)  # width, height of the large photos
PHOTO_CROPS = 4  # large photos per photograph: its corners cropped a little, enlarged
LONG_TEXT = (10_000, 60_000)  # characters of a long text, drawn per text
TABLE_COPIES = 10  # the 344 penguins are too few for several hundred clicks a run
DEFAULTS = {"clicks": 50, "baseline": 10, "renders": 200, "warmup": 2, "runs": 3,
            "kinds": ",".join(DEFAULT_KINDS)}
QUICK = {"clicks": 10, "baseline": 3, "renders": 30, "warmup": 1, "runs": 1,
         "kinds": "digits,photos,text,table"}


class BenchmarkError(Exception):
    """The widget did not do what the benchmark expects; the message says what."""


# -- the kinds of item -------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Kind:
    """A pool to label: X for the server, the items a person sees, the true labels."""

    X: np.ndarray
    items: Any
    labels: np.ndarray
    classes: list
    what: str


def digits_kind() -> Kind:
    digits = load_mnist()
    return Kind(digits.images, None, digits.labels, list(range(10)),
                f"{digits.source}: uint8 (10000, 28, 28), shown as they are")


def digits_60k_kind() -> Kind:
    shifted = shifted_pool()
    return Kind(shifted.images, None, shifted.labels, list(range(10)),
                "the 15,000 real digits x4, shifted up to 2 px (60000, 28, 28)")


def warped_kind(size: int) -> Callable[[], Kind]:
    def make() -> Kind:
        warped = warped_pool(size)
        return Kind(warped.images, None, warped.labels, list(range(10)), warped.source)
    return make


def patches_kind() -> Kind:
    patches = load_photo_patches()
    return Kind(image_features(patches.items)[0], patches.items, patches.target,
                list(patches.classes), f"load_photo_patches: {patches.items.shape} uint8 "
                "colour patches, X their image_features")


def large_photos(size: tuple[int, int] = PHOTO_SIZE, crops: int = PHOTO_CROPS
                 ) -> dict[str, list[np.ndarray]]:
    """Each photograph of the patches as ``crops`` RGB arrays of ``size``: a corner cut
    off each (a tenth of a side), then enlarged. Distinct arrays, as a person's are."""
    folder = resources.files("skimage") / "data"
    photos = {}
    for label, filename in PHOTOS.items():
        with Image.open(folder / filename) as opened:
            image = opened.convert("RGB")
        width, height = image.size
        cut_w, cut_h = width // 10, height // 10
        boxes = [(0, 0, width - cut_w, height - cut_h), (cut_w, 0, width, height - cut_h),
                 (0, cut_h, width - cut_w, height), (cut_w, cut_h, width, height)]
        photos[label] = [np.asarray(image.crop(box).resize(size, Image.Resampling.BICUBIC))
                         for box in boxes[:crops]]
    return photos


def photos_kind() -> Kind:
    patches = load_photo_patches()
    photos = large_photos()
    items = [photos[label][i % PHOTO_CROPS] for i, label in enumerate(patches.target)]
    width, height = PHOTO_SIZE
    return Kind(image_features(patches.items)[0], items, patches.target,
                list(patches.classes), f"load_photo_patches' features, each item the "
                f"photo it was cut from as a ({height}, {width}, 3) uint8 array "
                f"({len(PHOTOS) * PHOTO_CROPS} distinct ones)")


def text_kind() -> Kind:
    texts = load_docstrings()
    lengths = [len(t) for t in texts.items]
    return Kind(text_features(texts.items)[0], texts.items, texts.target,
                list(texts.classes), f"load_docstrings: {len(texts.items)} texts of "
                f"{min(lengths):,} to {max(lengths):,} characters (median "
                f"{int(statistics.median(lengths)):,}), X their text_features")


def long_texts(texts: list[str], target: np.ndarray, seed: int = 0) -> list[str]:
    """One long text per text: it and its package's next docstrings joined, until the
    length drawn for it (LONG_TEXT) is reached."""
    rng = np.random.default_rng(seed)
    by_class = {c: [t for t, k in zip(texts, target, strict=True) if k == c]
                for c in np.unique(target)}
    place = {i: by_class[k].index(t) for i, (t, k) in enumerate(zip(texts, target,
                                                                       strict=True))}
    joined = []
    for i, label in enumerate(target):
        goal, own = int(rng.integers(*LONG_TEXT)), by_class[label]
        parts, size, j = [], 0, place[i]
        while size < goal:
            parts.append(own[j % len(own)])
            size += len(parts[-1]) + 2
            j += 1
        joined.append("\n\n".join(parts)[:goal])
    return joined


def long_text_kind() -> Kind:
    texts = load_docstrings()
    items = long_texts(texts.items, texts.target)
    return Kind(text_features(items)[0], items, texts.target, list(texts.classes),
                f"{len(items)} texts of {LONG_TEXT[0]:,} to {LONG_TEXT[1]:,} characters, "
                "each its package's docstrings joined, X their text_features")


def table_kind() -> Kind:
    penguins = load_penguins()
    frame = pd.concat([penguins.items] * TABLE_COPIES, ignore_index=True)
    return Kind(table_features(frame)[0], frame, np.tile(penguins.target, TABLE_COPIES),
                list(penguins.classes), f"load_penguins x{TABLE_COPIES}: a DataFrame "
                f"{frame.shape}, each item a row, X its table_features")


MAKERS: dict[str, Callable[[], Kind]] = {
    "digits": digits_kind, "digits-60k": digits_60k_kind,
    "digits-100k": warped_kind(100_000), "digits-1m": warped_kind(1_000_000),
    "patches": patches_kind,
    "photos": photos_kind, "text": text_kind, "long-text": long_text_kind,
    "table": table_kind,
}


def make_kinds(names: list[str]) -> dict[str, Kind]:
    """The kinds asked for; the featurizers on one thread (TruncatedSVD is far faster so
    on two busy cores)."""
    with threadpoolctl.threadpool_limits(1):
        return {name: MAKERS[name]() for name in names}


# -- the clicks ----------------------------------------------------------------------------

def seed_labels(path: Path, pool: np.ndarray, kind: Kind, count: int, seed: int) -> None:
    """A label file holding ``count`` true labels, as if a person had given them."""
    picked = np.random.default_rng(seed).choice(len(pool), size=count, replace=False)
    with LabelFile(path, pool, kind.classes) as file:
        for index in picked:
            file.label(GivenLabel(int(index), kind.labels[index].item()))


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
    wire = widget.classes.to_wire(labels[index].item())
    widget._class_buttons[widget.classes.wire.index(wire)].click()


def item_shown(widget: LabelingWidget, index: int) -> bool:
    """The click showed the next sample's item: the view holds a new item, without error."""
    view = widget._view
    return (widget._shown not in (None, index) and view.shown == widget._shown
            and view.last_error is None)


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
        clicked = time.perf_counter_ns()
        if not item_shown(widget, index):
            raise BenchmarkError("a click did not show the next sample's item at once")
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


def own_view(widget: LabelingWidget, kind: Kind) -> ItemView:
    """An item view like the widget's, of the same items: to render outside the widget."""
    source = as_items(kind.items, kind.X)
    return ItemView(source, infer_display(source), width=widget._view.size[0],
                    height=widget._view.size[1])


def baseline(widget: LabelingWidget, kind: Kind, count: int) -> list[int]:
    """Without prefetch: paid teach, query, render the item, one after another (ns)."""
    client, view, times = widget.labeler.client, own_view(widget, kind), []
    index = client.query(1, exclude=list(widget.labels))["samples"][0]["index"]
    for _ in range(count):
        start = time.perf_counter_ns()
        client.teach(index, widget.classes.to_wire(kind.labels[index].item()))
        index = client.query(1)["samples"][0]["index"]
        view.show(index)
        times.append(time.perf_counter_ns() - start)
        if view.last_error is not None:
            raise BenchmarkError(f"item {index} could not be shown: {view.last_error}")
    return times


def renders(widget: LabelingWidget, kind: Kind, count: int, seed: int) -> list[int]:
    """``ItemView.show`` alone on seeded random items (ns)."""
    view = own_view(widget, kind)
    times = []
    for index in np.random.default_rng(seed).integers(len(kind.labels), size=count):
        start = time.perf_counter_ns()
        view.show(int(index))
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


def one_level(stack, name: str, kind: Kind, level: int, args: argparse.Namespace,
              folder: Path) -> dict:
    path = folder / f"labels-{name}-{level}.jsonl"
    client = stack.client("bob", mode="pool", max_payment_msat=10**9, budget_msat=10**12)
    seed_labels(path, client.check_pool(kind.X, "X"), kind, level, args.seed + level)
    started = time.perf_counter()
    widget = LabelingWidget(client, kind.X, items=kind.items, classes=kind.classes,
                            label_file=path)
    try:
        widget.labeler.wait_idle(WAIT_S)
        resumed = time.perf_counter() - started
        if client.session_info()["n_labeled"] != level:
            raise BenchmarkError(f"the server did not learn the {level} resumed labels")
        model_ready = caught_up(client) - started
        paced_clicks(widget, kind.labels, args.warmup, args.pace)
        clicks, fresh = paced_clicks(widget, kind.labels, args.clicks, args.pace)
        brisk = unpaced_clicks(widget, kind.labels, args.clicks, args.pace)
        burst = unpaced_clicks(widget, kind.labels, args.clicks, 0.0)
        widget.labeler.wait_idle(WAIT_S)
        status = widget.labeler.status()
        expected = level + args.warmup + 3 * args.clicks
        if (status.labels, client.session_info()["n_labeled"]) != (expected, expected):
            raise BenchmarkError(f"expected {expected} labels here and on the server, got "
                                 f"{status.labels} and {client.session_info()['n_labeled']}")
        base = baseline(widget, kind, args.baseline)
        render = renders(widget, kind, args.renders, args.seed + level)
        display, box = widget._view.display, widget._view.size
    finally:
        widget.close()
        client.close()
    return {"labels_at_start": level, "display": display, "box_px": list(box),
            "resume_s": resumed, "model_ready_s": model_ready,
            "iterations_paid": status.iterations_paid, "msat_spent": status.msat_spent,
            "click": summary_ms(clicks), "fresh": summary_ms(fresh),
            "brisk": summary_ms(brisk), "burst": summary_ms(burst),
            "baseline": summary_ms(base), "render": summary_ms(render)}


def one_run(kinds: dict[str, Kind], args: argparse.Namespace, run: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="alsats-widget-bench-") as tmp:
        folder = Path(tmp)
        with local_stack(folder / "stack", price_msat=PRICE_MSAT, reuse=False) as stack:
            levels = {}
            for (name, kind), level in itertools.product(kinds.items(), args.levels):
                began = time.perf_counter()
                key = f"{name}/{level}"
                levels[key] = one_level(stack, name, kind, level, args, folder)
                figures = levels[key]
                print(f"run {run}/{args.runs}, {name}, {level:>5} labels: "
                      f"model ready after {figures['model_ready_s']:.1f}s, "
                      f"click p50/p95 {figures['click']['p50_ms']:.1f}/"
                      f"{figures['click']['p95_ms']:.1f} ms, "
                      f"brisk p95 {figures['brisk']['p95_ms']:.1f} ms, "
                      f"burst p95 {figures['burst']['p95_ms']:.1f} ms, "
                      f"render p95 {figures['render']['p95_ms']:.1f} ms, "
                      f"baseline p50 {figures['baseline']['p50_ms']:.0f} ms "
                      f"({time.perf_counter() - began:.0f}s)", flush=True)
    return levels


# -- the report ----------------------------------------------------------------------------

def flatten(run: dict) -> dict[str, float]:
    figures = {}
    for level, detail in run.items():
        for key in PHASES:
            figures[f"{key}_p50_ms@{level}"] = detail[key]["p50_ms"]
            figures[f"{key}_p95_ms@{level}"] = detail[key]["p95_ms"]
        figures[f"baseline_over_click_p50@{level}"] = (detail["baseline"]["p50_ms"]
                                                       / detail["click"]["p50_ms"])
        figures[f"model_ready_s@{level}"] = detail["model_ready_s"]
    return figures


def figure_labels(levels: list[str]) -> list[tuple[str, str, str]]:
    rows = []
    for level in levels:
        for key, what in (("click", "click to next item"), ("brisk", "brisk clicks"),
                          ("burst", "burst clicks"), ("fresh", "click to fresh ranking"),
                          ("baseline", "baseline"), ("render", "item view alone")):
            for q in ("p50", "p95"):
                rows.append((f"{key}_{q}_ms@{level}", f"{level}: {what} {q}", "ms"))
        rows.append((f"baseline_over_click_p50@{level}",
                     f"{level}: baseline p50 / click p50", "x"))
        rows.append((f"model_ready_s@{level}", f"{level}: opened to model ready", "s"))
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a check that it all works, not a measurement: "
                             + ", ".join(f"--{k} {v}" for k, v in QUICK.items())
                             + "; the JSON only with --out")
    for option, what in (("clicks", "timed clicks per phase, kind, level and run"),
                         ("baseline", "timed baseline iterations per kind, level and run"),
                         ("renders", "timed renders of the item view alone per kind, "
                                     "level and run"),
                         ("warmup", "untimed paced clicks per level before measuring"),
                         ("runs", "runs, each on a fresh stack")):
        parser.add_argument(f"--{option}", type=int,
                            help=f"{what} ({DEFAULTS[option]}; --quick: {QUICK[option]})")
    parser.add_argument("--pace", type=float, default=0.3,
                        help="seconds between brisk clicks (0.3)")
    parser.add_argument("--levels", default="100",
                        help="labels already given, comma-separated (100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resumed labels (0)")
    parser.add_argument("--kinds", help=f"kinds of item, comma-separated, of "
                                        f"{', '.join(KINDS)} ({DEFAULTS['kinds']}; "
                                        f"--quick: {QUICK['kinds']})")
    parser.add_argument("--out", type=Path, default=None,
                        help="where the JSON goes (benchmarks/results/widget_latency.json; "
                             "--quick: nowhere)")
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.out is None and not args.quick:
        args.out = DEFAULT_OUT
    try:
        args.levels = [int(v) for v in args.levels.split(",")]
    except ValueError:
        parser.error("--levels must be whole numbers separated by commas, e.g. 0,100")
    if (min(args.clicks, args.baseline, args.renders, args.runs) < 1
            or min(args.warmup, args.pace, *args.levels) < 0):
        parser.error("--clicks, --baseline, --renders and --runs must be at least 1; "
                     "--warmup, --pace and the levels at least 0")
    args.kinds = args.kinds.split(",")
    if not set(args.kinds) <= set(KINDS):
        parser.error(f"--kinds takes {', '.join(KINDS)}, comma-separated")
    if args.runs < 3 and not args.quick:
        print(f"note: {args.runs} run(s); medians are meant to be taken over 3 or more",
              file=sys.stderr)
    return args


def check_room(kinds: dict[str, Kind], args: argparse.Namespace) -> None:
    """Every pool holds the resumed labels and every click of a level."""
    clicks = args.warmup + 3 * args.clicks + args.baseline + 1
    for name, kind in kinds.items():
        room = len(kind.labels) - clicks
        if max(args.levels) > room:
            raise BenchmarkError(f"{name}: {len(kind.labels)} samples leave room for "
                                 f"{room} labels given before the clicks, not "
                                 f"{max(args.levels)}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        kinds = make_kinds(args.kinds)
        check_room(kinds, args)
    except (DatasetError, BenchmarkError) as exc:
        print(f"widget_latency: {exc}", file=sys.stderr)
        return 2
    for name, kind in kinds.items():
        print(f"{name}: {kind.what}", flush=True)
    runs = [one_run(kinds, args, r) for r in range(1, args.runs + 1)]
    per_run = [flatten(run) for run in runs]
    rows = figure_labels([f"{k}/{level}" for k in args.kinds for level in args.levels])
    medians = {key: statistics.median(f[key] for f in per_run) for key, _, _ in rows}
    report = rounded({
        "benchmark": "widget_latency",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - started,
        "parameters": {
            "runs": args.runs, "clicks": args.clicks, "baseline": args.baseline,
            "renders": args.renders, "warmup": args.warmup, "levels": args.levels,
            "pace_s": args.pace, "seed": args.seed, "kinds": args.kinds,
            "items": {name: kind.what for name, kind in kinds.items()},
            "mnist_files": dict(BUNDLED_SHA256),
            "price_msat": PRICE_MSAT, "block_size": 1, "prefetch": 8,
            "stack": "local_stack(): alsats-backend --simnet in a subprocess, loopback",
            "session": "pool mode's defaults: auto, margin sampling, fitted in the "
                       "background",
        },
        "environment": {
            "python": sys.version.split()[0], "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "numpy": np.__version__,
            "ipywidgets": ipywidgets.__version__, "pillow": PIL.__version__,
        },
        "median": medians,
        "runs": [{"figures": f, "detail": run} for f, run in zip(per_run, runs, strict=True)],
    })
    print()
    print(table(rows, report["median"], [r["figures"] for r in report["runs"]], args.runs))
    if args.out is not None:
        write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
