"""Losses: hand-computed values on tiny arrays, multi-head sums, safe BCE, border weights."""
import math

import numpy as np
import pytest
import tensorflow as tf

from common import losses as L


def value(x):
    return float(np.asarray(x))


PRED = np.array([[0.5, 1.0], [-1.0, 2.0]], np.float32)  # mean((p-1)^2) = (0.25+0+4+1)/4


def test_lsgan_real_and_fake_losses_are_mean_squared_distance_to_1_and_0():
    assert value(L.lsgan_real_loss(PRED)) == pytest.approx(5.25 / 4)
    assert value(L.lsgan_fake_loss(PRED)) == pytest.approx((0.25 + 1 + 1 + 4) / 4)
    assert value(L.lsgan_generator_loss(PRED)) == pytest.approx(5.25 / 4)
    assert value(L.lsgan_discriminator_loss(PRED, np.zeros((3, 5)))) == pytest.approx(5.25 / 4)
    assert value(L.lsgan_discriminator_loss(np.ones(4), PRED)) == pytest.approx(6.25 / 4)


def test_lsgan_losses_sum_the_per_head_means_of_a_multiscale_discriminator():
    heads = [PRED, np.full((1, 2, 2, 1), 3.0, np.float32), np.zeros((1, 4, 4, 1), np.float32)]
    # per-head mean((p-1)^2): 1.3125, 4, 1 -> 6.3125; mean(p^2): 1.5625, 9, 0 -> 10.5625
    assert value(L.lsgan_real_loss(heads)) == pytest.approx(6.3125)
    assert value(L.lsgan_generator_loss(heads)) == pytest.approx(6.3125)
    assert value(L.lsgan_fake_loss(heads)) == pytest.approx(10.5625)
    real = [np.ones((2, 2)), np.ones((2, 2)), np.ones((4, 4))]
    assert value(L.lsgan_discriminator_loss(real, heads)) == pytest.approx(10.5625)
    with pytest.raises(ValueError):
        L.lsgan_discriminator_loss(real[:2], heads)


def test_bce_from_probabilities_matches_hand_computation():
    target = np.array([1.0, 0.0, 1.0, 0.0])
    p = np.array([0.9, 0.2, 0.5, 0.7])
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.5) + math.log(0.3)) / 4
    assert value(L.bce_loss(target, p)) == pytest.approx(expected, rel=1e-6)
    # a scalar target broadcasts; soft labels are allowed
    assert value(L.bce_loss(1.0, p)) == pytest.approx(-np.mean(np.log(p)), rel=1e-6)
    assert value(L.bce_loss(0.9, [0.6])) == pytest.approx(-(0.9 * math.log(0.6) + 0.1 * math.log(0.4)), rel=1e-6)


def test_bce_from_logits_equals_bce_of_the_sigmoid_and_is_stable_for_large_logits():
    logits = np.array([-3.0, -0.5, 0.0, 2.0], np.float32)
    target = np.array([1.0, 0.0, 1.0, 1.0], np.float32)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    expected = -np.mean(target * np.log(p) + (1 - target) * np.log(1 - p))
    assert value(L.bce_loss(target, logits, from_logits=True)) == pytest.approx(expected, rel=1e-6)
    # log(1 + e^100) = 100 up to 4e-44; a naive log(sigmoid) would give inf
    assert value(L.bce_loss([1.0, 0.0], [-100.0, 100.0], from_logits=True)) == pytest.approx(100.0)
    assert value(L.bce_loss([1.0, 0.0], [100.0, -100.0], from_logits=True)) == pytest.approx(0.0, abs=1e-30)


def test_bce_is_clipped_so_value_and_gradient_stay_finite_at_p_0_and_1():
    p = tf.Variable([0.0, 1.0, 0.0, 1.0])
    with tf.GradientTape() as tape:
        loss = L.bce_loss(tf.constant([1.0, 0.0, 0.0, 1.0]), p)
    grad = tape.gradient(loss, p).numpy()
    assert np.all(np.isfinite(grad))
    # two confident mistakes cost -log(eps) and -log(1 - float32(1 - eps)), two hits ~0
    worst = -math.log(L.EPSILON) - math.log(1 - float(np.float32(1 - L.EPSILON)))
    assert value(loss) == pytest.approx(worst / 4, rel=1e-5)
    z = tf.Variable([-1e4, 1e4])
    with tf.GradientTape() as tape:
        loss = L.bce_loss([1.0, 0.0], z, from_logits=True)
    # d/dz: (sigmoid(z) - t)/2 = -0.5 and +0.5
    np.testing.assert_allclose(tape.gradient(loss, z).numpy(), [-0.5, 0.5])


def test_bce_discriminator_and_nonsaturating_generator_losses():
    real, fake = np.array([0.8, 0.6]), np.array([0.1, 0.3])
    d = -(math.log(0.8) + math.log(0.6)) / 2 - (math.log(0.9) + math.log(0.7)) / 2
    assert value(L.bce_discriminator_loss(real, fake)) == pytest.approx(d, rel=1e-6)
    assert value(L.nonsaturating_generator_loss(fake)) == pytest.approx(-(math.log(0.1) + math.log(0.3)) / 2, rel=1e-6)
    logit = np.log(fake / (1 - fake))
    assert value(L.nonsaturating_generator_loss(logit, from_logits=True)) == pytest.approx(
        -(math.log(0.1) + math.log(0.3)) / 2, rel=1e-5)
    # soft targets: real labels 0.9 instead of 1
    soft = -(0.9 * math.log(0.8) + 0.1 * math.log(0.2) + 0.9 * math.log(0.6) + 0.1 * math.log(0.4)) / 2
    got = L.bce_discriminator_loss(real, fake, real_target=0.9)
    assert value(got) == pytest.approx(soft - (math.log(0.9) + math.log(0.7)) / 2, rel=1e-6)
    # heads are summed
    assert value(L.bce_discriminator_loss([real, real], [fake, fake])) == pytest.approx(2 * d, rel=1e-6)


def test_l1_l2_cycle_and_identity_losses():
    a = np.array([[0.0, 1.0], [2.0, -1.0]], np.float32)
    b = np.array([[1.0, 1.0], [0.0, 0.0]], np.float32)
    assert value(L.l1_loss(a, b)) == pytest.approx((1 + 0 + 2 + 1) / 4)
    assert value(L.l2_loss(a, b)) == pytest.approx((1 + 0 + 4 + 1) / 4)
    assert value(L.cycle_loss(a, b)) == pytest.approx(1.0)
    assert value(L.identity_loss(b, a)) == pytest.approx(1.0)


def test_losses_compute_half_precision_inputs_in_float32():
    loss = L.l2_loss(tf.constant([300.0], tf.float16), tf.constant([0.0], tf.float16))
    assert loss.dtype == tf.float32 and value(loss) == pytest.approx(90000.0)  # 9e4 > float16 max


def test_masked_losses_average_over_hole_pixels_and_channels_only():
    a = np.zeros((1, 2, 2, 3), np.float32)
    b = np.arange(12, dtype=np.float32).reshape(1, 2, 2, 3)
    mask = np.array([1, 0, 0, 1], np.float32).reshape(1, 2, 2, 1)  # pixels (0,0), (1,1)
    # hole values: 0,1,2 and 9,10,11 -> sum |.| = 33 over 2*3 elements
    assert value(L.masked_l1_loss(a, b, mask)) == pytest.approx(33 / 6)
    assert value(L.masked_l2_loss(a, b, mask)) == pytest.approx((0 + 1 + 4 + 81 + 100 + 121) / 6)
    assert value(L.masked_l1_loss(a, b, np.zeros_like(mask))) == 0.0  # empty hole: 0, not NaN


def drawn(picture, legend):
    return np.array([[legend[c] for c in row.strip()] for row in picture.strip().splitlines()], np.float32)


def test_overlap_weights_put_the_band_around_the_hole_on_known_pixels():
    mask = np.zeros((1, 10, 10, 1), np.float32)
    mask[0, 3:7, 3:7] = 1
    # overlap 2 (Pathak's overlapPred): '#' = 10 on the two known pixels around the hole, 'o' = 1 in it
    expected = drawn("""
        ..........
        .########.
        .########.
        .##oooo##.
        .##oooo##.
        .##oooo##.
        .##oooo##.
        .########.
        .########.
        ..........
    """, {".": 0, "#": 10, "o": 1})
    got = np.asarray(L.overlap_weights(mask, overlap=2))
    assert got.shape == (1, 10, 10, 1) and got.dtype == np.float32
    np.testing.assert_array_equal(got[0, :, :, 0], expected)
    np.testing.assert_array_equal(np.asarray(L.overlap_weights(mask, overlap=0)), mask)


def test_overlap_weights_are_cut_off_at_the_image_border():
    mask = np.zeros((5, 5, 1), np.float32)
    mask[0:2, 0:2] = 1  # a hole in the corner: its band lies on two sides only
    expected = drawn("""
        oo3..
        oo3..
        333..
        .....
        .....
    """, {".": 0, "3": 3, "o": 1})
    np.testing.assert_array_equal(np.asarray(L.overlap_weights(mask, overlap=1, border_weight=3.0))[:, :, 0],
                                  expected)


def test_weighted_masked_losses_are_normalised_by_the_sum_of_the_weights():
    a = np.array([1.0, 2.0, 3.0, 4.0], np.float32).reshape(1, 2, 2, 1)
    b = np.zeros_like(a)
    w = np.array([10.0, 1.0, 0.0, 1.0], np.float32).reshape(1, 2, 2, 1)
    assert value(L.masked_l2_loss(a, b, w)) == pytest.approx((10 * 1 + 4 + 0 + 16) / 12)
    assert value(L.masked_l1_loss(a, b, w)) == pytest.approx((10 * 1 + 2 + 0 + 4) / 12)
    # a hole filling a quarter of its box weighs as much as one filling all of it
    box = np.full((1, 4, 4, 3), 0.5, np.float32)
    quarter = np.zeros((1, 4, 4, 1), np.float32)
    quarter[0, :2, :2] = 1
    assert value(L.masked_l2_loss(box, 0 * box, quarter)) == pytest.approx(0.25)
    assert value(L.masked_l2_loss(box, 0 * box, np.ones_like(quarter))) == pytest.approx(0.25)


def test_halves_dividing_by_their_mean_mask_total_average_to_the_whole_batchs_loss():
    # two replicas' shares whose weights differ (one hole's band cut off at the border): each dividing
    # by its own sum gives a different mean; dividing by the mean of the two totals gives the whole one
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 4, 4, 3)).astype(np.float32), np.zeros((2, 4, 4, 3), np.float32)
    w = np.zeros((2, 4, 4, 1), np.float32)
    w[0, 1:3, 1:3], w[1, 0, 0] = 10.0, 1.0
    assert value(L.mask_total(w, 3)) == pytest.approx(3 * 41) and value(L.mask_total(np.repeat(w, 3, -1), 3)) == 123
    whole = value(L.masked_l2_loss(a, b, w))
    totals = [value(L.mask_total(w[i:i + 1], 3)) for i in range(2)]
    shared = np.mean([value(L.masked_l2_loss(a[i:i + 1], b[i:i + 1], w[i:i + 1], np.mean(totals))) for i in range(2)])
    own = np.mean([value(L.masked_l2_loss(a[i:i + 1], b[i:i + 1], w[i:i + 1])) for i in range(2)])
    assert shared == pytest.approx(whole, rel=1e-6)
    assert abs(own - whole) > 0.1 * whole
