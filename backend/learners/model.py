"""A classifier over the session's full class list, whatever the labels seen so far.

Estimators only know the classes they were fitted on: a random forest fitted on 3s and
7s has two predict_proba columns. A session promises answers over all its classes, so
this wrapper fits the named estimator on the labels themselves (so the exported model
predicts real labels) and spreads its probabilities into one column per session class.
With fewer than two distinct labels there is nothing to discriminate: the wrapper stays
unfitted, and the strategies score every sample 1.0.

In pool mode the model may instead spread labels over the pool's neighbour graph
(``fit_spread``): the graph is built once per pool and shared by every model version.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .registry import DEFAULT_ESTIMATOR, make_estimator
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
        if len(np.unique(y)) < 2:
            self.estimator_ = None
            return self
        estimator = make_estimator(self.estimator, self.random_state).fit(X, y)
        column = {c: i for i, c in enumerate(self.classes_.tolist())}
        self.columns_ = np.asarray([column[c] for c in estimator.classes_.tolist()])
        self.estimator_ = estimator
        return self

    def fit_spread(self, graph: GraphSpreading, codes: np.ndarray) -> SessionClassifier:
        """Spread `codes` (a position in classes per pool sample, -1: unlabeled) over a
        graph built once for the pool (``fit_graph``), which this model shares."""
        self.classes_ = np.asarray(self.classes)
        self.n_features_in_ = graph.n_features_in_
        present = np.unique(codes[codes != UNLABELED])
        if len(present) < 2:
            self.estimator_ = None
            return self
        self.estimator_ = copy.copy(graph).spread(codes)
        self.columns_ = present  # the graph's classes_ are the codes it was given
        return self

    def portable(self) -> Any:
        """The fitted model as plain scikit-learn, predicting the session's labels."""
        check_is_fitted(self)
        if isinstance(self.estimator_, GraphSpreading):
            return self.estimator_.to_pipeline(classes=self.classes_[self.columns_])
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
        if isinstance(self.estimator_, GraphSpreading):
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
