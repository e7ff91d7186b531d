"""The training set's neighbour graph, built once before training: what USPAH's semantic similarity rests on.

``nearest_neighbours`` lists each image's k most similar others over the
whole training set; ``graph_codes`` turns that graph into one target code
per image: the relaxed solution of the graph's own hashing objective
(Spectral Hashing, Weiss, Torralba & Fergus 2008; Anchor Graph Hashing, Liu
et al. 2011): bits that keep neighbours together, each splitting the set in
half, and uncorrelated with each other.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sparse
from scipy.sparse.linalg import eigsh

DENSE_UP_TO = 1000  # graphs this small are solved with a dense eigendecomposition (ARPACK wants k < n)


def nearest_neighbours(features: np.ndarray, k: int) -> np.ndarray:
    """(N, k) indices of each row's k most cosine-similar other rows (exact, FAISS)."""
    import faiss

    x = np.ascontiguousarray(features, dtype=np.float32).reshape(len(features), -1)
    x = x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    _, found = index.search(x, k + 1)
    # drop each row itself (usually first; exact duplicates may come in another order)
    return np.stack([row[row != i][:k] for i, row in enumerate(found)])


def graph_codes(graph: np.ndarray, bits: int, seed: int = 0) -> np.ndarray:
    """(N, bits) float32 codes in {-1, +1} from neighbour lists ``graph`` (N, k).

    Bit b is the sign of the (b+2)-th eigenvector (the first is constant) of the symmetric kNN
    graph's normalised adjacency D^-1/2 A D^-1/2, taken as a random-walk vector D^-1/2 v and split
    at its median. ``seed`` fixes ARPACK's starting vector, so the codes are the same on every run.
    """
    graph = np.asarray(graph)
    n, k = graph.shape
    if bits + 1 >= n:
        raise ValueError(f"{bits}-bit graph codes need more than {bits + 1} training images, got {n}")
    adjacency = sparse.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), graph.ravel())), shape=(n, n))
    adjacency = adjacency.maximum(adjacency.T)
    scale = sparse.diags(1.0 / np.sqrt(np.asarray(adjacency.sum(axis=1)).ravel()))
    normalised = scale @ adjacency @ scale
    if n <= DENSE_UP_TO:
        values, vectors = np.linalg.eigh(normalised.toarray())
    else:
        start = np.random.default_rng(seed).standard_normal(n)
        values, vectors = eigsh(normalised, k=bits + 1, which="LA", v0=start, tol=1e-4)
    leading = vectors[:, np.argsort(-values)[1 : bits + 1]]
    walk = scale @ leading
    return np.where(walk > np.median(walk, axis=0), 1.0, -1.0).astype(np.float32)
