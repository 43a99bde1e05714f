"""watches' options (one frozen dataclass per preset, in watches.options) and a config dict -> the networks, or
the compiled GAN (no argparse needed).

    from watches.build import build_gan
    gan = build_gan(config)     # e.g. the "config" a checkpoint's state.json or a run's config.json holds

PRESETS holds each model's options (SPEC section 3): the DCGAN baseline with the notes' tricks, and
StyleGAN2-ADA as NVIDIA's `train.py --cfg auto` sets it up at 128 px on one GPU. Each model has only
its own options: one of one model given with the other is refused in one line.
"""

from __future__ import annotations

from functools import lru_cache

import keras

from common.runtime.optimizers import run_optimizers
from watches import models
from watches import stylegan2
from watches.dc_gan import DCGAN
from watches.options import (EXTRACTORS, PRESETS, DCGANOptions, StyleGAN2Options, WatchesOptions,  # noqa: F401
                             ConfigError)
from watches.stylegan2_gan import StyleGAN2


@lru_cache(maxsize=None)
def _resolved_defaults() -> tuple:
    return tuple(StyleGAN2Options().resolved().asdict().items())


def resolved_defaults() -> dict:
    """StyleGAN2's options as a run with no flags resolves them: what a config saved before an option existed
    builds with."""
    return dict(_resolved_defaults())


def build_networks(config) -> dict:
    if config["model"] == "stylegan2":
        return _stylegan2_networks(config)
    size, f = config["image_size"], config["filters"]
    return {"generator": models.dcgan_generator(size, config["latent_dim"], f, name="generator"),
            "discriminator": models.dcgan_discriminator(size, f, dropout=config["d_dropout"],
                                                        patch=config["patch_discriminator"], name="discriminator")}


def _stylegan2_networks(config) -> dict:
    """mapping, synthesis, discriminator and the EMA copies; with --mixed-precision the --mixed-resolutions
    highest resolutions (4) compute in the mixed policy (float16 on a GPU) and everything else in float32."""
    from common.runtime.distribute import mixed_precision_policy

    size, c = config["image_size"], {**resolved_defaults(), **config}
    mixed = (dict(mixed_resolutions=c["mixed_resolutions"], mixed_policy=mixed_precision_policy())
             if c["mixed_precision"] else {})
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")  # layers outside the mixed blocks stay float32
    try:
        nets = {}
        for suffix, noise in (("", "random"), ("_ema", "const")):
            nets["mapping" + suffix] = stylegan2.mapping_network(c["latent_dim"], c["w_dim"], c["mapping_layers"],
                                                                 name="mapping" + suffix)
            nets["synthesis" + suffix] = stylegan2.synthesis_network(
                size, c["w_dim"], c["channel_base"], c["channel_max"], clamp=c["conv_clamp"], noise_mode=noise,
                seed=c["seed"], name="synthesis" + suffix, **mixed)
        nets["discriminator"] = stylegan2.discriminator(size, c["channel_base"], c["channel_max"], c["mbstd_group"],
                                                        clamp=c["conv_clamp"], name="discriminator", **mixed)
    finally:
        keras.config.set_dtype_policy(previous)
    return nets


def build_gan(config, compile=True) -> DCGAN | StyleGAN2:
    """The GAN of a config; compiled with one Adam per network unless compile=False (enough to generate)."""
    if config["model"] == "stylegan2":
        return _build_stylegan2(config, compile)
    nets = build_networks(config)
    model = DCGAN(nets["generator"], nets["discriminator"], latent_dim=config["latent_dim"], seed=config["seed"],
                  ema_kimg=config["g_ema_kimg"])
    if compile:
        opts, jit = run_optimizers(config, {"g": config["lr_g"], "d": config["lr_d"]})
        model.compile(g_optimizer=opts["g"], d_optimizer=opts["d"], label_smoothing=config["label_smoothing"],
                      label_flip=config["label_flip"], instance_noise=config["instance_noise"], jit_compile=jit)
    return model


def _build_stylegan2(config, compile=True) -> StyleGAN2:
    c = {**resolved_defaults(), **config}  # a checkpoint saved before an option existed: its default
    model = StyleGAN2(**build_networks(c), seed=c["seed"], ema_kimg=c["g_ema_kimg"], ema_rampup=c["ema_rampup"],
                      augment_p=c["augment_p"])
    if compile:
        intervals = {"g": c["g_reg_interval"], "d": c["d_reg_interval"]}
        # XLA only when asked for (--jit-compile on): Keras's "auto" turns it on with a GPU, and measured on a
        # CPU the XLA step recompiles at every regularisation step (path length every 4th, R1 every 16th;
        # benchmarks.stylegan2_step), which costs far more than it saves
        opts, jit = run_optimizers(c, {"g": c["lr_g"], "d": c["lr_d"]}, epsilon=1e-8, reg_intervals=intervals,
                                   auto_jit=False)
        model.compile(g_optimizer=opts["g"], d_optimizer=opts["d"], r1_gamma=c["r1_gamma"], pl_weight=c["pl_weight"],
                      style_mixing=c["style_mixing"], g_reg_interval=intervals["g"], d_reg_interval=intervals["d"],
                      pl_batch_shrink=c["pl_batch_shrink"], pl_decay=c["pl_decay"],
                      w_avg_beta=c["w_avg_beta"], augment=c["augment"],
                      augment_target=c["augment_target"], ada_interval=c["ada_interval"],
                      ada_kimg=c["ada_kimg"], jit_compile=jit)
    return model
