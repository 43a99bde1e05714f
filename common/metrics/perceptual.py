"""Normalised VGG16 feature distance: the source's "LPIPS-like" perceptual distance.

For image pairs (a, b) and VGG16 layers l = relu1_2 ... relu5_3 with maps f_l [h, w, C]:

    d(a, b) = mean_l  mean_{h,w}  || f_l(a)/|f_l(a)| - f_l(b)/|f_l(b)| ||^2_channels

i.e. each spatial position's channel vector is scaled to unit length (the
normalisation of Zhang et al. 2018, "The Unreasonable Effectiveness of Deep Features as
a Perceptual Metric", eq. 1), and the squared difference is summed over channels,
averaged over positions and averaged over layers. It is NOT LPIPS: LPIPS weights the
channels with linear heads learned on human judgements (and sums over layers); this is
the unweighted baseline, so values are on a different scale from published LPIPS.
Each position contributes a value in [0, 4] (0 = same direction); lower = more similar.
"""

from __future__ import annotations

import functools

import numpy as np

from common.metrics import features as _features

_EPS = 1e-10  # LPIPS's epsilon: keeps all-zero (dead ReLU) positions finite


@functools.lru_cache(maxsize=2)
def _default_extractor(weights=None):
    return _features.vgg16_extractor(weights)


def normalized_feature_distance(maps_a, maps_b) -> np.ndarray:
    """Distance between two dicts of feature maps {layer: float [B, h, w, C]} -> float64 [B]."""
    if maps_a.keys() != maps_b.keys() or not maps_a:
        raise ValueError("both images need the same, non-empty set of feature layers")
    per_layer = []
    for layer in maps_a:
        fa, fb = np.asarray(maps_a[layer], np.float64), np.asarray(maps_b[layer], np.float64)
        fa = fa / (np.sqrt((fa**2).sum(axis=-1, keepdims=True)) + _EPS)
        fb = fb / (np.sqrt((fb**2).sum(axis=-1, keepdims=True)) + _EPS)
        per_layer.append(((fa - fb) ** 2).sum(axis=-1).mean(axis=(1, 2)))
    return np.mean(per_layer, axis=0)


def feature_distance_tensor(maps_a, maps_b):
    """normalized_feature_distance in TensorFlow, differentiable -> float32 [B]: the same distance for
    feature maps {name: [B, h, w, C]}; a feature vector [B, D] counts as a 1x1 map (the pooled
    features of a .keras feature model)."""
    import tensorflow as tf

    if maps_a.keys() != maps_b.keys() or not maps_a:
        raise ValueError("both images need the same, non-empty set of feature layers")
    per_layer = []
    for layer in maps_a:
        fa, fb = tf.cast(maps_a[layer], tf.float32), tf.cast(maps_b[layer], tf.float32)
        # the norm's square root taken of sum + 1e-20: finite gradients at all-zero positions too
        fa = fa / (tf.sqrt(tf.reduce_sum(tf.square(fa), axis=-1, keepdims=True) + _EPS**2) + _EPS)
        fb = fb / (tf.sqrt(tf.reduce_sum(tf.square(fb), axis=-1, keepdims=True) + _EPS**2) + _EPS)
        d = tf.reduce_sum(tf.square(fa - fb), axis=-1)
        per_layer.append(tf.reduce_mean(d, axis=list(range(1, d.shape.rank))) if d.shape.rank > 1 else d)
    return tf.reduce_mean(tf.stack(per_layer), axis=0)


def vgg_perceptual_distance(images_a, images_b, value_range=None, extractor=None) -> np.ndarray:
    """Per-pair normalised VGG16 feature distance ("LPIPS-like") -> float64 [B].

    images_a, images_b: [B, H, W, 3] of one size, uint8 or float in ``value_range``
    (e.g. (-1, 1)); extractor: anything returning {layer: [B, h, w, C]} (default
    :func:`common.metrics.features.vgg16_extractor`, ImageNet weights, same weights
    policy as Inception: $GANWORKS_VGG16_WEIGHTS or Keras's download, never random).
    """
    if np.shape(images_a) != np.shape(images_b):
        raise ValueError(f"image batches differ in shape: {np.shape(images_a)} vs {np.shape(images_b)}")
    extractor = extractor or _default_extractor()
    return normalized_feature_distance(extractor(images_a, value_range), extractor(images_b, value_range))
