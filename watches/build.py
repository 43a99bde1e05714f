"""A watches config dict -> the networks, or the compiled GAN (no argparse needed).

    from watches.build import build_gan
    gan = build_gan(config)     # e.g. the "config" a checkpoint's state.json or a run's config.json holds

PRESETS holds each model's values (SPEC section 3); `--model stylegan2` joins them later.
"""

from __future__ import annotations

import keras

from common.runtime.config import ConfigError
from common.runtime.distribute import needs_loss_scaling
from watches import models
from watches.dcgan import DCGAN

PRESETS = {
    # the notes' DCGAN recipe: Adam 2e-4 with beta_1 0.5, soft one-sided labels, 10% flipped labels,
    # real and fake in separate batches; 128-px images from a 128-d latent
    "dcgan": {
        "model": "dcgan", "image_size": 128, "batch_size": 64, "epochs": 100, "steps_per_epoch": None,
        "latent_dim": 128, "filters": 64, "d_dropout": 0.0, "patch_discriminator": False,
        "lr_g": 2e-4, "lr_d": 2e-4, "beta_1": 0.5, "beta_2": 0.999,
        "label_smoothing": True, "label_flip": 0.1, "instance_noise": 0.0,
        "checkpoint_every": 1000, "sample_every": 500,
    },
}

TASK_DEFAULTS = {"model": "dcgan", "wandb_project": "watches-gan", "mirror": False, "g_ema_kimg": 0.0,
                 "metrics_every": 0, "metrics_fake": 1000, "metrics_extractor": "inception"}


def validate_config(c: dict) -> None:
    """Raise ConfigError (one line, naming the flag) for a watches setting that cannot work."""
    size = c["image_size"]
    if size < 16 or size & (size - 1):
        raise ConfigError(f"--image-size {size} must be a power of two, at least 16")
    if c["patch_discriminator"] and size < 32:
        raise ConfigError(f"--patch-discriminator needs --image-size of at least 32, got {size}")
    for key in ("lr_g", "lr_d", "latent_dim", "filters"):
        if c[key] <= 0:
            raise ConfigError(f"--{key.replace('_', '-')} must be positive")
    if not 0 <= c["label_flip"] < 0.5:
        raise ConfigError(f"--label-flip {c['label_flip']} must be in [0, 0.5)")
    if not 0 <= c["d_dropout"] < 1:
        raise ConfigError(f"--d-dropout {c['d_dropout']} must be in [0, 1)")
    if c["metrics_every"] < 0 or c["metrics_fake"] < 2:
        raise ConfigError("--metrics-every must not be negative and --metrics-fake must be at least 2")
    if c["metrics_extractor"] not in ("inception", "inception-2015", "random"):
        raise ConfigError(f"--metrics-extractor must be inception, inception-2015 or random, got "
                          f"{c['metrics_extractor']!r}")
    for key in ("instance_noise", "g_ema_kimg"):
        if c[key] < 0:
            raise ConfigError(f"--{key.replace('_', '-')} must not be negative")


def build_networks(config) -> dict:
    size, f = config["image_size"], config["filters"]
    return {"generator": models.dcgan_generator(size, config["latent_dim"], f, name="generator"),
            "discriminator": models.dcgan_discriminator(size, f, dropout=config["d_dropout"],
                                                        patch=config["patch_discriminator"], name="discriminator")}


def build_gan(config, compile=True) -> DCGAN:
    """The GAN of a config; compiled with one Adam per network unless compile=False (enough to generate)."""
    nets = build_networks(config)
    model = DCGAN(nets["generator"], nets["discriminator"], latent_dim=config["latent_dim"], seed=config["seed"],
                  ema_kimg=config["g_ema_kimg"])
    if compile:
        opts = {name: keras.optimizers.Adam(config[f"lr_{name}"], beta_1=config["beta_1"], beta_2=config["beta_2"])
                for name in ("g", "d")}
        if config["mixed_precision"] and needs_loss_scaling():
            opts = {k: keras.optimizers.LossScaleOptimizer(v) for k, v in opts.items()}
        model.compile(g_optimizer=opts["g"], d_optimizer=opts["d"], label_smoothing=config["label_smoothing"],
                      label_flip=config["label_flip"], instance_noise=config["instance_noise"],
                      jit_compile={"auto": "auto", "on": True, "off": False}[config["jit_compile"]])
    return model
