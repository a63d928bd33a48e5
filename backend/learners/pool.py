"""Pool mode (the widget's): the pool is uploaded once, then query -> teach, one by one.

The learner keeps the pool and the human's labels (pool index -> label) in memory and
fits a fresh model on them after every change: label spreading over the pool's
neighbour graph (built once per pool), a supervised estimator on the labeled samples
alone, or by default (``auto``) whichever candidate predicts best the labels kept as
checks: then past the first 30 labels one question in four is a sample of a seeded
random order of the pool, which no model chose (``choice.py``). Labeled samples are
fitted in index order, so the model depends on the set of labels, not on the order they
came in: undoing a label gives back exactly the model from before it.

With ``background=True`` (the server's setting) fits run on a shared pool of threads and
nothing waits for them: teach returns once the label is kept, and a query ranks with the
newest model that has finished, saying which version that is. A burst of labels costs one
fit for all of them, not one each. Each fit also scores the whole pool once, so a query
only picks the best scores (milliseconds for a million samples).

A query never asks near-duplicates in a row: a sample among the nearest neighbours (in
the pool's graph) of one already picked, or of one just labeled, skipped or excluded, is
passed over while others remain (in a landmark graph, past 20,000 samples: one that
hangs on the same nearest landmark). Labeling one of two near-twins tells the model about
both; asking both wastes the person's time.

It may also keep a held-out set: samples whose labels stay with the client, predicted by
the newest model so the client can plot held-out accuracy without paying for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any, NamedTuple

import numpy as np
from scipy.sparse.linalg import ArpackError

from ..config import DEFAULT_POOL_RULES, PoolRules
from .base import SessionLearner
from .choice import SPREADING, candidates_for, check_ranks, checks_due, next_checks
from .diversity import (
    SpectralClusters,
    discoveries_due,
    diverse_sampling,
    least_reached,
)
from .errors import LearnerError
from .model import SessionClassifier
from .registry import AUTO, DEFAULT_POOL_ESTIMATOR, DEFAULT_POOL_STRATEGY, POOL_ONLY
from .spreading import UNLABELED, GraphSpreading
from .strategies import Answered, top_k
from .validation import (
    Label,
    check_index,
    check_indices,
    check_int,
    check_label,
    check_pool,
)

MAX_QUERY = 1000  # samples per query
PICK_PREFIX = 4096  # a query sorts the best this many scores first (more if it must)
log = logging.getLogger(__name__)


class Ranking(NamedTuple):
    """A model's answers for the pool and each sample's score (higher: less sure)."""

    answered: Answered
    scores: np.ndarray


class PoolLearner(SessionLearner):
    """A session's learner in pool mode; every public method is atomic (one lock).

    Until there are as many labels as classes, a query's first samples are one per
    cluster of the pool's graph that no label has reached, where the graph has such
    clusters (``diversity.SpectralClusters``).
    Until two different classes are labeled the model knows nothing: the rest of a query
    are spread-out samples (k-means++ seeding, away from those already labeled; all of
    them while the graph is being built), with uncertainty 1.0 and predicted and
    top_classes None. Afterwards it returns the unlabeled samples the model is least sure
    of, each with the model's guess and its two most likely classes. Both are
    deterministic for a given random_state and labels. ``owned=True``: the caller hands
    the pool over (the server's upload, just read), and it is kept without a copy.

    ``fits``: where the graph is built and fits run in the background, a teach returning
    at once (the server's: threads every session shares, so a burst of sessions queues up
    instead of oversubscribing the cores); None: a teach fits before it returns.
    """

    def __init__(
        self,
        pool: Any,
        classes: Sequence[Label],
        *,
        estimator: str = DEFAULT_POOL_ESTIMATOR,
        strategy: str = DEFAULT_POOL_STRATEGY,
        random_state: int = 0,
        rules: PoolRules = DEFAULT_POOL_RULES,
        fits: Executor | None = None,
        owned: bool = False,
    ) -> None:
        super().__init__(classes, estimator, strategy, random_state)
        self._pool = check_pool(pool, rules, copy=not owned)  # owned: the caller's no more
        self._rules = rules
        self._pool.setflags(write=False)
        self._fits = fits
        self._background = fits is not None
        self._graph: GraphSpreading | None = None  # the pool's neighbour graph, built once
        self._clusters: SpectralClusters | None = None  # and its clusters, the first questions
        self._graph_lock = threading.Lock()
        # auto asks some questions in a random order, to score its candidates fairly
        self._check_ranks = check_ranks(len(self._pool), random_state) \
            if self._estimator == AUTO and len(candidates_for(self._pool)) > 1 else None
        self._labels: dict[int, int] = {}  # pool index -> position in classes
        self._tie_order = np.random.default_rng(random_state).permutation(len(self._pool))
        self._model = self._new_model()
        self._ranking: Ranking | None = None  # the model's answers for the pool, once
        self._model_version = 0  # the labels version the model was fitted on
        self._model_labels: dict[int, int] = {}  # and those labels
        self._fitted = threading.Condition(self._lock)
        self._fitting = False
        self._holdout: np.ndarray | None = None
        self._holdout_predicted: tuple[int, list[Label] | None] | None = None  # (version, ...)
        if fits is not None:
            fits.submit(self._neighbour_graph)  # ready by the time labels come in

    # -- fitting ---------------------------------------------------------------------

    def _neighbour_graph(self) -> GraphSpreading:
        """The pool's graph: built on first use (or in the background), then shared."""
        with self._graph_lock:
            if self._graph is None:
                graph = GraphSpreading(random_state=self._random_state).fit_graph(self._pool)
                self._clusters = self._cluster(graph)
                self._graph = graph
            return self._graph

    def _cluster(self, graph: GraphSpreading) -> SpectralClusters | None:
        """The graph's clusters, one per class; None (spread-out first questions, and no
        discovery questions) if it has no such clusters or the eigenvectors do not
        converge."""
        try:
            return SpectralClusters.of(graph, len(self._classes), self._random_state)
        except ArpackError:
            log.warning("no spectral clusters for this pool; first questions spread out")
            return None

    def _fit(self, labels: dict[int, int]) -> SessionClassifier:
        """A fresh model on `labels`, fitted in index order."""
        index = np.fromiter(sorted(labels), dtype=np.int64, count=len(labels))
        codes = np.fromiter((labels[i] for i in index), dtype=np.int64, count=len(index))
        if self._estimator in POOL_ONLY:  # spreading, or auto (which may choose it)
            spread = np.full(len(self._pool), UNLABELED, dtype=np.int64)
            spread[index] = codes
            return self._new_model().fit_pool(self._neighbour_graph(), self._pool, spread,
                                              self._check_ranks)
        return self._new_model().fit(self._pool[index], self._class_array[codes])

    def _commit(self, labels: dict[int, int]) -> None:
        """Keep new labels (lock held); fit on them first (a failed fit changes
        nothing), or in the background."""
        model = None if self._background else self._fit(labels)
        ranking = None if model is None else self._rank(model)
        self._labels = labels
        self._version += 1
        if model is not None:
            self._publish(model, ranking, self._version, labels)
        elif not self._fitting:
            self._fitting = True
            self._fits.submit(self._fit_until_current)

    def _rank(self, model: SessionClassifier) -> Ranking | None:
        """The model's answers for the whole pool and their scores under the session's
        measure, computed once per model (None while it knows nothing): a query then only
        picks the best, a few milliseconds even for a million samples."""
        if not model.__sklearn_is_fitted__():
            return None
        answered = Answered(model.predict_proba(self._pool), model.classes_)
        return Ranking(answered, self._measure(answered, self._pool))

    def _publish(self, model: SessionClassifier, ranking: Ranking | None, version: int,
                 labels: dict[int, int]) -> None:
        """Make `model`, fitted on `labels` (version `version`), the one that answers;
        lock held."""
        self._model, self._model_version, self._model_labels = model, version, labels
        self._ranking = ranking
        self._fitted.notify_all()

    def _fit_until_current(self) -> None:
        """Fit on the newest labels (one fit for a burst), then queue again behind other
        sessions' fits if labels came in meanwhile: a busy session never holds a thread
        for long. Runs on ``fits``, taking the lock only to read and to publish."""
        with self._lock:
            labels, version = self._labels, self._version
        try:
            model = self._fit(labels)
            ranking = self._rank(model)
        except Exception:  # a bug, not the client's: keep the last good model
            log.exception("background fit failed; the previous model stays in use")
            with self._lock:
                self._fitting = False
                self._fitted.notify_all()
            return
        with self._lock:
            self._fitting = self._version != version
            self._publish(model, ranking, version, labels)
        if self._fitting:
            self._fits.submit(self._fit_until_current)

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until the model is fitted on the newest labels (tests, benchmarks, a
        client that prefers to wait); False if `timeout` passed first."""
        with self._fitted:
            return self._fitted.wait_for(
                lambda: self._model_version == self._version or not self._fitting, timeout)

    # -- asking ----------------------------------------------------------------------

    def query(self, k: int = 1, exclude: Sequence[int] = ()) -> dict:
        """The k most uncertain unlabeled samples not in `exclude` (fewer near the end),
        no two of them near-duplicates -> samples (index, uncertainty, predicted,
        top_classes), model_version (of the model that ranked them) and labels_version
        (the newest labels; the model may trail them).

        `exclude` lists samples the human skipped, or labeled but has not taught yet.
        Before the model is fitted they count as covered, like labels: the spread moves
        away from them too. Repeated indices are allowed.
        """
        k = check_int(k, "k", 1, MAX_QUERY)
        excluded = check_indices(exclude, len(self._pool), "exclude")
        with self._lock:  # a snapshot; the ranking itself runs beside teach calls
            labeled = np.fromiter(self._labels, dtype=np.int64, count=len(self._labels))
            unseen = np.asarray([i for i in self._labels if i not in self._model_labels],
                                dtype=np.int64)
            model, model_version, version = self._model, self._model_version, self._version
            ranking = self._ranking
        taken = np.union1d(labeled, excluded)
        k = min(k, len(self._pool) - len(taken))
        samples: list[dict] = []
        if k == 0:
            pass
        elif ranking is None:
            cold = self._cold_questions(labeled, taken, k)
            picked = np.concatenate([cold, diverse_sampling(
                self._pool, k - len(cold), labeled=np.union1d(taken, cold),
                random_state=self._random_state)])
            samples = [{"index": int(i), "uncertainty": 1.0, "predicted": None,
                        "top_classes": None} for i in picked]
        else:
            answered, uncertainty = ranking
            scores = uncertainty.copy()
            scores[taken] = -np.inf
            checks = self._checks(labeled, taken, k)
            seen = np.union1d(taken, checks)
            found = self._cold_questions(labeled, seen, k - len(checks))
            if not len(found):
                found = self._discoveries(len(labeled), seen, k - len(checks))
            asked = np.concatenate([checks, found])
            scores[asked] = -np.inf
            recent = np.union1d(np.union1d(excluded, unseen), asked)
            picked = np.concatenate([asked, self._pick(scores, k - len(asked), recent)])
            samples = [
                {"index": int(i), "uncertainty": float(uncertainty[i]),
                 **_guesses(answered.proba[i], model.classes_)}
                for i in picked
            ]
        return {"samples": samples, "model_version": model_version, "labels_version": version}

    def _checks(self, labeled: np.ndarray, taken: np.ndarray, k: int) -> np.ndarray:
        """The checks due among the next k questions (auto only): samples in the
        learner's random order, asked first so that a person labeling one at a time
        meets them too."""
        if self._check_ranks is None:
            return np.empty(0, dtype=np.int64)
        due = checks_due(self._check_ranks, labeled, k)
        return next_checks(self._check_ranks, len(labeled), taken, due)

    def _cold_questions(self, labeled: np.ndarray, taken: np.ndarray, k: int) -> np.ndarray:
        """The first questions, one per cluster of the pool's graph no label has reached
        (``diversity.SpectralClusters``), until there are as many labels as classes;
        none while the graph is still being built."""
        if len(labeled) >= len(self._classes) or (self._graph is None and self._background):
            return np.empty(0, dtype=np.int64)
        self._neighbour_graph()
        if self._clusters is None:
            return np.empty(0, dtype=np.int64)
        return self._clusters.questions(labeled, taken, k)

    def _discoveries(self, n_labeled: int, seen: np.ndarray, k: int) -> np.ndarray:
        """The samples the labels reach least, for the discovery questions among the next
        k (``diversity.least_reached``): for the learners of the pool's graph, where it has
        clusters to find (elsewhere the own-data benchmark lost up to 7 points with them:
        the docstrings at 30 labels); none while the graph is being built."""
        due = discoveries_due(n_labeled, k) if self._estimator in POOL_ONLY else 0
        if not due or (self._graph is None and self._background):
            return np.empty(0, dtype=np.int64)
        graph = self._neighbour_graph()
        if self._clusters is None or (self._estimator == AUTO
                                      and candidates_for(self._pool)[0] != SPREADING):
            return np.empty(0, dtype=np.int64)  # no clusters to find, or a table's model
        return least_reached(graph, seen, due)

    def _pick(self, scores: np.ndarray, k: int, recent: np.ndarray) -> np.ndarray:
        """The k best scores, skipping the near-duplicates (``GraphSpreading.near``) of
        samples picked before them or `recent`; near-duplicates fill in only if nothing
        else is left. The best are sorted a few thousand at a time, not the whole pool."""
        if k <= 0:
            return np.empty(0, dtype=np.int64)
        graph = self._graph
        if graph is None and not self._background:
            graph = self._neighbour_graph()
        wanted = min(k, int(np.isfinite(scores).sum()))
        plain = (k == 1 and not len(recent)) or graph is None  # (still being built)
        best = PICK_PREFIX
        while True:
            order = top_k(scores, min(best, len(scores)), self._random_state,
                          self._tie_order)
            order = order[np.isfinite(scores[order])]
            if plain or len(order) <= wanted:
                return order[:wanted]
            picked = _apart(order, wanted, graph, recent, len(scores))
            if len(picked) == wanted or best >= len(scores):
                fill = order[~np.isin(order, picked)][:wanted - len(picked)]
                return np.concatenate([picked, fill])
            best *= 4

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
                self._commit(labels)
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
                self._commit(merged)
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
            self._commit(labels)
            return {
                "index": i,
                "label": self._classes[removed],
                "n_labeled": len(self._labels),
                "model_version": self._version,
            }

    def set_holdout(self, x: Any) -> dict:
        """Keep held-out samples (like the pool: (n, d) or (n, h, w)), replacing any
        earlier set -> n_holdout. Their labels never reach the server."""
        holdout = check_pool(x, self._rules, name="holdout")
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
            holdout, cached = self._holdout, self._holdout_predicted
            model, version = self._model, self._model_version
        if cached is None or cached[0] != version:
            predicted = model.predict(holdout).tolist() if model.__sklearn_is_fitted__() \
                else None
            cached = (version, predicted)
            with self._lock:
                if self._holdout is holdout:
                    self._holdout_predicted = cached
        return {
            "predicted": None if cached[1] is None else list(cached[1]),
            "model_version": version,
            "n_holdout": len(holdout),
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


def _apart(order: np.ndarray, k: int, graph: GraphSpreading, recent: np.ndarray,
           n_pool: int) -> np.ndarray:
    """Up to k of `order`, in order, none a near-duplicate of one before it or of
    `recent`."""
    near = np.zeros(n_pool, dtype=bool)
    near[graph.near(recent)] = True
    picked: list[int] = []
    for i in order:
        if not near[i]:
            picked.append(int(i))
            if len(picked) == k:
                break
            near[graph.near([i])] = True
    return np.asarray(picked, dtype=np.int64)


def _guesses(proba: np.ndarray, classes: np.ndarray) -> dict:
    """One sample's predicted class and its two most likely classes with their
    probabilities, most likely first: they show a person how sure the model is, where
    the score alone says little (the samples ranked first all score near 1)."""
    top = np.argsort(-proba, kind="stable")[:2]  # ties: the first class, as argmax
    return {
        "predicted": classes[top[0]].item(),
        "top_classes": [{"label": classes[c].item(), "probability": float(proba[c])}
                        for c in top],
    }
