"""Exploring: the first questions of a model that knows nothing yet, and the samples the
labels reach least, for a model that may not know every class yet.

Before a model can rank anything, uncertainty sampling degenerates to "the first rows of
the pool", which are often alike. Where the pool's graph falls into as many clusters as
there are classes, the first questions are one per cluster (``SpectralClusters``), so the
first labels meet every class the pool's shape separates. Elsewhere, and while the graph
is still being built, k-means++ seeding (each pick drawn with probability proportional to
its squared distance from everything picked or labeled so far) spreads them over the data
without favouring lone outliers as greedy farthest-point selection does; its candidates
are a seeded random subset, so the cost stays bounded.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import eigh
from scipy.sparse.linalg import eigsh
from sklearn.cluster import KMeans

from .spreading import GraphSpreading

MAX_CANDIDATES = 2000
DISCOVER_UNTIL = 30  # labels: past them, auto's random checks find what is missing
DISCOVER_EVERY = 4  # one question in four, before that, goes where no label reaches
MIN_CLUSTER = 20  # nodes per cluster at least, so a tiny pool is cut in fewer
DENSE_UP_TO = 2000  # nodes: a smaller graph's eigenvectors come from a dense solver
MIN_GAP = 1.6  # the eigengap that says the graph has as many clusters as classes
_CHUNK = 512


def _min_sq_dist(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Each row of X's squared distance to its nearest center (centers in chunks)."""
    best = np.full(len(X), np.inf)
    x2 = np.einsum("ij,ij->i", X, X)
    for start in range(0, len(centers), _CHUNK):
        c = centers[start : start + _CHUNK]
        d2 = x2[:, None] + np.einsum("ij,ij->i", c, c)[None, :] - 2.0 * X @ c.T
        best = np.minimum(best, d2.min(axis=1))
    return np.maximum(best, 0.0)


def diverse_sampling(
    X: np.ndarray,
    n: int,
    *,
    labeled: np.ndarray | None = None,
    random_state: int = 0,
    max_candidates: int = MAX_CANDIDATES,
) -> np.ndarray:
    """Indices of n rows of X, none in `labeled`, spread out k-means++ style; seeded."""
    rng = np.random.default_rng(random_state)
    labeled = np.asarray([] if labeled is None else labeled, dtype=np.int64)
    candidates = np.setdiff1d(np.arange(len(X)), labeled)
    if len(candidates) > max_candidates:
        candidates = np.sort(rng.choice(candidates, size=max_candidates, replace=False))
    n = min(n, len(candidates))
    if n == 0:
        return np.empty(0, dtype=np.int64)
    pts = X[candidates].astype(np.float64)  # a pool may hold uint8 pixels
    # Distance to the nearest labeled sample; inf while nothing is labeled.
    d2 = _min_sq_dist(pts, X[labeled].astype(np.float64)) if len(labeled) \
        else np.full(len(pts), np.inf)
    picked: list[int] = []
    for _ in range(n):
        weights = np.where(np.isfinite(d2), d2, 0.0)
        weights[picked] = 0.0
        if np.isinf(d2).all() or weights.sum() <= 0.0:
            free = np.setdiff1d(np.arange(len(pts)), picked)
            choice = int(rng.choice(free))
        else:
            choice = int(rng.choice(len(pts), p=weights / weights.sum()))
        picked.append(choice)
        d2 = np.minimum(d2, _min_sq_dist(pts, pts[choice : choice + 1]))
    return candidates[np.asarray(picked, dtype=np.int64)]


def discoveries_due(n_labeled: int, k: int) -> int:
    """How many of the next k questions go where the labels reach least: those numbered
    2, 6, 10, ... below DISCOVER_UNTIL (counting the labels before them)."""
    return sum(1 for q in range(n_labeled, min(n_labeled + k, DISCOVER_UNTIL))
               if q % DISCOVER_EVERY == 2)


def least_reached(graph: GraphSpreading, seen: np.ndarray, n: int) -> np.ndarray:
    """n samples, neither `seen` (labeled, skipped, excluded) nor a graph neighbour of one,
    that the samples seen reach least over the pool's graph, among the denser half of it
    (a lone outlier is reached least of all, and teaches little).

    Margin sampling asks where two known classes meet, so a class that no label has
    found yet stays unfound: ten random labels of MNIST miss two or three digits, and
    margin sampling alone took until about 40 labels to find them (benchmarks/
    label_efficiency.py --features strokes, seed 2: 88% at 30 labels, 95% with these).
    A cluster no label reaches is where such a class hides. Each pick counts as seen for
    the next, so n picks go to n different places. In a landmark graph the picks are
    landmarks, and a sample seen counts at its nearest landmark."""
    seeds = np.zeros(graph.affinity_.shape[0], dtype=bool)  # over the graph's nodes
    seen_nodes = graph.nearest_nodes(seen)
    seeds[seen_nodes] = True
    open_ = graph.degrees_ >= np.median(graph.degrees_)
    open_[seen_nodes] = False
    open_[graph.indices_[seen_nodes].ravel()] = False
    picked: list[int] = []
    for _ in range(n):
        candidates = np.flatnonzero(open_)
        if not len(candidates):
            break
        reach = graph.reach(seeds)
        pick = int(candidates[np.argmin(reach[candidates])])
        picked.append(pick)
        seeds[pick] = True
        open_[graph.indices_[pick]] = False
    return graph.node_samples(np.asarray(picked, dtype=np.int64))


class SpectralClusters:
    """The pool's graph cut into n clusters (spectral clustering, Ng, Jordan and Weiss
    2001: the top n eigenvectors of the graph's normalized affinity, each node's row
    scaled to unit length, then k-means), each cluster's nodes from the most typical
    (nearest its centre) on: the first questions of a learner that knows nothing.

    One question per cluster, largest first, finds the pool's classes much faster than
    spread-out picks: with n the number of classes, the first 10 questions on MNIST's
    10,000 test digits (stroke features) hit all ten digits for every seed tried (k-means++
    spread-out picks hit 5 to 8), and those 10 labels alone give 97% held-out accuracy
    (``benchmarks/label_efficiency.py --initial 0``).

    Where the graph does not fall into that many clusters (``gap`` below MIN_GAP: text
    embeddings, 1.02; raw MNIST pixels, 1.16; the photo patches' image features, 1.5;
    against 1.9 for stroke features and 2.3 to 4.2 for the benchmark's tables), they would
    be arbitrary cuts, and on the own-data benchmark they cost up to 6 points (raw MNIST
    at 30 labels; the photo patches 2.6 at 30): there the spread-out picks stay.
    """

    @classmethod
    def of(cls, graph: GraphSpreading, n: int, random_state: int = 0
           ) -> SpectralClusters | None:
        """The graph's n clusters, or None where its eigengap is below MIN_GAP (then no
        k-means is run). Raises scipy's ArpackError if the eigenvectors do not converge."""
        affinity = graph.affinity_
        n = max(2, min(n, affinity.shape[0] // MIN_CLUSTER))
        if affinity.shape[0] <= DENSE_UP_TO:  # ARPACK is slow to converge on tiny graphs
            values, vectors = eigh(affinity.toarray(), subset_by_index=(
                affinity.shape[0] - n - 1, affinity.shape[0] - 1))
        else:
            v0 = np.random.default_rng(random_state).random(affinity.shape[0])
            values, vectors = eigsh(affinity, k=n + 1, which="LA", v0=v0)
        order = np.argsort(-values)
        # how much further the (n+1)-th eigenvalue lies from 1 than the n-th: large when
        # the graph falls into n clusters, near 1 when it does not (the eigengap)
        gap = (1 - values[order[n]]) / max(1 - values[order[n - 1]], 1e-12)
        if gap < MIN_GAP:
            return None
        return cls(graph, vectors[:, order[:n]], gap, random_state)

    def __init__(self, graph: GraphSpreading, rows: np.ndarray, gap: float,
                 random_state: int = 0) -> None:
        """Clusters of the graph's nodes from their spectral `rows` (one column per
        eigenvector); ``of`` finds those."""
        n = rows.shape[1]
        self.gap = gap
        rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        kmeans = KMeans(n, n_init=5, random_state=random_state).fit(rows)
        closeness = np.linalg.norm(rows - kmeans.cluster_centers_[kmeans.labels_], axis=1)
        self.graph = graph
        self.cluster_of_node = kmeans.labels_
        sizes = np.bincount(kmeans.labels_, minlength=n)
        self.ranked = [np.flatnonzero(kmeans.labels_ == c)[np.argsort(
            closeness[kmeans.labels_ == c], kind="stable")]
            for c in np.argsort(-sizes, kind="stable")]

    def __len__(self) -> int:
        return len(self.ranked)

    def questions(self, labeled: np.ndarray, taken: np.ndarray, k: int) -> np.ndarray:
        """Up to k pool samples, the most typical of each cluster that no sample labeled
        or `taken` (skipped, or labeled and still on its way) lies in, largest cluster
        first; none once there are as many labels as clusters (the model asks on its own
        from there)."""
        due = min(k, len(self) - len(labeled))
        if due <= 0:
            return np.empty(0, dtype=np.int64)
        seen = self.graph.nearest_nodes(np.union1d(labeled, taken))
        covered = set(self.cluster_of_node[seen].tolist())
        picks = [int(nodes[0]) for nodes in self.ranked  # no node of these is seen
                 if self.cluster_of_node[nodes[0]] not in covered][:due]
        return self.graph.node_samples(np.asarray(picks, dtype=np.int64))
