"""``auto`` as a plain scikit-learn classifier, for use outside a session.

A session's learner shares one graph of its pool between every fit; this classifier
builds its own on each ``fit`` and then does what a session does: cross-validate the
candidates on the labels, fit the best (``choice.py``). It follows scikit-learn's
semi-supervised convention, as ``GraphSpreading`` does: ``fit(X, y)`` with -1 for the
unlabeled samples, which it learns from too when label spreading is chosen.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_array, check_is_fitted

from .model import SessionClassifier
from .registry import AUTO
from .spreading import UNLABELED, GraphSpreading


class AutoClassifier(ClassifierMixin, BaseEstimator):
    """The best of the candidates for X's kind of features (``choice.candidates_for``),
    by cross-validation on the labeled samples; ``choice_`` says which and why."""

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> AutoClassifier:
        """Build X's graph, choose by cross-validation on y's labels (-1: unlabeled), fit."""
        X = check_array(X, dtype=(np.float32, np.float64))
        y = np.asarray(y)
        labeled = y != UNLABELED
        self.classes_, found = np.unique(y[labeled], return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("AutoClassifier needs labels of two classes at least")
        codes = np.full(len(y), UNLABELED, dtype=np.int64)
        codes[labeled] = found
        graph = GraphSpreading(random_state=self.random_state).fit_graph(X)
        self.model_ = SessionClassifier(self.classes_.tolist(), AUTO,
                                        self.random_state).fit_pool(graph, X, codes)
        self.choice_ = self.model_.choice_
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.model_.predict_proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.model_.predict(X)
