"""Active learners held in memory for one session: validation, estimators, strategies.

No I/O here: nothing a user sends is written anywhere. Learners are thread-safe, so the
web layer may run their methods in a thread pool.
"""

from .errors import LearnerError
from .export import export_model
from .pool import PoolLearner
from .registry import ESTIMATORS, STRATEGIES, make_estimator, strategy
from .stream import StreamLearner
from .validation import check_classes, check_labels, check_pool, check_samples

__all__ = [
    "ESTIMATORS",
    "STRATEGIES",
    "LearnerError",
    "PoolLearner",
    "StreamLearner",
    "check_classes",
    "check_labels",
    "check_pool",
    "check_samples",
    "export_model",
    "make_estimator",
    "strategy",
]
