"""Query strategies: modAL's utility measures made comparable, and a seeded selector.

modAL's measures disagree on direction and range (a small *margin* means unsure) and on
an unfitted model (uncertainty says 1, entropy says 0). Here every measure is a score in
[0, 1] where higher means less sure, and an unfitted model scores 1 everywhere, so a
threshold or a ranking means the same whichever measure a session picked.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from modAL.uncertainty import classifier_entropy, classifier_margin, classifier_uncertainty
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

Measure = Callable[[Any, np.ndarray], np.ndarray]


def _knows_nothing(model: Any) -> bool:
    """True when the model can't rank samples: unfitted, or it has seen a single class.

    The model is anything with predict_proba and classes_, as in modAL; scikit-learn's
    fitted check is used when the model supports it.
    """
    is_fitted = getattr(model, "__sklearn_is_fitted__", None)
    if is_fitted is not None:
        fitted = bool(is_fitted())
    else:
        try:
            check_is_fitted(model)
            fitted = True
        except NotFittedError:
            fitted = False
        except (TypeError, AttributeError):  # not a scikit-learn estimator: trust it
            fitted = True
    return not fitted or len(model.classes_) < 2


def uncertainty_score(model: Any, X: np.ndarray) -> np.ndarray:
    """1 - max probability (modAL's classifier_uncertainty); at most 1 - 1/K once fitted."""
    if _knows_nothing(model):
        return np.ones(len(X))
    return np.clip(classifier_uncertainty(model, X), 0.0, 1.0)


def margin_score(model: Any, X: np.ndarray) -> np.ndarray:
    """1 - (p1 - p2): modAL's margin is small when the model hesitates, so it is flipped."""
    if _knows_nothing(model):
        return np.ones(len(X))
    return np.clip(1.0 - classifier_margin(model, X), 0.0, 1.0)


def entropy_score(model: Any, X: np.ndarray) -> np.ndarray:
    """Entropy / log(K) over the model's K classes, so a uniform guess scores 1."""
    if _knows_nothing(model):
        return np.ones(len(X))
    scaled = classifier_entropy(model, X) / math.log(len(model.classes_))
    return np.clip(scaled, 0.0, 1.0)


class Answered:
    """A model's predict_proba for one X, computed once: a measure and the predicted
    labels then share it (a forest's predict_proba over a pool is the costly part)."""

    def __init__(self, proba: np.ndarray, classes: np.ndarray) -> None:
        self.proba, self.classes_ = proba, classes

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if len(X) != len(self.proba):
            raise ValueError(f"answered for {len(self.proba)} samples, asked about {len(X)}")
        return self.proba


def top_k(scores: np.ndarray, n: int, random_state: int,
          order: np.ndarray | None = None) -> np.ndarray:
    """Indices of the n highest scores, highest first; ties in a seeded random order
    (``order``, a permutation of the scores' indices, if the caller keeps one).

    modAL's multi_argmax returns its picks unordered and shuffled_argmax draws from the
    global NumPy generator; a service must replay the same answer for the same state.
    Only the n best are sorted, so a query of a million-sample pool stays cheap.
    """
    perm = np.random.default_rng(random_state).permutation(len(scores)) \
        if order is None else order
    shuffled = scores[perm]
    if n < len(shuffled):  # the n best: those above the n-th score, then ties in order
        cut = shuffled[np.argpartition(-shuffled, n - 1)[n - 1]]
        above = np.flatnonzero(shuffled > cut)
        best = np.sort(np.concatenate([above, np.flatnonzero(shuffled == cut)[:n - len(above)]]))
    else:
        best = np.arange(len(shuffled))
    return perm[best[np.argsort(-shuffled[best], kind="stable")]]


def most_uncertain(
    model: Any,
    X: np.ndarray,
    n: int = 1,
    *,
    measure: Measure = uncertainty_score,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A modAL-style strategy: the n samples of X the model is least sure of, and scores."""
    scores = measure(model, X)
    idx = top_k(scores, n, random_state)
    return idx, scores[idx]
