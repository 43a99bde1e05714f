"""The inpainting training model on tiny stand-in networks: masked input, losses, the paste invariant."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from common import losses
from inpainting.inpainting_gan import InpaintingGAN, masked_input
from inpainting.holes import crop_holes
from inpainting.holes import hole_boxes
from inpainting.masks import KINDS, make_masks

SIZE = 32


def tiny_gan(recon_loss="l1", fill_value=0.0):
    keras.utils.set_random_seed(0)
    x = keras.Input((SIZE, SIZE, 3))
    g = keras.Model(x, keras.layers.Conv2D(3, 3, strides=2, padding="same", activation="tanh")(x))
    h = keras.Input((SIZE // 2, SIZE // 2, 3))
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True)(keras.layers.Conv2D(4, 3, padding="same")(h))
    d = keras.Model(h, keras.layers.Conv2D(1, 1, activation="sigmoid")(pooled))
    gan = InpaintingGAN(g, d, fill_value=fill_value)
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(1e-3),
                recon_loss=recon_loss, recon_weight=100.0, adv_weight=1.0)
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
    # a centre hole's box is all hole: the L1 is over the whole predicted content
    np.testing.assert_allclose(logs["g_recon"], losses.l1_loss(x_hat, x_hole), rtol=1e-5)
    np.testing.assert_allclose(logs["d_x"], np.mean(d_real_before), rtol=1e-5)
    np.testing.assert_allclose(logs["d_real"], -np.mean(np.log(np.asarray(d_real_before))), rtol=1e-4)
    np.testing.assert_allclose(logs["g_total"], logs["g_adv"] + 100.0 * logs["g_recon"], rtol=1e-5)
    assert gan.optimizers["g"].iterations == 1 and gan.optimizers["d"].iterations == 1
    assert float(logs["d_g_z1"]) != float(logs["d_g_z2"])  # G is judged by the updated D


def test_the_border_weighted_loss_weights_the_band_ten_times():
    gan = tiny_gan("weighted-l2")
    content = tf.zeros([1, 16, 16, 3])
    target = tf.ones([1, 16, 16, 3])
    box_mask = tf.ones([1, 16, 16, 1])
    # overlap 4 (the compile default): a 4-px band of 192 pixels weighted 10 around 8 x 8 interior pixels
    expected = (192 * 10 + 64) / 256
    np.testing.assert_allclose(gan.reconstruction(content, target, box_mask), expected, rtol=1e-6)
