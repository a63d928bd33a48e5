"""How often a batch of questions holds the same digit twice: with the rule and without.

The pool is the 10,000 MNIST test digits plus a second scan of each: fainter or darker
(ink scaled by 0.6 to 1.0) with sensor noise (8 grey levels), as a document scanned twice
or a frame grabbed twice would be. Each digit has a near-duplicate, then. A pool
learner (pool mode's defaults) starts from 10 random labels; then, round after round, it
is asked for the widget's queue of 8 (``query(8)``) and every sample asked is taught its
true label, as a person working through the queue would. Each round also ranks the same
model's scores plainly (the 8 best, no rule), and counts, for both, the questions that
are copies of a digit asked earlier in the same round. Usage::

    python benchmarks/near_duplicates.py [--rounds 40] [--seeds 0 1 2]
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
from report import rounded, write_json  # noqa: E402

from alsats_widget.datasets import Digits, pool_and_holdout  # noqa: E402
from backend.learners import PoolLearner  # noqa: E402
from backend.learners.strategies import Answered, top_k  # noqa: E402

DEFAULT_OUT = REPO / "benchmarks" / "results" / "near_duplicates.json"
QUEUE = 8  # the widget's prefetch
START = 10


def scanned_twice(seed: int = 0) -> Digits:
    """The t10k digits, each followed (at index + 10,000) by a fainter, noisier copy."""
    digits = pool_and_holdout()[0]
    rng = np.random.default_rng(seed)
    ink = rng.uniform(0.6, 1.0, size=(len(digits), 1, 1))
    noise = rng.normal(0, 8, size=digits.images.shape)
    copies = np.clip(digits.images * ink + noise, 0, 255).astype(np.uint8)
    return Digits(np.concatenate([digits.images, copies]), np.tile(digits.labels, 2),
                  "the 10,000 MNIST test digits, each scanned again (ink x0.6-1.0, noise 8)")


def repeats(picked: list[int], originals: int) -> int:
    """Questions in `picked` that copy a digit asked before them in the same batch."""
    seen: set[int] = set()
    count = 0
    for index in picked:
        digit = index % originals
        count += digit in seen
        seen.add(digit)
    return count


def plain_top(learner: PoolLearner, k: int) -> list[int]:
    """The k best scores of the learner's current model, without the rule."""
    model = learner._model
    scores = learner._measure(Answered(model.predict_proba(learner._pool), model.classes_),
                              learner._pool)
    scores[list(learner.labels())] = -np.inf
    return top_k(scores, k, 0).tolist()


def one_seed(images: np.ndarray, labels: np.ndarray, originals: int, rounds: int,
             seed: int) -> dict:
    learner = PoolLearner(images, list(range(10)), estimator="label_spreading",
                          random_state=seed)
    start = np.random.default_rng(seed).choice(len(labels), START, replace=False)
    learner.teach_many(start.tolist(), labels[start].tolist())
    with_rule, without = [], []
    for r in range(rounds):
        plain = plain_top(learner, QUEUE)
        picked = [s["index"] for s in learner.query(QUEUE)["samples"]]
        with_rule.append(repeats(picked, originals))
        without.append(repeats(plain, originals))
        learner.teach_many(picked, labels[picked].tolist())
        print(f"seed {seed}, round {r + 1}/{rounds}: repeats with the rule "
              f"{sum(with_rule)}, without {sum(without)}", file=sys.stderr, flush=True)
    questions = rounds * QUEUE
    return {"seed": seed, "questions": questions,
            "repeats_with_rule": sum(with_rule), "repeats_without_rule": sum(without),
            "rounds_with_a_repeat_with_rule": sum(v > 0 for v in with_rule),
            "rounds_with_a_repeat_without_rule": sum(v > 0 for v in without)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="queues of 8 per seed (40)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    pool = scanned_twice()
    originals = len(pool) // 2
    runs = [one_seed(pool.images, pool.labels, originals, args.rounds, seed)
            for seed in args.seeds]
    median = {key: statistics.median(run[key] for run in runs)
              for key in runs[0] if key != "seed"}
    report = rounded({
        "benchmark": "near_duplicates",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - started,
        "parameters": {"rounds": args.rounds, "queue": QUEUE, "random_start": START,
                       "seeds": args.seeds, "pool": pool.source,
                       "learner": "label_spreading, margin (pool mode's strategy)"},
        "environment": {"python": sys.version.split()[0], "platform": platform.platform(),
                        "cpu_count": os.cpu_count()},
        "median": median, "runs": runs,
    })
    print(f"of {median['questions']:.0f} questions (median over seeds), copies of a digit "
          f"already in the same queue of {QUEUE}: {median['repeats_with_rule']:.0f} with "
          f"the rule, {median['repeats_without_rule']:.0f} without; queues holding one: "
          f"{median['rounds_with_a_repeat_with_rule']:.0f} and "
          f"{median['rounds_with_a_repeat_without_rule']:.0f} of {args.rounds}")
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
