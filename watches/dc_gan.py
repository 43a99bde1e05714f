"""The DCGAN training model with the source's GAN training tricks (SPEC section 3), each one a setting:

    label_smoothing   one-sided soft targets: real drawn in [0.9, 1.0], fake in [0.0, 0.1]
    label_flip        this share of D's targets swapped (real marked fake and fake marked real)
    instance_noise    N(0, sigma) added to every image D sees (real and fake)
    separate batches  D always sees an all-real and an all-fake batch, never a mixed one

One step on a batch of real images in [-1, 1]: D on the real batch and on G(z) (BCE from
logits, patch grids averaged), then G against the updated D (non-saturating BCE). Every
random draw (z, soft targets, flips, noise) is stateless, keyed by (seed, global step), so a
resumed run repeats an uninterrupted one. Logged: d_loss, g_loss, d_x and d_g_z (mean
D(x) and D(G(z)) as probabilities), d_acc_real and d_acc_fake (D's accuracy on each batch,
the signal the notes tell a user to watch), and flip_share. With ema_kimg, a copy of G
("generator_ema") follows an exponential moving average of its weights (half-life
ema_kimg thousand images), for sampling and evaluation.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from common import losses
from common.gan import GANModel, ema_update

SMOOTH_REAL = (0.9, 1.0)
SMOOTH_FAKE = (0.0, 0.1)


class DCGAN(GANModel):
    """Unconditional GAN; `fit` on a dataset of real image batches [B, S, S, 3] in [-1, 1]."""

    def __init__(self, generator, discriminator, *, latent_dim, seed=0, ema_kimg=0.0, **kwargs):
        networks = {"generator": generator, "discriminator": discriminator}
        if ema_kimg:
            copy = keras.models.clone_model(generator)
            ema = keras.Model(copy.inputs[0], copy.outputs[0], name="generator_ema")
            ema.set_weights(generator.get_weights())
            networks["generator_ema"] = ema
        super().__init__(networks, seed=seed, **kwargs)
        self.latent_dim, self.ema_kimg = int(latent_dim), float(ema_kimg)

    @property
    def sampler(self):
        """The generator used for samples and evaluation: the EMA copy when there is one."""
        return self.networks.get("generator_ema", self.networks["generator"])

    def compile(self, *, g_optimizer, d_optimizer, label_smoothing=True, label_flip=0.1, instance_noise=0.0,
                **kwargs):
        if not 0.0 <= label_flip < 0.5:
            raise ValueError(f"label_flip {label_flip} must be in [0, 0.5)")
        self.label_smoothing, self.label_flip = bool(label_smoothing), float(label_flip)
        self.instance_noise = float(instance_noise)
        super().compile(optimizers={"g": (g_optimizer, ["generator"]), "d": (d_optimizer, ["discriminator"])},
                        loss_names=["d_loss", "g_loss", "d_x", "d_g_z", "d_acc_real", "d_acc_fake", "flip_share"],
                        **kwargs)

    def latents(self, step, batch_size, purpose=0):
        """This replica's latents [batch_size, latent_dim] of the step's global batch."""
        return self.draws(step, 10 + purpose).normal([batch_size, self.latent_dim])

    def targets(self, step, batch_size):
        """(real targets [B], fake targets [B], flipped [2, B] bool) D is trained towards at this step."""
        if self.label_smoothing:
            real = self.draws(step, 1).uniform([batch_size], *SMOOTH_REAL)
            fake = self.draws(step, 2).uniform([batch_size], *SMOOTH_FAKE)
        else:
            real, fake = tf.ones([batch_size]), tf.zeros([batch_size])
        # [B, 2] drawn per image (real flip, fake flip), as the batch axis must come first to be shared out
        flips = tf.transpose(self.draws(step, 3).uniform([batch_size, 2]) < self.label_flip)
        return tf.where(flips[0], fake, real), tf.where(flips[1], real, fake), flips

    def _noisy(self, images, step, purpose):
        if not self.instance_noise:
            return images
        noise = self.draws(step, 20 + purpose).normal(tf.shape(images))
        return images + tf.cast(self.instance_noise * noise, images.dtype)

    @staticmethod
    def _bce(targets, logits):
        """BCE from logits, one target per image broadcast over a patch grid."""
        logits = tf.reshape(tf.cast(logits, tf.float32), [tf.shape(logits)[0], -1])
        return losses.bce_loss(targets[:, None], logits, from_logits=True)

    def train_step(self, real):
        real = tf.cast(real, tf.float32)
        batch = tf.shape(real)[0]
        step = self.step
        G, D = self.networks["generator"], self.networks["discriminator"]
        real_t, fake_t, flips = self.targets(step, batch)
        with tf.GradientTape() as tape:
            fake = G(self.latents(step, batch), training=True)
            real_logits = D(self._noisy(real, step, 0), training=True)  # all-real batch
            fake_logits = D(self._noisy(tf.stop_gradient(fake), step, 1), training=True)  # all-fake batch
            d_loss = self._bce(real_t, real_logits) + self._bce(fake_t, fake_logits)
        self.apply_gradients(tape, d_loss, "d")
        with tf.GradientTape() as tape:
            fake = G(self.latents(step, batch, 1), training=True)
            g_logits = D(self._noisy(fake, step, 2), training=True)
            g_loss = self._bce(tf.ones([batch]), g_logits)
        self.apply_gradients(tape, g_loss, "g")
        if "generator_ema" in self.networks:
            # half-life ema_kimg thousand images of the global batch: beta = 0.5 ** (images / (ema_kimg * 1000))
            images = tf.cast(batch * tf.distribute.get_strategy().num_replicas_in_sync, tf.float32)
            ema_update(self.networks["generator_ema"], G, tf.pow(0.5, images / (self.ema_kimg * 1000.0)))
        p_real, p_fake = tf.sigmoid(real_logits), tf.sigmoid(fake_logits)
        return self.record({"d_loss": d_loss, "g_loss": g_loss, "d_x": tf.reduce_mean(p_real),
                            "d_g_z": tf.reduce_mean(p_fake),
                            "d_acc_real": tf.reduce_mean(tf.cast(p_real > 0.5, tf.float32)),
                            "d_acc_fake": tf.reduce_mean(tf.cast(p_fake < 0.5, tf.float32)),
                            "flip_share": tf.reduce_mean(tf.cast(flips, tf.float32))})

    def generate(self, latents, training=False):
        return self.sampler(latents, training=training)
