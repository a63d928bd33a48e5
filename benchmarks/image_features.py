"""Which image features should ``alsats_widget.features.image_features`` make? Measured.

Candidates are ``ImageFeaturizer`` settings: resized raw pixels, a colour histogram,
gradient-orientation histograms (HOG), and their combinations. Each is measured on real
images of three kinds, none written here:

- ``photo patches``: 32x32 colour patches of scikit-image's six sample photographs
  (``alsats_widget.examples.load_photo_patches``), the class is the photograph;
- ``mnist``: 2,000 of the bundled MNIST digits (grey, 28x28: resized to the working size);
- ``textures``: 32x32 grey patches of scikit-image's brick, grass and gravel photographs.

For each dataset, candidate, learner and seed: a stratified, seeded 70/30 split into a
pool and a held-out set; the candidate's features of both; then active learning with the
backend's own ``PoolLearner`` (margin sampling, from no label, its cold start first) with
``label_spreading``, ``random_forest`` and ``logistic_regression``: the true labels of
the samples it asks for are taught, and at 30, 100 and 300 labels the newest model
predicts the held-out set. Queries come in batches that grow with the labels (one at a
time up to 20 labels, then a tenth of the labels so far), the same for every arm, so the
full run takes minutes, not hours. Reported: each seed's held-out accuracy and the
median of the seeds, and per candidate the mean of those medians over every dataset,
learner and point (the figure the default is chosen by).

Also timed (median of 3 runs, one thread): ``image_features`` of 10,000 images, as a
uint8 array of 32x32 colour patches, as a list of PIL images, and as 28x28 grey digits.

Usage::

    python -m benchmarks.image_features [--quick] [--seeds 0 1 2] [--workers 2]
        [--partial runs.jsonl]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import threadpoolctl  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from alsats_widget.datasets import load_mnist  # noqa: E402
from alsats_widget.examples import load_photo_patches  # noqa: E402
from alsats_widget.features import IMAGE_PARTS, ImageFeaturizer, image_features  # noqa: E402
from backend.learners.pool import PoolLearner  # noqa: E402
from benchmarks.report import rounded, write_json  # noqa: E402

DEFAULT_OUT = REPO / "benchmarks" / "results" / "image_features.json"
LEARNERS = ("label_spreading", "random_forest", "logistic_regression")
POINTS = (30, 100, 300)
QUICK_POINTS = (30, 100)
TEST_SIZE = 0.3
MNIST_SIZE = 2000
TEXTURES = ("brick", "grass", "gravel")  # grey photographs in scikit-image's wheel
TIMED = 10_000
CANDIDATES: dict[str, dict] = {
    "pixels 16x16": {"parts": ("pixels",), "thumbnail": 16},
    "gradients": {"parts": ("gradients",)},
    "colour + gradients": {"parts": ("colour", "gradients")},
    "pixels 8x8 + colour + gradients": {"parts": ("pixels", "colour", "gradients")},
}


# -- the datasets -------------------------------------------------------------------------

def photo_patches() -> tuple[np.ndarray, np.ndarray]:
    example = load_photo_patches()
    return example.items, example.target


def mnist() -> tuple[np.ndarray, np.ndarray]:
    digits = load_mnist()
    keep, _ = train_test_split(np.arange(len(digits)), train_size=MNIST_SIZE,
                               stratify=digits.labels, random_state=0)
    keep = np.sort(keep)
    return digits.images[keep], digits.labels[keep].astype(str)


def textures() -> tuple[np.ndarray, np.ndarray]:
    folder = resources.files("skimage") / "data"
    patches, target = [], []
    for name in TEXTURES:
        with Image.open(folder / f"{name}.png") as image:
            grey = np.asarray(image.convert("L"))
        side = grey.shape[0] // 32 * 32, grey.shape[1] // 32 * 32
        grid = grey[:side[0], :side[1]].reshape(side[0] // 32, 32, side[1] // 32, 32)
        cut = grid.transpose(0, 2, 1, 3).reshape(-1, 32, 32)
        patches.append(cut)
        target += [name] * len(cut)
    return np.concatenate(patches), np.asarray(target)


DATASETS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
    "photo patches": photo_patches,
    "mnist": mnist,
    "textures": textures,
}


# -- one run ------------------------------------------------------------------------------

def batch(n: int) -> int:
    """Samples per query once ``n`` are labeled: one at a time at first, then a tenth."""
    return 1 if n < 20 else max(1, n // 10)


def run(dataset: str, candidate: str, learner: str, seed: int,
        points: tuple[int, ...]) -> dict:
    """Held-out accuracy at each point of one (dataset, candidate, learner, seed)."""
    with threadpoolctl.threadpool_limits(1):
        images, target = DATASETS[dataset]()
        pool, test = train_test_split(np.arange(len(target)), test_size=TEST_SIZE,
                                      stratify=target, random_state=seed)
        X_pool, featurizer = image_features(images[pool], **CANDIDATES[candidate])
        X_test, y_pool, y_test = featurizer.transform(images[test]), target[pool], target[test]
        learner_ = PoolLearner(X_pool, sorted(set(target.tolist())), estimator=learner,
                               strategy="margin", random_state=seed)
        learner_.set_holdout(X_test)
        accuracy = {}
        for point in points:
            while learner_.n_labeled < point:
                k = min(batch(learner_.n_labeled), point - learner_.n_labeled)
                picked = [s["index"] for s in learner_.query(k)["samples"]]
                learner_.teach_many(picked, [str(y_pool[i]) for i in picked])
            predicted = learner_.holdout_predictions()["predicted"]
            accuracy[str(point)] = float(np.mean(np.asarray(predicted) == y_test))
    return {"dataset": dataset, "candidate": candidate, "learner": learner, "seed": seed,
            "accuracy": accuracy}


def timing(repeats: int = 3) -> dict:
    """Seconds for image_features of 10,000 images, three ways (median of ``repeats``)."""
    patches = load_photo_patches().items
    array = np.resize(patches, (TIMED, *patches.shape[1:]))  # repeats the 1,936 patches
    pil = [Image.fromarray(a) for a in array]
    digits = load_mnist().images[:TIMED]
    inputs = {"32x32 RGB uint8 array": array, "32x32 RGB PIL images": pil,
              "28x28 grey uint8 array (resized)": digits}
    out = {}
    with threadpoolctl.threadpool_limits(1):
        for name, images in inputs.items():
            seconds = []
            for _ in range(repeats):
                start = time.perf_counter()
                image_features(images)
                seconds.append(time.perf_counter() - start)
            out[name] = {"median_s": statistics.median(seconds), "runs_s": seconds}
    out["load_average_1min"] = os.getloadavg()[0]  # other work on the machine slows it
    return out


def _key(r: dict) -> tuple:
    return r["dataset"], r["candidate"], r["learner"], r["seed"]


def _finished(partial: Path | None, jobs: list[tuple]) -> list[dict]:
    """The runs of ``jobs`` already in ``partial`` (with every point asked for)."""
    if partial is None or not partial.exists():
        return []
    wanted = {job[:4]: job[4] for job in jobs}
    runs = [json.loads(line) for line in partial.read_text().splitlines() if line.strip()]
    return [r for r in runs if _key(r) in wanted
            and list(r["accuracy"]) == [str(p) for p in wanted[_key(r)]]]


# -- the report ---------------------------------------------------------------------------

def summarize(runs: list[dict], points: tuple[int, ...]) -> dict:
    """Medians over seeds per (dataset, candidate, learner, point), and each
    candidate's mean of them."""
    medians: dict = {}
    for r in runs:
        cell = medians.setdefault(r["dataset"], {}).setdefault(r["candidate"], {})
        cell.setdefault(r["learner"], {p: [] for p in map(str, points)})
        for p, value in r["accuracy"].items():
            cell[r["learner"]][p].append(value)
    means: dict[str, list[float]] = {}
    for by_candidate in medians.values():
        for candidate, by_learner in by_candidate.items():
            for by_point in by_learner.values():
                for p, values in by_point.items():
                    by_point[p] = {"median": statistics.median(values), "seeds": values}
                    means.setdefault(candidate, []).append(by_point[p]["median"])
    return {"medians": medians,
            "mean_of_medians": {c: statistics.fmean(v) for c, v in means.items()}}


def table(summary: dict, points: tuple[int, ...]) -> str:
    """One line per dataset and candidate: each learner's medians at each point."""
    head = "  ".join(f"{learner[:6]:>6}@{p:<3}" for learner in LEARNERS for p in points)
    lines = [f"{'dataset':<14} {'candidate':<32} {head}"]
    for dataset, by_candidate in summary["medians"].items():
        for candidate, by_learner in by_candidate.items():
            cells = "  ".join(f"{100 * by_learner[learner][str(p)]['median']:>10.1f}"
                              for learner in LEARNERS for p in points)
            lines.append(f"{dataset:<14} {candidate:<32} {cells}")
    lines.append("")
    lines.append("mean of the medians over datasets, learners and points:")
    ranked = sorted(summary["mean_of_medians"].items(), key=lambda kv: -kv[1])
    lines += [f"  {100 * mean:5.1f}  {candidate}" for candidate, mean in ranked]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES),
                        choices=list(CANDIDATES))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS),
                        choices=list(DATASETS))
    parser.add_argument("--quick", action="store_true",
                        help="one seed, 30 and 100 labels, no timing; nothing written")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--partial", type=Path, default=None,
                        help="a JSON-lines file: each finished run is added to it, and the "
                        "runs already in it are not run again (to resume a long run)")
    args = parser.parse_args(argv)
    seeds, points = ([0], QUICK_POINTS) if args.quick else (args.seeds, POINTS)
    started = time.perf_counter()
    jobs = [(d, c, learner, s, points) for d in args.datasets for c in args.candidates
            for learner in LEARNERS for s in seeds]
    runs = _finished(args.partial, jobs)
    done, resumed = {_key(r) for r in runs}, len(runs)
    context = multiprocessing.get_context("spawn")  # no threads forked mid-flight
    with ProcessPoolExecutor(args.workers, mp_context=context) as executor:
        futures = [executor.submit(run, *job) for job in jobs if job[:4] not in done]
        for future in as_completed(futures):
            runs.append(future.result())
            if args.partial is not None:
                with args.partial.open("a") as partial:
                    partial.write(json.dumps(runs[-1]) + "\n")
            print(f"  {len(runs)}/{len(jobs)} runs", end="\r", flush=True, file=sys.stderr)
    order = {job[:4]: i for i, job in enumerate(jobs)}
    runs.sort(key=lambda r: order[_key(r)])
    summary = summarize(runs, points)
    print(table(summary, points))
    if args.quick:
        return
    timed = timing()
    for name, figures in timed.items():
        if isinstance(figures, dict):
            print(f"image_features of {TIMED:,} images, {name}: {figures['median_s']:.2f} s")
    print(f"(load average over the last minute: {timed['load_average_1min']:.1f})")
    report = {
        "benchmark": "image_features", "default_parts": list(IMAGE_PARTS),
        "default_params": ImageFeaturizer().get_params(),
        "candidates": {c: CANDIDATES[c] for c in args.candidates},
        "datasets": args.datasets, "learners": list(LEARNERS), "points": list(points),
        "seeds": seeds, "strategy": "margin", "test_size": TEST_SIZE,
        "runs_resumed": resumed,  # taken from --partial: wall_seconds leaves them out
        "batch": "1 up to 20 labels, then a tenth of the labels so far",
        **summary, "timing_10000_images": timed, "runs": runs,
        "environment": {"python": platform.python_version(), "numpy": np.__version__,
                        "scikit_learn": sklearn.__version__, "cpu_count": os.cpu_count(),
                        "threads_per_run": 1, "workers": args.workers},
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - started,
    }
    write_json(args.out, rounded(report))


if __name__ == "__main__":
    main()
