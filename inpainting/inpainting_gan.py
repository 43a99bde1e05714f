"""The inpainting training model (both presets of SPEC section 2).

One step on a batch (x, M) of images in [-1, 1] and hole masks (1 = missing), in the
source's order:
    x_masked = x * (1 - M) + c * M                 c: the fill value (0 or the data's mean colour)
    x_hole   = x's hole box at the prediction size (inpainting.holes.crop_holes)
    x_hat    = G(x_masked)                          the hole box's content
    fake     = x_hat inside the hole, x_hole elsewhere in the box (for a block mask: x_hat itself)
    D step:  L_D = BCE(D(x_hole), 1) + BCE(D(fake), 0)          real and fake as separate batches
    G step:  L_G = adv_weight * BCE(D(fake), 1) + recon_weight * recon(x_hat, x_hole)
with D already updated in the G step, as the source does. recon is the Context-Encoder
border-weighted MSE ("weighted-l2": the hole's band of `overlap` px weighted x border_weight;
the improved preset, adv 0.01 and recon 0.99 = (1 - w) and w with w = weightRecon) or the
L1 over the hole ("l1": the theory chapters' lambda = 100 with adv 1). Logged: every term and
the mean D outputs the source prints, D(x), D(G(z)) before and after the D step.
"""

from __future__ import annotations

import tensorflow as tf

from common import losses
from common.gan import GANModel, network
from common.replicas import layer_draws
from inpainting.holes import crop_holes, paste_holes
from inpainting.holes import hole_boxes

RECON_LOSSES = ("weighted-l2", "l1")


def masked_input(images, masks, fill_value):
    """x * (1 - M) + c * M: the known pixels, and the fill value (a scalar or [3] colour) in the hole."""
    fill = tf.cast(tf.reshape(tf.convert_to_tensor(fill_value, tf.float32), [1, 1, 1, -1]), images.dtype)
    return tf.where(masks > 0.5, tf.broadcast_to(fill, tf.shape(images)), images)


class InpaintingGAN(GANModel):
    """Context-Encoder GAN; `fit` on a dataset of (images [B, S, S, 3] in [-1, 1], masks [B, S, S, 1])."""

    def __init__(self, generator, discriminator, *, fill_value=0.0, **kwargs):
        super().__init__({"generator": generator, "discriminator": discriminator}, **kwargs)
        self.fill_value = [float(v) for v in tf.reshape(tf.convert_to_tensor(fill_value, tf.float32), [-1])]
        self.content_size = int(generator.output_shape[1])

    generator = network("generator")
    discriminator = network("discriminator")

    def compile(self, *, g_optimizer, d_optimizer, recon_loss="weighted-l2", recon_weight=0.99,
                adv_weight=0.01, overlap=4, border_weight=10.0, **kwargs):
        if recon_loss not in RECON_LOSSES:
            raise ValueError(f"recon_loss must be one of {RECON_LOSSES}, got {recon_loss!r}")
        self.recon_loss, self.recon_weight, self.adv_weight = recon_loss, float(recon_weight), float(adv_weight)
        self.overlap, self.border_weight = int(overlap), float(border_weight)
        super().compile(optimizers={"g": (g_optimizer, ["generator"]), "d": (d_optimizer, ["discriminator"])},
                        loss_names=["d_real", "d_fake", "d_total", "g_adv", "g_recon", "g_total",
                                    "d_x", "d_g_z1", "d_g_z2"], **kwargs)

    def prepare_batch(self, images, masks):
        """-> (x_masked, x_hole, hole mask inside the box [B, s, s, 1], boxes)."""
        images = tf.cast(images, tf.float32)
        masks = tf.cast(masks, tf.float32)
        boxes = hole_boxes(masks)
        x_hole = crop_holes(images, boxes, self.content_size)
        box_mask = tf.cast(crop_holes(masks, boxes, self.content_size) > 0.5, tf.float32)
        return masked_input(images, masks, self.fill_value), x_hole, box_mask, boxes

    def reconstruction(self, x_hat, x_hole, box_mask):
        if self.recon_loss == "l1":
            return losses.masked_l1_loss(x_hat, x_hole, box_mask)
        weights = losses.border_weights(box_mask, overlap=self.overlap, border_weight=self.border_weight)
        return losses.weighted_l2_loss(x_hat, x_hole, weights)

    def train_step(self, data):
        images, masks = data
        x_masked, x_hole, box_mask, _ = self.prepare_batch(images, masks)
        step = self.step
        # dropout masks: one stream per network call of the step (common.replicas.layer_draws)
        def call(network, x, purpose):
            with layer_draws(self.draws(step, purpose)):
                return tf.cast(network(x, training=True), tf.float32)

        G, D = self.generator, self.discriminator
        # one persistent tape: G's forward pass serves the D step and, with D updated, the G step
        with tf.GradientTape(persistent=True) as tape:
            x_hat = call(G, x_masked, 1)
            fake = box_mask * x_hat + (1.0 - box_mask) * x_hole
            d_real_out = call(D, x_hole, 2)
            d_fake_out = call(D, tf.stop_gradient(fake), 3)
            d_real = losses.bce_loss(1.0, d_real_out)
            d_fake = losses.bce_loss(0.0, d_fake_out)
            d_total = d_real + d_fake + self.regularization_loss("discriminator")
        self.apply_gradients(tape, d_total, "d")
        with tape:
            d_after = call(D, fake, 4)
            g_adv = losses.nonsaturating_generator_loss(d_after)
            g_recon = self.reconstruction(x_hat, x_hole, box_mask)
            g_total = (self.adv_weight * g_adv + self.recon_weight * g_recon
                       + self.regularization_loss("generator"))
        self.apply_gradients(tape, g_total, "g")
        del tape
        return self.record({"d_real": d_real, "d_fake": d_fake, "d_total": d_total, "g_adv": g_adv,
                            "g_recon": g_recon, "g_total": g_total, "d_x": tf.reduce_mean(d_real_out),
                            "d_g_z1": tf.reduce_mean(d_fake_out), "d_g_z2": tf.reduce_mean(d_after)})

    def complete(self, images, masks):
        """images [B, S, S, 3] in [-1, 1], masks [B, S, S, 1] -> (completed float32 [B, S, S, 3], x_masked):
        the generator's prediction pasted into the hole; every known pixel is the input's."""
        x_masked, _, _, boxes = self.prepare_batch(images, masks)
        x_hat = self.generator(x_masked, training=False)
        return paste_holes(images, x_hat, boxes, masks), x_masked
