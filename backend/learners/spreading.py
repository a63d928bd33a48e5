"""GraphSpreading: a classifier that learns from the unlabeled pool too.

Label spreading (Zhou et al., "Learning with local and global consistency", 2004) over a
k-nearest-neighbour graph of a PCA embedding of the pool: each label flows to the
samples near it, and on along the pool's own shape, so a handful of labels already
separate the clusters that the pool's digits form. Building the graph is the expensive
part (a PCA and a neighbour search, once per pool); spreading a new set of labels over
it is a few sparse products, milliseconds for 10,000 samples. ``fit`` does both;
``spread`` re-uses the graph, which is what a learner does after each label.

It follows scikit-learn's semi-supervised convention (``fit(X, y)`` with -1 for the
unlabeled samples, ``transduction_``, ``label_distributions_``) and answers
``predict_proba`` for any sample, in the pool or not, by its neighbours in the pool, so
modAL's uncertainty measures work on it as on any classifier.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_array, check_is_fitted

UNLABELED = -1
TINY = 1e-12


class GraphSpreading(ClassifierMixin, BaseEstimator):
    """Label spreading over a kNN graph of a PCA embedding of all samples fitted.

    ``alpha``: how far labels travel (near 1: along the graph; near 0: stay put).
    Labeled samples keep their labels: a person's answer is not up for a vote.
    """

    def __init__(self, n_components: int = 50, n_neighbors: int = 10, alpha: float = 0.99,
                 n_iter: int = 40, random_state: int = 0) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.n_iter = n_iter
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> GraphSpreading:
        """Build the graph of X (all samples, labeled or not) and spread y (-1: unlabeled)."""
        X = check_array(X, dtype=np.float64)
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1, got {self.alpha!r}")
        if len(X) < 2:
            raise ValueError("GraphSpreading needs at least 2 samples")
        self.n_features_in_ = X.shape[1]
        components = min(self.n_components, X.shape[0], X.shape[1])
        self.pca_ = PCA(components, random_state=self.random_state).fit(X)
        embedding = self.pca_.transform(X)
        self.k_ = min(self.n_neighbors, len(X) - 1)
        self.neighbors_ = NearestNeighbors(n_neighbors=self.k_ + 1).fit(embedding)
        distances, indices = self.neighbors_.kneighbors(embedding)
        distances, indices = distances[:, 1:], indices[:, 1:]  # not itself
        self.sigma_ = max(float(np.median(distances[:, -1])), TINY)
        self.affinity_ = _normalized_affinity(_weights(distances, self.sigma_), indices)
        return self.spread(y)

    def spread(self, y: np.ndarray) -> GraphSpreading:
        """Spread new labels over the graph ``fit`` built: the fast path after a label."""
        check_is_fitted(self, "affinity_")
        y = np.asarray(y)
        if y.shape != (self.affinity_.shape[0],):
            raise ValueError(f"y must hold one label per fitted sample "
                             f"({self.affinity_.shape[0]}), got shape {y.shape}")
        labeled = y != UNLABELED
        if not labeled.any():
            raise ValueError("no labeled sample: label at least one (unlabeled are -1)")
        self.classes_, codes = np.unique(y[labeled], return_inverse=True)
        seeds = np.zeros((len(y), len(self.classes_)))
        seeds[np.flatnonzero(labeled), codes] = 1.0
        spread = seeds
        for _ in range(self.n_iter):
            spread = self.alpha * (self.affinity_ @ spread) + (1 - self.alpha) * seeds
        spread[labeled] = seeds[labeled]
        self.label_distributions_ = _rows_summing_to_one(spread)
        self.transduction_ = self.classes_[self.label_distributions_.argmax(axis=1)]
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Each sample's class probabilities: its neighbours' in the pool, weighted."""
        check_is_fitted(self, "label_distributions_")
        X = check_array(X, dtype=np.float64)
        distances, indices = self.neighbors_.kneighbors(self.pca_.transform(X),
                                                        n_neighbors=self.k_)
        weights = _weights(distances, self.sigma_)
        far = weights.sum(axis=1) < TINY  # far from every neighbour: count them equally
        weights[far] = 1.0
        weights /= weights.sum(axis=1, keepdims=True)
        return np.einsum("nk,nkc->nc", weights, self.label_distributions_[indices])

    def predict(self, X: np.ndarray) -> np.ndarray:
        proba = self.predict_proba(X)  # first: it says so clearly if not fitted
        return self.classes_[proba.argmax(axis=1)]


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
    """Rows scaled to sum to 1; a row no label reached (its own island) is uniform."""
    totals = scores.sum(axis=1, keepdims=True)
    uniform = np.full_like(scores, 1 / scores.shape[1])
    return np.where(totals > TINY, scores / np.maximum(totals, TINY), uniform)
