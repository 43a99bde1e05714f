"""The DCGAN baseline: network shapes, and each training trick of the source's notes shown to act."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from watches import models
from watches.dc_gan import DCGAN


def tiny_gan(**compile_options):
    keras.utils.set_random_seed(0)
    gan = DCGAN(models.dcgan_generator(32, latent_dim=8, filters=4), models.dcgan_discriminator(32, filters=4),
                latent_dim=8, seed=3)
    gan.compile(g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), **compile_options)
    return gan


def test_network_shapes_and_the_patch_grid():
    g = models.dcgan_generator(128, latent_dim=128, filters=64)
    assert g.output_shape == (None, 128, 128, 3)
    assert [g.get_layer(f"up{k}_deconv").filters for k in range(5)] == [512, 512, 256, 128, 64]
    assert not [layer for layer in g.layers if isinstance(layer, keras.layers.Dropout)]  # no dropout in G
    d = models.dcgan_discriminator(128, filters=64)
    assert d.output_shape == (None, 1)
    assert not isinstance(d.layers[2], keras.layers.BatchNormalization)  # none on the first layer
    assert models.dcgan_discriminator(128, filters=8, patch=True).output_shape == (None, 14, 14, 1)
    with pytest.raises(ValueError, match="power of two"):
        models.dcgan_generator(100)


def test_label_smoothing_draws_real_targets_in_0_9_1_and_fake_in_0_0_1():
    gan = tiny_gan(label_smoothing=True, label_flip=0.0)
    real, fake, flips = (np.asarray(t) for t in gan.targets(tf.constant(5, tf.int64), 512))
    assert 0.9 <= real.min() and real.max() <= 1.0 and real.std() > 0.02
    assert 0.0 <= fake.min() and fake.max() <= 0.1
    assert not flips.any()
    hard = tiny_gan(label_smoothing=False, label_flip=0.0)
    real, fake, _ = (np.asarray(t) for t in hard.targets(tf.constant(5, tf.int64), 8))
    assert (real == 1).all() and (fake == 0).all()


def test_label_flipping_swaps_about_the_asked_share():
    gan = tiny_gan(label_smoothing=False, label_flip=0.1)
    flipped = [np.asarray(gan.targets(tf.constant(step, tf.int64), 64)[2]) for step in range(200)]
    assert abs(np.mean(flipped) - 0.1) < 0.01
    real, fake, flips = (np.asarray(t) for t in gan.targets(tf.constant(7, tf.int64), 64))
    np.testing.assert_array_equal(real, np.where(flips[0], 0.0, 1.0))  # a flipped real is marked fake
    np.testing.assert_array_equal(fake, np.where(flips[1], 1.0, 0.0))


def test_the_discriminator_sees_separate_all_real_and_all_fake_batches():
    gan = tiny_gan()
    seen = []
    D = gan.networks["discriminator"]
    original_call = D.call

    def spy(inputs, *args, **kwargs):
        seen.append(inputs)
        return original_call(inputs, *args, **kwargs)

    D.call = spy
    real = tf.fill([4, 32, 32, 3], 0.75)  # a value the generator's tanh output never has in all pixels
    logs = gan.train_step(real)
    assert len(seen) == 3  # real, fake (D step), fake (G step)
    np.testing.assert_array_equal(np.asarray(seen[0]), np.asarray(real))
    assert not np.isclose(np.asarray(seen[1]), 0.75).all(axis=(1, 2, 3)).any()  # no real image in the fake batch
    for key in ("d_loss", "g_loss", "d_x", "d_g_z", "d_acc_real", "d_acc_fake", "flip_share"):
        assert np.isfinite(float(logs[key]))


def test_instance_noise_perturbs_what_the_discriminator_sees():
    gan = tiny_gan(instance_noise=0.1)
    images = tf.zeros([2, 32, 32, 3])
    noisy = np.asarray(gan._noisy(images, tf.constant(1, tf.int64), 0))
    assert 0.08 < noisy.std() < 0.12
    np.testing.assert_array_equal(noisy, np.asarray(gan._noisy(images, tf.constant(1, tf.int64), 0)))


def test_the_ema_generator_moves_towards_the_trained_one():
    keras.utils.set_random_seed(0)
    g = models.dcgan_generator(32, latent_dim=8, filters=4)
    gan = DCGAN(g, models.dcgan_discriminator(32, filters=4), latent_dim=8, ema_kimg=0.004)  # beta = 0.5 at batch 4
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-2), d_optimizer=keras.optimizers.Adam(1e-3))
    before = [np.asarray(w) for w in gan.sampler.trainable_weights]
    gan.train_step(tf.zeros([4, 32, 32, 3]))
    after = [np.asarray(w) for w in gan.sampler.trainable_weights]
    trained = [np.asarray(w) for w in g.trainable_weights]
    for b, a, t in zip(before, after, trained):
        np.testing.assert_allclose(a, 0.5 * b + 0.5 * t, atol=1e-6)
    assert gan.sampler is gan.networks["generator_ema"]


def test_a_step_the_loss_scale_skips_still_advances_the_step_and_the_next_draws_new_latents(monkeypatch):
    """float16 with a loss scale no gradient survives: both optimizers skip (their iterations stay at 0), the
    model's global step moves on, so the next step's z is the next step's draw, not a repeat of the skipped one."""
    from tests.common.test_float16 import OVERFLOW_SCALE, float16_policy

    with float16_policy(monkeypatch):
        keras.utils.set_random_seed(0)
        gan = DCGAN(models.dcgan_generator(16, latent_dim=8, filters=4), models.dcgan_discriminator(16, filters=4),
                    latent_dim=8, seed=3)
        scaled = lambda: keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(2e-4),  # noqa: E731
                                                             initial_scale=OVERFLOW_SCALE)
        gan.compile(g_optimizer=scaled(), d_optimizer=scaled())
        G = gan.networks["generator"]
        assert G.get_layer("up0_deconv").compute_dtype == "float16"
        seen, original_call = [], G.call

        def spy(inputs, *args, **kwargs):
            seen.append(np.asarray(inputs, "float32"))
            return original_call(inputs, *args, **kwargs)

        G.call = spy
        before = [np.asarray(w) for w in G.trainable_weights]
        for _ in range(2):
            gan.train_step(tf.zeros([2, 16, 16, 3]))
    for opt in gan.optimizers.values():
        assert int(opt.iterations.numpy()) == 0 and float(opt.dynamic_scale.numpy()) == OVERFLOW_SCALE / 4
    for w, w0 in zip(G.trainable_weights, before):
        np.testing.assert_array_equal(np.asarray(w), w0)  # both steps skipped
    assert int(gan.global_step.numpy()) == 2
    assert len(seen) == 4  # G is called twice a step: for the D step and for the G step
    for step in (0, 1):  # the D step's z of each step is that step's draw
        np.testing.assert_allclose(seen[2 * step], np.asarray(gan.latents(tf.constant(step, tf.int64), 2)), rtol=1e-3)
    assert np.abs(seen[2] - seen[0]).max() > 0.1  # the skipped step's latents are not drawn again
