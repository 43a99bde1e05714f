"""StyleGAN2-ADA's training model (NVIDIA's `training/loss.py` + `training_loop.py`) as a GANModel.

One step on a batch of real images [B, S, S, 3] in [-1, 1] runs NVIDIA's phases in order (kept as data,
`StyleGAN2.phases`; a phase runs at the steps its interval divides):

    Gmain  non-saturating logistic loss softplus(-D(aug(G(z)))), with style mixing (probability 0.9)
    Greg   every g_reg_interval (4) steps: path-length penalty (|J^T y| - a)^2 on B/2 images, a the
           moving average of path lengths (decay 0.01), times pl_weight (2) and the interval
    Dmain  softplus(D(aug(G(z)))) + softplus(-D(aug(x)))
    Dreg   every d_reg_interval (16) steps: R1 = |grad_x D(aug(x))|^2 * gamma / 2, times the interval
    then   the generator EMA (half-life ema_kimg, ramped up over ema_rampup * images seen), the
           image counter, and ADA's p (after every ada_interval steps, towards r_t = E[sign D(aug(x))] =
           target, the signs of the real logits of Dmain and Dreg as NVIDIA's Loss/signs/real; p >= 0)

The optimizers' learning rates and betas carry the lazy-regularisation correction (build.py). A step
logs what its phases computed: r1 and pl at the steps that computed them (their epoch trackers average
those steps), as NVIDIA's statistics report a value only where it was computed. Every draw is stateless,
keyed by (seed, global step, purpose), and every piece of state lives in a variable the checkpoint holds:
the step and image counters, ADA's p and its sign accumulator, the path-length mean, the tracked w average
and the EMA networks - so a resumed run continues exactly where it stopped. Per-image
draws (latents, noise inputs, augmentations) are made for the global batch and shared out
(common.replicas), and the statistics are reduced over replicas, so N replicas train as one device.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from typing import Callable

import keras
import tensorflow as tf

from common.gan import GANModel, ema_update
from common.replicas import cross_replica_mean, cross_replica_sum, layer_draws
from watches import augment as A
from watches.stylegan2 import generator as compose_generator

LOSS_NAMES = ["g_loss", "d_loss", "r1", "pl", "pl_mean", "d_real", "d_fake", "augment_p", "rt", "kimg"]


@dataclass(frozen=True)
class Phase:
    """One of NVIDIA's training phases: at each step that `interval` divides, `run(real, step, batch)` steps the
    optimizer named `optimizer` once and returns the values it logs ({name: scalar})."""

    name: str
    optimizer: str
    interval: int
    run: Callable[[tf.Tensor, tf.Tensor, tf.Tensor], dict]


class StyleGAN2(GANModel):
    """networks: mapping, synthesis, discriminator and their EMA copies mapping_ema, synthesis_ema
    (built by the same builders; the EMA synthesis uses constant noise, as NVIDIA's snapshots)."""

    def __init__(self, mapping, synthesis, discriminator, mapping_ema, synthesis_ema, *, seed=0, ema_kimg=10.0,
                 ema_rampup=0.05, augment_p=0.0, **kwargs):
        super().__init__({"mapping": mapping, "synthesis": synthesis, "discriminator": discriminator,
                          "mapping_ema": mapping_ema, "synthesis_ema": synthesis_ema}, seed=seed, **kwargs)
        mapping_ema.set_weights(mapping.get_weights())
        synthesis_ema.set_weights(synthesis.get_weights())
        self.ema_kimg = float(ema_kimg)
        self.ema_rampup = None if ema_rampup in (None, 0) else float(ema_rampup)
        self.z_dim = int(mapping.inputs[0].shape[-1])
        self.num_ws = int(synthesis.inputs[0].shape[1])
        self.generator_ema = compose_generator(mapping_ema, synthesis_ema, name="generator_ema")
        # the training state a resume must continue (all in the checkpoint as model/<name>, as is global_step)
        self.nimg = keras.Variable(0, dtype="int64", trainable=False, name="nimg")
        self.augment_p = keras.Variable(float(augment_p), dtype="float32", trainable=False, name="augment_p")
        self.ada_sign_sum = keras.Variable(0.0, dtype="float32", trainable=False, name="ada_sign_sum")
        self.ada_count = keras.Variable(0.0, dtype="float32", trainable=False, name="ada_count")
        self.ada_rt = keras.Variable(0.0, dtype="float32", trainable=False, name="ada_rt")
        self.pl_mean = keras.Variable(0.0, dtype="float32", trainable=False, name="pl_mean")
        self.phases: tuple[Phase, ...] = ()  # set by compile
        # the step's mapping-pass means, per thread: MirroredStrategy traces its replicas in threads that
        # take turns at every all-reduce, so one list on the model would be shared (and reset) by both
        self._trace_local = threading.local()

    @property
    def sampler(self):
        """[z, psi] -> images with the EMA weights: what grids, export, generate and evaluate use."""
        return self.generator_ema

    def compile(self, *, g_optimizer, d_optimizer, r1_gamma=0.1024, pl_weight=2.0, style_mixing=0.9,
                g_reg_interval=4, d_reg_interval=16, pl_batch_shrink=2, pl_decay=0.01, w_avg_beta=0.995,
                augment="ada", augment_target=0.6, ada_interval=4, ada_kimg=500.0, **kwargs):
        if augment not in A.KINDS:
            raise ValueError(f"augment must be one of {A.KINDS}, got {augment!r}")
        self.r1_gamma, self.pl_weight, self.style_mixing = float(r1_gamma), float(pl_weight), float(style_mixing)
        self.g_reg_interval, self.d_reg_interval = int(g_reg_interval), int(d_reg_interval)
        self.pl_batch_shrink, self.pl_decay, self.w_avg_beta = int(pl_batch_shrink), float(pl_decay), w_avg_beta
        self.augment_kind, self.augment_target = augment, float(augment_target)
        self.ada_interval, self.ada_kimg = int(ada_interval), float(ada_kimg)
        # NVIDIA's phase list; a regulariser of weight 0 is no phase at all
        phases = [Phase("Gmain", "g", 1, self._g_main)]
        if self.pl_weight > 0:
            phases.append(Phase("Greg", "g", self.g_reg_interval, self._g_pl))
        phases.append(Phase("Dmain", "d", 1, self._d_main))
        if self.r1_gamma > 0:
            phases.append(Phase("Dreg", "d", self.d_reg_interval, self._d_r1))
        self.phases = tuple(phases)
        super().compile(optimizers={"g": (g_optimizer, ["mapping", "synthesis"]), "d": (d_optimizer, ["discriminator"])},
                        loss_names=LOSS_NAMES, **kwargs)

    # ------------------------------------------------------------------ pieces

    def _augment(self, images, step, purpose):
        return A.augment(self.augment_kind, images, self.augment_p, self.draws(step, 100 + purpose))

    def _d(self, images, step, purpose):
        logits = self.networks["discriminator"](self._augment(images, step, purpose), training=True)
        return tf.cast(tf.reshape(logits, [-1]), tf.float32)

    def mapping_ws(self, z, step, purpose, update_w_avg=True):
        """z [B, z_dim] -> ws [B, num_ws, w_dim], with style mixing and the tracked-average update."""
        mapping = self.networks["mapping"]
        ones = tf.ones([tf.shape(z)[0], 1])
        w = tf.cast(mapping([z, ones], training=True), tf.float32)
        if update_w_avg and self.w_avg_beta is not None:
            # folded into one assignment at the end of the step (_w_avg_update): separate read-modify-write
            # assignments in one step were not reliably ordered (run-to-run differences under load)
            self._trace_local.w_means.append(tf.reduce_mean(tf.stop_gradient(w), axis=0))
        ws = tf.repeat(w[:, None], self.num_ws, axis=1)
        if self.style_mixing > 0:
            # one cutoff per batch (NVIDIA's), the same on every replica; the second latents per image
            draws = self.draws(step, 200 + purpose)
            cutoff = draws.shared_uniform([], 1, self.num_ws, dtype=tf.int32)
            mix = draws.fold(1).shared_uniform([]) < self.style_mixing
            cutoff = tf.where(mix, cutoff, self.num_ws)
            z2 = draws.fold(2).normal(tf.shape(z))
            w2 = tf.cast(mapping([z2, ones], training=True), tf.float32)
            later = tf.range(self.num_ws)[None, :, None] >= cutoff
            ws = tf.where(later, w2[:, None], ws)
        return ws

    def synthesize(self, ws, step, purpose):
        """ws -> images with the training synthesis network; its noise inputs drawn for the step's global batch."""
        with layer_draws(self.draws(step, 300 + purpose)):
            return self.networks["synthesis"](ws, training=True)

    def latents(self, step, batch, purpose):
        """This replica's latents [batch, z_dim] of the step's global batch."""
        return self.draws(step, purpose).normal([batch, self.z_dim])

    # ------------------------------------------------------------------ phases

    def _g_main(self, real, step, batch):
        with tf.GradientTape() as tape:
            img = self.synthesize(self.mapping_ws(self.latents(step, batch, 1), step, 1), step, 1)
            fake_logits = self._d(img, step, 1)
            g_loss = tf.reduce_mean(tf.nn.softplus(-fake_logits))
        self.apply_gradients(tape, g_loss, "g")
        return {"g_loss": g_loss}

    def _g_pl(self, real, step, batch):
        n = tf.maximum(batch // self.pl_batch_shrink, 1)
        with tf.GradientTape() as tape:
            ws = self.mapping_ws(self.latents(step, n, 2), step, 2)  # moves w_avg too, as NVIDIA's run_G does
            with tf.GradientTape() as inner:
                inner.watch(ws)
                img = tf.cast(self.synthesize(ws, step, 2), tf.float32)
                size = tf.cast(tf.shape(img)[1] * tf.shape(img)[2], tf.float32)
                noise = self.draws(step, 3).normal(tf.shape(img)) / tf.sqrt(size)
                total = tf.reduce_sum(img * noise)
            grads = inner.gradient(total, ws)
            lengths = tf.sqrt(tf.reduce_mean(tf.reduce_sum(tf.square(grads), axis=2), axis=1))
            # the mean path length of the global batch: every replica moves pl_mean alike
            pl_mean = self.pl_mean + self.pl_decay * (cross_replica_mean(tf.reduce_mean(lengths)) - self.pl_mean)
            penalty = tf.square(lengths - tf.stop_gradient(pl_mean))
            loss = tf.reduce_mean(penalty) * self.pl_weight * self.g_reg_interval
        self._apply_regularizer(tape, loss, "g")
        self.pl_mean.assign(pl_mean)
        return {"pl": tf.reduce_mean(penalty)}

    def _d_main(self, real, step, batch):
        img = tf.stop_gradient(self.synthesize(self.mapping_ws(self.latents(step, batch, 4), step, 4), step, 4))
        with tf.GradientTape() as tape:
            fake_logits = self._d(img, step, 4)
            real_logits = self._d(real, step, 5)
            d_loss = tf.reduce_mean(tf.nn.softplus(fake_logits)) + tf.reduce_mean(tf.nn.softplus(-real_logits))
        self.apply_gradients(tape, d_loss, "d")
        self._ada_observe(real_logits)
        return {"d_loss": d_loss, "d_real": tf.reduce_mean(real_logits), "d_fake": tf.reduce_mean(fake_logits)}

    def r1_penalty(self, real, step, inner_scale=2.0 ** 10):
        """([B] |grad_x D(aug(x))|^2 per real image, the gradient taken at the image before augmentation;
        [B] the logits D(aug(x)), which ADA's r_t counts as NVIDIA's does).

        The inner gradient is taken of sum(logits) * inner_scale and divided by inner_scale in float32:
        in D's float16 blocks (mixed_float16) that backward pass runs at unit scale otherwise - the outer
        loss scale only reaches the outer one - and its per-element values are small (~1e-4 at init at
        64 px, falling as 1/sqrt(elements) with resolution), at the bottom of float16's normal range
        (6e-5) and below it in subnormals, where precision is lost. 2**10 lifts them ten octaves while the
        largest (~1e-3..1e-2) stay 2**12 and more below float16's 65504: underflow is the risk at unit
        scale, overflow - which would make every R1 step non-finite, skipped by the loss scale optimizer
        at any scale - the risk of a much larger constant. A power of two: scaling and unscaling are
        exact, so in float32 and bfloat16 (no overflow in reach) the penalty is unchanged bit for bit."""
        real = tf.cast(real, tf.float32)
        with tf.GradientTape() as inner:
            inner.watch(real)
            logits = self._d(real, step, 6)
            total = tf.reduce_sum(logits) * inner_scale
        grads = tf.cast(inner.gradient(total, real), tf.float32) / inner_scale
        return tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]), logits

    def _d_r1(self, real, step, batch):
        with tf.GradientTape() as tape:
            penalty, real_logits = self.r1_penalty(real, step)
            loss = tf.reduce_mean(penalty) * (self.r1_gamma / 2) * self.d_reg_interval
        self._apply_regularizer(tape, loss, "d")
        self._ada_observe(real_logits)
        return {"r1": tf.reduce_mean(penalty)}

    def _apply_regularizer(self, tape, loss, name):
        # a regulariser does not reach every variable (toRGB biases for path length, D's output bias for
        # R1); those get no step, as in NVIDIA's code, and Keras's warning about it is expected
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Gradients do not exist for variables")
            self.apply_gradients(tape, loss, name)

    # ------------------------------------------------------------------ the step

    def phases_due(self, step: int) -> tuple[Phase, ...]:
        """The phases of step `step`, in order: those whose interval divides it (NVIDIA's
        `if batch_idx % phase.interval: continue`)."""
        return tuple(phase for phase in self.phases if step % phase.interval == 0)

    def make_train_function(self, force=False):
        """One compiled step per set of due phases (traced on first use), picked on the host from the global
        step before each step.

        A phase is either in a step's graph or not: no optimizer step or all-reduce sits inside a
        tf.cond, which MirroredStrategy cannot run, and the graph of a step holds only its own phases.
        """
        if self.train_function is not None and not force:
            return self.train_function
        if getattr(self, "steps_per_execution", 1) != 1:
            raise ValueError("StyleGAN2 picks its phases per step: steps_per_execution must be 1")
        compiled = {}

        def train_function(iterator):
            due = self.phases_due(int(self.global_step.numpy()))
            self._traced_phases = due  # read while the step is traced
            key = tuple(phase.name for phase in due)
            if key not in compiled:
                super(StyleGAN2, self).make_train_function(force=True)
                compiled[key] = self.train_function
                self.train_function = train_function
            return compiled[key](iterator)

        self.train_function = train_function
        return train_function

    def train_step(self, real):
        real = tf.cast(real, tf.float32)
        batch = tf.shape(real)[0]
        step = self.step
        if tf.executing_eagerly():
            due = self.phases_due(int(self.global_step.numpy()))
        elif getattr(self, "_traced_phases", None) is None:
            raise RuntimeError("StyleGAN2.train_step in a graph needs the phases of its step: train with fit "
                               "(or call make_train_function and its train_function)")
        else:
            due = self._traced_phases
        self._trace_local.w_means = []
        logs = {}
        for phase in due:
            logs.update(phase.run(real, step, batch))
        images = tf.cast(batch, tf.int64) * tf.distribute.get_strategy().num_replicas_in_sync
        w_avg_update = self._w_avg_update()
        with tf.control_dependencies([w_avg_update]):  # the EMA copies w_avg after it moved
            updates = self.update_ema(tf.cast(images, tf.float32))
        updates.append(w_avg_update)
        updates.append(self.nimg.assign_add(images))
        if self.augment_kind == "ada":
            self._ada_adjust(step, images)
        with tf.control_dependencies(updates):  # what the step returns is read after every update landed
            logs.update(pl_mean=self.pl_mean, augment_p=self.augment_p, rt=self.ada_rt,
                        kimg=tf.cast(self.nimg, tf.float32) / 1000.0)
            logs = {name: tf.identity(logs[name]) for name in LOSS_NAMES if name in logs}
        return self.record(logs)

    def _w_avg_update(self):
        """w_avg <- lerp(batch mean, w_avg, beta) for each mapping pass of the step, in order, as one assignment."""
        avg = self.networks["mapping"].get_layer("truncation").w_avg
        new = tf.identity(avg.value)
        for mean in self._trace_local.w_means:
            mean = cross_replica_mean(mean)  # the global batch's mean w
            new = mean + self.w_avg_beta * (new - mean)
        return avg.assign(new)

    def _ada_observe(self, real_logits):
        """Accumulate sign(D(aug(x))) for ADA's next adjustment (with --augment ada), summed over the replicas
        (as NVIDIA's training_stats collects the signs Dmain and Dreg report, over all GPUs)."""
        if self.augment_kind != "ada":
            return
        self.ada_sign_sum.assign_add(cross_replica_sum(tf.reduce_sum(tf.sign(real_logits))))
        self.ada_count.assign_add(cross_replica_sum(tf.cast(tf.size(real_logits), tf.float32)))

    def _ada_adjust(self, step, images):
        """After every ada_interval steps (steps ada_interval - 1, 2 ada_interval - 1, ...: NVIDIA adjusts when
        the count of steps taken is a multiple): p moved towards r_t = E[sign D(aug(x))] = target, r_t taken
        over the signs observed since the last adjustment, which are then cleared; p is bounded below by 0
        only, as NVIDIA's (above 1 every transformation still applies to every image); `images`: the global
        batch size."""
        def adjust():
            rt = self.ada_sign_sum / tf.maximum(self.ada_count, 1.0)
            delta = A.ada_adjustment(rt, self.augment_target, tf.cast(images, tf.float32) * self.ada_interval,
                                     self.ada_kimg)
            self.augment_p.assign(tf.maximum(self.augment_p + delta, 0.0))
            self.ada_rt.assign(rt)
            self.ada_sign_sum.assign(0.0)
            self.ada_count.assign(0.0)

        tf.cond(tf.equal((step + 1) % self.ada_interval, 0), adjust, lambda: None)

    def update_ema(self, batch_images):
        """NVIDIA's G_ema update: beta = 0.5 ** (batch / ema_nimg), ema_nimg = ema_kimg * 1000, ramped up to
        at most rampup * images seen so far; trained weights lerped, the rest (w_avg, const noise) copied."""
        ema_nimg = tf.constant(self.ema_kimg * 1000.0)
        if self.ema_rampup is not None:
            ema_nimg = tf.minimum(ema_nimg, tf.cast(self.nimg, tf.float32) * self.ema_rampup)
        beta = tf.pow(0.5, batch_images / tf.maximum(ema_nimg, 1e-8))
        return [update for name in ("mapping", "synthesis")
                for update in ema_update(self.networks[f"{name}_ema"], self.networks[name], beta)]

    def generate(self, z, psi=1.0):
        """images [B, S, S, 3] from z [B, z_dim] with the EMA generator."""
        psi = tf.fill([tf.shape(z)[0], 1], tf.cast(psi, tf.float32))
        return self.generator_ema([z, psi], training=False)
