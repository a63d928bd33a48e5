"""Learners called from a thread pool, concurrently, stay consistent."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from backend.learners import PoolLearner, StreamLearner, export_model

from .conftest import DIGITS


def run_together(workers: list[Callable[[], None]]) -> list[BaseException]:
    """Start all workers at once; return what they raised."""
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(work: Callable[[], None]) -> None:
        barrier.wait()
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def test_pool_learner_under_concurrent_teach_query_undo(digits) -> None:
    X, y = digits.X_train[:80], digits.y_train[:80]
    learner = PoolLearner(X, DIGITS, estimator="logistic_regression")
    learner.set_holdout(digits.X_test[:20])
    seen_versions: list[int] = []

    def teacher(start: int) -> Callable[[], None]:
        def work() -> None:
            for i in range(start, start + 6):
                out = learner.teach(i, int(y[i]))
                seen_versions.append(out["model_version"])
                for sample in learner.query(3)["samples"]:
                    assert 0 <= sample["index"] < 80
            learner.undo(start)  # each teacher takes its first label back

        return work

    def reader() -> None:
        for _ in range(10):
            learner.query(5)
            learner.labels()
            if learner.estimator_ is not None:
                export_model(learner)

    def holdout_reader() -> None:
        for _ in range(10):
            answer = learner.holdout_predictions()
            assert answer["predicted"] is None or len(answer["predicted"]) == 20

    errors = run_together([teacher(s) for s in (0, 10, 20, 30)] + [reader, holdout_reader])
    assert errors == []
    expected = {i: int(y[i]) for s in (0, 10, 20, 30) for i in range(s + 1, s + 6)}
    assert learner.labels() == expected
    assert learner.n_labeled == 20
    assert learner.model_version == 4 * 6 + 4
    assert sorted(seen_versions) == sorted(set(seen_versions))  # no two teaches shared a fit
    query = {s["index"] for s in learner.query(80)["samples"]}
    assert query == set(range(80)) - set(expected)
    predicted = learner.estimator_.predict(digits.X_test[:20]).tolist()
    assert learner.holdout_predictions()["predicted"] == predicted  # not a stale cache


def test_stream_learner_under_concurrent_train_label(digits) -> None:
    learner = StreamLearner(DIGITS, estimator="logistic_regression")
    batches = np.array_split(np.arange(120), 6)

    def trainer(rows: np.ndarray) -> Callable[[], None]:
        return lambda: learner.train(digits.X_train[rows], digits.y_train[rows])

    def labeler() -> None:
        for _ in range(5):
            out = learner.label(digits.X_test[:20])
            assert len(out["results"]) == 20

    errors = run_together([trainer(b) for b in batches] + [labeler, labeler])
    assert errors == []
    assert learner.n_labeled == 120 and learner.model_version == 6
