"""A tiny GAN on the shared runtime, for the runtime's tests (in-process and as a subprocess).

python -m tests.common.toy_gan --out DIR --epochs 3 --steps-per-epoch 4 ...
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common.gan import GANModel  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from common.runtime.config import RuntimeOptions, resolve_config  # noqa: E402
from common.runtime.options import option  # noqa: E402
from common.runtime.trainer import TrainingTask, run_cli  # noqa: E402

SIZE = 8
LATENT = 4
FIRST_STEP_MARKER = "first-step-started"  # under --out, made when a --first-step-delay step begins


def generator():
    return keras.Sequential([
        keras.Input((LATENT,)),
        keras.layers.Dense(SIZE * SIZE * 3, activation="tanh", name="dense"),
        keras.layers.Reshape((SIZE, SIZE, 3), name="reshape"),
    ], name="generator")


def discriminator():
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Conv2D(4, 3, strides=2, padding="same", name="conv1"),
        keras.layers.LeakyReLU(0.2, name="lrelu1"),
        keras.layers.Conv2D(1, 3, padding="same", name="score"),
    ], name="discriminator")


class ToyGAN(GANModel):
    def __init__(self, nan_at_step=None, label_noise=0.1, **kwargs):
        super().__init__({"generator": generator(), "discriminator": discriminator()}, **kwargs)
        # soft "real" labels drawn from a seed generator: RNG state a checkpoint must carry
        self.label_seed = keras.random.SeedGenerator(7, name="label_seed")
        self.label_noise = label_noise
        self.nan_at_step = nan_at_step

    def compile(self, lr=1e-3, **kwargs):
        super().compile(optimizers={
            "g": (keras.optimizers.Adam(lr, beta_1=0.5), ["generator"]),
            "d": (keras.optimizers.Adam(lr, beta_1=0.5), ["discriminator"]),
        }, loss_names=["d_loss", "g_loss"], **kwargs)

    def train_step(self, data):
        real, z = data  # the noise comes from the pipeline: a function of (seed, step)
        g, d = self.networks["generator"], self.networks["discriminator"]
        target = 1.0 - self.label_noise * keras.random.uniform((), seed=self.label_seed)
        with tf.GradientTape(persistent=True) as tape:
            fake = g(z, training=True)
            fake_score = d(fake, training=True)
            d_loss = (tf.reduce_mean(tf.square(d(real, training=True) - target))
                      + tf.reduce_mean(tf.square(fake_score)))
            g_loss = tf.reduce_mean(tf.square(fake_score - 1.0))
            if self.nan_at_step is not None:
                poisoned = self.optimizers["g"].iterations + 1 >= self.nan_at_step
                g_loss = tf.where(poisoned, tf.constant(float("nan")), g_loss)
        self.apply_gradients(tape, d_loss, "d")
        self.apply_gradients(tape, g_loss, "g")
        del tape
        return self.record({"d_loss": d_loss, "g_loss": g_loss})


class SlowFirstStepGAN(ToyGAN):
    """A ToyGAN whose first step in this process blocks in a TensorFlow op for `delay` seconds,
    standing in for a long XLA compilation: the main thread waits in C++ meanwhile, so Python
    signal handlers cannot run. `marker` is created when the op starts (the step is under way)."""

    def __init__(self, delay, marker, **kwargs):
        super().__init__(**kwargs)
        self.delay, self.marker, self.held = delay, marker, False

    def _hold(self):
        if not self.held:
            self.held = True
            Path(self.marker).touch()
            time.sleep(self.delay)
        return np.int32(0)

    def train_step(self, data):
        held = tf.py_function(self._hold, [], tf.int32)
        with tf.control_dependencies([held]):
            data = tf.nest.map_structure(tf.identity, data)
        return super().train_step(data)


def real_batches(seed: int, batch_size: int, start_step: int) -> tf.data.Dataset:
    """Batch k is a function of (seed, start_step + k): (smooth random colour ramps, noise)."""
    def make(step):
        key = tf.stack([tf.cast(seed, tf.int64), step])
        r = tf.random.stateless_uniform((batch_size, 1, 1, 3), seed=key, minval=-1, maxval=1)
        ramp = tf.reshape(tf.linspace(-1.0, 1.0, SIZE), (1, 1, SIZE, 1))
        z = tf.random.stateless_normal((batch_size, LATENT), seed=key + 1)
        return tf.clip_by_value(r + 0.3 * ramp, -1, 1), z
    return tf.data.Dataset.range(start_step, 2**62).map(make)


class ToyTask(TrainingTask):
    name = "toy"
    wandb_project = "ganworks-toy"

    def prepare(self, config):
        if config["data"] not in ("demo", "toy"):
            from common.data import list_images
            list_images(config["data"])  # the same early, one-line error as real tasks
        if config["steps_per_epoch"] is None:
            config["steps_per_epoch"] = 4

    def build_model(self, config):
        if config.get("first_step_delay"):
            model = SlowFirstStepGAN(config["first_step_delay"], Path(config["out"]) / FIRST_STEP_MARKER,
                                     nan_at_step=config.get("nan_at_step"))
        else:
            model = ToyGAN(nan_at_step=config.get("nan_at_step"))
        model.compile(lr=config.get("lr", 1e-3), jit_compile=config["jit_compile"] == "on")
        return model

    def dataset(self, config, start_step):
        return real_batches(config["seed"], config["batch_size"], start_step)

    def sample_grid(self, model):
        from common.runtime.images import image_grid
        z = np.linspace(-1, 1, 4 * LATENT, dtype="float32").reshape(4, LATENT)
        imgs = np.asarray(model.networks["generator"](z, training=False))
        return image_grid([[((im + 1) * 127.5).clip(0, 255).astype(np.uint8) for im in imgs]])


@dataclass(frozen=True)
class ToyOptions(RuntimeOptions):
    data: str = "toy"
    batch_size: int = 2
    image_size: int = SIZE
    wandb: str = "disabled"
    checkpoint_every: int = 2
    sample_every: int = 4
    lr: float = option(1e-3, "learning rate of both networks")
    nan_at_step: int | None = option(None, "the generator's loss is NaN from this step on")
    # test hook: sleep this long between the two files of every checkpoint write, so a kill lands mid-write
    checkpoint_delay: float = option(0.0, "test hook: seconds between a checkpoint's two files")
    # test hook: the first step of the process blocks in a TF op this long (a slow compilation)
    first_step_delay: float = option(0.0, "test hook: seconds the first step blocks")


def parse(argv=None):
    return resolve_config(ToyOptions, argv, task="toy", prog="python -m tests.common.toy_gan")


def slow_checkpoint_writes(seconds: float) -> None:
    """Pause `seconds` between a checkpoint's two files, in this process: once its variables file
    is on disk (written and synced), before its state file (the runtime itself has no test hooks)."""
    import time

    from common.runtime import checkpoint

    fsync_file = checkpoint._fsync_file

    def fsync_then_pause(path):
        fsync_file(path)
        if path.name == checkpoint.VARIABLES_FILE:
            time.sleep(seconds)

    checkpoint._fsync_file = fsync_then_pause


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    config = parse(argv)
    if config["checkpoint_delay"]:
        slow_checkpoint_writes(config["checkpoint_delay"])
    return run_cli(ToyTask(), config, argv)


if __name__ == "__main__":
    sys.exit(main())
