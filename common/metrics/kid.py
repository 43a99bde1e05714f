"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs", sec. 5):
the unbiased estimate of squared MMD between real and generated Inception features with
the cubic polynomial kernel

    k(x, y) = (x.y / d + 1)^3

    MMD^2_u = 1/(m(m-1)) sum_{i!=j} k(x_i, x_j) + 1/(n(n-1)) sum_{i!=j} k(y_i, y_j)
              - 2/(mn) sum_{i,j} k(x_i, y_j)

averaged over random subsets. Unlike FID it is unbiased, so it can be slightly negative
when the two distributions are equal, and it is usable with few images.
"""

from __future__ import annotations

import numpy as np


def polynomial_kernel(x, y, degree: int = 3, gamma: float | None = None, coef0: float = 1.0) -> np.ndarray:
    """k(x, y) = (gamma x.y + coef0)^degree, gamma defaults to 1/d. x [N, D], y [M, D] -> [N, M]."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (gamma * (x @ y.T) + coef0) ** degree


def mmd2_unbiased(x, y, **kernel_options) -> float:
    """Unbiased MMD^2 between samples x [m, D] and y [n, D] (m, n >= 2), polynomial kernel."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError(f"unbiased MMD needs at least 2 samples per set, got {m} and {n}")
    k_xx = polynomial_kernel(x, x, **kernel_options)
    k_yy = polynomial_kernel(y, y, **kernel_options)
    k_xy = polynomial_kernel(x, y, **kernel_options)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kid_from_features(real_features, fake_features, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> dict:
    """KID between real [N, D] and fake [M, D] features -> dict.

    Each of ``num_subsets`` estimates draws ``min(subset_size, N, M)`` real and fake
    features without replacement; returns {"kid": mean, "kid_std": std over subsets,
    "kid_subset_size", "kid_num_subsets", "n_real", "n_fake"}. Deterministic for a seed.
    """
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    m = min(subset_size, len(real), len(fake))
    rng = np.random.default_rng(seed)
    estimates = np.array(
        [
            mmd2_unbiased(real[rng.choice(len(real), m, replace=False)], fake[rng.choice(len(fake), m, replace=False)])
            for _ in range(num_subsets)
        ]
    )
    return {
        "kid": float(estimates.mean()),
        "kid_std": float(estimates.std()),
        "kid_subset_size": int(m),
        "kid_num_subsets": int(num_subsets),
        "n_real": len(real),
        "n_fake": len(fake),
    }
