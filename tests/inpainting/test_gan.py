"""The inpainting training model on tiny stand-in networks: masked input, losses, the paste invariant."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from common import losses
from inpainting.inpainting_gan import InpaintingGAN, generator_input, masked_input
from inpainting.holes import crop_holes, hole_boxes, hole_context, paste_prediction, region_boxes
from inpainting.masks import KINDS, make_masks

SIZE = 32


def tiny_gan(recon_loss="l1", fill_value=0.0, overlap=0, border_weight=10.0, context="hole"):
    keras.utils.set_random_seed(0)
    x = keras.Input((SIZE, SIZE, 3))
    g = keras.Model(x, keras.layers.Conv2D(3, 3, strides=2, padding="same", activation="tanh")(x))
    h = keras.Input((SIZE // 2, SIZE // 2, 3))
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True)(keras.layers.Conv2D(4, 3, padding="same")(h))
    d = keras.Model(h, keras.layers.Conv2D(1, 1, activation="sigmoid")(pooled))
    gan = InpaintingGAN(g, d, fill_value=fill_value, context=context)
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(1e-3),
                recon_loss=recon_loss, recon_weight=100.0, adv_weight=1.0, overlap=overlap,
                border_weight=border_weight)
    return gan


def batch(kind, seed=0):
    images = tf.random.stateless_uniform([4, SIZE, SIZE, 3], [seed, 1], -1, 1)
    return images, make_masks(kind, seed=seed, step=0, batch_size=4, image_size=SIZE)


def test_the_masked_input_holds_the_fill_colour_in_the_hole_and_the_image_elsewhere():
    images, masks = batch("random-block")
    out = np.asarray(masked_input(images, masks, [0.1, -0.2, 0.3]))
    hole = np.asarray(masks)[..., 0] > 0.5
    np.testing.assert_array_equal(out[hole], np.broadcast_to([0.1, -0.2, 0.3], out[hole].shape).astype(np.float32))
    np.testing.assert_array_equal(out[~hole], np.asarray(images)[~hole])


@pytest.mark.parametrize("kind", KINDS)
def test_completed_images_keep_every_known_pixel_bit_for_bit(kind):
    gan = tiny_gan()
    images, masks = batch(kind, seed=3)
    completed, _ = gan.complete(images, masks)
    hole = np.asarray(masks)[..., 0] > 0.5
    assert hole.any() and (~hole).any()
    np.testing.assert_array_equal(np.asarray(completed)[~hole], np.asarray(images)[~hole])
    assert not np.allclose(np.asarray(completed)[hole], np.asarray(images)[hole])


def test_one_step_logs_the_losses_of_the_networks_before_their_update():
    gan = tiny_gan("l1")
    images, masks = batch("centre")
    G, D = gan.generator, gan.discriminator
    x_hole = crop_holes(images, hole_boxes(masks), SIZE // 2)
    x_hat = G(masked_input(images, masks, 0.0), training=True)
    d_real_before = D(x_hole, training=True)
    logs = gan.train_step((images, masks))
    # no overlap, and a centre hole's box is all hole: the L1 is over the whole predicted content
    np.testing.assert_allclose(logs["g_recon"], losses.l1_loss(x_hat, x_hole), rtol=1e-5)
    np.testing.assert_allclose(logs["d_x"], np.mean(d_real_before), rtol=1e-5)
    np.testing.assert_allclose(logs["d_real"], -np.mean(np.log(np.asarray(d_real_before))), rtol=1e-4)
    np.testing.assert_allclose(logs["g_total"], logs["g_adv"] + 100.0 * logs["g_recon"], rtol=1e-5)
    assert gan.optimizers["g"].iterations == 1 and gan.optimizers["d"].iterations == 1
    assert float(logs["d_g_z1"]) != float(logs["d_g_z2"])  # G is judged by the updated D


def pathak_batch():
    """A 32-px image (1 on known pixels, 0.5 in the 12-px centre hole 10..21) and its hole: with overlap 2
    the predicted region is 8..23, exactly the generator's 16-px content (Pathak's geometry, scaled)."""
    images = np.ones((1, SIZE, SIZE, 3), np.float32)
    images[:, 10:22, 10:22] = 0.5
    masks = np.zeros((1, SIZE, SIZE, 1), np.float32)
    masks[:, 10:22, 10:22] = 1
    return tf.constant(images), tf.constant(masks)


def test_the_generator_sees_the_overlap_band_and_predicts_the_hole_grown_by_it():
    gan = tiny_gan("weighted-l2", overlap=2, context="image")
    images, masks = pathak_batch()
    x_masked, x_hole, weights, region = (np.asarray(t) for t in gan.prepare_batch(images, masks))
    # G sees (context "image") the fill value (0) in the 12 x 12 hole only; the band 8..9 and 22..23 is the image
    assert np.all(x_masked[0, 10:22, 10:22] == 0)
    np.testing.assert_array_equal(x_masked[0, 8:10], np.asarray(images)[0, 8:10])
    np.testing.assert_array_equal(x_masked[0, :, 22:24], np.asarray(images)[0, :, 22:24])
    # it predicts the 16 x 16 box 8..23: the hole and the band, cropped without resampling
    assert np.asarray(region_boxes(masks, 2)).tolist() == [[8, 8, 16, 16]]
    np.testing.assert_allclose(x_hole[0], np.asarray(images)[0, 8:24, 8:24], atol=1e-6)
    # weights: 10 on the 2-px band (112 pixels), 1 on the 144 hole pixels; all of the box is predicted
    expected = np.full((16, 16), 10.0, np.float32)
    expected[2:14, 2:14] = 1.0
    np.testing.assert_allclose(weights[0, :, :, 0], expected, atol=1e-6)
    assert np.all(region == 1)
    # context "hole": the same input, in the window of twice the hole's box (2..25) around it
    x_in = np.asarray(tiny_gan("weighted-l2", overlap=2).prepare_batch(images, masks)[0])
    np.testing.assert_array_equal(x_in, np.asarray(hole_context(x_masked, masks)))
    assert np.all(x_in[0, 9:23, 9:23] == 0) and np.all(x_in[0, :7] != 0)  # its middle half, blended at the edge


def test_the_generator_input_is_the_masked_image_or_its_hole_window():
    images, masks = batch("random-block")
    masked = np.asarray(masked_input(images, masks, 0.5))
    np.testing.assert_array_equal(np.asarray(generator_input(images, masks, 0.5, "image")), masked)
    np.testing.assert_array_equal(np.asarray(generator_input(images, masks, 0.5, "hole")),
                                  np.asarray(hole_context(masked, masks)))
    with pytest.raises(ValueError, match="context must be one of"):
        generator_input(images, masks, 0.5, "box")


def test_the_reconstruction_is_the_weighted_mean_over_hole_and_band():
    images, masks = pathak_batch()
    zeros = tf.zeros([1, 16, 16, 3])
    for loss, band_error, hole_error in (("weighted-l2", 1.0, 0.25), ("l1", 1.0, 0.5)):
        gan = tiny_gan(loss, overlap=2)
        _, x_hole, weights, _ = gan.prepare_batch(images, masks)
        # x_hat = 0: the band (target 1) errs by 1, the hole (target 0.5) by 0.5 (squared: 0.25)
        expected = (112 * 10 * band_error + 144 * 1 * hole_error) / (112 * 10 + 144)
        np.testing.assert_allclose(gan.reconstruction(zeros, x_hole, weights), expected, rtol=1e-6)
    # the context-encoder's L1 follows --overlap and --border-weight too: without the band, the hole only
    plain = tiny_gan("l1", overlap=0)
    _, x_hole, weights, _ = plain.prepare_batch(images, masks)
    np.testing.assert_allclose(plain.reconstruction(zeros, x_hole, weights), 0.5, rtol=1e-6)
    heavier = tiny_gan("l1", overlap=2, border_weight=3.0)
    _, x_hole, weights, _ = heavier.prepare_batch(images, masks)
    np.testing.assert_allclose(heavier.reconstruction(zeros, x_hole, weights),
                               (112 * 3 + 144 * 0.5) / (112 * 3 + 144), rtol=1e-6)


def test_a_free_form_hole_weighs_the_same_however_little_of_its_box_it_fills():
    gan = tiny_gan("weighted-l2", overlap=0)
    images = tf.fill([2, SIZE, SIZE, 3], 0.5)
    masks = np.zeros((2, SIZE, SIZE, 1), np.float32)
    masks[0, 8:24, 8:24] = 1  # a block filling its 16 x 16 box
    masks[1, 8:24, 8:10] = 1  # an L filling 31 of its box's 256 pixels
    masks[1, 22:24, 8:24] = 1
    zeros = tf.zeros([1, 16, 16, 3])
    for i in range(2):
        _, x_hole, weights, _ = gan.prepare_batch(images[i:i + 1], masks[i:i + 1])
        np.testing.assert_allclose(gan.reconstruction(zeros, x_hole, weights), 0.25, rtol=1e-6)


def test_a_generator_that_predicts_its_training_target_completes_the_image_exactly():
    # what is pasted back is read where the training target was cut (the predicted region's box): on
    # ramps, which bilinear resampling reproduces exactly, the target pasted back is the original
    ys, xs = np.meshgrid(np.arange(SIZE), np.arange(SIZE), indexing="ij")
    ramps = np.stack([ys / SIZE, xs / SIZE, (ys - xs) / SIZE], -1).astype(np.float32)
    images = tf.constant(np.stack([ramps, -ramps, ramps[:, ::-1], ramps[::-1]]))
    for kind, overlap in (("centre", 2), ("random-block", 2), ("free-form", 1)):
        masks = make_masks(kind, seed=1, step=0, batch_size=4, image_size=SIZE)
        target = crop_holes(images, region_boxes(masks, overlap), SIZE // 2)
        completed = np.asarray(paste_prediction(images, target, masks, overlap))
        np.testing.assert_allclose(completed, np.asarray(images), atol=1e-5)
        hole = np.asarray(masks)[..., 0] > 0.5
        wrong = np.asarray(paste_prediction(images, target, masks, 0))  # as if it were the hole's own box
        assert np.abs(wrong - np.asarray(images))[hole].max() > 0.02
