"""Between whole images and the hole content the generators predict.

The hole (mask 1) is what is missing: the generator sees the fill value there. As in Pathak
et al.'s Context Encoder (train.lua's overlapPred), the generator predicts a larger region,
the hole grown by `overlap` px on each side (`predicted_regions`): the band it adds is known
context the generator sees and must reproduce, weighted x border_weight in the loss
(common.losses.overlap_weights), so the content it predicts joins its surroundings. For a
block hole of side n the predicted region is a block of side n + 2 * overlap (less where it
meets the image border); Pathak's 128-px setting is a 56-px hole in a 64-px predicted centre.

Both generators of SPEC section 2 predict the content of the predicted region's bounding box
(`region_boxes`) at a fixed size (half the input: 64x64 at 128, 128x128 at 256). `crop_holes`
samples a box out of an image batch at the prediction's size (the discriminator's real input
and the reconstruction target); `paste_holes` resizes a prediction back to its box and writes
it into the image, inside the hole only: every known pixel, the band's too, is returned bit
for bit.

Boxes are int [B, 4] rows (y0, x0, height, width) in pixels (hole_boxes).
Sampling is bilinear with corners aligned: the box's first and last pixel rows map to the
prediction's first and last rows, so a box of exactly the prediction's size is copied
unchanged, and cropping then pasting the same box is the identity inside it.
"""

from __future__ import annotations

import tensorflow as tf

from common.losses import overlap_weights


def _crop_boxes(boxes, height, width):
    """Pixel boxes -> crop_and_resize's normalised [y1, x1, y2, x2] rows (corner pixels)."""
    b = tf.cast(boxes, tf.float32)
    y0, x0, h, w = tf.unstack(b, axis=1)
    sy, sx = float(max(height - 1, 1)), float(max(width - 1, 1))
    return tf.stack([y0 / sy, x0 / sx, (y0 + h - 1) / sy, (x0 + w - 1) / sx], axis=1)


def crop_holes(images, boxes, size):
    """images float [B, H, W, C]; boxes int [B, 4] -> float32 [B, size, size, C], each image's box."""
    images = tf.convert_to_tensor(images)
    height, width = images.shape[1], images.shape[2]
    batch = tf.shape(images)[0]
    return tf.image.crop_and_resize(tf.cast(images, tf.float32), _crop_boxes(boxes, height, width),
                                    tf.range(batch), [size, size])


def expand_content(content, boxes, height, width):
    """Hole content float [B, s, s, C] -> float32 [B, height, width, C] holding it resized onto each
    box (corner pixels aligned as in crop_holes); what lies outside a box is meaningless."""
    content = tf.cast(tf.convert_to_tensor(content), tf.float32)
    sh, sw = float(content.shape[1]), float(content.shape[2])
    b = tf.cast(boxes, tf.float32)
    y0, x0, h, w = tf.unstack(b, axis=1)
    # the whole image's corners in the content's pixel coordinates (the box's corners at 0 and s - 1)
    fy, fx = (sh - 1.0) / tf.maximum(h - 1.0, 1.0), (sw - 1.0) / tf.maximum(w - 1.0, 1.0)
    top, left, bottom, right = -y0 * fy, -x0 * fx, (height - 1.0 - y0) * fy, (width - 1.0 - x0) * fx
    # sampled from the content with its edge pixels repeated once around it, so that a box's last row
    # or column, which rounding can put a hair beyond the content's edge, still reads the edge
    padded = tf.pad(content, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    frame = tf.stack([(top + 1.0) / (sh + 1.0), (left + 1.0) / (sw + 1.0), (bottom + 1.0) / (sh + 1.0),
                      (right + 1.0) / (sw + 1.0)], axis=1)
    return tf.image.crop_and_resize(padded, frame, tf.range(tf.shape(content)[0]), [height, width])


def paste_holes(images, content, boxes, masks):
    """The completed images: content resized onto each box, written where masks > 0.5 only.

    images float [B, H, W, C]; content [B, s, s, C] in the images' range; masks [B, H, W, 1]
    (1 = hole). Returns float32 [B, H, W, C]; outside the hole it equals images exactly.
    """
    images = tf.cast(tf.convert_to_tensor(images), tf.float32)
    filled = expand_content(content, boxes, images.shape[1], images.shape[2])
    return tf.where(tf.cast(masks, tf.float32) > 0.5, filled, images)


def hole_boxes(masks):
    """int32 [B, 4] (y0, x0, height, width): the bounding box of each mask's hole (pixels > 0.5).
    A mask without a hole gets the 2x2 box at the image's centre, so no box is ever empty."""
    masks = tf.convert_to_tensor(masks)
    hole = masks[..., 0] > 0.5
    height, width = tf.shape(hole)[1], tf.shape(hole)[2]

    def extent(any_along, size):
        idx = tf.range(size)[None, :]
        first = tf.reduce_min(tf.where(any_along, idx, size), axis=1)
        last = tf.reduce_max(tf.where(any_along, idx, -1), axis=1)
        return first, last - first + 1

    y0, h = extent(tf.reduce_any(hole, axis=2), height)
    x0, w = extent(tf.reduce_any(hole, axis=1), width)
    empty = h <= 0
    y0 = tf.where(empty, height // 2 - 1, y0)
    x0 = tf.where(empty, width // 2 - 1, x0)
    return tf.cast(tf.stack([y0, x0, tf.where(empty, 2, h), tf.where(empty, 2, w)], axis=1), tf.int32)


def hole_context(images, masks):
    """What the generator sees with context "hole": each image's window of twice its hole's box
    (hole_boxes) around the box's centre, resampled (bilinear, corners aligned) to the image's size.

    images float [B, H, W, C] (the masked input); masks [B, H, W, 1]. Returns float32 [B, H, W, C].
    The hole then always fills the middle half of the window, as a centre hole of half the image
    does in the whole image (for which the window is the image itself): whatever a hole's place
    and size, the generator's input shows it at the place and scale its output predicts, which the
    U-Net's skips need (they join encoder features of the input to decoder features of the box).
    Where a window reaches beyond the image it shows the image mirrored (symmetric padding)."""
    images = tf.cast(tf.convert_to_tensor(images), tf.float32)
    height, width = images.shape[1], images.shape[2]
    y0, x0, h, w = tf.unstack(tf.cast(hole_boxes(masks), tf.float32), axis=1)
    # a hole box lies inside the image, so its doubled window lies within half an image of it
    py, px = height // 2, width // 2
    padded = tf.pad(images, [[0, 0], [py, py], [px, px], [0, 0]], mode="SYMMETRIC")
    top, left = y0 - h / 2.0 + py, x0 - w / 2.0 + px  # the window's first and last pixel rows/columns
    bottom, right = top + 2.0 * h - 1.0, left + 2.0 * w - 1.0
    sy, sx = float(height + 2 * py - 1), float(width + 2 * px - 1)
    windows = tf.stack([top / sy, left / sx, bottom / sy, right / sx], axis=1)
    return tf.image.crop_and_resize(padded, windows, tf.range(tf.shape(images)[0]), [height, width])


def predicted_regions(masks, overlap):
    """float32 [B, H, W, 1]: 1 on what the generator predicts, the hole grown by `overlap` px
    (Chebyshev distance, cut off at the image border); overlap 0: the hole itself."""
    return overlap_weights(masks, overlap=overlap, border_weight=1.0)


def region_boxes(masks, overlap):
    """int32 [B, 4]: the boxes whose content the generator predicts (hole_boxes of predicted_regions)."""
    return hole_boxes(predicted_regions(masks, overlap))


def paste_prediction(images, content, masks, overlap):
    """The completed images: content, the generator's prediction of each predicted region's box
    (region_boxes), resized onto that box and written inside the hole only (paste_holes)."""
    return paste_holes(images, content, region_boxes(masks, overlap), masks)
