"""ADA's bgc pipeline as NVIDIA's AugmentPipe (training/augment.py), against hand computations: each geometric
matrix as NVIDIA's product of inverses, the colour matrix in NVIDIA's order, one coin per image and
transformation (both axes of a translation together), p above 1, the padding margin, the anti-aliased
resampling (exact for integer shifts, close to the true shift of a smooth image), and N replicas drawing
what one device draws. Output equality with NVIDIA's code itself: python -m benchmarks.ada_parity."""

import math

import numpy as np
import pytest
import tensorflow as tf

from common.replicas import Draws
from watches import augment as A

KEY = tf.constant([1, 2], tf.int64)


def np_translate(tx, ty):
    return np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], dtype=np.float64)


def np_scale(sx, sy):
    return np.diag([sx, sy, 1.0])


def np_rotate(theta):
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def params(**values):
    return {name: tf.constant(value, tf.float32) for name, value in values.items()}


def test_geometric_matrix_is_nvidias_product_of_the_inverse_transformations():
    p = dict(xflip=[1.0, 0.0], rotate90=[1.0, 3.0], xint=[[0.1, -0.05], [0.0, 0.125]], scale=[2.0, 0.7],
             rotate_pre=[0.3, -1.0], aniso=[1.5, 1.0], rotate_post=[0.2, 0.0], xfrac=[[0.01, 0.02], [-0.03, 0.0]])
    g = A.geometric_matrix(params(**p), 16, 12).numpy()
    for i in range(2):
        v = {k: np.asarray(x)[i] for k, x in p.items()}
        forward = [np_scale(1 - 2 * v["xflip"], 1), np_rotate(-math.pi / 2 * v["rotate90"]),
                   np_translate(round(v["xint"][0] * 16), round(v["xint"][1] * 12)),
                   np_scale(v["scale"], v["scale"]), np_rotate(-v["rotate_pre"]), np_scale(v["aniso"], 1 / v["aniso"]),
                   np_rotate(-v["rotate_post"]), np_translate(v["xfrac"][0] * 16, v["xfrac"][1] * 12)]
        expected = np.eye(3)
        for m in forward:  # NVIDIA: G_inv = G_inv @ inverse(transformation)
            expected = expected @ np.linalg.inv(m)
        np.testing.assert_allclose(g[i], expected, atol=1e-5)
    translation = A.geometric_matrix(params(xint=[[0.1, -0.05]]), 16, 12).numpy()[0]
    np.testing.assert_allclose(translation, np_translate(-2, 1), atol=1e-6)  # round(1.6) = 2, round(-0.6) = -1


def np_rotation_about_grey(theta):
    v = np.ones(3) / math.sqrt(3)
    cross = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    r = math.cos(theta) * np.eye(3) + math.sin(theta) * cross + (1 - math.cos(theta)) * np.outer(v, v)
    out = np.eye(4)
    out[:3, :3] = r
    return out


def test_color_matrix_composes_in_nvidias_order_brightness_first_saturation_last():
    p = dict(brightness=[0.3, -0.1], contrast=[1.5, 0.5], lumaflip=[1.0, 0.0], hue=[0.7, -2.0], saturation=[2.0, 0.3])
    c = A.color_matrix(params(**p)).numpy()
    v = np.array([1, 1, 1, 0]) / math.sqrt(3)
    vv = np.outer(v, v)
    for i in range(2):
        b, k, flip, hue, sat = (p[name][i] for name in ("brightness", "contrast", "lumaflip", "hue", "saturation"))
        bright = np.eye(4)
        bright[:3, 3] = b
        steps = [bright, np.diag([k, k, k, 1.0]), np.eye(4) - 2 * vv * flip, np_rotation_about_grey(hue),
                 vv + (np.eye(4) - vv) * sat]
        expected = np.eye(4)
        for m in steps:  # NVIDIA: C = M @ C
            expected = m @ expected
        np.testing.assert_allclose(c[i], expected, atol=1e-5)
        # a black pixel: the brightness offset scaled by contrast and flipped by the luma flip, grey throughout
        np.testing.assert_allclose(c[i, :3, 3], np.full(3, b * k * (1 - 2 * flip)), atol=1e-6)
    rotation = c[0, :3, :3] @ np.ones(3)
    np.testing.assert_allclose(rotation, np.full(3, -1.5), atol=1e-5)  # grey stays grey: contrast, flip only


def test_color_matrix_is_the_identity_at_p_0_and_hue_rotation_keeps_grey_and_lengths():
    draws = A.bgc_draws(KEY, 5, A.BGC[7:])
    np.testing.assert_allclose(A.color_matrix(A.bgc_parameters(draws, 0.0)).numpy(), np.tile(np.eye(4), (5, 1, 1)),
                               atol=1e-6)
    axis = tf.constant([1.0, 1.0, 1.0]) / math.sqrt(3.0)
    r = A._rotation_about(axis, tf.constant([0.7, -2.0])).numpy()[:, :3, :3]
    np.testing.assert_allclose(r @ np.ones(3), np.ones((2, 3)), atol=1e-6)
    np.testing.assert_allclose(r @ r.transpose(0, 2, 1), np.tile(np.eye(3), (2, 1, 1)), atol=1e-6)
    assert np.abs(r[0] - np.eye(3)).max() > 0.1


def test_each_image_meets_each_transformation_with_probability_p_and_a_translation_moves_both_axes_together():
    n, p = 20_000, 0.3
    parameters = {k: v.numpy() for k, v in A.bgc_parameters(A.bgc_draws(KEY, n), p).items()}
    tolerance = 4 * math.sqrt(p * (1 - p) / n)  # 4 standard deviations of the fraction
    for name in ("xint", "xfrac"):
        moved = parameters[name] != 0
        assert (moved[:, 0] == moved[:, 1]).all(), name  # one coin per image: never one axis only
        assert abs(moved[:, 0].mean() - p) < tolerance, name
    for name, neutral in (("scale", 1.0), ("aniso", 1.0), ("brightness", 0.0), ("contrast", 1.0), ("hue", 0.0),
                          ("saturation", 1.0)):
        assert abs((parameters[name] != neutral).mean() - p) < tolerance, name
    rotated = (parameters["rotate_pre"] != 0) | (parameters["rotate_post"] != 0)
    assert abs(rotated.mean() - p) < tolerance  # 1 - sqrt(1 - p) each: p for either
    assert abs((parameters["rotate_pre"] != 0).mean() - (1 - math.sqrt(1 - p))) < tolerance
    for name, values in (("xflip", 2), ("rotate90", 4), ("lumaflip", 2)):  # applied with p, a value drawn uniformly
        assert abs((parameters[name] != 0).mean() - p * (values - 1) / values) < tolerance, name


def test_p_above_1_applies_every_transformation_to_every_image():
    parameters = {k: v.numpy() for k, v in A.bgc_parameters(A.bgc_draws(KEY, 500), 1.5).items()}
    for name, neutral in (("xfrac", 0.0), ("scale", 1.0), ("rotate_pre", 0.0), ("rotate_post", 0.0), ("aniso", 1.0),
                          ("brightness", 0.0), ("contrast", 1.0), ("hue", 0.0), ("saturation", 1.0)):
        assert np.isfinite(parameters[name]).all() and (parameters[name] != neutral).all(), name
    assert np.isfinite(A.ada(tf.zeros([2, 8, 8, 3]), 1.5, KEY).numpy()).all()


def test_padding_margin_is_nvidias_reach_of_the_corners_plus_the_filter_border_within_one_reflection():
    eye = tf.eye(3, batch_shape=[1])
    np.testing.assert_array_equal(A.padding_margin(eye, 16, 16).numpy(), [6, 6, 6, 6])  # 2 * Hz_pad, sym6: 3
    shifted = tf.constant(np_translate(5.0, -2.5)[None], tf.float32)  # reads 5 px right, 2.5 px up
    np.testing.assert_array_equal(A.padding_margin(shifted, 16, 16).numpy(), [1, 9, 11, 4])
    # the batch's largest reach, clipped to the image size - 1
    both = tf.concat([shifted, tf.constant(np_scale(4.0, 4.0)[None], tf.float32)], axis=0)
    np.testing.assert_array_equal(A.padding_margin(both, 16, 12).numpy(), [15, 11, 15, 11])


def smooth(size=16, batch=1):
    y, x = np.mgrid[0:size, 0:size].astype("float32")
    image = np.stack([np.cos(2 * np.pi * x / size + 0.3) * np.cos(2 * np.pi * y / size),
                      np.sin(2 * np.pi * (x + y) / size), 0.5 * np.cos(2 * np.pi * x / size)], -1)
    return np.tile(image[None], (batch, 1, 1, 1)).astype("float32"), (x, y)


def test_resampling_is_exact_for_integer_shifts_and_identity():
    x = np.random.default_rng(0).uniform(-1, 1, (2, 12, 12, 3)).astype("float32")
    out = A.bgc(tf.constant(x), params(xint=[[0.25, -1 / 6], [0.0, 0.0]])).numpy()  # 3 px, -2 px; identity
    padded = np.pad(x[0], [(12, 12), (12, 12), (0, 0)], mode="reflect")
    expected = padded[12 + 2:12 + 2 + 12, 12 - 3:12 - 3 + 12]  # out(x, y) = in(x - 3, y + 2), reflected
    np.testing.assert_allclose(out[0], expected, atol=1e-5)
    np.testing.assert_allclose(out[1], x[1], atol=1e-5)


def test_a_smooth_image_resampled_under_a_small_transform_is_the_transformed_image():
    image, (x, y) = smooth()
    # a fractional shift of half a pixel right and a quarter down: out(x, y) = in(x - 0.5, y - 0.25)
    out = A.bgc(tf.constant(image), params(xfrac=[[0.5 / 16, 0.25 / 16]])).numpy()[0]
    expected = np.stack([np.cos(2 * np.pi * (x - 0.5) / 16 + 0.3) * np.cos(2 * np.pi * (y - 0.25) / 16),
                         np.sin(2 * np.pi * (x - 0.5 + y - 0.25) / 16), 0.5 * np.cos(2 * np.pi * (x - 0.5) / 16)], -1)
    inner = (slice(3, -3), slice(3, -3))  # away from the reflected border
    # bilinear sampling at twice the resolution: its error on these periods (16 px per axis) is about 0.01,
    # a third of what one bilinear pass at 1x makes (measured 0.033): the check can fail
    np.testing.assert_allclose(out[inner], expected[inner], atol=0.015)
    assert np.abs(out[inner] - image[0][inner]).max() > 0.05  # the check can fail: the image did move
    tiny = A.bgc(tf.constant(image), params(xfrac=[[1e-4, -1e-4]], scale=[1.00001])).numpy()[0]
    np.testing.assert_allclose(tiny, image[0], atol=2e-3)


def test_n_replicas_augment_their_rows_as_one_device_does():
    x = tf.random.uniform([4, 16, 16, 3], -1, 1, seed=2)
    whole = A.ada(x, 0.8, KEY).numpy()
    for replica in range(2):  # replica r holds the global rows r, r + 2 (common.replicas)
        rows = A.ada(x[replica::2], 0.8, Draws(KEY, (tf.constant(replica), 2))).numpy()
        np.testing.assert_allclose(rows, whole[replica::2], atol=1e-5)


def test_ada_at_p_0_is_the_identity_and_at_p_1_transforms_every_image():
    x = tf.random.uniform([6, 16, 16, 3], -1, 1, seed=2)
    np.testing.assert_allclose(A.ada(x, 0.0, KEY).numpy(), x.numpy(), atol=1e-5)
    y = A.ada(x, 1.0, KEY).numpy()
    assert y.shape == x.shape
    assert all(np.abs(y[i] - x.numpy()[i]).mean() > 0.05 for i in range(6))
    np.testing.assert_array_equal(y, A.ada(x, 1.0, KEY).numpy())  # a pure function of the key
    assert np.abs(y - A.ada(x, 1.0, tf.constant([1, 3], tf.int64)).numpy()).max() > 0.05


def test_ada_passes_gradients_to_the_images():
    x = tf.Variable(tf.random.uniform([2, 8, 8, 3], -1, 1, seed=3))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(A.ada(x, 1.0, tf.constant([5, 6], tf.int64)) ** 2)
    grad = tape.gradient(total, x)
    assert grad is not None and float(tf.reduce_mean(tf.abs(grad))) > 0


def test_unknown_transformations_are_refused():
    with pytest.raises(ValueError, match="cutout"):
        A.bgc_draws(KEY, 2, ("xflip", "cutout"))


def test_sampling_with_integer_shift_and_flip_moves_pixels_exactly():
    x = tf.reshape(tf.range(2 * 4 * 4 * 1, dtype=tf.float32), [2, 4, 4, 1])
    flip = tf.stack([tf.linalg.diag([-1.0, 1.0, 1.0]), tf.eye(3)])
    out = A.sample(x, flip).numpy()
    np.testing.assert_array_equal(out[0], x.numpy()[0, :, ::-1])
    np.testing.assert_array_equal(out[1], x.numpy()[1])
    shift = A._translate(tf.constant([1.0]), tf.constant([0.0]))  # reads one pixel to the right
    shifted = A.sample(x[:1], shift).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(shifted[:, :3], x.numpy()[0, :, 1:, 0])
    np.testing.assert_array_equal(shifted[:, 3], 0)


def test_diffaugment_cuts_out_a_square_of_half_the_side():
    x = tf.ones([4, 16, 16, 3])
    y = A.diffaugment(x, tf.constant([0, 1], tf.int64)).numpy()
    zero_pixels = (np.abs(y).sum(axis=-1) == 0).sum(axis=(1, 2))
    assert (zero_pixels >= 64).all()  # the 8x8 cutout, plus what translation shifted in
    assert y.shape == x.shape
