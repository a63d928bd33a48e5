"""A classifier over the session's full class list, whatever the labels seen so far.

Estimators only know the classes they were fitted on: a random forest fitted on 3s and
7s has two predict_proba columns. A session promises answers over all its classes, so
this wrapper fits the named estimator on the labels themselves (so the exported model
predicts real labels) and spreads its probabilities into one column per session class.
With fewer than two distinct labels there is nothing to discriminate: the wrapper stays
unfitted, and the strategies score every sample 1.0.

In pool mode (``fit_pool``) the model may instead spread labels over the pool's
neighbour graph, built once per pool and shared by every model version; or, named
``auto``, first choose between spreading and supervised estimators by how well each
predicts the labels kept as checks (``choice.py``), and say what it chose in ``choice_``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .blend import SpreadAndForest
from .choice import BLEND, FOREST, SPREADING, choose
from .registry import AUTO, DEFAULT_ESTIMATOR, make_estimator
from .spreading import UNLABELED, GraphSpreading
from .strategies import Measure
from .validation import Label


class SessionClassifier(ClassifierMixin, BaseEstimator):
    """scikit-learn classifier whose classes_ are the session's classes, all of them."""

    def __init__(
        self,
        classes: Sequence[Label],
        estimator: str = DEFAULT_ESTIMATOR,
        random_state: int = 0,
    ) -> None:
        self.classes = classes
        self.estimator = estimator
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> SessionClassifier:
        """Fit a fresh estimator on (X, y) if y holds two classes or more."""
        self.classes_ = np.asarray(self.classes)
        self.n_features_in_ = X.shape[1]
        self.choice_ = None
        if len(np.unique(y)) < 2:
            self.estimator_ = None
            return self
        return self._fit_supervised(self.estimator, X, y)

    def fit_pool(self, graph: GraphSpreading, pool: np.ndarray, codes: np.ndarray,
                 check_ranks: np.ndarray | None = None) -> SessionClassifier:
        """Fit on the pool's labels, `codes` (a position in classes per pool sample, -1:
        unlabeled): spread them over the pool's graph (built once per pool with
        ``fit_graph``, and shared by this model), or fit a supervised estimator on the
        labeled samples, in index order; ``auto`` first chooses which (``choice_``), by
        the labels that `check_ranks` makes checks (all of them without it)."""
        self.classes_ = np.asarray(self.classes)
        self.n_features_in_ = graph.n_features_in_
        self.choice_ = None
        labeled = codes != UNLABELED
        present = np.unique(codes[labeled])
        if len(present) < 2:
            self.estimator_ = None
            return self
        name = self.estimator
        if name == AUTO:
            self.choice_ = choose(graph, pool, codes, self.random_state, check_ranks)
            name = self.choice_.estimator
        if name not in (SPREADING, BLEND):
            return self._fit_supervised(name, pool[labeled], self.classes_[codes[labeled]])
        self.estimator_ = copy.copy(graph).spread(codes)
        if name == BLEND:
            forest = make_estimator(FOREST, self.random_state)
            self.estimator_ = SpreadAndForest(self.estimator_,
                                              forest.fit(pool[labeled], codes[labeled]))
        self.columns_ = present  # the graph's classes_ are the codes it was given
        return self

    def _fit_supervised(self, name: str, X: np.ndarray, y: np.ndarray) -> SessionClassifier:
        """The named estimator fitted on the labels themselves, so that an exported model
        predicts real labels; its columns placed among the session's classes."""
        estimator = make_estimator(name, self.random_state).fit(X, y)
        column = {c: i for i, c in enumerate(self.classes_.tolist())}
        self.columns_ = np.asarray([column[c] for c in estimator.classes_.tolist()])
        self.estimator_ = estimator
        return self

    def portable(self) -> Any:
        """The fitted model as plain scikit-learn, predicting the session's labels."""
        check_is_fitted(self)
        if isinstance(self.estimator_, GraphSpreading):
            return self.estimator_.to_pipeline(classes=self.classes_[self.columns_])
        if isinstance(self.estimator_, SpreadAndForest):
            return self.estimator_.to_voting(self.classes_[self.columns_])
        return self.estimator_

    def __sklearn_is_fitted__(self) -> bool:
        return getattr(self, "estimator_", None) is not None

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """One column per session class; classes the estimator never saw get 0."""
        check_is_fitted(self)
        inner = self.estimator_.predict_proba(X)
        proba = np.zeros((len(X), len(self.classes_)))
        proba[:, self.columns_] = inner
        return proba

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The inner estimator's own prediction, so an exported model agrees with it."""
        check_is_fitted(self)
        if isinstance(self.estimator_, GraphSpreading | SpreadAndForest):
            return self.classes_[self.estimator_.predict(X)]  # its classes are codes
        return self.estimator_.predict(X)


def assess(
    model: SessionClassifier, X: np.ndarray, measure: Measure
) -> tuple[np.ndarray, list[Label | None]]:
    """Each sample's score under `measure` and predicted label (None while unfitted)."""
    scores = measure(model, X)
    if not model.__sklearn_is_fitted__():
        return scores, [None] * len(X)
    return scores, model.predict(X).tolist()
