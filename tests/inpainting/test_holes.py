"""Cropping hole boxes out of images and pasting predicted content back (inpainting.holes)."""

import numpy as np
import tensorflow as tf

from inpainting.holes import crop_holes, expand_content, paste_holes


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
