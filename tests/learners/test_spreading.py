"""GraphSpreading: labels spread over the pool's own shape, on real (8x8) digits."""

from __future__ import annotations

import numpy as np
import pytest
from modAL.uncertainty import classifier_uncertainty, uncertainty_sampling
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from backend.learners.spreading import UNLABELED, GraphSpreading


def one_per_class(y: np.ndarray) -> np.ndarray:
    """y with one label kept per class (the first sample of each), the rest -1."""
    partial = np.full(len(y), UNLABELED)
    for label in np.unique(y):
        first = np.flatnonzero(y == label)[0]
        partial[first] = label
    return partial


def test_ten_labels_and_the_pool_beat_ten_labels_alone(digits) -> None:
    X, y = digits.X_train, digits.y_train
    partial = one_per_class(y)
    model = GraphSpreading(n_components=30).fit(X, partial)
    held_out = np.mean(model.predict(digits.X_test) == digits.y_test)
    pool = np.mean(model.transduction_ == y)
    seen = partial != UNLABELED
    alone = LogisticRegression(max_iter=2000).fit(X[seen], y[seen])
    assert held_out > 0.85 and pool > 0.85  # ten labels, one per digit
    assert held_out > np.mean(alone.predict(digits.X_test) == digits.y_test) + 0.1


def test_a_persons_labels_are_kept_and_probabilities_are_proper(digits) -> None:
    X, y = digits.X_train, digits.y_train
    partial = np.full(len(y), UNLABELED)
    partial[:40] = y[:40]
    partial[40] = (y[40] + 1) % 10  # a label the neighbours disagree with: still kept
    model = GraphSpreading(n_components=30, readout=False).fit(X, partial)
    assert (model.transduction_[:41] == partial[:41]).all()
    proba = model.predict_proba(digits.X_test)
    assert proba.shape == (len(digits.X_test), len(model.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba >= 0).all()
    np.testing.assert_array_equal(model.predict(digits.X_test),
                                  model.classes_[proba.argmax(axis=1)])


def test_spread_reuses_the_graph_and_equals_a_fresh_fit(digits) -> None:
    X, y = digits.X_train[:400], digits.y_train[:400]
    few, more = np.full(400, UNLABELED), np.full(400, UNLABELED)
    few[:10], more[:30] = y[:10], y[:30]
    model = GraphSpreading(n_components=20).fit(X, few)
    graph = model.affinity_
    model.spread(more)
    assert model.affinity_ is graph  # no new graph for new labels
    fresh = GraphSpreading(n_components=20).fit(X, more)
    np.testing.assert_allclose(model.label_distributions_, fresh.label_distributions_)


def test_only_the_classes_labeled_are_known(digits) -> None:
    X, y = digits.X_train, digits.y_train
    partial = np.where(np.isin(y, [3, 7]), y, UNLABELED)
    partial[np.flatnonzero(partial != UNLABELED)[10:]] = UNLABELED  # a few 3s and 7s
    model = GraphSpreading().fit(X, partial)
    assert model.classes_.tolist() == [3, 7]
    assert set(model.predict(digits.X_test)) <= {3, 7}


def test_modals_measures_and_scikit_learns_conventions_apply(digits) -> None:
    X, y = digits.X_train, digits.y_train
    model = GraphSpreading(n_components=30)
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        model.predict(X)
    model.fit(X, one_per_class(y))
    scores = classifier_uncertainty(model, X)
    assert scores.shape == (len(X),) and 0 <= scores.min() <= scores.max() <= 1
    picked, _ = uncertainty_sampling(model, X, n_instances=5)
    assert len(set(picked.tolist())) == 5


def test_an_island_no_label_reaches_is_uniform_not_nan() -> None:
    rng = np.random.default_rng(0)
    near, far = rng.normal(0, 1, (30, 5)), rng.normal(1000, 1, (30, 5))
    y = np.full(60, UNLABELED)
    y[0], y[1] = 0, 1  # both in the first cluster; none in the far one
    model = GraphSpreading(n_components=5, n_neighbors=5).fit(np.vstack([near, far]), y)
    assert np.isfinite(model.label_distributions_).all()
    np.testing.assert_allclose(model.label_distributions_[30:], 0.5)
    assert np.isfinite(model.predict_proba(rng.normal(5000, 1, (3, 5)))).all()


@pytest.mark.parametrize(("y", "message"), [
    (np.full(20, UNLABELED), "no labeled sample"),
    (np.zeros(19), r"one label per fitted sample \(20\)"),
])
def test_bad_labels_are_refused(y, message) -> None:
    X = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(ValueError, match=message):
        GraphSpreading(n_components=4).fit(X, y)
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        GraphSpreading(alpha=1.0).fit(X, np.zeros(20))


# -- a landmark graph: a pool larger than max_nodes ----------------------------------------


def test_a_landmark_graph_learns_nearly_as_well_as_the_full_graph(digits) -> None:
    X, y = digits.X_train, digits.y_train
    partial = np.full(len(y), UNLABELED)
    rng = np.random.default_rng(0)
    taught = np.concatenate([rng.choice(np.flatnonzero(y == c), 3, replace=False)
                             for c in range(10)])
    partial[taught] = y[taught]
    full = GraphSpreading(n_components=30).fit(X, partial)
    landmarks = GraphSpreading(n_components=30, max_nodes=1000).fit(X.astype(np.uint8),
                                                                    partial)
    assert len(landmarks.nodes_) == 1000 and landmarks.affinity_.shape == (1000, 1000)
    assert full.nodes_ is None and full.anchors_ is None
    pool = {m: np.mean(m.transduction_ == y) for m in (full, landmarks)}
    held_out = {m: np.mean(m.predict(digits.X_test) == digits.y_test) for m in (full, landmarks)}
    assert pool[landmarks] > pool[full] - 0.03 and held_out[landmarks] > held_out[full] - 0.03
    assert pool[landmarks] > 0.85
    proba = landmarks.label_distributions_
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(landmarks.transduction_[taught], y[taught])  # kept
    exported = landmarks.to_pipeline()
    np.testing.assert_array_equal(exported.predict(digits.X_test),
                                  landmarks.predict(digits.X_test))


def test_each_sample_hangs_on_its_nearest_landmarks(digits) -> None:
    X = digits.X_train
    graph = GraphSpreading(n_components=30, max_nodes=300, n_anchors=4).fit_graph(X)
    anchors = graph.anchors_.toarray()
    np.testing.assert_allclose(anchors.sum(axis=1), 1.0, rtol=1e-5)
    assert (np.count_nonzero(anchors, axis=1) <= 4).all()
    np.testing.assert_array_equal(anchors[graph.nodes_], np.eye(300))  # a landmark: itself
    nearest = graph.nearest_nodes(np.arange(len(X)))
    np.testing.assert_array_equal(nearest, anchors.argmax(axis=1))
    np.testing.assert_array_equal(graph.node_samples(graph.node_rows(graph.nodes_)),
                                  graph.nodes_)
    assert (graph.node_rows(np.setdiff1d(np.arange(len(X)), graph.nodes_)) == -1).all()
    sample = 5
    near = graph.near([sample])
    assert sample in near and (nearest[near] == nearest[sample]).all()
    assert set(near) == set(np.flatnonzero(nearest == nearest[sample]))
