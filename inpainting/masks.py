"""Hole masks for inpainting: the three strategies the source names, as TensorFlow ops.

A mask is float32 [B, H, W, 1], 1 = missing pixel, 0 = known. Every random mask is a pure
function of (seed, step, index in the batch): each image's parameters are drawn with its own
stateless key, so a resumed run (and a batch of any size) draws the same holes.

    centre        a square of side hole_size (default half the image) in the middle
    random-block  one rectangle per image, height and width drawn in [min_side, max_side] x the
                  image side (the experiment's random block masks), placed anywhere inside the image
    free-form     thick random polylines (DeepFill v2's training masks): strokes of 4-12 vertices
                  with random angles and lengths and a random brush width, added until the hole
                  covers an area drawn in [min_area, max_area] of the image; columns are then
                  trimmed from the right while it covers more than max_area

    python -m inpainting.masks --mask free-form --n 16 --out DIR     # writes DIR/mask_000.png ...
"""

from __future__ import annotations

import argparse
import math
import sys

from inpainting.options import KINDS

if __name__ != "__main__":  # `python -m inpainting.masks` parses its flags before TensorFlow loads (main)
    import tensorflow as tf

_MAX_STROKES = 24  # free-form: strokes per mask at most (the loop stops once min_area is covered)
_VERTICES = (4, 12)
_SEGMENT = (0.04, 0.15)  # segment length, fraction of the image's smaller side
_WIDTH = (0.03, 0.1)  # brush width, fraction of the image's smaller side


def _pair(value, what):
    h, w = (int(v) for v in value) if hasattr(value, "__len__") else (int(value), int(value))
    if h < 1 or w < 1:
        raise ValueError(f"{what} must be positive, got {value}")
    return h, w


def _uniform(seed, step, batch_size, shape):
    """float32 [B, *shape] in [0, 1): row i drawn from its own key (seed, step, i)."""
    key = tf.random.experimental.stateless_fold_in(tf.stack([tf.cast(seed, tf.int64), tf.constant(0x1A5, tf.int64)]),
                                                   tf.cast(step, tf.int64))

    def draw(i):
        return tf.random.stateless_uniform(shape, tf.random.experimental.stateless_fold_in(key, i))

    return tf.map_fn(draw, tf.range(batch_size, dtype=tf.int64), fn_output_signature=tf.float32)


def _grid(height, width):
    ys = tf.cast(tf.range(height), tf.float32)[:, None]
    xs = tf.cast(tf.range(width), tf.float32)[None, :]
    return ys, xs


def _rectangles(y0, x0, h, w, height, width):
    """Float [B] box corners and sizes -> float32 [B, H, W, 1] masks of the boxes."""
    ys, xs = _grid(height, width)
    inside = ((ys >= y0[:, None, None]) & (ys < (y0 + h)[:, None, None])
              & (xs >= x0[:, None, None]) & (xs < (x0 + w)[:, None, None]))
    return tf.cast(inside, tf.float32)[..., None]


def centre_mask(batch_size, image_size, hole_size=None):
    """The same centred hole in every image (hole_size: int or (h, w); default half the image)."""
    height, width = _pair(image_size, "image_size")
    hh, hw = _pair(hole_size, "hole_size") if hole_size is not None else (height // 2, width // 2)
    if hh >= height or hw >= width:
        raise ValueError(f"hole_size {hole_size} must be smaller than the image ({height}x{width})")
    one = tf.fill([batch_size], 1.0)
    return _rectangles(one * ((height - hh) // 2), one * ((width - hw) // 2), one * hh, one * hw, height, width)


def random_block_masks(seed, step, batch_size, image_size, min_side=0.25, max_side=0.5):
    """One rectangle per image, each side a whole number of pixels in [round(min_side*S), round(max_side*S)]."""
    height, width = _pair(image_size, "image_size")
    u = _uniform(seed, step, batch_size, [4])

    def side(r, size):
        low, high = max(1, round(min_side * size)), min(size - 1, round(max_side * size))
        return tf.floor(low + r * (high - low + 1))

    h, w = side(u[:, 0], height), side(u[:, 1], width)
    y0, x0 = tf.floor(u[:, 2] * (height - h + 1)), tf.floor(u[:, 3] * (width - w + 1))
    return _rectangles(y0, x0, h, w, height, width)


def _stroke(u, height, width):
    """One stroke per image from its random numbers u [B, 3 + 2 * 12] -> bool [B, H, W]."""
    side = float(min(height, width))
    ys, xs = _grid(height, width)
    n_vertices = tf.floor(_VERTICES[0] + u[:, 0] * (_VERTICES[1] - _VERTICES[0] + 1))
    radius = (_WIDTH[0] + u[:, 1] * (_WIDTH[1] - _WIDTH[0])) * side / 2
    start_y, start_x = u[:, 2] * (height - 1), u[:, 3] * (width - 1)
    angles = tf.math.cumsum(u[:, 4:4 + _VERTICES[1]] * 2 * math.pi - math.pi, axis=1)
    lengths = (_SEGMENT[0] + u[:, 4 + _VERTICES[1]:] * (_SEGMENT[1] - _SEGMENT[0])) * side
    py = tf.clip_by_value(start_y[:, None] + tf.math.cumsum(lengths * tf.sin(angles), axis=1), 0, height - 1)
    px = tf.clip_by_value(start_x[:, None] + tf.math.cumsum(lengths * tf.cos(angles), axis=1), 0, width - 1)
    py = tf.concat([start_y[:, None], py], 1)  # [B, 13] vertices; segments k -> k+1 for k < n_vertices - 1
    px = tf.concat([start_x[:, None], px], 1)
    ay, ax, by, bx = (t[:, :, None, None] for t in (py[:, :-1], px[:, :-1], py[:, 1:], px[:, 1:]))
    dy, dx = by - ay, bx - ax
    t = tf.clip_by_value(((ys - ay) * dy + (xs - ax) * dx) / tf.maximum(dy * dy + dx * dx, 1e-6), 0.0, 1.0)
    near = tf.square(ys - ay - t * dy) + tf.square(xs - ax - t * dx) <= tf.square(radius)[:, None, None, None]
    used = tf.range(_VERTICES[1], dtype=tf.float32)[None, :] < (n_vertices - 1)[:, None]
    return tf.reduce_any(near & used[:, :, None, None], axis=1)


def free_form_masks(seed, step, batch_size, image_size, min_area=0.1, max_area=0.4):
    """Brush-stroke holes, each covering between min_area and max_area of its image."""
    height, width = _pair(image_size, "image_size")
    u = _uniform(seed, step, batch_size, [_MAX_STROKES + 1, 4 + 2 * _VERTICES[1]])
    pixels = float(height * width)
    target = (min_area + u[:, -1, 0] * (max_area - min_area)) * pixels  # each image's own area, in range

    def add_stroke(k, hole):  # to every image still short of its target
        short = tf.reduce_sum(tf.cast(hole, tf.float32), axis=[1, 2]) < target
        return k + 1, hole | (_stroke(tf.gather(u, k, axis=1), height, width) & short[:, None, None])

    def unfinished(k, hole):
        return (k < _MAX_STROKES) & tf.reduce_any(tf.reduce_sum(tf.cast(hole, tf.float32), axis=[1, 2]) < target)

    _, hole = tf.while_loop(unfinished, add_stroke, (tf.constant(0), tf.zeros([batch_size, height, width], tf.bool)))
    # too large: drop whole columns from the right until at most max_area is left
    per_column = tf.reduce_sum(tf.cast(hole, tf.float32), axis=1)  # [B, W]
    keep = tf.math.cumsum(per_column, axis=1) <= max_area * pixels
    return tf.cast(hole & keep[:, None, :], tf.float32)[..., None]


def _check_range(low, high, names):
    if not 0 < low <= high < 1:
        raise ValueError(f"{names[0]} {low} and {names[1]} {high} must satisfy 0 < min <= max < 1")


def make_masks(kind, *, seed=0, step=0, batch_size, image_size, **options):
    """float32 [B, H, W, 1] masks of one kind (centre ignores seed and step); options as the kind's function."""
    if kind == "centre":
        return centre_mask(batch_size, image_size, options.get("hole_size"))
    if kind == "random-block":
        low, high = options.get("min_side", 0.25), options.get("max_side", 0.5)
        _check_range(low, high, ("min_side", "max_side"))
        return random_block_masks(seed, step, batch_size, image_size, low, high)
    if kind == "free-form":
        low, high = options.get("min_area", 0.1), options.get("max_area", 0.4)
        _check_range(low, high, ("min_area", "max_area"))
        return free_form_masks(seed, step, batch_size, image_size, low, high)
    raise ValueError(f"unknown mask kind {kind!r}; choose from {', '.join(KINDS)}")


def main(argv=None) -> int:
    from common.report import add_verbose, one_line_errors, quiet_tensorflow

    p = one_line_errors(argparse.ArgumentParser(prog="python -m inpainting.masks",
                                                description="Write example hole masks as PNG (white = hole)."))
    # the hole flags are spelled as inpainting.train's (the old --kind, --min-side ... still work)
    p.add_argument("--mask", "--kind", dest="mask", default="free-form", choices=KINDS, help="hole shape")
    p.add_argument("--n", type=int, default=16, help="how many masks")
    p.add_argument("--size", type=int, default=128, help="side in pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--hole-size", type=int, default=None, help="centre: hole side (default half the image)")
    p.add_argument("--hole-min", "--min-side", dest="hole_min", type=float, default=0.25, metavar="F",
                   help="random-block: smallest side, fraction of the image side")
    p.add_argument("--hole-max", "--max-side", dest="hole_max", type=float, default=0.5, metavar="F",
                   help="random-block: largest side")
    p.add_argument("--area-min", "--min-area", dest="area_min", type=float, default=0.1, metavar="F",
                   help="free-form: smallest hole area, fraction of the image")
    p.add_argument("--area-max", "--max-area", dest="area_max", type=float, default=0.4, metavar="F",
                   help="free-form: largest hole area")
    add_verbose(p)
    args = p.parse_args(argv)
    if args.n < 1 or args.size < 8:
        p.error("--n must be positive and --size at least 8")
    quiet_tensorflow(args.verbose)
    from inpainting.masks import make_masks  # this module under its own name, with TensorFlow

    try:
        masks = make_masks(args.mask, seed=args.seed, step=0, batch_size=args.n, image_size=args.size,
                           hole_size=args.hole_size, min_side=args.hole_min, max_side=args.hole_max,
                           min_area=args.area_min, max_area=args.area_max)
    except ValueError as exc:
        flags = {"min_side": "--hole-min", "max_side": "--hole-max", "min_area": "--area-min",
                 "max_area": "--area-max"}
        message = str(exc)
        for old, new in flags.items():
            message = message.replace(old, new)
        p.error(message.replace("_", "-"))
    import cv2
    import numpy as np

    from common.data import DataError
    from common.report import output_folder

    try:
        out = output_folder(args.out)
    except DataError as exc:
        p.error(str(exc))
    pixels = (np.asarray(masks)[..., 0] * 255).astype(np.uint8)
    for i, mask in enumerate(pixels):
        cv2.imwrite(str(out / f"mask_{i:03d}.png"), mask)
    areas = pixels.reshape(args.n, -1).mean(axis=1) / 255
    print(f"wrote {args.n} {args.mask} masks of {args.size}x{args.size} px to {out}; hole area "
          f"min {areas.min():.3f} mean {areas.mean():.3f} max {areas.max():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
