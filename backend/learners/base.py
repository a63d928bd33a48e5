"""What a learner of either mode holds: its settings, one lock, a model and its version."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import registry
from .export import export_model
from .model import SessionClassifier
from .registry import check_estimator_name
from .validation import Label, check_classes, check_random_state


class SessionLearner:
    """Base of StreamLearner and PoolLearner; subclasses set ``_model`` and guard state
    with ``_lock`` in every public method."""

    mode = "pool"

    def __init__(self, classes: Sequence[Label], estimator: str, strategy: str,
                 random_state: int) -> None:
        self._classes = check_classes(classes)
        self._class_array = np.asarray(self._classes)
        self._estimator = check_estimator_name(estimator, self.mode)
        self._measure = registry.strategy(strategy)
        self._random_state = check_random_state(random_state)
        self._lock = threading.Lock()
        self._version = 0
        self._model: SessionClassifier

    def _new_model(self) -> SessionClassifier:
        return SessionClassifier(self._classes, self._estimator, self._random_state)

    def settle(self, timeout: float | None = None) -> bool:
        """Wait for fits still running on the newest labels; True once there are none."""
        return True

    def export(self) -> bytes:
        """The fitted model as skops bytes (export.export_model)."""
        return export_model(self)

    @property
    def classes(self) -> list[Label]:
        return list(self._classes)

    @property
    def model_version(self) -> int:
        """Bumped by every call that changes what the model was fitted on; 0 before."""
        with self._lock:
            return self._version

    @property
    def estimator_(self) -> Any | None:
        """The fitted model as a plain scikit-learn estimator, or None while it knows
        nothing.

        Each fit builds a fresh estimator and never touches it again, so the object
        returned may be used (exported, predicted with) outside the lock.
        """
        with self._lock:
            return self._model.portable() if self._model.__sklearn_is_fitted__() else None

    @property
    def choice(self) -> dict | None:
        """What ``auto`` chose for the newest model (estimator) and why (scores: each
        candidate's accuracy on the checks, n_checks of n_labels); None for a named
        estimator, or while the model knows nothing."""
        with self._lock:
            choice = getattr(self._model, "choice_", None)
        return None if choice is None else choice.as_dict()
