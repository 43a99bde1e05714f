"""Differentiable augmentation of every image the discriminator sees (StyleGAN2-ADA's "bgc" pipeline,
Karras et al. 2020, and DiffAugment, Zhao et al. 2020), as pure TensorFlow functions of a stateless key
(an int64 [2] tensor, or a training step's `common.replicas.Draws`, which gives each replica its
images' share of the global batch's draws), so a resumed run draws exactly what an uninterrupted
one does, on any number of replicas.

    images = ada(images, p, key)            # float32 [B, S, S, 3] in [-1, 1] -> same shape
    images = diffaugment(images, key)       # color, translation, cutout, always on

ADA applies each transformation to each image with probability p, in NVIDIA's order and with its
strengths: x-flip, 90-degree rotations, integer translation (up to 1/8 of the size); isotropic scaling
(lognormal, std 0.2 octaves), arbitrary rotation (probability 1 - sqrt(1 - p), before and after),
anisotropic scaling (0.2), fractional translation (std 1/8); brightness (std 0.2), contrast (lognormal,
std 0.5), luma flip, hue rotation (up to pi), saturation (lognormal, std 1). The geometric ones compose
into one 3x3 matrix per image and are applied by bilinear sampling with reflected borders (written
with gathers, so gradients reach G exactly); the colour ones into one 4x4 matrix on RGB. Where NVIDIA
resamples at twice the resolution through a wavelet filter to avoid aliasing, this samples once.

`augment(kind, images, p, key)` dispatches on --augment (ada / fixed: the pipeline above at p;
diffaugment; none). The feedback loop that sets p is the training model's
(watches/stylegan2_gan.py: every `ada_interval` steps, p kept in [0, 1]); `ada_adjustment` is its
update rule: with r_t = E[sign(D(real))] over the interval, p moves by
sign(r_t - target) * images / (ada_kimg * 1000), images being those seen in the interval.
"""

from __future__ import annotations

import math

import tensorflow as tf

from common.replicas import Draws

KINDS = ("ada", "fixed", "diffaugment", "none")


def _draws(key) -> Draws:
    """A key tensor int64 [2] or a Draws (a training step's, which shares per-image draws out over replicas)."""
    return key if isinstance(key, Draws) else Draws(key)


def _uniform(key, i, shape, lo=0.0, hi=1.0):
    """Per-image draws: shape starts with the batch axis."""
    return _draws(key).fold(i).uniform(shape, lo, hi)


def _normal(key, i, shape, std=1.0):
    return _draws(key).fold(i).normal(shape) * std


def _gate(key, i, batch, p, value, neutral):
    """value where a per-image coin with probability p says so, else neutral."""
    return tf.where(_uniform(key, i, [batch]) < p, value, neutral * tf.ones_like(value))


def _matrix(rows):
    """rows: nested lists of [B] tensors -> [B, n, n]."""
    return tf.stack([tf.stack(r, axis=-1) for r in rows], axis=-2)


def _translate(tx, ty):
    one, zero = tf.ones_like(tx), tf.zeros_like(tx)
    return _matrix([[one, zero, tx], [zero, one, ty], [zero, zero, one]])


def _scale(sx, sy):
    one, zero = tf.ones_like(sx), tf.zeros_like(sx)
    return _matrix([[sx, zero, zero], [zero, sy, zero], [zero, zero, one]])


def _rotate(theta):
    c, s = tf.cos(theta), tf.sin(theta)
    one, zero = tf.ones_like(c), tf.zeros_like(c)
    return _matrix([[c, -s, zero], [s, c, zero], [zero, zero, one]])


def geometric_matrix(key, batch, size, p):
    """[B, 3, 3]: maps an output pixel's centred coordinates to the input's (NVIDIA's G_inv, in pixels)."""
    m = tf.eye(3, batch_shape=[batch])
    p_rot = 1.0 - tf.sqrt(1.0 - p)  # two rotations: P(at least one) = p
    flip = _gate(key, 0, batch, p, tf.floor(_uniform(key, 1, [batch], 0.0, 2.0)), 0.0)
    m = m @ _scale(1.0 - 2.0 * flip, tf.ones([batch]))
    quarter = _gate(key, 2, batch, p, tf.floor(_uniform(key, 3, [batch], 0.0, 4.0)), 0.0)
    m = m @ _rotate(-math.pi / 2 * quarter)
    shift = [_gate(key, 4 + j, batch, p, _uniform(key, 6 + j, [batch], -0.125, 0.125), 0.0) for j in range(2)]
    m = m @ _translate(tf.round(shift[0] * size), tf.round(shift[1] * size))
    iso = _gate(key, 8, batch, p, tf.pow(2.0, _normal(key, 9, [batch], 0.2)), 1.0)
    m = m @ _scale(iso, iso)
    pre = _gate(key, 10, batch, p_rot, _uniform(key, 11, [batch], -math.pi, math.pi), 0.0)
    m = m @ _rotate(-pre)
    aniso = _gate(key, 12, batch, p, tf.pow(2.0, _normal(key, 13, [batch], 0.2)), 1.0)
    m = m @ _scale(aniso, 1.0 / aniso)
    post = _gate(key, 14, batch, p_rot, _uniform(key, 15, [batch], -math.pi, math.pi), 0.0)
    m = m @ _rotate(-post)
    frac = [_gate(key, 16 + j, batch, p, _normal(key, 18 + j, [batch], 0.125), 0.0) for j in range(2)]
    return m @ _translate(frac[0] * size, frac[1] * size)


def _reflect(coord, n):
    """Reflect continuous pixel coordinates into [0, n - 1] (numpy's 'reflect', period 2(n - 1))."""
    period = 2.0 * (n - 1)
    c = tf.math.floormod(coord, period)
    return tf.where(c > n - 1, period - c, c)


def sample(images, matrix, border="reflect"):
    """Bilinear resampling: output pixel (x, y) reads the input at matrix @ (x - c, y - c, 1) + c, c the
    image centre. border: 'reflect' or 'zeros'. images [B, H, W, C] float32, matrix [B, 3, 3]."""
    shape = tf.shape(images)
    b, h, w = shape[0], shape[1], shape[2]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    ys, xs = tf.meshgrid(tf.range(hf) - (hf - 1) / 2, tf.range(wf) - (wf - 1) / 2, indexing="ij")
    grid = tf.stack([tf.reshape(xs, [-1]), tf.reshape(ys, [-1]), tf.ones([h * w])], axis=0)  # [3, HW]
    src = tf.einsum("bij,jn->bin", matrix, grid)
    x, y = src[:, 0] + (wf - 1) / 2, src[:, 1] + (hf - 1) / 2  # [B, HW]
    if border == "reflect":
        x, y = _reflect(x, wf), _reflect(y, hf)
    x0, y0 = tf.floor(x), tf.floor(y)
    flat = tf.reshape(images, [b, h * w, -1])
    out = 0.0
    for dy in (0.0, 1.0):
        for dx in (0.0, 1.0):
            xi, yi = x0 + dx, y0 + dy
            weight = (1.0 - tf.abs(x - xi)) * (1.0 - tf.abs(y - yi))
            inside = (xi >= 0) & (xi <= wf - 1) & (yi >= 0) & (yi <= hf - 1)
            weight = tf.where(inside, weight, 0.0)
            index = tf.cast(tf.clip_by_value(yi, 0, hf - 1) * wf + tf.clip_by_value(xi, 0, wf - 1), tf.int32)
            out += tf.gather(flat, index, batch_dims=1) * weight[..., None]
    return tf.reshape(out, shape)


def color_matrix(key, batch, p):
    """[B, 4, 4] acting on (r, g, b, 1): brightness, contrast, luma flip, hue rotation, saturation."""
    v = tf.constant([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3.0)  # the luma axis
    vv = tf.tensordot(v, v, axes=0)
    eye = tf.eye(4, batch_shape=[batch])
    c = eye
    bright = _gate(key, 30, batch, p, _normal(key, 31, [batch], 0.2), 0.0)
    t = tf.concat([eye[:, :, :3], tf.stack([bright, bright, bright, tf.ones([batch])], -1)[..., None]], axis=-1)
    c = c @ t
    contrast = _gate(key, 32, batch, p, tf.pow(2.0, _normal(key, 33, [batch], 0.5)), 1.0)
    c = c @ tf.linalg.diag(tf.stack([contrast, contrast, contrast, tf.ones([batch])], -1))
    luma = _gate(key, 34, batch, p, tf.floor(_uniform(key, 35, [batch], 0.0, 2.0)), 0.0)
    c = c @ (eye - 2.0 * vv * luma[:, None, None])
    theta = _gate(key, 36, batch, p, _uniform(key, 37, [batch], -math.pi, math.pi), 0.0)
    c = c @ _rotation_about(v[:3], theta)
    sat = _gate(key, 38, batch, p, tf.pow(2.0, _normal(key, 39, [batch], 1.0)), 1.0)
    return c @ (vv + (eye - vv) * sat[:, None, None])


def _rotation_about(axis, theta):
    """[B, 4, 4] homogeneous rotation by theta about a unit 3-vector (Rodrigues)."""
    x, y, z = axis[0], axis[1], axis[2]
    s, c = tf.sin(theta), tf.cos(theta)
    cc = 1.0 - c
    one, zero = tf.ones_like(c), tf.zeros_like(c)
    return _matrix([[x * x * cc + c, x * y * cc - z * s, x * z * cc + y * s, zero],
                    [y * x * cc + z * s, y * y * cc + c, y * z * cc - x * s, zero],
                    [z * x * cc - y * s, z * y * cc + x * s, z * z * cc + c, zero],
                    [zero, zero, zero, one]])


def ada(images, p, key):
    """The bgc pipeline with probability p per transformation. images float32 [B, S, S, 3] in [-1, 1]."""
    images = tf.cast(images, tf.float32)
    batch, size = tf.shape(images)[0], tf.cast(tf.shape(images)[1], tf.float32)
    p = tf.cast(p, tf.float32)
    images = sample(images, geometric_matrix(key, batch, size, p))
    c = color_matrix(key, batch, p)
    return tf.einsum("bij,bhwj->bhwi", c[:, :3, :3], images) + c[:, None, None, :3, 3]


def diffaugment(images, key, translation=0.125, cutout=0.5):
    """DiffAugment's color + translation + cutout (Zhao et al. 2020), each applied to every image."""
    images = tf.cast(images, tf.float32)
    batch, size = tf.shape(images)[0], tf.shape(images)[1]
    sizef = tf.cast(size, tf.float32)
    images = images + (_uniform(key, 40, [batch, 1, 1, 1]) - 0.5)
    mean = tf.reduce_mean(images, axis=-1, keepdims=True)
    images = (images - mean) * (_uniform(key, 41, [batch, 1, 1, 1]) * 2.0) + mean
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    images = (images - mean) * (_uniform(key, 42, [batch, 1, 1, 1]) + 0.5) + mean
    shift = tf.round(_uniform(key, 43, [batch, 2], -translation, translation) * sizef)
    images = sample(images, _translate(shift[:, 0], shift[:, 1]), border="zeros")
    side = tf.round(sizef * cutout)
    corner = tf.floor(_uniform(key, 44, [batch, 2]) * (sizef + 1.0 - side))
    coords = tf.range(sizef)
    in_y = (coords[None] >= corner[:, :1]) & (coords[None] < corner[:, :1] + side)  # [B, S]
    in_x = (coords[None] >= corner[:, 1:]) & (coords[None] < corner[:, 1:] + side)
    hole = tf.cast(in_y[:, :, None] & in_x[:, None, :], tf.float32)
    return images * (1.0 - hole[..., None])


def augment(kind, images, p, key):
    """Dispatch on --augment: ada / fixed (the bgc pipeline at p), diffaugment, none (identity)."""
    if kind in ("ada", "fixed"):
        return ada(images, p, key)
    if kind == "diffaugment":
        return diffaugment(images, key)
    if kind == "none":
        return tf.cast(images, tf.float32)
    raise ValueError(f"augment must be one of {', '.join(KINDS)}, got {kind!r}")


def ada_adjustment(rt, target, images_per_adjustment, ada_kimg=500.0):
    """How much p moves after one adjustment interval: sign(r_t - target) * images / (ada_kimg * 1000)."""
    return tf.sign(rt - target) * images_per_adjustment / (ada_kimg * 1000.0)
