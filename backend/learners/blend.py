"""Label spreading and a random forest, their probabilities averaged: one of ``auto``'s
candidates for pixels and embeddings.

Spreading needs few labels: it learns from the pool's shape. A forest keeps improving as
labels come, where spreading levels off (32 x 32 photo patches, 300 labels: the forest
91%, spreading 87%, each asking its own questions; the blend, asking its own, 89.5%:
``benchmarks/own_data.py``).

For the pool's own samples the spread's labels are the spreading half, as for
``GraphSpreading``; for other samples it is a plain scikit-learn ``VotingClassifier``
(soft voting) of the forest and the mean of the spread labels of the sample's nearest
pool samples (``GraphSpreading.to_pipeline(readout=False)``). That classifier is also
what is exported, so the exported model predicts new samples as the session does.
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.ensemble import VotingClassifier
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch

from .spreading import GraphSpreading


class SpreadAndForest:
    """A spread over the pool's graph and a forest fitted on the same labels (class
    codes, as the spread's); ``classes_`` are those codes."""

    def __init__(self, spread: GraphSpreading, forest) -> None:
        self.spread = spread
        self.classes_ = spread.classes_
        self.voting_ = soft_vote([("label_spreading", spread.to_pipeline(readout=False)),
                                  ("random_forest", forest)], spread.classes_)
        # the pool's, made here (a fit runs in the background), not on every query
        self.pool_proba_ = (spread.label_distributions_
                            + forest.predict_proba(spread.X_fit_)) / 2

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if X is self.spread.X_fit_:  # the pool: the spread's own labels and the forest
            return self.pool_proba_
        return self.voting_.predict_proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def to_voting(self, classes: np.ndarray) -> VotingClassifier:
        """The exported model: the voting classifier, predicting `classes` (the
        session's labels of the codes)."""
        voting = copy.deepcopy(self.voting_)
        voting.le_.classes_ = voting.classes_ = np.asarray(classes)
        return voting


def soft_vote(members: list[tuple[str, object]], classes: np.ndarray) -> VotingClassifier:
    """scikit-learn's soft-voting classifier of members fitted already (it would refit
    them, and spreading needs the unlabeled pool to): the fitted state it keeps, set."""
    voting = VotingClassifier(members, voting="soft")
    voting.estimators_ = [member for _, member in members]
    voting.named_estimators_ = Bunch(**dict(members))
    voting.le_ = LabelEncoder().fit(classes)
    voting.classes_ = voting.le_.classes_
    return voting
