"""Differentiable augmentation of every image the discriminator sees (StyleGAN2-ADA's "bgc" pipeline,
Karras et al. 2020, and DiffAugment, Zhao et al. 2020), as pure TensorFlow functions of a stateless key
(an int64 [2] tensor, or a training step's `common.replicas.Draws`, which gives each replica its
images' share of the global batch's draws), so a resumed run draws exactly what an uninterrupted
one does, on any number of replicas.

    images = ada(images, p, key)            # float32 [B, S, S, 3] in [-1, 1] -> same shape
    images = diffaugment(images, key)       # color, translation, cutout, always on

ADA is NVIDIA's AugmentPipe (stylegan2-ada-pytorch, training/augment.py) with xflip, rotate90, xint,
scale, rotate, aniso, xfrac, brightness, contrast, lumaflip, hue and saturation at probability p each,
in its order, with its strengths and its draws: x-flip, 90-degree rotations, integer translation (up
to 1/8 of the size, one coin for both axes); isotropic scaling (lognormal, std 0.2 octaves), arbitrary
rotation (probability 1 - sqrt(1 - p), before and after), anisotropic scaling (0.2), fractional
translation (std 1/8, one coin for both axes); brightness (std 0.2), contrast (lognormal, std 0.5),
luma flip, hue rotation (up to pi), saturation (lognormal, std 1). p may exceed 1 (every coin then says
yes), as NVIDIA's p is bounded below only.

In three steps, each a function: `bgc_draws` makes the standard uniform / normal draws of a batch (in
NVIDIA's order of drawing, so its pipeline can be fed the same ones), `bgc_parameters` turns them into
each transformation's value at p (neutral where its coin says no), and `bgc` applies them. The geometric
transformations compose into NVIDIA's G_inv (`geometric_matrix`), executed as NVIDIA does against
aliasing (`resample`): reflect-padded by the batch's margin, upsampled 2x with the sym6 wavelet filter,
sampled bilinearly, downsampled 2x with the same filter. The colour ones compose into one 4x4 matrix on
(r, g, b, 1), each new one multiplied on the left (`color_matrix`: brightness first, saturation last).

`augment(kind, images, p, key)` dispatches on --augment (ada / fixed: the pipeline above at p;
diffaugment; none). The feedback loop that sets p is the training model's
(watches/stylegan2_gan.py: every `ada_interval` steps, p kept >= 0); `ada_adjustment` is its
update rule: with r_t = E[sign(D(real))] over the interval, p moves by
sign(r_t - target) * images / (ada_kimg * 1000), images being those seen in the interval.
"""

from __future__ import annotations

import math

import tensorflow as tf

from common.replicas import Draws
from watches.options import AUGMENTS as KINDS

# NVIDIA's bgc: the transformations ADA applies, in its order (the first seven geometric, the others colour)
BGC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
       "brightness", "contrast", "lumaflip", "hue", "saturation")
GEOMETRIC = BGC[:7]

# Each transformation's parameters: (name, standard draw, per-image shape, its value from the draw, the neutral
# value), in NVIDIA's order of drawing; every parameter also draws its coin, uniform [B], right after its value.
# Arbitrary rotation has two, before and after the anisotropic scaling, at probability 1 - sqrt(1 - p).
PARAMETERS = (
    ("xflip", "uniform", (), lambda u: tf.floor(u * 2), 0.0),
    ("rotate90", "uniform", (), lambda u: tf.floor(u * 4), 0.0),
    ("xint", "uniform", (2,), lambda u: (u * 2 - 1) * 0.125, 0.0),  # of the size, rounded to pixels
    ("scale", "normal", (), lambda n: tf.pow(2.0, n * 0.2), 1.0),
    ("rotate_pre", "uniform", (), lambda u: (u * 2 - 1) * math.pi, 0.0),
    ("aniso", "normal", (), lambda n: tf.pow(2.0, n * 0.2), 1.0),
    ("rotate_post", "uniform", (), lambda u: (u * 2 - 1) * math.pi, 0.0),
    ("xfrac", "normal", (2,), lambda n: n * 0.125, 0.0),  # of the size
    ("brightness", "normal", (), lambda n: n * 0.2, 0.0),
    ("contrast", "normal", (), lambda n: tf.pow(2.0, n * 0.5), 1.0),
    ("lumaflip", "uniform", (), lambda u: tf.floor(u * 2), 0.0),
    ("hue", "uniform", (), lambda u: (u * 2 - 1) * math.pi, 0.0),
    ("saturation", "normal", (), lambda n: tf.pow(2.0, n), 1.0),
)

# NVIDIA's low-pass filter for the geometric transformations: the sym6 wavelet's (decomposition) coefficients,
# normalised to unit DC gain (upfirdn2d.setup_filter)
_SYM6 = (0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
         0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
         -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148)
_FILTER = tuple(t / sum(_SYM6) for t in _SYM6)
_FILTER_PAD = len(_FILTER) // 4  # NVIDIA's Hz_pad: the border, in input pixels, that the filters need


def _draws(key) -> Draws:
    """A key tensor int64 [2] or a Draws (a training step's, which shares per-image draws out over replicas)."""
    return key if isinstance(key, Draws) else Draws(key)


def _uniform(key, i, shape, lo=0.0, hi=1.0):
    """Per-image draws: shape starts with the batch axis."""
    return _draws(key).fold(i).uniform(shape, lo, hi)


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


def bgc_draws(key, batch, transforms=BGC) -> dict[str, tf.Tensor]:
    """The standard draws of a batch for `transforms`: {parameter: [B, *shape] uniform in [0, 1) or normal,
    parameter + "_p": [B] uniform, its coin}, in NVIDIA's order of drawing (the dict's order)."""
    unknown = set(transforms) - set(BGC)
    if unknown:
        raise ValueError(f"unknown transformations {sorted(unknown)}: bgc has {', '.join(BGC)}")
    draws = _draws(key)
    out = {}
    for i, (name, kind, shape, _, _) in enumerate(PARAMETERS):
        if name.split("_")[0] in transforms:
            stream = draws.fold(i)
            out[name] = (stream.uniform if kind == "uniform" else stream.normal)([batch, *shape])
            out[name + "_p"] = stream.fold(1).uniform([batch])
    return out


def bgc_parameters(draws, p) -> dict[str, tf.Tensor]:
    """Each transformation's value from its draws (`bgc_draws`) at probability p, neutral where its coin is not
    below p: {parameter: [B] or [B, 2]} (xflip, rotate90, lumaflip: 0/1 or 0..3; xint, xfrac: fractions of the
    size; rotations and hue: radians; scales, contrast, saturation: factors; brightness: an offset)."""
    p = tf.cast(p, tf.float32)
    p_rotate = 1.0 - tf.sqrt(tf.clip_by_value(1.0 - p, 0.0, 1.0))  # P(pre or post) = p
    out = {}
    for name, _, shape, value, neutral in PARAMETERS:
        if name in draws:
            coin = draws[name + "_p"]
            applies = coin < (p_rotate if name.startswith("rotate_") else p)
            applies = tf.reshape(applies, [-1] + [1] * len(shape))  # one coin for both axes of a translation
            out[name] = tf.where(applies, value(draws[name]), neutral)
    return out


def geometric_matrix(parameters, width, height):
    """[B, 3, 3] NVIDIA's G_inv: maps an output pixel's coordinates (relative to the image centre, in pixels)
    to those of the input point it reads; each transformation's inverse multiplied on the right."""
    g = None
    for name, m in _geometric_inverses(parameters, width, height):
        g = m if g is None else g @ m
    return g


def _geometric_inverses(parameters, width, height):
    """The inverse of each geometric transformation in `parameters`, in NVIDIA's order: (name, [B, 3, 3])."""
    p = parameters
    if "xflip" in p:
        yield "xflip", _scale(1.0 - 2.0 * p["xflip"], tf.ones_like(p["xflip"]))
    if "rotate90" in p:
        yield "rotate90", _rotate(math.pi / 2 * p["rotate90"])  # NVIDIA's rotate2d_inv(-pi/2 * i)
    if "xint" in p:
        yield "xint", _translate(-tf.round(p["xint"][:, 0] * width), -tf.round(p["xint"][:, 1] * height))
    if "scale" in p:
        yield "scale", _scale(1.0 / p["scale"], 1.0 / p["scale"])
    if "rotate_pre" in p:
        yield "rotate_pre", _rotate(p["rotate_pre"])  # NVIDIA's rotate2d_inv(-theta)
    if "aniso" in p:
        yield "aniso", _scale(1.0 / p["aniso"], p["aniso"])
    if "rotate_post" in p:
        yield "rotate_post", _rotate(p["rotate_post"])
    if "xfrac" in p:
        yield "xfrac", _translate(-p["xfrac"][:, 0] * width, -p["xfrac"][:, 1] * height)


def color_matrix(parameters):
    """[B, 4, 4] acting on (r, g, b, 1), NVIDIA's C: each colour transformation multiplied on the left, so
    brightness acts first (its offset then scaled by contrast and flipped by luma flip) and saturation last."""
    p = {name: value for name, value in parameters.items() if name in BGC[7:]}
    if not p:
        return None
    batch = tf.shape(next(iter(p.values())))[0]
    v = tf.constant([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3.0)  # the luma axis
    vv = tf.tensordot(v, v, axes=0)
    eye = tf.eye(4, batch_shape=[batch])
    c = eye
    if "brightness" in p:
        b = p["brightness"]
        c = tf.concat([eye[:, :, :3], tf.stack([b, b, b, tf.ones_like(b)], -1)[..., None]], axis=-1) @ c
    if "contrast" in p:
        k = p["contrast"]
        c = tf.linalg.diag(tf.stack([k, k, k, tf.ones_like(k)], -1)) @ c
    if "lumaflip" in p:
        c = (eye - 2.0 * vv * p["lumaflip"][:, None, None]) @ c  # Householder reflection of the luma axis
    if "hue" in p:
        c = _rotation_about(v[:3], p["hue"]) @ c
    if "saturation" in p:
        c = (vv + (eye - vv) * p["saturation"][:, None, None]) @ c
    return c


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


def padding_margin(matrices, width, height):
    """int32 [4] (x0, y0, x1, y1): NVIDIA's reflect padding for a batch's G_inv [N, 3, 3]: how far the
    batch's transformed image corners reach beyond the image, plus twice the filters' border, at least 0 and
    at most the image size - 1 (as far as one reflection reaches)."""
    cx, cy = (width - 1) / 2, (height - 1) / 2
    corners = tf.constant([[-cx, -cy, 1.0], [cx, -cy, 1.0], [cx, cy, 1.0], [-cx, cy, 1.0]])
    reach = tf.reshape(tf.einsum("bij,kj->ibk", tf.cast(matrices, tf.float32), corners)[:2], [2, -1])  # [xy, N*4]
    reach = tf.reduce_max(tf.concat([-reach, reach], axis=0), axis=1)  # [-x, -y, x, y]
    border = 2 * _FILTER_PAD
    margin = reach + tf.constant([border - cx, border - cy] * 2)
    margin = tf.clip_by_value(margin, 0.0, tf.constant([width - 1.0, height - 1.0] * 2))
    return tf.cast(tf.math.ceil(margin), tf.int32)


def _fir(x, taps, axis, pad=(0, 0), stride=1):
    """Correlation of x [B, H, W, C] along axis 1 or 2 with taps, after padding with zeros (negative: cropping)."""
    if any(pad):
        n = tf.shape(x)[axis]
        lo, hi = pad
        x = tf.pad(x, [[0, 0]] + [[max(lo, 0), max(hi, 0)] if a == axis else [0, 0] for a in (1, 2)] + [[0, 0]])
        crop = [slice(None)] * 4
        crop[axis] = slice(max(-lo, 0), n + max(lo, 0) + max(hi, 0) - max(-hi, 0))
        x = x[tuple(crop)]
    channels = x.shape[-1]
    kernel = tf.constant(taps, tf.float32)[:, None] if axis == 1 else tf.constant(taps, tf.float32)[None, :]
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, channels, 1])
    strides = [1, stride, 1, 1] if axis == 1 else [1, 1, stride, 1]
    return tf.nn.depthwise_conv2d(x, kernel, strides, "VALID")


def _upsample2x(x):
    """NVIDIA's upfirdn2d.upsample2d(x, Hz_geom, up=2) in NHWC: a zero after each pixel, zero padding (6, 5),
    convolution with the filter at gain 2 per axis. [B, H, W, C] -> [B, 2H, 2W, C]."""
    taps = tuple(2.0 * t for t in reversed(_FILTER))  # convolution = correlation with the reversed taps
    lo, hi = (len(taps) + 1) // 2, (len(taps) - 2) // 2
    for axis in (1, 2):
        dims = [tf.shape(x)[0], *x.shape[1:]]
        dims[axis] *= 2
        x = tf.reshape(tf.stack([x, tf.zeros_like(x)], axis=axis + 1), dims)
        x = _fir(x, taps, axis, (lo, hi))
    return x


def _downsample2x(x, crop):
    """NVIDIA's upfirdn2d.downsample2d(x, Hz_geom, down=2, padding=-crop, flip_filter=True) in NHWC."""
    lo, hi = (len(_FILTER) - 1) // 2 - crop, (len(_FILTER) - 2) // 2 - crop
    for axis in (1, 2):
        x = _fir(x, _FILTER, axis, (lo, hi), stride=2)
    return x


def _window(n, start, stop):
    """float32 [n]: 1 at indices in [start, stop), else 0."""
    i = tf.range(n)
    return tf.cast((i >= start) & (i < stop), tf.float32)


def resample(images, matrix, margin):
    """The images transformed by G_inv `matrix` [B, 3, 3], executed as NVIDIA's AugmentPipe does: reflect-padded
    by `margin` (padding_margin, x0 y0 x1 y1), upsampled 2x with the sym6 filter, sampled bilinearly (zeros
    outside the padded image), downsampled 2x with the same filter. images float32 [B, H, W, C] -> same shape.

    For static shapes (XLA, TPUs), the image is padded by the largest margin and the part outside the batch's
    margin zeroed: the same values, at a fixed shape."""
    _, height, width, _ = images.shape
    x0, y0, x1, y1 = tf.unstack(margin)
    pad_x, pad_y = width - 1, height - 1
    canvas = tf.pad(images, [[0, 0], [pad_y, pad_y], [pad_x, pad_x], [0, 0]], mode="REFLECT")
    rows = (pad_y - y0, pad_y + height + y1)
    cols = (pad_x - x0, pad_x + width + x1)
    h, w = height + 2 * pad_y, width + 2 * pad_x
    canvas = canvas * (_window(h, *rows)[:, None] * _window(w, *cols)[None, :])[None, :, :, None]
    canvas = _upsample2x(canvas)
    canvas = canvas * (_window(2 * h, 2 * rows[0], 2 * rows[1])[:, None]
                       * _window(2 * w, 2 * cols[0], 2 * cols[1])[None, :])[None, :, :, None]
    # G_inv at twice the resolution; the canvas is centred on the image, as the output grid is
    half = _translate(tf.constant([-0.5]), tf.constant([-0.5]))
    up = half @ _scale(tf.constant([2.0]), tf.constant([2.0])) @ matrix
    up = up @ _scale(tf.constant([0.5]), tf.constant([0.5])) @ _translate(tf.constant([0.5]), tf.constant([0.5]))
    border = _FILTER_PAD * 2  # the output grid overhangs the image by Hz_pad input pixels per side
    out = sample(canvas, up, size=(2 * height + 2 * border, 2 * width + 2 * border))
    return _downsample2x(out, crop=border)


def sample(images, matrix, size=None):
    """Bilinear resampling: output pixel (x, y) reads the input at matrix @ (x - c_out, y - c_out, 1) + c_in,
    c the images' centres (grid_sample's align_corners=False), zeros outside the input. images [B, H, W, C]
    float32, matrix [B, 3, 3], size: the output's (height, width), by default the input's."""
    shape = tf.shape(images)
    b, h, w = shape[0], images.shape[1] or shape[1], images.shape[2] or shape[2]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    out_h, out_w = (h, w) if size is None else size
    ohf, owf = tf.cast(out_h, tf.float32), tf.cast(out_w, tf.float32)
    ys, xs = tf.meshgrid(tf.range(ohf) - (ohf - 1) / 2, tf.range(owf) - (owf - 1) / 2, indexing="ij")
    grid = tf.stack([tf.reshape(xs, [-1]), tf.reshape(ys, [-1]), tf.ones([out_h * out_w])], axis=0)  # [3, HW]
    src = tf.einsum("bij,jn->bin", matrix, grid)
    x, y = src[:, 0] + (wf - 1) / 2, src[:, 1] + (hf - 1) / 2  # [B, HW]
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
    return tf.reshape(out, [b, out_h, out_w, images.shape[3] or shape[3]])


def bgc(images, parameters, rows=None):
    """The bgc pipeline with given parameters (`bgc_parameters`): geometric, then colour transformations.
    images float32 [B, H, W, C]. The parameters may be the global batch's (rows: this replica's rows of a tensor
    over it, Draws.own_rows): NVIDIA's padding margin is the batch's, and so the same on every replica."""
    rows = rows or (lambda x: x)
    images = tf.cast(images, tf.float32)
    height, width = images.shape[1], images.shape[2]
    if any(name.split("_")[0] in GEOMETRIC for name in parameters):
        matrices = geometric_matrix(parameters, width, height)
        images = resample(images, rows(matrices), padding_margin(matrices, width, height))
    c = color_matrix(parameters)
    if c is not None:
        c = rows(c)
        images = tf.einsum("bij,bhwj->bhwi", c[:, :3, :3], images) + c[:, None, None, :3, 3]
    return images


def ada(images, p, key, transforms=BGC):
    """The bgc pipeline with probability p per transformation. images float32 [B, S, S, 3] in [-1, 1]."""
    images = tf.cast(images, tf.float32)
    draws = _draws(key)
    batch = tf.shape(images)[0] * draws.replica[1]  # the global batch: its draws on every replica
    parameters = bgc_parameters(bgc_draws(draws.whole_batch(), batch, transforms), p)
    return bgc(images, parameters, rows=draws.own_rows)


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
    images = sample(images, _translate(shift[:, 0], shift[:, 1]))
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
