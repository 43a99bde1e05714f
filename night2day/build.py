"""night2day's options (one frozen dataclass per preset) and a config dict -> the four networks, or the
compiled CycleGAN (no argparse needed).

    from night2day.build import build_cyclegan
    gan = build_cyclegan(config)     # e.g. the "config" a checkpoint's state.json or a run's config.json holds

The config's keys are the fields of Night2DayOptions (the training flags' names with underscores:
`python -m night2day.train --help`); PRESETS (night2day.options) holds each model's values (SPEC section 1).
"""

from __future__ import annotations

import keras

from common.runtime.optimizers import run_optimizers
from common.schedules import LinearDecayTail
from night2day import models
from night2day.cycle_gan import CycleGAN
from night2day.options import (PRESETS, RESNET_LOAD_RATIO, MultiScaleOptions, Night2DayOptions,  # noqa: F401
                               ResNetOptions, default_load_size)


def training_scale(config) -> int:
    """The square size samples and evaluation run the generators at: the load size, rounded down to
    the ResNet generator's step of 4 (two stride-2 convolutions) so outputs keep the input's size."""
    scale = config.get("load_size") or config["image_size"]
    return scale // 4 * 4 if config["model"] == "resnet" else scale


def build_networks(config) -> dict:
    """The four networks of a config: generator_g (night->day), generator_f, discriminator_x, discriminator_y."""
    size = config["image_size"]
    if config["model"] == "resnet":
        def gen(name):
            return models.resnet_generator(size, filters=config["filters"], res_blocks=config["res_blocks"],
                                           weight_init=config["weight_init"], name=name)

        def disc(name):
            return models.patch_discriminator(size, filters=config["filters"], weight_init=config["weight_init"],
                                              name=name)
    else:
        kw = dict(filters=config["filters"], kernel_size=config["kernel_size"],
                  inception_residual=config["inception_residual"])

        def gen(name):
            return models.multiscale_generator(size, fusion_kernel=config["fusion_kernel"], name=name, **kw)

        def disc(name):
            return models.multiscale_discriminator(size, name=name, **kw)
    return {"generator_g": gen("generator_g"), "generator_f": gen("generator_f"),
            "discriminator_x": disc("discriminator_x"), "discriminator_y": disc("discriminator_y")}


def learning_rate(config, base):
    """base, or a schedule over the optimizer's iterations: legacy inverse-time decay and/or a linear tail to 0."""
    lr = base
    if config["inverse_time_decay"]:  # legacy Adam(decay=rate): lr / (1 + rate * iteration)
        lr = keras.optimizers.schedules.InverseTimeDecay(base, decay_steps=1, decay_rate=config["inverse_time_decay"])
    if config["decay_epochs"]:
        spe = config["steps_per_epoch"]
        lr = LinearDecayTail(lr, config["epochs"] * spe, config["decay_epochs"] * spe)
    return lr


def build_cyclegan(config, compile=True) -> CycleGAN:
    """The CycleGAN of a config; compiled with one Adam per network (wrapped for loss scaling under a
    float16 policy) unless compile=False (enough for inference). Build it under the run's policy."""
    nets = build_networks(config)
    model = CycleGAN(nets["generator_g"], nets["generator_f"], nets["discriminator_x"], nets["discriminator_y"],
                     history_pool_size=config["history_pool"], seed=config["seed"])
    if compile:
        rates = {name: learning_rate(config, config["lr_g"] if name in ("g", "f") else config["lr_d"])
                 for name in ("g", "f", "dx", "dy")}
        opts, jit = run_optimizers(config, rates)
        model.compile(g_optimizer=opts["g"], f_optimizer=opts["f"], dx_optimizer=opts["dx"],
                      dy_optimizer=opts["dy"], cycle_weight=config["cycle_weight"],
                      identity_weight=config["identity_weight"], jit_compile=jit)
    return model
