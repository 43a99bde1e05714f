"""Cropping hole boxes out of images and pasting predicted content back (inpainting.holes)."""

import numpy as np
import tensorflow as tf

from inpainting.holes import (crop_holes, expand_content, hole_boxes, hole_context, paste_holes, predicted_regions,
                              region_boxes)
from inpainting.masks import make_masks


def test_a_box_of_the_content_size_is_cropped_and_pasted_unchanged():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (2, 16, 20, 3)).astype(np.float32)
    boxes = np.array([[2, 3, 8, 8], [8, 12, 8, 8]], np.int32)
    crops = np.asarray(crop_holes(images, boxes, 8))
    np.testing.assert_allclose(crops[0], images[0, 2:10, 3:11], atol=1e-5)
    np.testing.assert_allclose(crops[1], images[1, 8:16, 12:20], atol=1e-5)
    masks = np.zeros((2, 16, 20, 1), np.float32)
    masks[0, 2:10, 3:11] = 1
    masks[1, 8:16, 12:20] = 1
    np.testing.assert_allclose(np.asarray(paste_holes(images, crops, boxes, masks)), images, atol=1e-5)


def test_content_is_stretched_onto_its_box_with_corners_aligned():
    content = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32).reshape(1, 2, 2, 1)
    out = np.asarray(expand_content(content, np.array([[1, 1, 3, 3]]), 5, 5))[0, 1:4, 1:4, 0]
    # bilinear between the corner values: the middle row is the mean of the outer two
    np.testing.assert_allclose(out, [[0.0, 0.5, 1.0], [1.0, 1.5, 2.0], [2.0, 2.5, 3.0]], atol=1e-5)


def test_paste_writes_only_inside_the_hole_bit_for_bit():
    rng = np.random.default_rng(1)
    images = rng.uniform(-1, 1, (1, 24, 24, 3)).astype(np.float32)
    masks = np.zeros((1, 24, 24, 1), np.float32)
    masks[0, 5:15, 6:10] = 1
    masks[0, 12:15, 6:18] = 1  # an L-shaped hole inside the box 5..14 x 6..17
    content = tf.constant(rng.uniform(-1, 1, (1, 12, 12, 3)), tf.float32)
    out = np.asarray(paste_holes(images, content, np.array([[5, 6, 10, 12]]), masks))
    known = masks[..., 0] == 0
    assert np.array_equal(out[known], images[known])
    assert not np.allclose(out[~known], images[~known])


def test_every_hole_pixel_gets_the_content_even_where_rounding_reaches_past_its_edge():
    # the box's last row and column sit at the content's edge, where float rounding used to read past it
    # and paste crop_and_resize's extrapolation value (0) into ~4% of these holes' pixels
    masks = make_masks("random-block", seed=0, step=0, batch_size=64, image_size=64)
    out = np.asarray(paste_holes(tf.zeros([64, 64, 64, 3]), tf.fill([64, 32, 32, 3], 0.5), hole_boxes(masks), masks))
    hole = np.asarray(masks)[..., 0] > 0.5
    np.testing.assert_array_equal(out[hole], 0.5)


def test_the_predicted_region_is_the_hole_grown_by_the_overlap_within_the_image():
    masks = np.zeros((2, 12, 12, 1), np.float32)
    masks[0, 4:7, 5:9] = 1
    masks[1, 0:3, 9:12] = 1  # in the top right corner: grown to the left and downwards only
    regions = np.asarray(predicted_regions(masks, 2))[..., 0]
    expected = np.zeros((2, 12, 12), np.float32)
    expected[0, 2:9, 3:11] = 1
    expected[1, 0:5, 7:12] = 1
    np.testing.assert_array_equal(regions, expected)
    assert np.asarray(region_boxes(masks, 2)).tolist() == [[2, 3, 7, 8], [0, 7, 5, 5]]
    assert np.asarray(region_boxes(masks, 0)).tolist() == np.asarray(hole_boxes(masks)).tolist()


def ramp(size):
    """float32 [1, size, size, 3]: channel 0 = the row, 1 = the column, 2 = 1 (bilinear sampling is exact on it)."""
    ys, xs = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32), indexing="ij")
    return np.stack([ys, xs, np.ones_like(ys)], axis=-1)[None]


def block(size, y0, x0, h, w):
    m = np.zeros((1, size, size, 1), np.float32)
    m[0, y0:y0 + h, x0:x0 + w] = 1
    return m


def test_the_hole_context_of_a_centre_hole_of_half_the_image_is_the_image_itself():
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    masks = make_masks("centre", batch_size=2, image_size=64)
    np.testing.assert_array_equal(np.asarray(hole_context(x, masks)), x)


def test_the_hole_context_is_twice_the_holes_box_around_it_resampled_to_the_image_size():
    # a 16 x 12 hole at (16, 24): the window is rows 8..39, columns 18..41, sampled at 64 points each
    window = np.asarray(hole_context(ramp(64), block(64, 16, 24, 16, 12)))[0]
    i = np.arange(64, dtype=np.float32)
    np.testing.assert_allclose(window[:, 0, 0], 8 + i * 31 / 63, atol=1e-4)
    np.testing.assert_allclose(window[0, :, 1], 18 + i * 23 / 63, atol=1e-4)
    # so the hole fills the window's middle half, as a centre hole does the image
    holes = np.asarray(hole_context(block(64, 16, 24, 16, 12), block(64, 16, 24, 16, 12)))[0, ..., 0] > 0.5
    rows, cols = np.flatnonzero(holes.any(1)), np.flatnonzero(holes.any(0))
    assert (rows[0], rows[-1], cols[0], cols[-1]) == (16, 47, 16, 47)


def test_a_hole_context_reaching_past_the_image_shows_it_mirrored():
    # a 16-px hole in the top-left corner: the window starts 8 px before the image, where the image is mirrored
    window = np.asarray(hole_context(ramp(64), block(64, 0, 0, 16, 16)))[0]
    np.testing.assert_allclose(window[0, 0, :2], [7, 7], atol=1e-4)  # row and column -8 mirror 7 (symmetric)
    np.testing.assert_allclose(window[-1, -1, :2], [23, 23], atol=1e-4)
