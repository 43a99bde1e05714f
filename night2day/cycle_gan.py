"""The CycleGAN training model (both presets of SPEC section 1).

Domains: X = source = night, Y = target = day. Generators G: X -> Y
("generator_g") and F: Y -> X ("generator_f"); discriminators D_X
("discriminator_x", judges night) and D_Y ("discriminator_y", judges day). A
discriminator returns one score map (ResNet preset) or a list of maps, coarse to
fine (multi-scale preset); LSGAN losses are summed over every map.

One generator objective, as in the paper and its reference code:
    L_G = adv(G) + adv(F) + cycle_weight * (cycle_forward + cycle_backward)
          + identity_weight * (identity_target + identity_source) + regularisation(G, F)
differentiated once and stepped by one optimizer per generator; then each
discriminator with its own (the regularisation term is the generators' kernel L2,
logged as g_regularization; the ResNet preset has none).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from common import losses
from common.gan import GANModel, network


def _as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def _f32(outputs):
    return [tf.cast(o, "float32") for o in _as_list(outputs)]


class HistoryPool(keras.layers.Layer):
    """The CycleGAN paper's buffer of past fakes shown to the discriminator (Shrivastava et al. 2017).

    Until full, fakes are stored and passed through; afterwards each fake is, with
    probability 1/2, swapped with a random stored one. Randomness is stateless,
    seeded by (seed, the model's global step), so resumed training draws the same
    choices. The buffer is a non-trainable variable and therefore part of every checkpoint.
    images: float [B, H, W, 3] in the generator's range.
    """

    def __init__(self, size, image_shape, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)
        self.image_shape = tuple(image_shape)
        self.seed = int(seed)
        self.images = self.add_weight(shape=(self.size, *self.image_shape), initializer="zeros",
                                      trainable=False, name="images")
        self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False,
                                     name="count")

    def call(self, fakes, step):
        fakes = tf.cast(fakes, self.images.dtype)
        batch = tf.shape(fakes)[0]
        key = tf.stack([tf.cast(self.seed, tf.int64), tf.cast(step, tf.int64)])
        count = tf.convert_to_tensor(self.count)
        filling = count < self.size
        # while filling: append (the buffer grows by the batch), return the fakes unchanged
        fill_idx = tf.minimum(count + tf.range(batch), self.size - 1)
        # when full: swap with a random slot with probability 1/2
        swap = tf.random.stateless_uniform([batch], seed=key) > 0.5
        slots = tf.random.stateless_uniform([batch], seed=key + 1, maxval=self.size, dtype=tf.int32)
        stored = tf.gather(self.images, slots)
        mask = tf.reshape(swap, [-1, 1, 1, 1])
        out_full = tf.where(mask, stored, fakes)
        write_idx = tf.where(filling, fill_idx, tf.where(swap, slots, tf.fill([batch], self.size)))
        # slot `size` (out of range) means "leave the buffer as it is": those rows are dropped before the scatter
        keep = write_idx < self.size
        idx = tf.boolean_mask(write_idx, keep)
        upd = tf.boolean_mask(fakes, keep)
        self.images.assign(tf.tensor_scatter_nd_update(self.images, idx[:, None], upd))
        self.count.assign(tf.minimum(count + batch, self.size))
        return tf.where(filling, fakes, out_full)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "image_shape": self.image_shape, "seed": self.seed}


class CycleGAN(GANModel):
    """Unpaired image translation; `fit` on a dataset of (source_batch, target_batch)."""

    def __init__(self, generator_g, generator_f, discriminator_x, discriminator_y, *,
                 history_pool_size=0, seed=0, **kwargs):
        super().__init__({"generator_g": generator_g, "generator_f": generator_f,
                          "discriminator_x": discriminator_x, "discriminator_y": discriminator_y}, seed=seed,
                         **kwargs)
        self.num_scales = len(discriminator_y.outputs)
        # kernel regularisers (the multi-scale generator's L2 on its dense layers) join g_total
        self.has_regularization = bool(generator_g.losses or generator_f.losses)
        self.use_pool = bool(history_pool_size)
        if self.use_pool:
            shape = tuple(generator_g.output_shape[1:])
            self.pool_x = HistoryPool(history_pool_size, shape, seed=seed + 1, name="pool_x")
            self.pool_y = HistoryPool(history_pool_size, shape, seed=seed + 2, name="pool_y")

    generator_g = network("generator_g")
    generator_f = network("generator_f")

    def _scale_names(self, prefix):
        if self.num_scales == 1:
            return [prefix]
        return [f"{prefix}_scale{k + 1}" for k in range(self.num_scales)]

    def compile(self, *, g_optimizer, f_optimizer, dx_optimizer, dy_optimizer,
                cycle_weight=10.0, identity_weight=5.0, **kwargs):
        """identity_weight is the weight of each identity term (ResNet: 10 * 0.5 = 5; multi-scale: 0.5)."""
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = float(identity_weight)
        names = (self._scale_names("d_source") + self._scale_names("d_target")
                 + self._scale_names("g_target") + self._scale_names("f_source")
                 + ["cycle_forward", "cycle_backward", "identity_target", "identity_source", "g_total"])
        if self.num_scales > 1:
            names += ["d_source", "d_target"]
        if self.has_regularization:
            names += ["g_regularization"]
        super().compile(optimizers={
            "g": (g_optimizer, ["generator_g"]),
            "f": (f_optimizer, ["generator_f"]),
            "dx": (dx_optimizer, ["discriminator_x"]),
            "dy": (dy_optimizer, ["discriminator_y"]),
        }, loss_names=names, **kwargs)

    def train_step(self, data):
        real_x, real_y = data
        # each network is called three times: traced once (GANModel.traced), the same computation
        G, F = self.traced("generator_g"), self.traced("generator_f")
        DX, DY = self.traced("discriminator_x"), self.traced("discriminator_y")
        with tf.GradientTape() as tape:
            fake_y = G(real_x)
            cycled_x = F(fake_y)
            fake_x = F(real_y)
            cycled_y = G(fake_x)
            same_y = G(real_y)
            same_x = F(real_x)

            adv_g = [losses.lsgan_generator_loss(p) for p in _f32(DY(fake_y))]
            adv_f = [losses.lsgan_generator_loss(p) for p in _f32(DX(fake_x))]
            cyc_fwd = losses.cycle_loss(real_x, tf.cast(cycled_x, real_x.dtype))
            cyc_bwd = losses.cycle_loss(real_y, tf.cast(cycled_y, real_y.dtype))
            id_tgt = losses.identity_loss(real_y, tf.cast(same_y, real_y.dtype))
            id_src = losses.identity_loss(real_x, tf.cast(same_x, real_x.dtype))
            g_reg = self.regularization_loss("generator_g", "generator_f")
            g_total = (tf.add_n(adv_g) + tf.add_n(adv_f)
                       + self.cycle_weight * (cyc_fwd + cyc_bwd)
                       + self.identity_weight * (id_tgt + id_src)
                       + g_reg)
        # one backward pass for both generators: each gets the gradient of the shared objective
        self.apply_gradients(tape, g_total, "g", "f")
        del tape

        disc_fake_x, disc_fake_y = tf.stop_gradient(fake_x), tf.stop_gradient(fake_y)
        if self.use_pool:
            disc_fake_x = self.pool_x(disc_fake_x, self.step)
            disc_fake_y = self.pool_y(disc_fake_y, self.step)
        with tf.GradientTape() as tape:
            dx_terms = [losses.lsgan_discriminator_loss(r, f) for r, f in
                        zip(_f32(DX(real_x)), _f32(DX(disc_fake_x)))]
            dy_terms = [losses.lsgan_discriminator_loss(r, f) for r, f in
                        zip(_f32(DY(real_y)), _f32(DY(disc_fake_y)))]
            dx_total = tf.add_n(dx_terms) + self.regularization_loss("discriminator_x")
            dy_total = tf.add_n(dy_terms) + self.regularization_loss("discriminator_y")
            # D_X's weights do not reach dy_total and vice versa: one backward pass serves both
            d_sum = dx_total + dy_total
        self.apply_gradients(tape, d_sum, "dx", "dy")
        del tape

        logs = {}
        logs.update(zip(self._scale_names("d_source"), dx_terms))
        logs.update(zip(self._scale_names("d_target"), dy_terms))
        logs.update(zip(self._scale_names("g_target"), adv_g))
        logs.update(zip(self._scale_names("f_source"), adv_f))
        logs.update(cycle_forward=cyc_fwd, cycle_backward=cyc_bwd, identity_target=id_tgt,
                    identity_source=id_src, g_total=g_total)
        if self.has_regularization:
            logs.update(g_regularization=g_reg)
        if self.num_scales > 1:
            logs.update(d_source=dx_total, d_target=dy_total)
        return self.record(logs)

    def translate(self, images, direction="night2day"):
        """images: float [B, H, W, 3] in the generators' range -> translated, same range."""
        net = self.generator_g if direction == "night2day" else self.generator_f
        return net(images, training=False)
