"""Fréchet Inception Distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale
Update Rule Converge to a Local Nash Equilibrium", eq. 6):

    FID = ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))

the Fréchet (2-Wasserstein) distance between Gaussians fitted to real and generated
Inception pool features. Lower is better; 0 for identical statistics. FID is biased
upward for small N and depends on N (Chong & Forsyth 2020), so every value is reported
with its sample counts and only FIDs over equal counts should be compared.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import scipy.linalg

# Below this many samples FID is flagged as biased, whatever the features. Whether the covariance
# is also singular depends on the features' own dimension (2048 for Inception), checked separately.
MIN_SAMPLES = 2048


class GaussianStats:
    """Running mean and covariance of feature vectors, float64, one batch at a time.

    Batches are merged with the pairwise update of Chan, Golub & LeVeque (1979) rather
    than raw sums of outer products, which lose precision when the mean is large
    relative to the spread. ``cov`` is the unbiased sample covariance (``np.cov``'s).
    """

    def __init__(self, dim: int | None = None):
        self.count = 0
        self.dim = dim
        self._mean = None if dim is None else np.zeros(dim)
        self._m2 = None if dim is None else np.zeros((dim, dim))  # sum of centred outer products

    def update(self, features) -> "GaussianStats":
        """features: float [B, D]. Returns self."""
        x = np.asarray(features, np.float64)
        if x.ndim != 2:
            raise ValueError(f"features must be [B, D], got shape {x.shape}")
        if len(x) == 0:
            return self
        if self._mean is None:
            self.dim = x.shape[1]
            self._mean, self._m2 = np.zeros(self.dim), np.zeros((self.dim, self.dim))
        if x.shape[1] != self.dim:
            raise ValueError(f"expected {self.dim}-d features, got {x.shape[1]}-d")
        n_b = len(x)
        mean_b = x.mean(axis=0)
        centred = x - mean_b
        n = self.count + n_b
        delta = mean_b - self._mean
        self._m2 += centred.T @ centred + np.outer(delta, delta) * (self.count * n_b / n)
        self._mean += delta * (n_b / n)
        self.count = n
        return self

    @classmethod
    def from_features(cls, features) -> "GaussianStats":
        return cls().update(features)

    @property
    def mean(self) -> np.ndarray:
        """float64 [D]."""
        if not self.count:
            raise ValueError("no features accumulated")
        return self._mean.copy()

    @property
    def cov(self) -> np.ndarray:
        """float64 [D, D], unbiased (divides by count - 1)."""
        if self.count < 2:
            raise ValueError(f"a covariance needs at least 2 samples, have {self.count}")
        return self._m2 / (self.count - 1)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); mu [D], sigma [D, D].

    The matrix square root is ``scipy.linalg.sqrtm`` of sigma1 @ sigma2. If that product
    is singular (fewer samples than dimensions) sqrtm is unreliable, so ``eps`` times
    the identity is added to both covariances first. Imaginary parts, which come only
    from rounding (the product of two PSD matrices has real non-negative eigenvalues),
    are dropped.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"shape mismatch: mu {mu1.shape}/{mu2.shape}, sigma {sigma1.shape}/{sigma2.shape}")

    def sqrt_product(s1, s2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", scipy.linalg.LinAlgWarning)
            root = scipy.linalg.sqrtm(s1 @ s2)
        singular = any(issubclass(w.category, scipy.linalg.LinAlgWarning) for w in caught)
        return root, singular or not np.isfinite(root).all()

    covmean, singular = sqrt_product(sigma1, sigma2)
    if singular:
        offset = np.eye(len(mu1)) * eps
        covmean, _ = sqrt_product(sigma1 + offset, sigma2 + offset)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


@dataclass(frozen=True)
class FIDResult:
    fid: float
    n_real: int
    n_fake: int

    def as_dict(self) -> dict:
        return asdict(self)


def small_sample_warning(n_real: int, n_fake: int, dim: int | None = None) -> str | None:
    """The warning for FID from few samples, naming the feature dimension it is about; None if
    both counts reach MIN_SAMPLES (and exceed ``dim``).

    FID is biased upward at small N for any features. Only when a set has no more samples
    than the features have dimensions is its covariance also rank-deficient; that is said
    for the actual ``dim`` (2048 for Inception pool features, 16 for the test extractor).
    """
    n = min(n_real, n_fake)
    singular = dim is not None and n <= dim
    if n >= MIN_SAMPLES and not singular:
        return None
    features = "features" if dim is None else f"{dim}-d features"
    if singular:
        why = (f"with no more samples than the {dim} feature dimensions the covariance is rank-deficient "
               "and FID is strongly biased upward")
    else:
        why = f"below {MIN_SAMPLES} samples FID is biased upward"
    return (f"FID from n_real={n_real}, n_fake={n_fake} samples of {features}: {why}. Compare only FIDs "
            "computed from equal sample counts (10k-50k is usual).")


def _warn_if_few(n_real: int, n_fake: int, dim: int | None = None) -> None:
    message = small_sample_warning(n_real, n_fake, dim)
    if message:
        warnings.warn(message, stacklevel=3)


def fid_from_stats(real: GaussianStats, fake: GaussianStats) -> FIDResult:
    """FID between two accumulated feature statistics (streaming path)."""
    _warn_if_few(real.count, fake.count, real.dim)
    value = frechet_distance(real.mean, real.cov, fake.mean, fake.cov)
    return FIDResult(value, real.count, fake.count)


def fid_from_features(real_features, fake_features) -> FIDResult:
    """FID between feature sets: real [N, D], fake [M, D] (Inception pool features)."""
    return fid_from_stats(GaussianStats.from_features(real_features), GaussianStats.from_features(fake_features))
