"""Improved precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and
Recall Metric for Assessing Generative Models", sec. 2).

Each set's manifold is the union of balls around its feature vectors, the radius of a
ball being the distance to that point's k-th nearest neighbour within its own set
(k = 3 in the paper). Then

    precision = share of generated features inside the real manifold   (realism)
    recall    = share of real features inside the generated manifold   (coverage)

High precision with low recall is the signature of mode collapse. Distances are computed
in row blocks of at most ``max_block_elements`` entries, so 10k x 10k features never
need a 10k^2 matrix in memory at once.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

DEFAULT_BLOCK_ELEMENTS = 1 << 23  # 8M float64 distances = 64 MB per block


def _distance_blocks(a: np.ndarray, b: np.ndarray, max_block_elements: int) -> Iterator[tuple[slice, np.ndarray]]:
    """Squared Euclidean distances ||a_i - b_j||^2 in blocks of rows: (rows, float64 [r, len(b)])."""
    rows = max(1, max_block_elements // max(len(b), 1))
    b_sq = np.einsum("ij,ij->i", b, b)
    for start in range(0, len(a), rows):
        block = a[start : start + rows]
        d2 = np.einsum("ij,ij->i", block, block)[:, None] + b_sq[None, :] - 2.0 * (block @ b.T)
        yield slice(start, start + len(block)), np.maximum(d2, 0.0)


def knn_radii(features, k: int = 3, max_block_elements: int = DEFAULT_BLOCK_ELEMENTS) -> np.ndarray:
    """Distance from each feature [N, D] to its k-th nearest other feature -> float64 [N].

    Each point's zero distance to itself is counted as the 0-th neighbour, as in the
    paper's code, so k = 1 is the nearest *other* point. Needs N > k.
    """
    x = np.asarray(features, np.float64)
    if len(x) <= k:
        raise ValueError(f"k={k} nearest neighbours need more than {k} points, got {len(x)}")
    radii = np.empty(len(x))
    for rows, d2 in _distance_blocks(x, x, max_block_elements):
        d2[np.arange(d2.shape[0]), np.arange(rows.start, rows.stop)] = 0.0  # exact self-distance
        radii[rows] = np.partition(d2, k, axis=1)[:, k]
    return np.sqrt(radii)


def manifold_coverage(
    manifold_points, radii, queries, max_block_elements: int = DEFAULT_BLOCK_ELEMENTS
) -> float:
    """Share of ``queries`` [M, D] within radii[j] (inclusive) of some manifold_points[j] [N, D]."""
    points = np.asarray(manifold_points, np.float64)
    queries = np.asarray(queries, np.float64)
    r2 = np.asarray(radii, np.float64) ** 2
    inside = np.zeros(len(queries), bool)
    for rows, d2 in _distance_blocks(queries, points, max_block_elements):
        inside[rows] = (d2 <= r2[None, :]).any(axis=1)
    return float(inside.mean())


def precision_recall(
    real_features, fake_features, k: int = 3, max_block_elements: int = DEFAULT_BLOCK_ELEMENTS
) -> dict:
    """real [N, D], fake [M, D] -> {"precision", "recall", "pr_k", "n_real", "n_fake"}, values in [0, 1]."""
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    real_radii = knn_radii(real, k, max_block_elements)
    fake_radii = knn_radii(fake, k, max_block_elements)
    return {
        "precision": manifold_coverage(real, real_radii, fake, max_block_elements),
        "recall": manifold_coverage(fake, fake_radii, real, max_block_elements),
        "pr_k": int(k),
        "n_real": len(real),
        "n_fake": len(fake),
    }
