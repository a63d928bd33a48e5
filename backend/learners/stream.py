"""Streamed mode (the seed's): the client sends labeled batches and asks about new ones.

The session keeps every labeled sample in memory and refits a fresh estimator on all of
them after each `train`; `label` scores new samples and says which deserve a human.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import SessionLearner
from .errors import LearnerError
from .model import assess
from .registry import DEFAULT_ESTIMATOR, DEFAULT_STRATEGY
from .validation import (
    Label,
    check_labels,
    check_samples,
    check_threshold,
)

MAX_TRAIN = 100_000  # labeled samples a session may accumulate


class StreamLearner(SessionLearner):
    """A session's learner in streamed mode; every public method is atomic (one lock).

    Until two different classes have been trained on, the model knows nothing: every
    sample gets uncertainty 1.0, predicted None, decision "label". A model that has only
    seen 3s would "predict" 3 for everything, which says nothing about the sample.
    The first call (train or label) fixes the number of features for the session.
    """

    mode = "stream"

    def __init__(
        self,
        classes: Sequence[Label],
        *,
        estimator: str = DEFAULT_ESTIMATOR,
        strategy: str = DEFAULT_STRATEGY,
        threshold: float = 0.5,
        random_state: int = 0,
        max_train: int = MAX_TRAIN,
    ) -> None:
        super().__init__(classes, estimator, strategy, random_state)
        self._threshold = check_threshold(threshold)
        self._max_train = max_train
        self._n_features: int | None = None
        self._X = np.empty((0, 0))
        self._y = np.empty(0, dtype=np.int64)  # positions in classes
        self._model = self._new_model()

    def train(self, x: Any, y: Any) -> dict:
        """Add labeled samples and refit on everything seen -> n_labeled, model_version."""
        with self._lock:
            X = check_samples(x, self._n_features)
            codes = check_labels(y, self._classes, len(X))
            n_total = len(self._y) + len(codes)
            if n_total > self._max_train:
                raise LearnerError(
                    f"the session's training set is full: {len(self._y)} samples held, "
                    f"{len(codes)} more would pass the limit of {self._max_train}"
                )
            X_all = np.concatenate([self._X, X]) if len(self._y) else X
            y_all = np.concatenate([self._y, codes])
            model = self._new_model().fit(X_all, self._class_array[y_all])
            # Commit only once the fit succeeded: a failed call changes nothing.
            self._X, self._y, self._model = X_all, y_all, model
            self._n_features = X.shape[1]
            self._version += 1
            return {"n_labeled": int(n_total), "model_version": self._version}

    def label(self, x: Any) -> dict:
        """Score samples: per sample uncertainty, predicted, decision; most_uncertain."""
        with self._lock:
            X = check_samples(x, self._n_features)
            scores, predicted = assess(self._model, X, self._measure)
            self._n_features = X.shape[1]
            results = [
                {
                    "uncertainty": float(score),
                    "predicted": label,
                    "decision": "label" if score >= self._threshold else "skip",
                }
                for score, label in zip(scores, predicted, strict=True)
            ]
            return {
                "results": results,
                "most_uncertain": int(np.argmax(scores)),
                "model_version": self._version,
            }

    @property
    def threshold(self) -> float:
        return self._threshold

    @property
    def n_features(self) -> int | None:
        """Features per sample, fixed by the first call; None before it."""
        with self._lock:
            return self._n_features

    @property
    def n_labeled(self) -> int:
        with self._lock:
            return len(self._y)
