"""When label spreading helps and when not: small public datasets, raw and standardized.

Each dataset is split (70/30, stratified, seeded); the pool learner starts from 10
random labels and asks 20 more (margin sampling), then predicts the held-out 30%. Arms:
pool mode's default (``label_spreading``) and the seed's ``random_forest``, on the raw
features and on standardized ones (zero mean, unit variance per column, fitted on the
pool). Median held-out accuracy over the seeds. Runs in about a minute::

    python benchmarks/spreading_scope.py [--seeds 0 1 2] [--labels 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from report import rounded, write_json  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits, load_wine  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from backend.learners import PoolLearner  # noqa: E402

DATASETS = {
    "digits (8x8 images)": load_digits,
    "breast cancer (30 measurements)": load_breast_cancer,
    "wine (13 measurements)": load_wine,
}
ESTIMATORS = ("label_spreading", "random_forest")
DEFAULT_OUT = REPO / "benchmarks" / "results" / "spreading_scope.json"
START = 10  # random labels before the learner asks


def held_out_accuracy(X: np.ndarray, y: np.ndarray, estimator: str, scaled: bool,
                      labels: int, seed: int) -> float:
    pool, test, y_pool, y_test = train_test_split(X, y, test_size=0.3, random_state=seed,
                                                  stratify=y)
    if scaled:
        scaler = StandardScaler().fit(pool)
        pool, test = scaler.transform(pool), scaler.transform(test)
    learner = PoolLearner(pool, sorted(set(y.tolist())), estimator=estimator,
                          strategy="margin", random_state=seed)
    start = np.random.default_rng(seed).choice(len(pool), START, replace=False)
    learner.teach_many(start.tolist(), y_pool[start].tolist())
    for _ in range(labels - START):
        index = learner.query(1)["samples"][0]["index"]
        learner.teach(index, int(y_pool[index]))
    learner.set_holdout(test)
    return float(np.mean(np.asarray(learner.holdout_predictions()["predicted"]) == y_test))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--labels", type=int, default=30, help="labels in all (30)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.labels <= START:
        parser.error(f"--labels must be more than the {START} random ones")
    started = time.perf_counter()
    results = {}
    for name, load in DATASETS.items():
        X, y = load(return_X_y=True)
        for scaled in (False, True):
            row = f"{name}, {'standardized' if scaled else 'raw'}"
            results[row] = {}
            for estimator in ESTIMATORS:
                per_seed = [held_out_accuracy(X, y, estimator, scaled, args.labels, seed)
                            for seed in args.seeds]
                results[row][estimator] = {"median": statistics.median(per_seed),
                                           "per_seed": per_seed}
            print(f"{row:<48} " + "  ".join(
                f"{e} {results[row][e]['median']:.3f}" for e in ESTIMATORS), flush=True)
    report = rounded({
        "benchmark": "spreading_scope",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - started,
        "parameters": {"seeds": args.seeds, "labels": args.labels, "random_start": START,
                       "strategy": "margin", "split": "70/30 stratified, seeded"},
        "environment": {"python": sys.version.split()[0], "platform": platform.platform(),
                        "cpu_count": os.cpu_count(), "scikit-learn": sklearn.__version__},
        "held_out_accuracy": results,
    })
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
