"""Pool mode (the widget's): the pool is uploaded once, then query -> teach, one by one.

The learner keeps the pool and the human's labels (pool index -> label) in memory and
refits a fresh estimator on the labeled samples after every change. Labeled samples are
fitted in index order, so the model depends on the set of labels, not on the order they
came in: undoing a label gives back exactly the model from before it.

It may also keep a held-out set: samples whose labels stay with the client, predicted by
the newest model so the client can plot held-out accuracy without paying for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import SessionLearner
from .diversity import diverse_sampling
from .errors import LearnerError
from .model import SessionClassifier
from .registry import DEFAULT_ESTIMATOR, DEFAULT_STRATEGY
from .strategies import top_k
from .validation import (
    MAX_POOL,
    Label,
    check_index,
    check_indices,
    check_int,
    check_label,
    check_pool,
)

MAX_QUERY = 1000  # samples per query


class PoolLearner(SessionLearner):
    """A session's learner in pool mode; every public method is atomic (one lock).

    Until two different classes are labeled the model knows nothing, and a query returns
    spread-out samples (k-means++ seeding, away from those already labeled) with
    uncertainty 1.0 and predicted None. Afterwards it returns the unlabeled samples the
    model is least sure of. Both are deterministic for a given random_state and labels.
    """

    def __init__(
        self,
        pool: Any,
        classes: Sequence[Label],
        *,
        estimator: str = DEFAULT_ESTIMATOR,
        strategy: str = DEFAULT_STRATEGY,
        random_state: int = 0,
        max_pool: int = MAX_POOL,
    ) -> None:
        super().__init__(classes, estimator, strategy, random_state)
        self._pool = check_pool(pool, max_pool)
        self._pool.setflags(write=False)
        self._labels: dict[int, int] = {}  # pool index -> position in classes
        self._model = self._fit(self._labels)
        self._holdout: np.ndarray | None = None
        self._holdout_predicted: tuple[int, list[Label] | None] | None = None  # (version, ...)

    def _fit(self, labels: dict[int, int]) -> SessionClassifier:
        """A fresh model on `labels`, fitted in index order."""
        index = np.fromiter(sorted(labels), dtype=np.int64, count=len(labels))
        codes = np.fromiter((labels[i] for i in index), dtype=np.int64, count=len(index))
        return self._new_model().fit(self._pool[index], self._class_array[codes])

    def _commit(self, labels: dict[int, int], model: SessionClassifier) -> None:
        self._labels, self._model = labels, model
        self._version += 1

    def query(self, k: int = 1, exclude: Sequence[int] = ()) -> dict:
        """The k most uncertain unlabeled samples not in `exclude` (fewer near the end).

        `exclude` lists samples the human skipped, or labeled but has not taught yet.
        Before the model is fitted they count as covered, like labels: the spread moves
        away from them too. Repeated indices are allowed.
        """
        with self._lock:
            k = check_int(k, "k", 1, MAX_QUERY)
            excluded = check_indices(exclude, len(self._pool), "exclude")
            labeled = np.fromiter(self._labels, dtype=np.int64, count=len(self._labels))
            taken = np.union1d(labeled, excluded)
            k = min(k, len(self._pool) - len(taken))
            samples: list[dict] = []
            if k == 0:
                pass
            elif not self._model.__sklearn_is_fitted__():
                picked = diverse_sampling(
                    self._pool, k, labeled=taken, random_state=self._random_state
                )
                samples = [{"index": int(i), "uncertainty": 1.0, "predicted": None} for i in picked]
            else:
                scores = self._measure(self._model, self._pool)
                scores[taken] = -np.inf
                picked = top_k(scores, k, self._random_state)
                predicted = self._model.predict(self._pool[picked]).tolist()
                samples = [
                    {"index": int(i), "uncertainty": float(scores[i]), "predicted": label}
                    for i, label in zip(picked, predicted, strict=True)
                ]
            return {"samples": samples, "model_version": self._version}

    def teach(self, index: int, label: Label) -> dict:
        """Label one pool sample and refit; a second label for an index replaces the first.

        Returns index, label, previous (the replaced label or None), replaced,
        n_labeled and model_version. Teaching the label a sample already has is a no-op:
        no refit, model_version unchanged.
        """
        with self._lock:
            i = check_index(index, len(self._pool))
            code = check_label(label, self._classes)
            previous = self._labels.get(i)
            if previous != code:
                labels = {**self._labels, i: code}
                self._commit(labels, self._fit(labels))
            return {
                "index": i,
                "label": self._classes[code],
                "previous": None if previous is None else self._classes[previous],
                "replaced": previous is not None,
                "n_labeled": len(self._labels),
                "model_version": self._version,
            }

    def teach_many(self, indices: Sequence[int], labels: Sequence[Label]) -> dict:
        """Label many samples with one refit (e.g. labels resumed from the widget's file).

        All pairs are checked before any is applied; an index may appear once per call.
        Returns n_labeled, model_version and replaced (how many labels were overwritten).
        """
        with self._lock:
            if not isinstance(indices, list | tuple | np.ndarray) or not isinstance(
                labels, list | tuple | np.ndarray
            ):
                raise LearnerError("indices and labels must be lists")
            if len(indices) != len(labels):
                raise LearnerError(
                    f"indices and labels must pair up: got {len(indices)} indices "
                    f"and {len(labels)} labels"
                )
            new: dict[int, int] = {}
            for index, label in zip(indices, labels, strict=True):
                i = check_index(index, len(self._pool))
                if i in new:
                    raise LearnerError(f"index {i} appears twice in one call")
                new[i] = check_label(label, self._classes)
            replaced = sum(1 for i in new if i in self._labels)
            merged = {**self._labels, **new}
            if merged != self._labels:
                self._commit(merged, self._fit(merged))
            return {
                "n_labeled": len(self._labels),
                "model_version": self._version,
                "replaced": replaced,
            }

    def undo(self, index: int) -> dict:
        """Take a sample's label back and refit -> index, label, n_labeled, model_version."""
        with self._lock:
            i = check_index(index, len(self._pool))
            if i not in self._labels:
                raise LearnerError(f"pool sample {i} has no label to undo")
            labels = {j: c for j, c in self._labels.items() if j != i}
            removed = self._labels[i]
            self._commit(labels, self._fit(labels))
            return {
                "index": i,
                "label": self._classes[removed],
                "n_labeled": len(self._labels),
                "model_version": self._version,
            }

    def set_holdout(self, x: Any, max_samples: int = MAX_POOL) -> dict:
        """Keep held-out samples (like the pool: (n, d) or (n, h, w)), replacing any
        earlier set -> n_holdout. Their labels never reach the server."""
        holdout = check_pool(x, max_samples, name="holdout")
        if holdout.shape[1] != self.n_features:
            raise LearnerError(
                f"holdout has {holdout.shape[1]} features, the pool has {self.n_features}"
            )
        holdout.setflags(write=False)
        with self._lock:
            self._holdout, self._holdout_predicted = holdout, None
            return {"n_holdout": len(holdout)}

    def holdout_predictions(self) -> dict:
        """The newest model's labels for the held-out samples (None while it knows nothing)
        -> predicted, model_version, n_holdout; predicted once per model version."""
        with self._lock:
            if self._holdout is None:
                raise LearnerError("no held-out set: upload one first")
            if self._holdout_predicted is None or self._holdout_predicted[0] != self._version:
                predicted = (
                    self._model.predict(self._holdout).tolist()
                    if self._model.__sklearn_is_fitted__()
                    else None
                )
                self._holdout_predicted = (self._version, predicted)
            predicted = self._holdout_predicted[1]
            return {
                "predicted": None if predicted is None else list(predicted),
                "model_version": self._version,
                "n_holdout": len(self._holdout),
            }

    def labels(self) -> dict[int, Label]:
        """A copy of the labels taught so far, pool index -> label."""
        with self._lock:
            return {i: self._classes[c] for i, c in sorted(self._labels.items())}

    @property
    def n_features(self) -> int:
        return self._pool.shape[1]

    @property
    def n_pool(self) -> int:
        return self._pool.shape[0]

    @property
    def n_holdout(self) -> int:
        """Held-out samples kept; 0 before any is uploaded."""
        with self._lock:
            return 0 if self._holdout is None else len(self._holdout)

    @property
    def n_labeled(self) -> int:
        with self._lock:
            return len(self._labels)
