"""Full-reference image quality: PSNR, SSIM, MAE, RMSE, whole-image or hole-only.

All functions take two images a, b of the same shape, float (or integer) pixels in
[0, max_val]: [B, H, W, C] (returns per-image values, float32 [B]) or [H, W, C] (returns a
float32 scalar). reduce="mean" returns the mean of the per-image values instead.

mask: optional [B, H, W, 1] / [H, W, 1] (or with C channels), 1 inside the hole, 0
outside; then each metric is computed over the hole pixels only:
  * mae  = sum(m |a - b|) / sum(m)       (sums over pixels and channels, m broadcast to C)
  * rmse = sqrt(sum(m (a - b)^2) / sum(m))
  * psnr = 10 log10(max_val^2 / (sum(m (a - b)^2) / sum(m)))
  * ssim = mean of the SSIM map over the hole pixels where the map is defined (see below).
An image with an empty hole has no value: NaN with reduce="none"; it is left out of
reduce="mean" and of the streaming metrics. Identical images have PSNR = inf.

SSIM (Wang et al. 2004) uses an 11x11 Gaussian window, sigma 1.5, k1 = 0.01, k2 = 0.03,
population (co)variances, and 'valid' filtering: the SSIM map exists only where the whole
window fits, [H - 10, W - 10], and the score is its mean over pixels and channels.

How this relates to tf.image.ssim and scikit-image (checked in the tests):
  * skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=max_val, channel_axis=-1) filters the whole image
    with scipy's 11-tap Gaussian (truncate=3.5 -> radius 5) using reflect padding, then crops
    (11 - 1) / 2 = 5 pixels from every side before averaging. The cropped region is exactly
    the 'valid' region, where the padding never enters, so both compute the same map on the
    same pixels: our float64 map equals skimage's cropped map to ~1e-12.
  * tf.image.ssim computes the same quantity (its 2-D kernel is the outer product of the same
    normalised 1-D Gaussian) but entirely in float32, and averages the map with a float32
    reduce_mean over the non-contiguous H, W axes. That sum accumulates rounding error with
    the image size: it is off from skimage by ~1e-5 on 500x500 photos with a noisy copy, by
    2.5e-4 on astronaut + N(0, 0.01) noise and by 5e-3 on the 1411x1411 retina image. Its
    float32 map itself is also off per pixel by up to ~5e-4 (E[x^2] - mu^2 cancels in flat
    regions). So SSIM is computed here with our own map in float64 (separable Gaussian via
    depthwise convolution), which agrees with skimage to 1e-6 at any size (float32 output
    rounding) and with tf.image.ssim wherever the latter's float32 sum is accurate.
  * tf.image.psnr reduces over all three (contiguous) axes and stays within ~2e-6 dB of
    skimage.metrics.peak_signal_noise_ratio, so it is used for the unmasked PSNR.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
K1, K2 = 0.01, 0.03
_COMPUTE_DTYPE = "float64"  # see the module docstring: float32 sums drift on large images


# --- shared plumbing -----------------------------------------------------------------------

def _prepare(a, b, mask):
    """-> (a, b, mask-or-None as float64 [B, H, W, *], single_image)."""
    a = ops.cast(ops.convert_to_tensor(a), _COMPUTE_DTYPE)
    b = ops.cast(ops.convert_to_tensor(b), _COMPUTE_DTYPE)
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"images differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    rank = len(a.shape)
    if rank not in (3, 4):
        raise ValueError(f"expected [H, W, C] or [B, H, W, C] images, got shape {tuple(a.shape)}")
    single = rank == 3
    if single:
        a, b = ops.expand_dims(a, 0), ops.expand_dims(b, 0)
    if mask is not None:
        mask = ops.cast(ops.convert_to_tensor(mask), _COMPUTE_DTYPE)
        if len(mask.shape) != rank:
            raise ValueError(f"mask rank {len(mask.shape)} does not match image rank {rank} "
                             f"(expected [B, H, W, 1] or [H, W, 1])")
        if single:
            mask = ops.expand_dims(mask, 0)
    return a, b, mask, single


def _masked_image_mean(per_element, mask):
    """Per-image mean of [B, H, W, C] values over pixels and channels, hole pixels only.

    -> (means [B], has_pixels [B] bool)."""
    if mask is None:
        means = ops.mean(per_element, axis=(1, 2, 3))
        return means, ops.ones_like(means, dtype="bool")
    weights = ops.broadcast_to(mask, ops.shape(per_element))
    total_weight = ops.sum(weights, axis=(1, 2, 3))
    has_pixels = total_weight > 0
    means = ops.sum(weights * per_element, axis=(1, 2, 3)) / ops.where(has_pixels, total_weight, 1.0)
    return means, has_pixels


def _finish(values, has_pixels, single, reduce):
    if reduce == "none":
        out = ops.where(has_pixels, values, float("nan"))
        out = ops.cast(out, "float32")
        return out[0] if single else out
    if reduce == "mean":
        kept = ops.cast(has_pixels, values.dtype)
        total = ops.sum(ops.where(has_pixels, values, 0.0))
        return ops.cast(total / ops.sum(kept), "float32")
    raise ValueError(f"reduce must be 'none' or 'mean', got {reduce!r}")


# --- per-image values ([B] float64, plus which images have any hole pixel) -----------------

def _mae_values(a, b, mask, max_val=None):
    return _masked_image_mean(ops.abs(a - b), mask)


def _rmse_values(a, b, mask, max_val=None):
    mse, has_pixels = _masked_image_mean(ops.square(a - b), mask)
    return ops.sqrt(mse), has_pixels


def _psnr_values(a, b, mask, max_val=1.0):
    if mask is None:  # TensorFlow's own PSNR is accurate here (module docstring)
        values = ops.cast(tf.image.psnr(ops.cast(a, "float32"), ops.cast(b, "float32"), max_val),
                          _COMPUTE_DTYPE)
        return values, ops.ones_like(values, dtype="bool")
    mse, has_pixels = _masked_image_mean(ops.square(a - b), mask)
    return 10.0 * ops.log(float(max_val) ** 2 / mse) / np.log(10.0), has_pixels


def _ssim_values(a, b, mask, max_val=1.0):
    smap = _ssim_map(a, b, max_val)
    if mask is not None:
        r = WINDOW_SIZE // 2  # the map's pixel (i, j) is the image's (i + r, j + r)
        mask = mask[:, r:-r, r:-r, :]
    return _masked_image_mean(smap, mask)


def _gaussian_window(size=WINDOW_SIZE, sigma=WINDOW_SIGMA):
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def _ssim_map(a, b, max_val):
    """[B, H, W, C] float64 -> SSIM map [B, H - 10, W - 10, C] float64."""
    height, width, channels = a.shape[1], a.shape[2], a.shape[3]
    if (height is not None and height < WINDOW_SIZE) or (width is not None and width < WINDOW_SIZE):
        raise ValueError(f"SSIM needs images of at least {WINDOW_SIZE}x{WINDOW_SIZE} pixels, "
                         f"got {height}x{width}")
    # One pass of the separable Gaussian over the five local statistics at once.
    stats = ops.concatenate([a, b, a * a, b * b, a * b], axis=-1)
    g = _gaussian_window()
    n = 5 * channels
    rows = ops.convert_to_tensor(np.tile(g.reshape(-1, 1, 1, 1), (1, 1, n, 1)), _COMPUTE_DTYPE)
    cols = ops.convert_to_tensor(np.tile(g.reshape(1, -1, 1, 1), (1, 1, n, 1)), _COMPUTE_DTYPE)
    stats = ops.depthwise_conv(stats, rows, padding="valid", data_format="channels_last")
    stats = ops.depthwise_conv(stats, cols, padding="valid", data_format="channels_last")
    mu_a, mu_b, e_aa, e_bb, e_ab = ops.split(stats, 5, axis=-1)
    var_a = e_aa - mu_a * mu_a
    var_b = e_bb - mu_b * mu_b
    cov = e_ab - mu_a * mu_b
    c1 = (K1 * float(max_val)) ** 2
    c2 = (K2 * float(max_val)) ** 2
    return ((2.0 * mu_a * mu_b + c1) * (2.0 * cov + c2)
            / ((mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)))


# --- public functions ------------------------------------------------------------------------

def _metric(values_fn, a, b, max_val, mask, reduce):
    a, b, mask, single = _prepare(a, b, mask)
    values, has_pixels = values_fn(a, b, mask, max_val)
    return _finish(values, has_pixels, single, reduce)


def psnr(a, b, max_val=1.0, mask=None, reduce="none"):
    """Peak signal-to-noise ratio in dB, 10 log10(max_val^2 / MSE); higher is better.

    a, b: [B, H, W, C] or [H, W, C] in [0, max_val]. mask: see the module docstring.
    -> float32 [B] (or scalar); inf for identical images.
    """
    return _metric(_psnr_values, a, b, max_val, mask, reduce)


def ssim(a, b, max_val=1.0, mask=None, reduce="none"):
    """Structural similarity in [-1, 1] (1 = identical); images at least 11x11.

    a, b: [B, H, W, C] or [H, W, C] in [0, max_val]; the score is the mean over pixels and
    channels of ssim_map(a, b). With a mask, the mean over the map's hole pixels (the mask
    cropped by 5 pixels on each side, like the map). -> float32 [B] (or scalar).
    """
    return _metric(_ssim_values, a, b, max_val, mask, reduce)


def ssim_map(a, b, max_val=1.0):
    """Local SSIM for every position where the 11x11 window fits.

    a, b: [B, H, W, C] or [H, W, C] in [0, max_val] -> float32 [B, H - 10, W - 10, C]
    (or [H - 10, W - 10, C]); entry (i, j) is the window centred on image pixel (i + 5, j + 5).
    """
    a, b, _, single = _prepare(a, b, None)
    smap = ops.cast(_ssim_map(a, b, max_val), "float32")
    return smap[0] if single else smap


def mae(a, b, mask=None, reduce="none"):
    """Mean absolute error over pixels and channels (in the images' own units).

    a, b: [B, H, W, C] or [H, W, C]. -> float32 [B] (or scalar).
    """
    return _metric(_mae_values, a, b, None, mask, reduce)


def rmse(a, b, mask=None, reduce="none"):
    """Root mean squared error over pixels and channels (in the images' own units)."""
    return _metric(_rmse_values, a, b, None, mask, reduce)


# --- streaming versions ------------------------------------------------------------------------

class _ImageQualityMetric(keras.metrics.Metric):
    """Mean of per-image values over every image seen since the last reset_state().

    update_state(y_true, y_pred, mask=None, sample_weight=None): images [B, H, W, C] or
    [H, W, C]; mask as in the functions; sample_weight: optional per-image weights [B].
    Images with an empty hole are skipped. result() is 0 before any image (Keras's Mean
    convention).
    """

    _values = None  # staticmethod set by subclasses: (a, b, mask, max_val) -> (values, has_pixels)

    def __init__(self, max_val=1.0, name=None, dtype=None):
        super().__init__(name=name or self._default_name, dtype=dtype)
        self.max_val = float(max_val)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total", dtype=self.dtype)
        self.count = self.add_variable(shape=(), initializer="zeros", name="count", dtype=self.dtype)

    def update_state(self, y_true, y_pred, mask=None, sample_weight=None):
        a, b, mask, _ = _prepare(y_true, y_pred, mask)
        values, has_pixels = type(self)._values(a, b, mask, self.max_val)
        weights = ops.cast(has_pixels, _COMPUTE_DTYPE)
        if sample_weight is not None:
            weights = weights * ops.reshape(ops.cast(sample_weight, _COMPUTE_DTYPE), (-1,))
        weighted = ops.where(weights > 0, values * weights, 0.0)
        self.total.assign_add(ops.cast(ops.sum(weighted), self.dtype))
        self.count.assign_add(ops.cast(ops.sum(weights), self.dtype))

    def result(self):
        return ops.divide_no_nan(self.total, self.count)

    def get_config(self):
        return {**super().get_config(), "max_val": self.max_val}


@keras.saving.register_keras_serializable(package="ganworks")
class PSNRMetric(_ImageQualityMetric):
    """Streaming mean PSNR (dB) over images; see psnr()."""

    _default_name = "psnr"
    _values = staticmethod(_psnr_values)


@keras.saving.register_keras_serializable(package="ganworks")
class SSIMMetric(_ImageQualityMetric):
    """Streaming mean SSIM over images; see ssim()."""

    _default_name = "ssim"
    _values = staticmethod(_ssim_values)


@keras.saving.register_keras_serializable(package="ganworks")
class MAEMetric(_ImageQualityMetric):
    """Streaming mean of per-image MAE; see mae(). max_val is unused."""

    _default_name = "mae"
    _values = staticmethod(_mae_values)


@keras.saving.register_keras_serializable(package="ganworks")
class RMSEMetric(_ImageQualityMetric):
    """Streaming mean of per-image RMSE (not the RMSE of all pixels pooled); see rmse()."""

    _default_name = "rmse"
    _values = staticmethod(_rmse_values)
