"""A session's model as bytes the client can load without pickle's risks (skops)."""

from __future__ import annotations

from typing import Protocol

import skops.io

from .errors import LearnerError

EXPORT_WAIT = 60.0  # seconds a fit still running may take before the model is taken


class HasEstimator(Protocol):
    """What export needs of a learner: its fitted estimator, or None."""

    @property
    def estimator_(self) -> object | None: ...

    def settle(self, timeout: float | None = None) -> bool: ...


def export_model(learner: HasEstimator) -> bytes:
    """The fitted scikit-learn estimator serialised with skops, in memory only.

    It is the plain estimator (random forest, pipeline, ...) fitted on the real labels,
    so a client loads it with `skops.io.loads(data, trusted=...)` and nothing of alsats.
    The learner's lock is held only to take the estimator: a fitted estimator is never
    modified afterwards, so serialising it runs beside later teach calls. A fit still
    running in the background is waited for: the model exported knows every label.
    """
    learner.settle(EXPORT_WAIT)
    estimator = learner.estimator_
    if estimator is None:
        raise LearnerError(
            "there is no model to export yet: label samples of at least two classes first"
        )
    return skops.io.dumps(estimator)
