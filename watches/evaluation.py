"""Scoring an unconditional generator against the real images (what `python -m watches.evaluate` runs).

FID, KID, Inception Score and precision/recall (common.metrics) between num_fake generated images
and the real folder, over one feature extractor (InceptionV3 by default; tests and the learning
benchmark inject a small random one). The real folder's features are cached. High precision with
low recall is the mode collapse the source's notes warn about.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from common.metrics import features as F
from common.metrics.evaluate import evaluate_features
from common.runtime.images import to_uint8
from watches.sampling import run_generator

METRICS = ("fid", "kid", "is", "pr")


def fake_batches(generator, latent_dim, num_fake, batch_size=64, seed=0):
    """uint8 batches of num_fake generated images, latents drawn from a stateless key (seed, batch index)."""
    for start in range(0, num_fake, batch_size):
        n = min(batch_size, num_fake - start)
        z = tf.random.stateless_normal([n, latent_dim], [seed, start])
        yield to_uint8(run_generator(generator, z))


def evaluate_generator(generator, latent_dim, real_folder, *, extractor, num_fake=10000, metrics=METRICS,
                       max_real=None, batch_size=64, seed=0, cache_dir=None) -> dict:
    """-> {metric values..., "n_real", "n_fake", "extractor", "comparability"}."""
    from common.metrics.evaluate import comparability_note

    real = F.folder_features(real_folder, extractor, max_images=max_real, batch_size=batch_size,
                             cache_dir=cache_dir)
    fake = F.collect_features(fake_batches(generator, latent_dim, num_fake, batch_size, seed), extractor)
    n = min(len(real["pool"]), len(fake["pool"]))
    result = {"n_real": int(len(real["pool"])), "n_fake": int(len(fake["pool"])), "extractor": extractor.name,
              "comparability": comparability_note(extractor)}
    result.update(evaluate_features(real, fake, metrics, kid_subset_size=min(1000, n), is_splits=min(10, n),
                                    pr_k=min(3, n - 1)))
    return {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in result.items()}
