"""An inpainting config dict -> the two networks, or the compiled InpaintingGAN (no argparse needed).

    from inpainting.build import build_gan
    gan = build_gan(config)     # e.g. the "config" a checkpoint's state.json or a run's config.json holds

The config's keys are the training flags' names with underscores (`python -m inpainting.train
--help`); PRESETS holds each model's values (SPEC section 2), TASK_DEFAULTS what both share.
"""

from __future__ import annotations

import keras

from common.runtime.config import ConfigError
from common.runtime.distribute import needs_loss_scaling
from inpainting import models
from inpainting.inpainting_gan import RECON_LOSSES, InpaintingGAN
from inpainting.masks import KINDS

PRESETS = {
    # SPEC section 2, the experiment: U-Net generator predicting the 64x64 hole content of a 128x128
    # image, attention discriminator, (1 - w) BCE + w border-weighted MSE with w = weightRecon = 0.99,
    # batch 256, Adam 2e-4 (0.5, 0.999), 100 epochs, seed 999, random block masks
    "improved": {
        "model": "improved", "image_size": 128, "batch_size": 256, "epochs": 100, "seed": 999,
        "filters": 64, "bottleneck": 2048, "mask": "random-block", "fill": "zero",
        "recon_loss": "weighted-l2", "recon_weight": 0.99, "adv_weight": 0.01,
        "checkpoint_every": 500, "sample_every": 250,
    },
    # SPEC section 2, the theory chapters: Pathak et al.'s Context Encoder at 256 px with a 128 px centre
    # hole, no skips, 100 * L1(hole) + non-saturating adversarial loss, fill value = the mean colour;
    # batch 64 and 25 epochs as Pathak et al.'s train.lua
    "context-encoder": {
        "model": "context-encoder", "image_size": 256, "batch_size": 64, "epochs": 25, "seed": 0,
        "filters": 64, "bottleneck": 4000, "mask": "centre", "fill": "mean",
        "recon_loss": "l1", "recon_weight": 100.0, "adv_weight": 1.0,
        "checkpoint_every": 500, "sample_every": 250,
    },
}

TASK_DEFAULTS = {
    "model": "improved", "wandb_project": "inpainting-context-encoder",
    "lr_g": 2e-4, "lr_d": 2e-4, "beta_1": 0.5, "beta_2": 0.999,
    "hole_size": None,  # centre masks: None = half the image side
    "hole_min": 0.25, "hole_max": 0.5,  # random-block masks: side range, fractions of the image side
    "area_min": 0.1, "area_max": 0.4,  # free-form masks: hole area range, fractions of the image
    "overlap": None,  # border band of the reconstruction weights in px; None = content size / 16 (4 at 64)
    "border_weight": 10.0, "fill_value": None,  # fill "mean": the training images' mean colour, set once
    "load_size": None, "random_flip": False,  # augmentation (the source has none): random crops and mirroring
}


def content_size(config) -> int:
    """The side of the hole content the generator predicts (and the discriminator judges): half the image."""
    return config["image_size"] // 2


def mask_options(config) -> dict:
    """The masks.make_masks options of a config's mask kind."""
    kind = config["mask"]
    if kind == "centre":
        return {"hole_size": config["hole_size"] or config["image_size"] // 2}
    if kind == "random-block":
        return {"min_side": config["hole_min"], "max_side": config["hole_max"]}
    return {"min_area": config["area_min"], "max_area": config["area_max"]}


def validate_config(c: dict) -> None:
    """Raise ConfigError (one line, naming the flag) for an inpainting setting that cannot work."""
    size = c["image_size"]
    if size < 32 or size & (size - 1):
        raise ConfigError(f"--image-size {size} must be a power of two, at least 32 (the networks halve it "
                          "down to 4x4)")
    if c["mask"] not in KINDS:
        raise ConfigError(f"--mask {c['mask']!r} is not one of {', '.join(KINDS)}")
    if c["hole_size"] is not None and not 2 <= c["hole_size"] < size:
        raise ConfigError(f"--hole-size {c['hole_size']} must be at least 2 and smaller than --image-size {size}")
    for low, high, what in (("hole_min", "hole_max", "side"), ("area_min", "area_max", "area")):
        if not 0 < c[low] <= c[high] < 1:
            raise ConfigError(f"--{low.replace('_', '-')} {c[low]} and --{high.replace('_', '-')} {c[high]} "
                              f"must satisfy 0 < min <= max < 1 (hole {what} as a fraction of the image)")
    if c["hole_min"] * size < 2:
        raise ConfigError(f"--hole-min {c['hole_min']} gives holes under 2 px at --image-size {size}")
    if c["load_size"] is not None and c["load_size"] < size:
        raise ConfigError(f"--load-size {c['load_size']} is smaller than the --image-size {size} crop")
    if c["fill"] not in ("zero", "mean"):
        raise ConfigError(f"--fill must be zero or mean, got {c['fill']!r}")
    if c["recon_loss"] not in RECON_LOSSES:
        raise ConfigError(f"--recon-loss must be one of {', '.join(RECON_LOSSES)}, got {c['recon_loss']!r}")
    if c["overlap"] is None:
        c["overlap"] = max(1, content_size(c) // 16)
    if not 0 <= c["overlap"] < content_size(c) // 2:
        raise ConfigError(f"--overlap {c['overlap']} must be between 0 and half the {content_size(c)} px hole "
                          "content")
    for key in ("lr_g", "lr_d", "filters", "bottleneck"):
        if c[key] <= 0:
            raise ConfigError(f"--{key.replace('_', '-')} must be positive")
    for key in ("recon_weight", "adv_weight", "border_weight"):
        if c[key] < 0:
            raise ConfigError(f"--{key.replace('_', '-')} must not be negative")


def build_networks(config) -> dict:
    """{"generator", "discriminator"} of a config."""
    size, f = config["image_size"], config["filters"]
    if config["model"] == "improved":
        return {"generator": models.improved_generator(size, filters=f, bottleneck=config["bottleneck"],
                                                       name="generator"),
                "discriminator": models.improved_discriminator(content_size(config), filters=f,
                                                               name="discriminator")}
    return {"generator": models.context_encoder_generator(size, filters=f, bottleneck=config["bottleneck"],
                                                          name="generator"),
            "discriminator": models.context_encoder_discriminator(content_size(config), filters=f,
                                                                  name="discriminator")}


def build_gan(config, compile=True) -> InpaintingGAN:
    """The InpaintingGAN of a config; compiled with one Adam per network (wrapped for loss scaling under
    a float16 policy) unless compile=False (enough for inference). Build it under the run's policy."""
    nets = build_networks(config)
    model = InpaintingGAN(nets["generator"], nets["discriminator"], fill_value=config.get("fill_value") or 0.0,
                          seed=config["seed"])
    if compile:
        opts = {name: keras.optimizers.Adam(config[f"lr_{name}"], beta_1=config["beta_1"], beta_2=config["beta_2"])
                for name in ("g", "d")}
        if config["mixed_precision"] and needs_loss_scaling():  # float16 (GPU); bfloat16 needs none
            opts = {k: keras.optimizers.LossScaleOptimizer(v) for k, v in opts.items()}
        model.compile(g_optimizer=opts["g"], d_optimizer=opts["d"], recon_loss=config["recon_loss"],
                      recon_weight=config["recon_weight"], adv_weight=config["adv_weight"],
                      overlap=config["overlap"], border_weight=config["border_weight"],
                      jit_compile={"auto": "auto", "on": True, "off": False}[config["jit_compile"]])
    return model
