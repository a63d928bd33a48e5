"""The estimators and strategies a session may name, and how names become objects."""

from __future__ import annotations

from collections.abc import Callable

from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .errors import LearnerError
from .spreading import GraphSpreading
from .strategies import Measure, entropy_score, margin_score, uncertainty_score

DEFAULT_ESTIMATOR = "random_forest"  # streamed mode, the seed's
DEFAULT_STRATEGY = "uncertainty"
AUTO = "auto"  # pool mode: whichever candidate predicts best the labels kept as checks
DEFAULT_POOL_ESTIMATOR = AUTO
DEFAULT_POOL_STRATEGY = "margin"


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


def _label_spreading(random_state: int) -> ClassifierMixin:
    return GraphSpreading(random_state=random_state)


def _auto(random_state: int) -> ClassifierMixin:
    from .auto import AutoClassifier  # it chooses among the estimators named here

    return AutoClassifier(random_state=random_state)


ESTIMATORS: dict[str, Callable[[int], ClassifierMixin]] = {
    "random_forest": _random_forest,
    "gradient_boosting": _gradient_boosting,
    "logistic_regression": _logistic_regression,
    "label_spreading": _label_spreading,
    AUTO: _auto,
}
POOL_ONLY = frozenset({"label_spreading", AUTO})  # they need the unlabeled pool to learn from

STRATEGIES: dict[str, Measure] = {
    "uncertainty": uncertainty_score,
    "margin": margin_score,
    "entropy": entropy_score,
}


def _unknown(kind: str, name: object, known: dict) -> LearnerError:
    return LearnerError(f"unknown {kind} {repr(name)[:40]}: expected one of {', '.join(known)}")


def check_estimator_name(name: object, mode: str = "pool") -> str:
    """The name itself, if ESTIMATORS knows it and it works in `mode`."""
    if not isinstance(name, str) or name not in ESTIMATORS:
        raise _unknown("estimator", name, ESTIMATORS)
    if mode == "stream" and name in POOL_ONLY:
        raise LearnerError(f"{name} learns from the unlabeled pool, so it works in pool "
                           f"mode only; streamed mode takes one of "
                           f"{', '.join(n for n in ESTIMATORS if n not in POOL_ONLY)}")
    return name


def make_estimator(name: str, random_state: int = 0) -> ClassifierMixin:
    """A fresh, unfitted classifier of the named kind."""
    return ESTIMATORS[check_estimator_name(name)](random_state)


def strategy(name: str) -> Measure:
    """The named uncertainty measure: (model, X) -> scores in [0, 1], higher = less sure."""
    if not isinstance(name, str) or name not in STRATEGIES:
        raise _unknown("strategy", name, STRATEGIES)
    return STRATEGIES[name]
