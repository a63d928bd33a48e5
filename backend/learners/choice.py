"""Pool mode's default, ``auto``: the candidate that does best on the labels kept as checks.

No one learner is best on every kind of data. Label spreading learns from the pool's own
shape and wins on images and on text embeddings, where a few dozen labels already
separate the clusters; but it scales each sample to unit length, which throws away what
a table's columns mean, and there a forest or a logistic regression win (raw wine at 30
labels: 72% against the forest's 100%). So the candidates depend on the kind of features
(``candidates_for``): for pixels and embeddings, label spreading, its blend with a forest
(``blend.py``: the forest goes on improving where spreading levels off) and logistic
regression; for tables, logistic regression, a forest, the blend and spreading.

Which of them, the person's labels say, if they are asked fairly. Labels asked by margin
sampling are not a fair test: they are the samples the ranking model was least sure of,
so cross-validated on them the model that asked looks far worse than it is (label
spreading, right on more than 80% of new photo patches, is right on barely half of its
own questions: benchmarks/own_data.py), and the choice flips to whichever model did not
ask. So past the first ``WARM_UP`` labels one question in ``CHECK_EVERY`` is a check
instead: the next sample of a seeded random order of the pool, which no model chose.
Checks are ordinary labels (every model learns from them), and the candidates are scored
on them alone: each fold of checks predicted by the candidate fitted on all other labels.

The best score wins; ties go to the first candidate of the kind. Before there are checks
the first candidate is the choice: a handful of checks could not tell the candidates
apart, and the questions they cost are dearest then, when each label moves the model
most (at 30 labels, on every dataset of the benchmark, the first candidate of its kind is
the best learner or within a point of it). Scoring is kept cheap, since it runs after
every label: spreading's folds are spreads over the pool's graph, built once; the
supervised candidates are fitted once per fold (``N_SPLITS``), on the labels other than
the fold's checks, a forest with fewer trees (``SCORING_TREES``); the blend's score comes
from its members' probabilities.

The choice depends on the set of labels and the random state only (with n labels, the
checks are the labeled samples among the first few of the random order, as many as
``_reserved(n)`` says), so undoing a label gives back exactly the choice, and the model,
from before it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from sklearn.base import ClassifierMixin

from .registry import make_estimator
from .spreading import UNLABELED, GraphSpreading

SPREADING = "label_spreading"  # the candidate that learns from the pool's graph
FOREST = "random_forest"
BLEND = "label_spreading+random_forest"  # their probabilities averaged (blend.py)
BLENDED = (SPREADING, FOREST)
# the candidates by kind of features, in the order ties go
FOR_PIXELS = (SPREADING, BLEND, "logistic_regression")  # and embeddings
FOR_TABLES = ("logistic_regression", FOREST, BLEND, SPREADING)
KIND_SAMPLE = 2000  # rows looked at to tell a table from pixels or embeddings
SUPERVISED_UP_TO = 100_000  # samples: a larger pool's only candidate is label spreading
WARM_UP = 30  # no checks among the first labels: the kind of features decides
CHECK_EVERY = 4  # then one question in four is a check, a sample no model chose
N_SPLITS = 3
SCORING_TREES = 30  # a forest scored on the checks grows these, not its 100: a third the cost
_ORDER_SEED = 0xC4EC  # the random order of checks is apart from other seeded choices


@dataclass(frozen=True)
class Choice:
    """What ``auto`` chose, and why: each candidate's accuracy on the checks."""

    estimator: str
    scores: dict[str, float | None]
    n_checks: int
    n_labels: int

    def as_dict(self) -> dict:
        return {"estimator": self.estimator, "scores": dict(self.scores),
                "n_checks": self.n_checks, "n_labels": self.n_labels}


def check_ranks(n_pool: int, random_state: int) -> np.ndarray:
    """Each pool sample's rank in the seeded random order checks are asked in."""
    order = np.random.default_rng([random_state, _ORDER_SEED]).permutation(n_pool)
    ranks = np.empty(n_pool, dtype=np.int64)
    ranks[order] = np.arange(n_pool)
    return ranks


def is_check(ranks: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Which of the labeled samples `index` are checks: those among the first
    ``_reserved(len(index))`` of the random order. A function of the set of labels
    alone; margin sampling lands there rarely (as often as a random pick would)."""
    return ranks[index] < _reserved(len(index))


def checks_due(ranks: np.ndarray, labeled: np.ndarray, k: int) -> int:
    """How many of the next k questions should be checks, so that as many labels are
    checks as ``_due`` says."""
    have = int(np.count_nonzero(is_check(ranks, labeled)))
    return max(0, min(k, _due(len(labeled) + k) - have))


def next_checks(ranks: np.ndarray, n_labeled: int, taken: np.ndarray,
                count: int) -> np.ndarray:
    """The first `count` samples of the random order not `taken` (labeled, excluded)
    among those that count as checks once labeled; fewer if there are not so many (a
    check skipped stays a gap)."""
    if count <= 0:
        return np.empty(0, dtype=np.int64)
    first = np.argsort(ranks)[:_reserved(n_labeled + count)]
    return first[~np.isin(first, taken)][:count].astype(np.int64)


def _due(n_labels: int) -> int:
    """How many of n labels should be checks: none while they are few, then one in
    CHECK_EVERY of those past WARM_UP."""
    return max(0, n_labels - WARM_UP) // CHECK_EVERY


def _reserved(n_labels: int) -> int:
    """How many of the random order's first samples are checks once labeled."""
    return _due(n_labels) + 1


def folds(codes: np.ndarray, n_splits: int, random_state: int) -> np.ndarray:
    """A fold number per sample: the samples sorted by class (shuffled, seeded, within
    a class) and dealt round the folds, so every class is spread over them and the
    folds differ in size by one at most, even with a class of one sample."""
    shuffled = np.random.default_rng(random_state).permutation(len(codes))
    order = np.lexsort((shuffled, codes))
    fold = np.empty(len(codes), dtype=np.int64)
    fold[order] = np.arange(len(codes)) % n_splits
    return fold


def candidates_for(pool: np.ndarray) -> tuple[str, ...]:
    """The candidates, in the order ties go, by the kind of features: pixels and
    embeddings (rows of unit length, as text_features and image_features make them, or
    values all on one non-negative scale), or tables (columns on scales of their own, or
    standardized). A pool of more than SUPERVISED_UP_TO samples has label spreading
    alone: a supervised candidate answers for every sample after every label, seconds
    for a million (a forest's predict_proba), where a spread over a landmark graph takes
    a fraction of one."""
    if len(pool) > SUPERVISED_UP_TO:
        return (SPREADING,)
    rows = np.asarray(pool[:: max(1, len(pool) // KIND_SAMPLE)], dtype=np.float64)
    if np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-3):
        return FOR_PIXELS
    tops = rows.max(axis=0)
    one_scale = rows.min() >= 0 and tops.max() <= 10 * max(float(np.median(tops)), 1e-12)
    return FOR_PIXELS if one_scale else FOR_TABLES


def choose(graph: GraphSpreading, pool: np.ndarray, codes: np.ndarray, random_state: int,
           ranks: np.ndarray | None = None,
           candidates: tuple[str, ...] | None = None) -> Choice:
    """The candidate that predicts the checks best, each fold of checks from all other
    labels (``codes``: a class position per pool sample, -1: unlabeled); on ties, the
    first of `candidates` (by default ``candidates_for`` the pool). With no
    ``ranks`` every label is a check: plain cross-validation, for labels that were not
    asked actively."""
    index = np.flatnonzero(codes != UNLABELED)
    if candidates is None:
        candidates = candidates_for(pool)
        if len(candidates) == 1:  # a pool too large for the others: nothing to choose
            return Choice(candidates[0], dict.fromkeys(candidates), 0, len(index))
    held = np.ones(len(index), dtype=bool) if ranks is None else is_check(ranks, index)
    tested = index[held]
    if len(tested) < 2:  # nothing to tell them apart: the first of the kind
        return Choice(candidates[0], dict.fromkeys(candidates), len(tested), len(index))
    fold = folds(codes[tested], min(N_SPLITS, len(tested)), random_state)
    scores = _scores(candidates, graph, pool, codes, tested, fold, random_state)
    best = max(candidates, key=lambda name: scores[name])  # max keeps the first of ties
    return Choice(best, scores, len(tested), len(index))


def _scores(candidates: tuple[str, ...], graph: GraphSpreading, pool: np.ndarray,
            codes: np.ndarray, tested: np.ndarray, fold: np.ndarray,
            random_state: int) -> dict[str, float]:
    """Each candidate's accuracy on the samples `tested`, each fold of them predicted by
    the candidate fitted on every other label; the blend's from its members' own
    probabilities, at no cost of its own."""
    fitted = set(candidates) - {BLEND} | (set(BLENDED) if BLEND in candidates else set())
    n_codes = int(codes.max()) + 1
    proba = {name: np.zeros((len(tested), n_codes)) for name in fitted}
    for f in np.unique(fold):
        rows = np.flatnonzero(fold == f)
        others = codes.copy()
        others[tested[rows]] = UNLABELED
        for name in fitted:
            proba[name][rows] = _probabilities(name, graph, pool, others, tested[rows],
                                               random_state, n_codes)
    if BLEND in candidates:
        proba[BLEND] = sum(proba[name] for name in BLENDED) / len(BLENDED)
    truth = codes[tested]
    return {name: float(np.mean(proba[name].argmax(axis=1) == truth)) for name in candidates}


def _probabilities(name: str, graph: GraphSpreading, pool: np.ndarray, codes: np.ndarray,
                   test: np.ndarray, random_state: int, n_codes: int) -> np.ndarray:
    """The named candidate fitted on the labels of `codes`: its class probabilities
    for the samples `test`, one column per class code."""
    out = np.zeros((len(test), n_codes))
    if name == SPREADING:
        spread = copy.copy(graph).spread(codes)
        out[:, spread.classes_] = spread.label_distributions_[test]
        return out
    train = np.flatnonzero(codes != UNLABELED)
    if len(np.unique(codes[train])) < 2:  # one class to learn from: it says that one
        out[:, codes[train][0]] = 1.0
        return out
    model = scorer(name, random_state).fit(pool[train], codes[train])
    out[:, model.classes_] = model.predict_proba(pool[test])
    return out


def scorer(name: str, random_state: int) -> ClassifierMixin:
    """The candidate as it is scored: itself, or a forest of fewer trees (its accuracy
    is within a point of the full forest's, at a third of the cost of a fit)."""
    model = make_estimator(name, random_state)
    return model.set_params(n_estimators=SCORING_TREES) if name == FOREST else model
