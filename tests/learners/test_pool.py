"""PoolLearner: the widget's mode, query -> teach over an uploaded pool."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from backend.config import PoolRules
from backend.learners import LearnerError, PoolLearner, diversity
from backend.learners import pool as pool_module
from backend.learners.diversity import MIN_GAP, diverse_sampling
from backend.learners.model import SessionClassifier
from backend.learners.spreading import GraphSpreading

from .conftest import DIGITS

FAST = "logistic_regression"  # for tests of bookkeeping, where the estimator doesn't matter


@pytest.fixture
def small(digits) -> tuple[np.ndarray, np.ndarray]:
    """60 digits: a pool small enough to label completely."""
    return digits.X_train[:60], digits.y_train[:60]


def taught(learner: PoolLearner, y: np.ndarray, indices) -> None:
    indices = list(indices)
    learner.teach_many([int(i) for i in indices], [int(y[i]) for i in indices])


def test_first_query_is_diverse_and_deterministic(digits) -> None:
    learner = PoolLearner(digits.X_train, DIGITS)
    first = learner.query(10)
    assert first["model_version"] == 0
    indices = [s["index"] for s in first["samples"]]
    assert indices != list(range(10)) and len(set(indices)) == 10
    assert len(set(digits.y_train[indices])) >= 7
    assert all(s["uncertainty"] == 1.0 and s["predicted"] is None for s in first["samples"])
    assert learner.query(10) == first
    assert PoolLearner(digits.X_train, DIGITS, random_state=0).query(10) == first


def test_the_first_questions_are_one_per_cluster_then_the_models() -> None:
    rng = np.random.default_rng(0)
    centres = 100 * np.eye(3)
    pool = np.vstack([rng.normal(c, 1.0, (40, 3)) for c in centres])
    blob = np.repeat([0, 1, 2], 40)
    learner = PoolLearner(pool, ["a", "b", "c"], estimator="label_spreading")
    first = [s["index"] for s in learner.query(3)["samples"]]
    assert sorted(blob[first]) == [0, 1, 2]
    assert blob[learner.query(1, exclude=[first[0]])["samples"][0]["index"]] != blob[first[0]]
    learner.teach(first[0], "a")
    assert blob[learner.query(1)["samples"][0]["index"]] != blob[first[0]]
    learner.teach_many(first[1:], ["b", "c"])  # as many labels as clusters: the model asks
    asked = learner.query(3)["samples"]
    assert all(s["predicted"] is not None for s in asked)


def test_cold_start_moves_away_from_labeled(small) -> None:
    X, y = small
    learner = PoolLearner(X, DIGITS, estimator=FAST)
    zeros = np.flatnonzero(y == 0)
    taught(learner, y, zeros)  # one class only: still no model
    assert learner.estimator_ is None
    picked = [s["index"] for s in learner.query(5)["samples"]]
    assert not set(picked) & set(zeros.tolist())
    assert all(y[i] != 0 for i in picked)


def test_after_fitting_queries_rank_by_uncertainty(small) -> None:
    X, y = small
    learner = PoolLearner(X, DIGITS, estimator=FAST, strategy="uncertainty")
    taught(learner, y, range(20))
    samples = learner.query(3)["samples"]  # few enough that no near-duplicate must fill in
    scores = [s["uncertainty"] for s in samples]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s["uncertainty"] <= 0.9 and s["predicted"] in DIGITS for s in samples)
    assert learner.query(3)["samples"] == samples


def test_each_pick_names_the_models_two_likeliest_classes(digits) -> None:
    X, y = digits.X_train[:300], digits.y_train[:300]
    learner = PoolLearner(X, DIGITS)  # the widget's: label spreading, margin sampling
    assert all(s["top_classes"] is None for s in learner.query(4)["samples"])  # no model
    taught(learner, y, range(12))
    proba = learner._model.predict_proba(learner._pool)
    for sample in learner.query(8)["samples"]:
        first, second = sample["top_classes"]
        assert first["label"] == sample["predicted"]
        assert type(first["label"]) is int and first["label"] != second["label"]
        row = proba[sample["index"]]
        assert first["probability"] == row.max() == row[DIGITS.index(first["label"])]
        assert second["probability"] == np.sort(row)[-2]
        # the margin strategy's score is the gap between the two, turned around
        assert sample["uncertainty"] == pytest.approx(
            1 - (first["probability"] - second["probability"]))


def test_taught_indices_never_come_back(small) -> None:
    X, y = small
    learner = PoolLearner(X, DIGITS, estimator=FAST)
    seen: set[int] = set()
    for _ in range(4):
        picked = [s["index"] for s in learner.query(5)["samples"]]
        assert not set(picked) & seen
        taught(learner, y, picked)
        seen |= set(picked)
    rest = [s["index"] for s in learner.query(1000)["samples"]]
    assert len(rest) == 60 - 20 and not set(rest) & seen
    assert set(learner.labels()) == seen and learner.n_labeled == 20


def test_excluded_samples_are_never_offered_before_the_model_is_fitted(small) -> None:
    X, _ = small
    learner = PoolLearner(X, DIGITS, estimator=FAST)
    first = [s["index"] for s in learner.query(10)["samples"]]
    again = learner.query(10, exclude=first[:5] + first[:2])  # repeats are allowed
    picked = [s["index"] for s in again["samples"]]
    assert len(picked) == 10 and not set(picked) & set(first[:5])
    assert again["model_version"] == 0 and learner.query(10)["samples"][0]["index"] == first[0]
    rest = [s["index"] for s in learner.query(10, exclude=list(range(3, 60)))["samples"]]
    assert sorted(rest) == [0, 1, 2]  # fewer than k remain: fewer come back


def test_the_spread_out_picks_move_away_from_excluded_samples() -> None:
    """What the first questions are while the graph is still being built."""
    rng = np.random.default_rng(0)
    near, far = rng.normal(0.0, 0.1, (50, 2)), rng.normal(100.0, 0.1, (50, 2))
    pool = np.vstack([near, far])
    for seed in range(5):
        assert diverse_sampling(pool, 1, labeled=np.asarray([0]), random_state=seed)[0] >= 50


def test_excluding_the_most_uncertain_offers_the_next_ones(small) -> None:
    X, y = small
    learner = PoolLearner(X, DIGITS, estimator=FAST)
    taught(learner, y, range(20))
    ranked = learner.query(8)["samples"]
    top = [s["index"] for s in ranked[:3]]
    assert learner.query(5, exclude=top)["samples"] == ranked[3:]
    assert learner.query(5, exclude=np.array(top[::-1]))["samples"] == ranked[3:]
    assert learner.query(8)["samples"] == ranked and learner.n_labeled == 20  # no state
    everything = learner.query(5, exclude=list(range(20, 60)))
    assert everything == {"samples": [], "model_version": 1, "labels_version": 1}
    assert learner.query(5, exclude=list(range(60)))["samples"] == []


def test_undo_brings_a_sample_back(small) -> None:
    X, y = small
    learner = PoolLearner(X, DIGITS, estimator=FAST)
    taught(learner, y, range(10))
    before = learner.estimator_.predict_proba(X)
    assert learner.teach(10, int(y[10]))["n_labeled"] == 11
    out = learner.undo(10)
    assert out == {"index": 10, "label": int(y[10]), "n_labeled": 10, "model_version": 3}
    assert 10 not in learner.labels()
    assert 10 in [s["index"] for s in learner.query(1000)["samples"]]
    # The model depends on the set of labels only, so undo gives the old model back.
    np.testing.assert_array_equal(learner.estimator_.predict_proba(X), before)


def test_teaching_twice_replaces(small) -> None:
    X, y = small
    learner = PoolLearner(X, DIGITS, estimator=FAST)
    first = learner.teach(0, 1)
    assert first == {
        "index": 0,
        "label": 1,
        "previous": None,
        "replaced": False,
        "n_labeled": 1,
        "model_version": 1,
    }
    second = learner.teach(0, 2)
    assert second["replaced"] is True and second["previous"] == 1
    assert second["n_labeled"] == 1 and second["model_version"] == 2
    same = learner.teach(0, 2)  # no change, no refit
    assert same["model_version"] == 2 and same["previous"] == 2
    assert learner.labels() == {0: 2}


def test_rejected_calls_change_nothing(small) -> None:
    X, y = small
    learner = PoolLearner(X, DIGITS, estimator=FAST)
    taught(learner, y, range(10))
    state = (learner.labels(), learner.n_labeled, learner.model_version, learner.query(5))
    bad_calls = [
        lambda: learner.teach(60, 1),
        lambda: learner.teach(-1, 1),
        lambda: learner.teach(True, 1),
        lambda: learner.teach(11, 10),
        lambda: learner.teach(11, "1"),
        lambda: learner.teach_many([11, 12, 13], [1, 2, 99]),
        lambda: learner.teach_many([11, 12, 11], [1, 2, 3]),
        lambda: learner.teach_many([11, 12], [1]),
        lambda: learner.undo(11),
        lambda: learner.undo(600),
        lambda: learner.query(0),
        lambda: learner.query(1001),
        lambda: learner.query(2.0),
        lambda: learner.query(5, exclude=[60]),
        lambda: learner.query(5, exclude=[1, True]),
        lambda: learner.query(5, exclude="1"),
        lambda: learner.query(5, exclude=None),
        lambda: learner.query(5, exclude=[0] * 61),
    ]
    for call in bad_calls:
        with pytest.raises(LearnerError):
            call()
    assert (learner.labels(), learner.n_labeled, learner.model_version, learner.query(5)) == state


def test_rejected_messages(small) -> None:
    learner = PoolLearner(small[0], DIGITS)
    with pytest.raises(LearnerError, match=r"^index 60 is out of range: the pool has 60 samples"):
        learner.teach(60, 1)
    with pytest.raises(LearnerError, match=r"^label 10 is not one of the session's classes"):
        learner.teach(0, 10)
    with pytest.raises(LearnerError, match="^pool sample 3 has no label to undo$"):
        learner.undo(3)
    with pytest.raises(LearnerError, match="^index 5 appears twice in one call$"):
        learner.teach_many([5, 5], [1, 1])


def test_failed_fit_changes_nothing(small, monkeypatch) -> None:
    X, y = small
    learner = PoolLearner(X, DIGITS, estimator=FAST)
    taught(learner, y, range(10))
    estimator = learner.estimator_

    def broken_fit(self, X, y):
        raise MemoryError

    monkeypatch.setattr(SessionClassifier, "fit", broken_fit)
    for call in (lambda: learner.teach(20, 1), lambda: learner.undo(0)):
        with pytest.raises(MemoryError):
            call()
    assert learner.n_labeled == 10 and learner.model_version == 1
    assert learner.estimator_ is estimator


def test_label_order_does_not_matter(small) -> None:
    X, y = small
    forward = PoolLearner(X, DIGITS, estimator=FAST)
    backward = PoolLearner(X, DIGITS, estimator=FAST)
    for i in range(12):
        forward.teach(i, int(y[i]))
    taught(backward, y, reversed(range(12)))
    assert forward.labels() == backward.labels()
    np.testing.assert_array_equal(
        forward.estimator_.predict_proba(X), backward.estimator_.predict_proba(X)
    )


def test_fully_labeled_pool_queries_nothing(small) -> None:
    X, y = small
    learner = PoolLearner(X[:12], DIGITS, estimator=FAST)
    taught(learner, y, range(11))
    assert [s["index"] for s in learner.query(5)["samples"]] == [11]
    learner.teach(11, int(y[11]))
    assert learner.query(5) == {"samples": [], "model_version": 2, "labels_version": 2}


def test_images_are_flattened_and_copied() -> None:
    images = np.random.default_rng(0).integers(0, 255, size=(30, 4, 5)).astype(np.uint8)
    learner = PoolLearner(images, ["even", "odd"])
    assert (learner.n_pool, learner.n_features, learner.n_labeled) == (30, 20, 0)
    first = learner.query(3)
    images[:] = 0  # the caller's array is not the learner's
    assert learner.query(3) == first
    learner.teach(0, "odd")
    assert learner.labels() == {0: "odd"}


def test_bad_pool_and_settings() -> None:
    with pytest.raises(LearnerError, match="pool contains NaN or infinity at row 1"):
        PoolLearner([[0.0], [np.nan]], DIGITS)
    with pytest.raises(LearnerError, match="pool has 3 samples, at most 2 are allowed"):
        PoolLearner(np.zeros((3, 1)), DIGITS, rules=PoolRules(max_samples=2))
    with pytest.raises(LearnerError, match="unknown strategy"):
        PoolLearner(np.zeros((3, 1)), DIGITS, strategy="random")


def test_holdout_predictions_follow_the_newest_model(small, digits) -> None:
    X, y = small
    learner = PoolLearner(X, DIGITS, estimator=FAST)
    assert learner.n_holdout == 0
    assert learner.set_holdout(digits.X_test[:50]) == {"n_holdout": 50}
    assert learner.holdout_predictions() == {
        "predicted": None,
        "model_version": 0,
        "n_holdout": 50,
    }
    taught(learner, y, range(30))
    answer = learner.holdout_predictions()
    assert answer["model_version"] == 1 and answer["n_holdout"] == 50
    assert answer["predicted"] == learner.estimator_.predict(digits.X_test[:50]).tolist()
    assert all(type(label) is int for label in answer["predicted"])
    accuracy = np.mean(np.asarray(answer["predicted"]) == digits.y_test[:50])
    assert accuracy > 0.6
    learner.undo(0)
    assert learner.holdout_predictions()["model_version"] == 2


def test_holdout_predictions_are_computed_once_per_model_version(small, monkeypatch) -> None:
    X, y = small
    learner = PoolLearner(X, DIGITS, estimator=FAST)
    learner.set_holdout(X[:10])
    taught(learner, y, range(20))
    calls = []
    predict = SessionClassifier.predict

    def counted(self, X):
        calls.append(len(X))
        return predict(self, X)

    monkeypatch.setattr(SessionClassifier, "predict", counted)
    first = learner.holdout_predictions()
    first["predicted"].clear()  # the caller's copy, not the cache
    assert learner.holdout_predictions()["predicted"] == learner.estimator_.predict(X[:10]).tolist()
    assert calls == [10]
    learner.teach(20, int(y[20]))
    learner.holdout_predictions()
    learner.set_holdout(X[:12])  # a new set is predicted again, at the same version
    assert len(learner.holdout_predictions()["predicted"]) == 12
    assert calls == [10, 10, 12]


def test_bad_holdouts_change_nothing(small) -> None:
    X, y = small
    learner = PoolLearner(X, DIGITS, estimator=FAST)
    with pytest.raises(LearnerError, match="^no held-out set: upload one first$"):
        learner.holdout_predictions()
    holdout = X[:5].copy()
    learner.set_holdout(holdout)
    holdout[:] = np.nan  # the caller's array is not the learner's
    taught(learner, y, range(10))
    before = learner.holdout_predictions()
    bad = [
        (X[:3, :10], "holdout has 10 features, the pool has 64"),
        ([[0.0] * 64, [np.nan] * 64], "holdout contains NaN or infinity at row 1"),
        (np.zeros((0, 64)), "holdout contains no samples"),
        (np.zeros((2, 2, 2, 2)), "holdout images must have 1, 3 or 4 channels"),
        (np.array(["a", "b"]), "holdout must be a 2-D array of numbers: got strings"),
    ]
    for x, message in bad:
        with pytest.raises(LearnerError, match=message):
            learner.set_holdout(x)
    assert learner.holdout_predictions() == before and learner.n_holdout == 5
    assert learner.set_holdout(X[:3].reshape(3, 8, 8)) == {"n_holdout": 3}  # images: flat
    assert learner.holdout_predictions()["predicted"] == before["predicted"][:3]


def test_active_learning_reaches_85_percent_within_200_labels(digits) -> None:
    learner = PoolLearner(digits.X_train, DIGITS)  # random forest, uncertainty sampling
    accuracy = 0.0
    while learner.n_labeled < 200 and accuracy <= 0.85:
        picked = [s["index"] for s in learner.query(20)["samples"]]
        taught(learner, digits.y_train, picked)
        accuracy = (learner.estimator_.predict(digits.X_test) == digits.y_test).mean()
    assert accuracy > 0.85, (learner.n_labeled, accuracy)


def three_clusters() -> tuple[np.ndarray, np.ndarray]:
    """300 samples in three far-apart blobs of 100, class = blob."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(300, n_features=8, centers=3, cluster_std=0.5, random_state=0)
    return X.astype(np.float32), y


def test_discoveries_are_due_at_2_6_10_and_so_on_below_30():
    from backend.learners.diversity import discoveries_due

    assert [discoveries_due(n, 1) for n in range(12)] == [0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0]
    assert discoveries_due(0, 30) == 7 and discoveries_due(26, 10) == 1
    assert discoveries_due(30, 100) == 0


def test_least_reached_goes_where_no_label_is():
    from backend.learners.diversity import least_reached
    from backend.learners.spreading import GraphSpreading

    X, y = three_clusters()
    graph = GraphSpreading(random_state=0).fit_graph(X)
    seen = np.concatenate([np.flatnonzero(y == 0)[:3], np.flatnonzero(y == 1)[:3]])
    picks = least_reached(graph, seen, 2)
    assert len(set(picks.tolist())) == 2 and not set(picks.tolist()) & set(seen.tolist())
    assert y[picks[0]] == 2  # the blob no label reaches
    assert not np.isin(picks, graph.indices_[seen].ravel()).any()


@pytest.mark.parametrize("estimator", ["label_spreading", "auto"])
def test_a_learner_of_the_graph_asks_where_a_class_may_hide(estimator):
    """With labels in two blobs of three, the question numbered 6 goes to the third."""
    X, y = three_clusters()
    X -= X.min()  # values on one non-negative scale, as pixels: auto's model is spreading's
    learner = PoolLearner(X, [0, 1, 2], estimator=estimator)
    taught(learner, y, np.concatenate([np.flatnonzero(y == 0)[:3], np.flatnonzero(y == 1)[:3]]))
    assert y[learner.query(1)["samples"][0]["index"]] == 2


def test_between_discoveries_the_measure_asks():
    """Three blobs, labels in the first two: the question numbered 6 goes to the blob no
    label reaches; the seventh to where the model is least sure."""
    X, y = three_clusters()
    X -= X.min()
    learner = PoolLearner(X, [0, 1, 2], estimator="label_spreading")
    taught(learner, y, np.concatenate([np.flatnonzero(y == 0)[:3], np.flatnonzero(y == 1)[:3]]))
    discovery = learner.query(1)["samples"][0]
    assert y[discovery["index"]] == 2
    taught(learner, y, [np.flatnonzero(y == 0)[3]])
    asked = learner.query(1)["samples"][0]
    assert asked["uncertainty"] == max(learner.query(50)["samples"],
                                       key=lambda s: s["uncertainty"])["uncertainty"]


def test_on_a_table_auto_asks_by_its_measure_alone():
    """Three overlapping blobs in a row, labels in the first two: auto's model for a
    table (logistic regression) is not the graph's, so the question numbered 6 goes where
    the two known classes meet, not to the far blob (discovery questions are the graph
    learners')."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 100)
    X = np.hstack([np.asarray([[10, 10], [12.5, 10], [15, 10]])[y] + rng.normal(size=(300, 2)),
                   np.zeros((300, 6))]).astype(np.float32) - 12
    learner = PoolLearner(X, [0, 1, 2])
    taught(learner, y, np.concatenate([np.flatnonzero(y == 0)[:3], np.flatnonzero(y == 1)[:3]]))
    assert y[learner.query(1)["samples"][0]["index"]] in (0, 1)


def test_a_supervised_learner_keeps_to_its_measure():
    X, y = three_clusters()
    learner = PoolLearner(X, [0, 1, 2], estimator=FAST, strategy="margin")
    taught(learner, y, np.concatenate([np.flatnonzero(y == 0)[:3], np.flatnonzero(y == 1)[:3]]))
    sample = learner.query(1)["samples"][0]
    scores = learner.query(300)["samples"]
    assert sample["uncertainty"] == max(s["uncertainty"] for s in scores)


def test_a_pool_larger_than_its_graph_learns_on_landmarks(digits, monkeypatch) -> None:
    """A pool of more than MAX_NODES samples (here: more than 400) gets a landmark graph:
    the cold start, discovery questions, near-duplicates and spreading all work on it."""
    monkeypatch.setattr(pool_module, "GraphSpreading",
                        functools.partial(GraphSpreading, max_nodes=400))
    monkeypatch.setattr(diversity, "MIN_GAP", 0.0)  # these digits' eigengap is small
    X, y = digits.X_train, digits.y_train
    learner = PoolLearner(X, DIGITS, estimator="label_spreading")
    first = [s["index"] for s in learner.query(10)["samples"]]
    graph = learner._graph
    assert len(graph.nodes_) == 400 and set(first) <= set(graph.nodes_)
    assert len(set(y[first])) >= 8
    taught(learner, y, first)
    asked = learner.query(20)["samples"]
    picked = [s["index"] for s in asked]
    assert len(set(graph.nearest_nodes(picked))) == 20  # no two hang on one landmark
    assert all(s["predicted"] is not None for s in asked)
    for _ in range(20):
        i = learner.query(1)["samples"][0]["index"]
        learner.teach(i, int(y[i]))
    learner.set_holdout(digits.X_test)
    predicted = learner.holdout_predictions()["predicted"]
    assert np.mean(np.asarray(predicted) == digits.y_test) > 0.8  # 40 labels, 400 landmarks


def test_an_owned_pool_is_kept_without_a_copy(digits) -> None:
    pool = digits.X_train.astype(np.uint8)
    owned = PoolLearner(pool, DIGITS, owned=True)
    copied = PoolLearner(pool, DIGITS)
    assert np.shares_memory(owned._pool, pool) and not np.shares_memory(copied._pool, pool)
    assert not owned._pool.flags.writeable
    floats = digits.X_train.astype(np.float64)  # kept as float32: a copy, owned or not
    assert not np.shares_memory(PoolLearner(floats, DIGITS, owned=True)._pool, floats)


def test_clusters_are_used_only_where_the_graph_has_them() -> None:
    """Three blobs have a wide eigengap at 3 clusters; uniform noise has none, and there
    the first questions stay spread out (no spectral cuts of nothing)."""
    X, _ = three_clusters()
    blobs = PoolLearner(X - X.min(), [0, 1, 2])
    blobs.query(1)
    assert blobs._clusters is not None and blobs._clusters.gap > MIN_GAP
    noise = np.random.default_rng(0).uniform(size=(300, 8)).astype(np.float32)
    flat = PoolLearner(noise, [0, 1, 2])
    flat.query(1)
    assert flat._graph is not None and flat._clusters is None
