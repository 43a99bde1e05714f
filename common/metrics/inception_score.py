"""Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs", sec. 4):

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x)

computed, as in the original code, on ``splits`` consecutive equal parts of the
generated images and reported as mean and std over the parts. It ranges from 1 (every
image gets the same class distribution) to the number of classes (every image is
classified confidently and the classes are used uniformly). Real images are not used.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax


def inception_score(logits, splits: int = 10, from_logits: bool = True) -> dict:
    """logits: float [N, K] classifier logits (or probabilities with from_logits=False).

    Returns {"is": mean over splits, "is_std": std over splits, "is_splits": splits,
    "n_fake": N}. Needs N >= splits.
    """
    x = np.asarray(logits, np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected [N, K] logits, got shape {x.shape}")
    if len(x) < splits:
        raise ValueError(f"Inception Score over {splits} splits needs at least {splits} images, got {len(x)}")
    if from_logits:
        log_p = log_softmax(x, axis=1)
    else:
        with np.errstate(divide="ignore"):
            log_p = np.log(x / x.sum(axis=1, keepdims=True))
    scores = []
    for part in np.array_split(log_p, splits):
        p = np.exp(part)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_py = np.log(p.mean(axis=0, keepdims=True))
            # 0 * log 0 = 0: classes with p(y|x) = 0 contribute nothing to the KL
            kl = np.where(p > 0, p * (part - log_py), 0.0).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return {"is": float(np.mean(scores)), "is_std": float(np.std(scores)), "is_splits": int(splits), "n_fake": len(x)}
