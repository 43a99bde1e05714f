"""The inpainting training model (both presets of SPEC section 2).

One step on a batch (x, M) of images in [-1, 1] and hole masks (1 = missing), in the
source's order, with Pathak et al.'s overlap (inpainting.holes):
    x_masked = x * (1 - M) + c * M                 c: the fill value (0 or the data's mean colour)
    x_in     = x_masked's window around the hole   context "hole": twice the hole's box, resampled to
                                                    the input size (inpainting.holes.hole_context);
                                                    context "image" (the source's): x_masked itself
    R        = M grown by `overlap` px             the predicted region: the hole and a band of context
    x_hole   = x's box of R at the prediction size (inpainting.holes.crop_holes)
    x_hat    = G(x_in)                              that box's content
    fake     = x_hat inside R, x_hole elsewhere in the box (for a block mask: x_hat itself)
    D step:  L_D = BCE(D(x_hole), 1) + BCE(D(fake), 0)          real and fake as separate batches
    G step:  L_G = adv_weight * BCE(D(fake), 1) + recon_weight * recon(x_hat, x_hole; W)
with D already updated in the G step, as the source does. W are the overlap weights (1 in the
hole, border_weight on the band, 0 elsewhere in the box; common.losses.overlap_weights) and recon
their weighted mean, normalised by sum(W), of the squared error ("weighted-l2": the improved
preset, adv 0.001 and recon 0.999 = (1 - w) and w with Pathak's w = wtl2; the source's 0.99 is a flag
away) or of the absolute error
("l1": the theory chapters' lambda = 100 with adv 1). Only the hole is pasted into a completed
image. Logged: every term and the mean D outputs the source prints, D(x), D(G(z)) before and
after the D step.
"""

from __future__ import annotations

import tensorflow as tf

from common import losses
from common.gan import GANModel, network
from common.replicas import cross_replica_mean, layer_draws
from inpainting.holes import crop_holes, hole_context, paste_prediction, predicted_regions, region_boxes
from inpainting.options import RECON_LOSSES
CONTEXTS = ("hole", "image")


def masked_input(images, masks, fill_value):
    """x * (1 - M) + c * M: the known pixels, and the fill value (a scalar or [3] colour) in the hole."""
    fill = tf.cast(tf.reshape(tf.convert_to_tensor(fill_value, tf.float32), [1, 1, 1, -1]), images.dtype)
    return tf.where(masks > 0.5, tf.broadcast_to(fill, tf.shape(images)), images)


def generator_input(images, masks, fill_value, context="hole"):
    """The generator's input: the masked images (masked_input), whole (context "image", the source's) or
    each one's window around its hole (context "hole", inpainting.holes.hole_context)."""
    if context not in CONTEXTS:
        raise ValueError(f"context must be one of {CONTEXTS}, got {context!r}")
    x_masked = masked_input(tf.cast(images, tf.float32), tf.cast(masks, tf.float32), fill_value)
    return x_masked if context == "image" else hole_context(x_masked, masks)


class InpaintingGAN(GANModel):
    """Context-Encoder GAN; `fit` on a dataset of (images [B, S, S, 3] in [-1, 1], masks [B, S, S, 1])."""

    def __init__(self, generator, discriminator, *, fill_value=0.0, context="hole", **kwargs):
        super().__init__({"generator": generator, "discriminator": discriminator}, **kwargs)
        self.fill_value = [float(v) for v in tf.reshape(tf.convert_to_tensor(fill_value, tf.float32), [-1])]
        self.context = context
        self.content_size = int(generator.output_shape[1])

    generator = network("generator")
    discriminator = network("discriminator")

    def compile(self, *, g_optimizer, d_optimizer, recon_loss="weighted-l2", recon_weight=0.999,
                adv_weight=0.001, overlap=4, border_weight=10.0, **kwargs):
        if recon_loss not in RECON_LOSSES:
            raise ValueError(f"recon_loss must be one of {RECON_LOSSES}, got {recon_loss!r}")
        self.recon_loss, self.recon_weight, self.adv_weight = recon_loss, float(recon_weight), float(adv_weight)
        self.overlap, self.border_weight = int(overlap), float(border_weight)
        super().compile(optimizers={"g": (g_optimizer, ["generator"]), "d": (d_optimizer, ["discriminator"])},
                        loss_names=["d_real", "d_fake", "d_total", "g_adv", "g_recon", "g_total",
                                    "d_x", "d_g_z1", "d_g_z2"], **kwargs)

    def prepare_batch(self, images, masks):
        """-> (x_in, x_hole, weights, region): x_in the generator's input (generator_input); x_hole the content of the predicted region's box
        (region_boxes) at the prediction size [B, s, s, 3]; weights [B, s, s, 1] the overlap weights
        there; region [B, s, s, 1] 1 on the predicted region (hole and band), 0 on the rest of the box."""
        images = tf.cast(images, tf.float32)
        masks = tf.cast(masks, tf.float32)
        boxes = region_boxes(masks, self.overlap)
        weights = losses.overlap_weights(masks, overlap=self.overlap, border_weight=self.border_weight)
        region = tf.cast(crop_holes(predicted_regions(masks, self.overlap), boxes, self.content_size) > 0.5,
                         tf.float32)
        return (generator_input(images, masks, self.fill_value, self.context),
                crop_holes(images, boxes, self.content_size),
                crop_holes(weights, boxes, self.content_size), region)

    def reconstruction(self, x_hat, x_hole, weights):
        """The weighted mean error over the predicted region, normalised by the global batch's sum of
        weights: on N replicas the bands cut off at the image border leave the replicas' shares with
        different sums, and each divides by their mean, so the replicas' mean loss is one device's."""
        total = cross_replica_mean(losses.mask_total(weights, x_hat.shape[-1]))
        if self.recon_loss == "l1":
            return losses.masked_l1_loss(x_hat, x_hole, weights, total)
        return losses.masked_l2_loss(x_hat, x_hole, weights, total)

    def train_step(self, data):
        images, masks = data
        x_masked, x_hole, weights, region = self.prepare_batch(images, masks)
        step = self.step
        # dropout masks: one stream per network call of the step (common.replicas.layer_draws)
        def call(network, x, purpose):
            with layer_draws(self.draws(step, purpose)):
                return tf.cast(network(x, training=True), tf.float32)

        G, D = self.generator, self.discriminator
        # one persistent tape: G's forward pass serves the D step and, with D updated, the G step
        with tf.GradientTape(persistent=True) as tape:
            x_hat = call(G, x_masked, 1)
            fake = region * x_hat + (1.0 - region) * x_hole
            d_real_out = call(D, x_hole, 2)
            d_fake_out = call(D, tf.stop_gradient(fake), 3)
            d_real = losses.bce_loss(1.0, d_real_out)
            d_fake = losses.bce_loss(0.0, d_fake_out)
            d_total = d_real + d_fake + self.regularization_loss("discriminator")
        self.apply_gradients(tape, d_total, "d")
        with tape:
            d_after = call(D, fake, 4)
            g_adv = losses.nonsaturating_generator_loss(d_after)
            g_recon = self.reconstruction(x_hat, x_hole, weights)
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
        x_hat = self.generator(generator_input(images, masks, self.fill_value, self.context), training=False)
        x_masked = masked_input(tf.cast(images, tf.float32), tf.cast(masks, tf.float32), self.fill_value)
        return paste_prediction(images, x_hat, masks, self.overlap), x_masked
