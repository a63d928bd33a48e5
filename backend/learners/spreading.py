"""GraphSpreading: a classifier that learns from the unlabeled pool too.

Label spreading (Zhou et al., "Learning with local and global consistency", 2004) over a
k-nearest-neighbour graph of a PCA embedding of the pool: each label flows to the
samples near it, and on along the pool's own shape, so a handful of labels already
separate the clusters that the pool's digits form. Building the graph is the expensive
part (a PCA and a neighbour search, once per pool); spreading a new set of labels over
it is a few sparse products, milliseconds for 10,000 samples. ``fit`` does both;
``fit_graph`` builds the graph alone and ``spread`` re-uses it, which is what a learner
does after each label.

A supervised readout lifts it further: an RBF support vector machine trained on the
pool's spread labels (each weighted by how sure the spread is) answers for samples
outside the pool, where the neighbours' vote would only copy the spread's mistakes.
On MNIST it adds one to two points of held-out accuracy once there are a hundred labels.
It is fitted on first use after each spread, so a spread stays a matter of milliseconds.

Two more choices lift it on images. Samples are scaled to unit length before the PCA
(``normalize``), so neighbours are found by the angle between them: a digit drawn with
more ink is still near its thinner twin. And each class's spread mass is scaled to the
same total (``class_mass``, Zhu et al. 2003), so a class with few labels is not swamped
by one with many while the labels are still few.

It follows scikit-learn's semi-supervised convention (``fit(X, y)`` with -1 for the
unlabeled samples, ``transduction_``, ``label_distributions_``) and answers
``predict_proba`` for any sample: for the samples it was fitted on (the very array) it
is their spread labels, for others a weighted vote of their neighbours in the pool, so
modAL's uncertainty measures work on it as on any classifier.

A pool larger than ``max_nodes`` gets a landmark graph instead (an anchor graph, Liu, He
and Chang, "Large graph construction for scalable semi-supervised learning", ICML 2010):
the graph joins a seeded random sample of ``max_nodes`` of its samples, the landmarks,
and every other sample hangs on its ``n_anchors`` nearest landmarks, its labels the
weighted mean of theirs. A label spreads over the landmarks only, so its cost stays that
of a 20,000-sample pool however large the pool is (a spread over a million-sample graph
takes half a minute on 2 cores), and finding each sample's nearest landmarks is an
exact search, a minute or so for a million samples. An approximate graph of every
sample is built as fast and learns better, but each spread over it would keep a person
waiting: ``benchmarks/neighbours.py`` measures both.
"""

from __future__ import annotations

import copy

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import Normalizer
from sklearn.semi_supervised import LabelSpreading
from sklearn.svm import SVC
from sklearn.utils.validation import check_array, check_is_fitted

UNLABELED = -1
TINY = 1e-12
PCA_SAMPLES = 10_000  # a larger pool's PCA is fitted on a sample of it, then applied to all
MAX_NODES = 20_000  # a larger pool's graph joins this many landmarks (see the module's doc)
CHUNK = 20_000  # samples embedded at a time: a uint8 pool is never made floats whole


class GraphSpreading(ClassifierMixin, BaseEstimator):
    """Label spreading over a kNN graph of a PCA embedding of all samples fitted (or of
    ``max_nodes`` landmarks among them, the others hanging on their ``n_anchors``
    nearest landmarks).

    ``alpha``: how far labels travel (near 1: along the graph; near 0: stay put).
    Labeled samples keep their labels: a person's answer is not up for a vote.
    """

    def __init__(self, n_components: int = 50, n_neighbors: int = 10, alpha: float = 0.99,
                 n_iter: int = 40, normalize: bool = True, class_mass: bool = True,
                 readout: bool = True, readout_samples: int = 10_000,
                 max_nodes: int = MAX_NODES, n_anchors: int = 5,
                 random_state: int = 0) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.n_iter = n_iter
        self.normalize = normalize
        self.class_mass = class_mass
        self.readout = readout
        self.readout_samples = readout_samples
        self.max_nodes = max_nodes
        self.n_anchors = n_anchors
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> GraphSpreading:
        """Build the graph of X (all samples, labeled or not) and spread y (-1: unlabeled)."""
        return self.fit_graph(X).spread(y)

    def fit_graph(self, X: np.ndarray) -> GraphSpreading:
        """Build the graph of X alone: the part done once per pool."""
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1, got {self.alpha!r}")
        X = np.asarray(X)
        if X.ndim != 2 or len(X) < 2:
            raise ValueError(f"GraphSpreading needs a 2-D array of at least 2 samples, "
                             f"got shape {X.shape}")
        self.n_features_in_ = X.shape[1]
        self.X_fit_ = X  # the caller's array: predict_proba(X_fit_) answers from the spread
        rng = np.random.default_rng(self.random_state)
        self.fit_embedding(X, rng)
        # the graph's nodes: every sample, or a seeded sample of landmarks
        self.nodes_ = None if len(X) <= self.max_nodes else \
            np.sort(rng.choice(len(X), self.max_nodes, replace=False))
        embedding = self._embed(X if self.nodes_ is None else X[self.nodes_])
        self.k_ = min(self.n_neighbors, len(embedding) - 1)
        self.neighbors_ = NearestNeighbors(n_neighbors=self.k_ + 1).fit(embedding)
        distances, indices = self.neighbors_.kneighbors(embedding)
        distances, self.indices_ = distances[:, 1:], indices[:, 1:]  # not itself
        self.sigma_ = max(float(np.median(distances[:, -1])), TINY)
        self.affinity_ = _normalized_affinity(_weights(distances, self.sigma_), self.indices_)
        if self.nodes_ is not None:  # half the memory traffic per spread, where it counts
            self.affinity_ = self.affinity_.astype(np.float32)
        self.degrees_ = np.diff(self.affinity_.indptr)  # each node's neighbours in the graph
        self.anchors_ = None if self.nodes_ is None else self._anchors(X)
        self._voters: dict = {}  # out-of-pool samples' neighbours, shared by copies
        return self

    def fit_embedding(self, X: np.ndarray, rng: np.random.Generator) -> GraphSpreading:
        """Fit the PCA the graph lives in (on a sample of a large pool): the first step of
        ``fit_graph``, apart so that ``benchmarks/neighbours.py`` builds other graphs in
        the very same space."""
        sample = X if len(X) <= PCA_SAMPLES else \
            X[rng.choice(len(X), PCA_SAMPLES, replace=False)]
        sample = self._scaled(_floats(sample))
        self.pca_ = PCA(min(self.n_components, *sample.shape),
                        random_state=self.random_state).fit(sample)
        return self

    def _anchors(self, X: np.ndarray) -> sparse.csr_matrix:
        """Each sample's weights on its nearest landmarks (rows summing to 1; a
        landmark's row is itself alone), found chunk by chunk."""
        n, m = len(X), len(self.nodes_)
        s = min(self.n_anchors, m)
        columns = np.empty((n, s), dtype=np.int32)
        weights = np.empty((n, s), dtype=np.float32)
        for start in range(0, n, CHUNK):
            rows = slice(start, start + CHUNK)
            distances, columns[rows] = self.neighbors_.kneighbors(self._embed(X[rows]), s)
            weights[rows] = _weights(distances, self.sigma_)
        weights[self.nodes_] = np.eye(1, s, dtype=np.float32)
        columns[self.nodes_, 0] = np.arange(m)
        far = weights.sum(axis=1) < TINY  # far from every landmark: count them equally
        weights[far] = 1.0
        weights /= weights.sum(axis=1, keepdims=True)
        self.nearest_ = columns[:, 0].copy()  # each sample's nearest landmark
        order = np.argsort(self.nearest_, kind="stable")  # the samples by it, for near()
        self.cells_ = (order, np.searchsorted(self.nearest_[order], np.arange(m + 1)))
        return sparse.csr_matrix((weights.ravel(), columns.ravel(),
                                  np.arange(0, n * s + 1, s)), shape=(n, m))

    def nearest_nodes(self, samples: np.ndarray) -> np.ndarray:
        """The graph node (a row of ``indices_``) each of the pool's `samples` is, or
        hangs on most."""
        samples = np.asarray(samples, dtype=np.int64)
        return samples if self.anchors_ is None else self.nearest_[samples]

    def node_samples(self, nodes: np.ndarray) -> np.ndarray:
        """The pool samples that are the graph's `nodes`."""
        return np.asarray(nodes, dtype=np.int64) if self.nodes_ is None else self.nodes_[nodes]

    def near(self, samples: np.ndarray) -> np.ndarray:
        """The pool samples so close to `samples` that asking both wastes a question: their
        graph neighbours, or in a landmark graph those that hang on the same nearest
        landmark (about n / max_nodes samples each)."""
        samples = np.asarray(samples, dtype=np.int64)
        if self.anchors_ is None:
            return self.indices_[samples].ravel()
        order, starts = self.cells_
        cells = np.unique(self.nearest_[samples])
        return np.concatenate([order[starts[c]:starts[c + 1]] for c in cells]) \
            if len(cells) else samples

    def spread(self, y: np.ndarray) -> GraphSpreading:
        """Spread new labels over the graph ``fit_graph`` built: the fast path per label."""
        check_is_fitted(self, "affinity_")
        y = np.asarray(y)
        n = len(self.X_fit_)
        if y.shape != (n,):
            raise ValueError(f"y must hold one label per fitted sample ({n}), "
                             f"got shape {y.shape}")
        labeled = y != UNLABELED
        if not labeled.any():
            raise ValueError("no labeled sample: label at least one (unlabeled are -1)")
        self.classes_, codes = np.unique(y[labeled], return_inverse=True)
        rows = np.flatnonzero(labeled)
        answers = np.eye(len(self.classes_), dtype=self.affinity_.dtype)[codes]
        spread = self._spread_nodes(rows, answers)
        if self.anchors_ is None:
            self.label_distributions_ = self.node_distributions_ = _rows_summing_to_one(spread)
        else:  # every sample: the mean of its landmarks' distributions
            self.node_distributions_ = _rows_summing_to_one(spread)
            self.label_distributions_ = self.anchors_ @ self.node_distributions_
            self.label_distributions_[rows] = answers
        self.labeled_ = labeled
        self._readout = None  # this spread's own, fitted when first needed
        return self

    def _spread_nodes(self, rows: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """The spread over the graph's nodes of the answers for the pool's samples
        `rows` (in a landmark graph each answer seeds the sample's landmarks by its
        weights), each class's mass scaled to the same total; labeled nodes keep theirs."""
        m = self.affinity_.shape[0]
        if self.anchors_ is None:
            nodes, seeds = rows, np.zeros((m, answers.shape[1]), dtype=answers.dtype)
            seeds[rows] = answers
        else:
            nodes = self.node_rows(rows)
            seeds = np.asarray(self.anchors_[rows].T @ answers)
        spread = seeds
        for _ in range(self.n_iter):
            spread = self.alpha * (self.affinity_ @ spread) + (1 - self.alpha) * seeds
        if self.class_mass:
            spread = spread / np.maximum(spread.sum(axis=0, keepdims=True), TINY)
        landmarks = nodes >= 0  # labeled samples that are nodes themselves
        spread[nodes[landmarks]] = answers[landmarks]
        return spread

    def node_rows(self, samples: np.ndarray) -> np.ndarray:
        """Each of the pool's `samples`' row among the graph's nodes, -1 if it is none."""
        samples = np.asarray(samples, dtype=np.int64)
        if self.nodes_ is None:
            return samples
        at = np.searchsorted(self.nodes_, samples)
        found = (at < len(self.nodes_)) & (self.nodes_[np.minimum(at, len(self.nodes_) - 1)]
                                           == samples)
        return np.where(found, at, -1)

    @property
    def transduction_(self) -> np.ndarray:
        """Each fitted sample's spread label (scikit-learn's name), found when asked: an
        argmax over a million samples costs as much as the spread."""
        check_is_fitted(self, "label_distributions_")
        return self.classes_[self.label_distributions_.argmax(axis=1)]

    def reach(self, seeds: np.ndarray) -> np.ndarray:
        """How much of a label at each of the `seeds` (a mask over the graph's nodes) would
        reach each node: one spread of a single class from all of them, unscaled."""
        check_is_fitted(self, "affinity_")
        start = seeds.astype(np.float64)
        spread = start
        for _ in range(self.n_iter):
            spread = self.alpha * (self.affinity_ @ spread) + (1 - self.alpha) * start
        return spread

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Each sample's class probabilities: its spread labels if X is the array fitted,
        else its neighbours' in the pool, weighted by closeness."""
        check_is_fitted(self, "label_distributions_")
        if X is self.X_fit_:
            return self.label_distributions_
        weights, indices = self._neighbours_of(X)
        return np.einsum("nk,nkc->nc", weights, self.node_distributions_[indices])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The spread label for the samples fitted; for others the readout's answer
        (with ``readout=False``, the most probable class of ``predict_proba``)."""
        check_is_fitted(self, "label_distributions_")
        if X is self.X_fit_ or not self.readout:
            return self.classes_[self.predict_proba(X).argmax(axis=1)]
        return self.readout_().predict(self._embed(X))

    def readout_(self) -> SVC:
        """The SVM trained on this spread's labels (fitted once, on first use)."""
        check_is_fitted(self, "label_distributions_")
        if self._readout is None:
            embedding = self.neighbors_._fit_X  # the graph's nodes
            rows = self.node_rows(np.flatnonzero(self.labeled_))
            rows = rows[rows >= 0]
            others = np.setdiff1d(np.arange(len(embedding)), rows)
            room = max(self.readout_samples - len(rows), 0)
            if len(others) > room:
                rng = np.random.default_rng(self.random_state)
                others = np.sort(rng.choice(others, room, replace=False))
            rows = np.concatenate([rows, others])
            spread = self.node_distributions_[rows]
            self._readout = SVC(C=10, gamma="scale", random_state=self.random_state).fit(
                embedding[rows], self.classes_[spread.argmax(axis=1)],
                sample_weight=spread.max(axis=1))
        return self._readout

    def to_pipeline(self, classes: np.ndarray | None = None,
                    readout: bool | None = None) -> Pipeline:
        """What ``predict`` does for new samples as a plain scikit-learn pipeline
        (normalizer, this PCA, the readout or a neighbours' vote on the spread labels),
        for those who load models trusting scikit-learn's types only. ``classes``
        renames ``classes_`` (e.g. codes to a session's labels); ``readout=False`` ends
        in the neighbours' soft vote, which has probabilities, whatever ``self.readout``."""
        check_is_fitted(self, "label_distributions_")
        names = self.classes_ if classes is None else np.asarray(classes)
        if self.readout if readout is None else readout:
            last = copy.deepcopy(self.readout_())
            last.classes_ = names  # SVC predicts classes_[its decision]
        else:
            last = self._soft_vote(names)
        steps = [Normalizer().fit(self.X_fit_[:1])] if self.normalize else []
        return make_pipeline(*steps, self.pca_, last)

    def _soft_vote(self, names: np.ndarray) -> LabelSpreading:
        """The neighbours' vote on the spread labels as scikit-learn's LabelSpreading
        (knn kernel) answers new samples: the mean of their k nearest pool samples'
        spread labels. It is set, not fitted: fitting would spread anew, over its own
        graph."""
        vote = LabelSpreading(kernel="knn", n_neighbors=self.k_)
        vote.X_ = self.neighbors_._fit_X
        vote.nn_fit = copy.copy(self.neighbors_).set_params(n_neighbors=self.k_)
        vote.label_distributions_ = self.node_distributions_
        vote.classes_ = names
        vote.transduction_ = names[self.node_distributions_.argmax(axis=1)]
        vote.n_features_in_ = vote.X_.shape[1]
        return vote

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        if not self.normalize:
            return X
        return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), TINY)

    def _embed(self, X: np.ndarray) -> np.ndarray:
        """Samples where the graph lives: checked, scaled, projected, chunk by chunk."""
        if len(X) <= CHUNK:
            return self.pca_.transform(self._scaled(_floats(X)))
        return np.concatenate([self._embed(X[start:start + CHUNK])
                               for start in range(0, len(X), CHUNK)])

    def _neighbours_of(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """X's neighbours in the pool and their weights, kept for the last X asked about
        (a held-out set is asked about once per label; the graph never changes)."""
        cached = self._voters.get("last")
        if cached is not None and cached[0] is X:
            return cached[1], cached[2]
        distances, indices = self.neighbors_.kneighbors(self._embed(X), n_neighbors=self.k_)
        weights = _weights(distances, self.sigma_)
        far = weights.sum(axis=1) < TINY  # far from every neighbour: count them equally
        weights[far] = 1.0
        weights /= weights.sum(axis=1, keepdims=True)
        self._voters["last"] = (X, weights, indices)
        return weights, indices


def _floats(X: np.ndarray) -> np.ndarray:
    """X checked, as floats (uint8 pixels become float32)."""
    return check_array(X, dtype=(np.float32, np.float64))


def _weights(distances: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian of the distance, scaled by the typical k-th neighbour's distance."""
    return np.exp(-((distances / sigma) ** 2))


def _normalized_affinity(weights: np.ndarray, indices: np.ndarray) -> sparse.csr_matrix:
    """D^-1/2 W D^-1/2 of the symmetric kNN graph (an edge if either is the other's
    neighbour): the operator label spreading iterates."""
    n, k = indices.shape
    graph = sparse.csr_matrix((weights.ravel(), (np.repeat(np.arange(n), k),
                                                 indices.ravel())), shape=(n, n))
    graph = graph.maximum(graph.T)
    scale = sparse.diags(1 / np.sqrt(np.maximum(np.asarray(graph.sum(axis=1)).ravel(), TINY)))
    return (scale @ graph @ scale).tocsr()


def _rows_summing_to_one(scores: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to 1, in place; a row no label reached (its own island) is
    uniform."""
    totals = scores.sum(axis=1)
    lost = totals <= TINY
    scores /= np.where(lost, 1.0, totals)[:, None]
    scores[lost] = 1 / scores.shape[1]
    return scores
