"""A night2day config dict -> the four networks, or the compiled CycleGAN (no argparse needed).

    from night2day.build import build_cyclegan
    gan = build_cyclegan(config)     # e.g. the "config" a checkpoint's state.json or a run's config.json holds

The config's keys are the training flags' names with underscores (`python -m night2day.train
--help`); PRESETS holds each model's values (SPEC section 1), TASK_DEFAULTS what both share.
"""

from __future__ import annotations

import keras

from common.runtime.config import ConfigError
from common.runtime.distribute import needs_loss_scaling
from common.schedules import LinearDecayTail
from night2day import models
from night2day.cycle_gan import CycleGAN

PRESETS = {
    # SPEC section 1, model A: batch 1, Adam 2e-4 (0.5, 0.999), cycle 10, identity 10 * 0.5; and, as the
    # CycleGAN paper and its reference code, D sees a history pool of the last 50 fakes
    "resnet": {
        "model": "resnet", "image_size": 256, "batch_size": 1, "epochs": 100, "steps_per_epoch": None,
        "filters": 64, "res_blocks": 9, "weight_init": "normal",
        "lr_g": 2e-4, "lr_d": 2e-4, "beta_1": 0.5, "beta_2": 0.999,
        "inverse_time_decay": 0.0, "cycle_weight": 10.0, "identity_weight": 5.0, "history_pool": 50,
        "checkpoint_every": 1000, "sample_every": 500,
    },
    # SPEC section 1, model B: batch 4, Adam default betas, D 1e-4, G 5e-5, legacy decay 6e-8,
    # 30,000 one-batch epochs, checkpoint every 2,000, images every 1,000
    "multiscale": {
        "model": "multiscale", "image_size": 256, "batch_size": 4, "epochs": 30000, "steps_per_epoch": 1,
        "filters": 16, "kernel_size": 5, "fusion_kernel": 16, "inception_residual": False, "weight_init": "keras",
        "lr_g": 5e-5, "lr_d": 1e-4, "beta_1": 0.9, "beta_2": 0.999, "inverse_time_decay": 6e-8,
        "cycle_weight": 10.0, "identity_weight": 0.5, "checkpoint_every": 2000, "sample_every": 1000,
    },
}

TASK_DEFAULTS = {
    "model": "multiscale", "wandb_project": "night2day-cyclegan", "history_pool": 0, "decay_epochs": 0,
    "res_blocks": 9, "kernel_size": 5, "fusion_kernel": 16, "inception_residual": False, "weight_init": "keras",
    "load_size": None,  # None: resnet 720/256 x image_size (the source's 720 at 256), multiscale image_size
}

# the ResNet notebook resized 1280x720 frames to 720x720 before taking 256x256 crops
RESNET_LOAD_RATIO = 720 / 256


def default_load_size(model: str, image_size: int) -> int:
    """The size images are resized to before the random crop: the scale the model learns at."""
    return round(image_size * RESNET_LOAD_RATIO) if model == "resnet" else image_size


def training_scale(config) -> int:
    """The square size samples and evaluation run the generators at: the load size, rounded down to
    the ResNet generator's step of 4 (two stride-2 convolutions) so outputs keep the input's size."""
    scale = config.get("load_size") or config["image_size"]
    return scale // 4 * 4 if config["model"] == "resnet" else scale


def validate_config(c: dict) -> None:
    """Raise ConfigError (one line, naming the flag) for a night2day setting that cannot work."""
    if c["image_size"] % (32 if c["model"] == "multiscale" else 4):
        raise ConfigError(f"--image-size {c['image_size']} must be divisible by "
                          f"{32 if c['model'] == 'multiscale' else 4} for the {c['model']} model")
    if c.get("load_size") is None:
        c["load_size"] = default_load_size(c["model"], c["image_size"])
    if c["model"] == "multiscale" and c["load_size"] != c["image_size"]:
        raise ConfigError("--load-size must equal --image-size for the multiscale model (it does not crop)")
    if c["load_size"] < c["image_size"]:
        raise ConfigError(f"--load-size {c['load_size']} is smaller than the --image-size {c['image_size']} crop")
    if c["model"] == "multiscale" and c["weight_init"] != "keras":
        raise ConfigError("--weight-init normal is for the resnet model; the multiscale notebook used Keras's")
    for key in ("lr_g", "lr_d"):
        if c[key] <= 0:
            raise ConfigError(f"--{key.replace('_', '-')} must be positive")
    if c["decay_epochs"] < 0 or c["decay_epochs"] > c["epochs"]:
        raise ConfigError("--decay-epochs must be between 0 and --epochs")


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
        def adam(base):
            return keras.optimizers.Adam(learning_rate(config, base), beta_1=config["beta_1"],
                                         beta_2=config["beta_2"])

        opts = {name: adam(config["lr_g"] if name in ("g", "f") else config["lr_d"])
                for name in ("g", "f", "dx", "dy")}
        if config["mixed_precision"] and needs_loss_scaling():  # float16 (GPU); bfloat16 needs none
            opts = {k: keras.optimizers.LossScaleOptimizer(v) for k, v in opts.items()}
        model.compile(g_optimizer=opts["g"], f_optimizer=opts["f"], dx_optimizer=opts["dx"],
                      dy_optimizer=opts["dy"], cycle_weight=config["cycle_weight"],
                      identity_weight=config["identity_weight"],
                      jit_compile={"auto": "auto", "on": True, "off": False}[config["jit_compile"]])
    return model
