"""inpainting's options (one frozen dataclass per preset) and a config dict -> the two networks, or the
compiled InpaintingGAN (no argparse needed).

    from inpainting.build import build_gan
    gan = build_gan(config)     # e.g. the "config" a checkpoint's state.json or a run's config.json holds

The config's keys are the fields of InpaintingOptions (the training flags' names with underscores:
`python -m inpainting.train --help`); PRESETS (inpainting.options) holds each model's values (SPEC section 2).
"""

from __future__ import annotations

from common.runtime.optimizers import run_optimizers
from inpainting import models
from inpainting.inpainting_gan import InpaintingGAN
from inpainting.options import (PRESETS, ContextEncoderOptions, ImprovedOptions, InpaintingOptions,  # noqa: F401
                                content_size)

def mask_options(config) -> dict:
    """The masks.make_masks options of a config's mask kind."""
    kind = config["mask"]
    if kind == "centre":
        return {"hole_size": config["hole_size"] or config["image_size"] // 2}
    if kind == "random-block":
        return {"min_side": config["hole_min"], "max_side": config["hole_max"]}
    return {"min_area": config["area_min"], "max_area": config["area_max"]}


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
                          context=config.get("context", "image"), seed=config["seed"])
    if compile:
        opts, jit = run_optimizers(config, {"g": config["lr_g"], "d": config["lr_d"]})
        model.compile(g_optimizer=opts["g"], d_optimizer=opts["d"], recon_loss=config["recon_loss"],
                      recon_weight=config["recon_weight"], adv_weight=config["adv_weight"],
                      overlap=config["overlap"], border_weight=config["border_weight"], jit_compile=jit)
    return model
