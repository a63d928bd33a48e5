"""The estimators and strategies a session may name, and how names become objects."""

from __future__ import annotations

from collections.abc import Callable

from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .errors import LearnerError
from .strategies import Measure, entropy_score, margin_score, uncertainty_score

DEFAULT_ESTIMATOR = "random_forest"
DEFAULT_STRATEGY = "uncertainty"


def _random_forest(random_state: int) -> ClassifierMixin:
    # n_jobs=1: the web layer already runs learners in a thread pool.
    return RandomForestClassifier(n_estimators=100, n_jobs=1, random_state=random_state)


def _gradient_boosting(random_state: int) -> ClassifierMixin:
    return HistGradientBoostingClassifier(random_state=random_state)


def _logistic_regression(random_state: int) -> ClassifierMixin:
    # Scaled, so lbfgs converges on raw pixel values well within max_iter.
    return make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, random_state=random_state)
    )


ESTIMATORS: dict[str, Callable[[int], ClassifierMixin]] = {
    "random_forest": _random_forest,
    "gradient_boosting": _gradient_boosting,
    "logistic_regression": _logistic_regression,
}

STRATEGIES: dict[str, Measure] = {
    "uncertainty": uncertainty_score,
    "margin": margin_score,
    "entropy": entropy_score,
}


def _unknown(kind: str, name: object, known: dict) -> LearnerError:
    return LearnerError(f"unknown {kind} {repr(name)[:40]}: expected one of {', '.join(known)}")


def check_estimator_name(name: object) -> str:
    """The name itself, if ESTIMATORS knows it."""
    if not isinstance(name, str) or name not in ESTIMATORS:
        raise _unknown("estimator", name, ESTIMATORS)
    return name


def make_estimator(name: str, random_state: int = 0) -> ClassifierMixin:
    """A fresh, unfitted classifier of the named kind."""
    return ESTIMATORS[check_estimator_name(name)](random_state)


def strategy(name: str) -> Measure:
    """The named uncertainty measure: (model, X) -> scores in [0, 1], higher = less sure."""
    if not isinstance(name, str) or name not in STRATEGIES:
        raise _unknown("strategy", name, STRATEGIES)
    return STRATEGIES[name]
