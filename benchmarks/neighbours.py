"""Why a pool of a million gets a landmark graph, not an approximate one of all its samples.

A label spreads over a kNN graph. For a million samples there are two ways to have one
in time: the landmark graph the learner builds (``GraphSpreading``: 20,000 landmarks
joined to their 10 nearest by an exact search, every other sample hung on its 5
nearest landmarks, exactly), or a 10-nearest-neighbour graph of every sample found by an
approximate search. This benchmark builds all three on the same pool
(``pools.warped_pool``), in the same PCA-50 space the learner embeds it in, each run of
each in a process of its own with 2 native threads, and measures:

- ``build_s``: from the pool in memory until the graph's operator is ready (the
  embedding, the search, the affinities; for the landmark graph, all of ``fit_graph``);
- ``peak_mb``: the process's peak resident memory while building, less its memory
  before the pool was loaded (so the pool's 748 MiB are in it);
- ``spread_ms``: one spread of 100 labels over the graph, median of 3: what each label
  given costs the server before its next question;
- ``accuracy_10`` and ``accuracy_100``: the share of the whole pool the spread labels
  right from one random label per class, and from 100 random labels (seeded; the same
  labels for every graph), as a check that a graph's shortcut does not cost accuracy;
- ``recall``: for the approximate graphs, the share of 1,000 random samples' true 10
  nearest neighbours (an exact search over the whole pool) that the graph found.

The approximate searches are faiss-cpu's HNSW (``IndexHNSWFlat``, M 16, efConstruction
40, efSearch 32) and pynndescent's NN-descent (``NNDescent``, its defaults; its numba
code is compiled on a small array first, and that time is ``compile_s``, not in
``build_s``). Both are in the ``bench`` extra. Every figure is the median over
``--runs`` runs. Usage::

    python benchmarks/neighbours.py [--size 1000000] [--runs 3]
                                    [--methods landmarks hnsw nndescent]
                                    [--out benchmarks/results/neighbours.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from benchmarks.pools import warped_pool  # noqa: E402
from benchmarks.report import (  # noqa: E402
    environment,
    own_memory_mib,
    reset_peak_memory,
    rounded,
    write_json,
)

DEFAULT_OUT = REPO / "benchmarks" / "results" / "neighbours.json"
METHODS = ("landmarks", "hnsw", "nndescent")
THREADS = "2"  # as the server's fits have
RECALL_SAMPLES = 1_000
SPREADS = 3


def hnsw_neighbours(embedding: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every sample's k nearest (itself among them) by faiss's HNSW: distances, indices."""
    import faiss

    faiss.omp_set_num_threads(int(THREADS))
    index = faiss.IndexHNSWFlat(embedding.shape[1], 16)
    index.hnsw.efConstruction = 40
    index.add(embedding)
    index.hnsw.efSearch = 32
    squared, indices = index.search(embedding, k)
    return np.sqrt(np.maximum(squared, 0)), indices


def nndescent_neighbours(embedding: np.ndarray, k: int,
                         seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Every sample's k nearest (itself among them) by pynndescent: distances, indices."""
    from pynndescent import NNDescent

    indices, distances = NNDescent(embedding, n_neighbors=k, random_state=seed,
                                   n_jobs=int(THREADS)).neighbor_graph
    return distances, indices


def compile_nndescent() -> float:
    """Seconds to compile pynndescent's numba code, on a small array, once per process."""
    started = time.perf_counter()
    nndescent_neighbours(np.random.default_rng(0).random((2_000, 50), dtype=np.float32),
                         11, 0)
    return time.perf_counter() - started


def without_self(distances: np.ndarray, indices: np.ndarray, rows: np.ndarray,
                 k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest other samples of the samples `rows` from their k + 1 nearest:
    itself dropped where found, else the farthest."""
    own = indices == rows[:, None]
    own[~own.any(axis=1), -1] = True
    keep = ~own
    return (distances[keep].reshape(len(indices), k),
            indices[keep].reshape(len(indices), k))


def full_graph(graph, X: np.ndarray, distances: np.ndarray, indices: np.ndarray):
    """A ``GraphSpreading`` over every sample of X, from a search's neighbours (the same
    weights and operator as the learner's graph, float32 as its landmark graph's)."""
    from backend.learners import spreading

    graph.X_fit_, graph.nodes_, graph.anchors_ = X, None, None
    graph.n_features_in_, graph.k_, graph.indices_ = X.shape[1], indices.shape[1], indices
    graph.sigma_ = max(float(np.median(distances[:, -1])), spreading.TINY)
    graph.affinity_ = spreading._normalized_affinity(
        spreading._weights(distances, graph.sigma_), indices).astype(np.float32)
    graph.degrees_ = np.diff(graph.affinity_.indptr)
    graph._voters = {}
    return graph


def exact_neighbours(embedding: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """The true k nearest other samples of each of `rows`, over the whole embedding."""
    from sklearn.neighbors import NearestNeighbors

    search = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(embedding)
    return without_self(*search.kneighbors(embedding[rows]), rows, k)[1]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """The share of the true neighbours found."""
    return float(np.mean([len(np.intersect1d(f, t)) / len(t)
                          for f, t in zip(found, truth, strict=True)]))


def random_labels(truth: np.ndarray, n: int, seed: int) -> np.ndarray:
    """-1 everywhere but n seeded random samples (n = 10: one per class)."""
    from backend.learners.spreading import UNLABELED

    rng = np.random.default_rng(seed)
    if n == 10:
        rows = np.array([rng.choice(np.flatnonzero(truth == c)) for c in range(10)])
    else:
        rows = rng.choice(len(truth), n, replace=False)
    codes = np.full(len(truth), UNLABELED)
    codes[rows] = truth[rows]
    return codes


def one_run(method: str, pool_file: Path, seed: int) -> dict:
    """One method, one run, in this process (``--child``)."""
    from backend.learners.spreading import GraphSpreading

    compile_s = compile_nndescent() if method == "nndescent" else None
    before = own_memory_mib("VmRSS")
    with np.load(pool_file) as saved:
        X, truth = saved["images"], saved["labels"]
    reset_peak_memory()
    graph = GraphSpreading(random_state=seed)
    started = time.perf_counter()
    found = None
    if method == "landmarks":
        graph.fit_graph(X)
    else:
        graph.fit_embedding(X, np.random.default_rng(seed))
        embedding = np.ascontiguousarray(graph._embed(X), dtype=np.float32)
        k = graph.n_neighbors
        search = hnsw_neighbours(embedding, k + 1) if method == "hnsw" else \
            nndescent_neighbours(embedding, k + 1, seed)
        distances, found = without_self(*search, np.arange(len(X)), k)
        full_graph(graph, X, distances, found)
    build_s = time.perf_counter() - started
    peak_mb = own_memory_mib("VmHWM") - before
    result = {"method": method, "seed": seed, "build_s": build_s, "peak_mb": peak_mb}
    if compile_s is not None:
        result["compile_s"] = compile_s
    if found is not None:
        rows = np.random.default_rng(seed).choice(len(X), RECALL_SAMPLES, replace=False)
        result["recall"] = recall(found[rows], exact_neighbours(embedding, rows, k))
    for n in (10, 100):
        spread = copy.copy(graph).spread(random_labels(truth, n, seed))
        result[f"accuracy_{n}"] = float(np.mean(spread.transduction_ == truth))
    codes = random_labels(truth, 100, seed)
    spreads = []
    for _ in range(SPREADS):
        t0 = time.perf_counter()
        copy.copy(graph).spread(codes)
        spreads.append((time.perf_counter() - t0) * 1000)
    result["spread_ms"] = statistics.median(spreads)
    return result


def run_child(method: str, pool_file: Path, seed: int) -> dict:
    """One run in a fresh process, limited to 2 native threads."""
    env = {**os.environ, "OMP_NUM_THREADS": THREADS, "OPENBLAS_NUM_THREADS": THREADS,
           "NUMBA_NUM_THREADS": THREADS}
    done = subprocess.run([sys.executable, __file__, "--child", method, str(pool_file),
                           str(seed)], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the run of {method} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarize(runs: list[dict]) -> dict:
    keys = [key for key in runs[0] if key not in ("method", "seed")]
    return {key: statistics.median(run[key] for run in runs) for key in keys}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000,
                        help="the pool's samples (1000000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per method (3)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS),
                        help="the graphs to build (all three)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="the JSON (benchmarks/results/neighbours.json)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.size < 2 * RECALL_SAMPLES:
        parser.error(f"--runs must be at least 1 and --size at least {2 * RECALL_SAMPLES:,}")
    return args


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--child"]:
        method, pool_file, seed = sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
        print(json.dumps(one_run(method, pool_file, seed)))
        return 0
    args = parse_args(argv)
    started = time.perf_counter()
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        pool_file = Path(folder) / "pool.npz"
        print(f"making a pool of {args.size:,} warped digits ...", flush=True)
        digits = warped_pool(args.size)
        np.savez(pool_file, images=digits.images.reshape(args.size, -1), labels=digits.labels)
        del digits
        for method in args.methods:
            for seed in range(args.runs):
                print(f"{method}, run {seed + 1} of {args.runs} ...", flush=True)
                runs.append(run_child(method, pool_file, seed))
                print("  " + ", ".join(f"{k} {v:.4g}" for k, v in runs[-1].items()
                                       if isinstance(v, float)), flush=True)
    report = rounded({
        "benchmark": "neighbours",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "environment": environment(),
        "parameters": {"size": args.size, "runs": args.runs, "threads": int(THREADS),
                       "recall_samples": RECALL_SAMPLES},
        "methods": {method: summarize([run for run in runs if run["method"] == method])
                    for method in args.methods},
        "runs": runs,
        "wall_seconds": time.perf_counter() - started,
    })
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
