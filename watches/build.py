"""A watches config dict -> the networks, or the compiled GAN (no argparse needed).

    from watches.build import build_gan
    gan = build_gan(config)     # e.g. the "config" a checkpoint's state.json or a run's config.json holds

PRESETS holds each model's values (SPEC section 3): the DCGAN baseline with the notes' tricks, and
StyleGAN2-ADA as NVIDIA's `train.py --cfg auto` sets it up at 128 px on one GPU. Settings of one model
given with the other are refused in one line.
"""

from __future__ import annotations

import keras

from common.runtime.config import ConfigError
from common.runtime.distribute import needs_loss_scaling
from watches import models
from watches import stylegan2
from watches.dc_gan import DCGAN
from watches.stylegan2_gan import StyleGAN2

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
    # NVIDIA's --cfg auto at 128 px: batch 32, Adam 0.0025 betas (0, 0.99), R1 gamma 0.0002 res^2 / batch,
    # path length 2, style mixing 0.9, G EMA batch * 10/32 kimg ramped up over 0.05, ADA towards r_t 0.6;
    # 1600 epochs of the 15.5k images is its 25,000 kimg
    "stylegan2": {
        "model": "stylegan2", "image_size": 128, "batch_size": 32, "epochs": 1600, "steps_per_epoch": None,
        "latent_dim": 512, "w_dim": 512, "mapping_layers": 2, "channel_base": 16384, "channel_max": 512,
        "lr_g": 0.0025, "lr_d": 0.0025, "beta_1": 0.0, "beta_2": 0.99,
        "r1_gamma": None, "pl_weight": 2.0, "style_mixing": 0.9, "g_ema_kimg": None, "ema_rampup": 0.05,
        "augment": "ada", "augment_p": 0.0, "augment_target": 0.6, "conv_clamp": 256.0, "mbstd_group": 4,
        "checkpoint_every": 1000, "sample_every": 500,
    },
}
# keys only one model reads: giving one with the other model is an error
MODEL_KEYS = {
    "dcgan": ("filters", "d_dropout", "patch_discriminator", "label_smoothing", "label_flip", "instance_noise"),
    "stylegan2": ("w_dim", "mapping_layers", "channel_base", "channel_max", "r1_gamma", "pl_weight",
                  "style_mixing", "ema_rampup", "augment", "augment_p", "augment_target", "conv_clamp",
                  "mbstd_group"),
}
G_REG_INTERVAL, D_REG_INTERVAL = 4, 16

TASK_DEFAULTS = {"model": "dcgan", "wandb_project": "watches-gan", "mirror": False, "g_ema_kimg": 0.0,
                 "metrics_every": 0, "metrics_fake": 1000, "metrics_extractor": "inception"}


def validate_config(c: dict) -> None:
    """Raise ConfigError (one line, naming the flag) for a watches setting that cannot work; fill in the
    StyleGAN2 values derived from the batch size (R1 gamma, EMA half-life) when left automatic."""
    model = c["model"]
    for other, keys in MODEL_KEYS.items():
        wrong = [k for k in keys if other != model and k in c.get("explicit_keys", ())]
        if wrong:
            raise ConfigError(f"--{wrong[0].replace('_', '-')} applies to --model {other} only, not {model}")
    size = c["image_size"]
    if size < 16 or size & (size - 1):
        raise ConfigError(f"--image-size {size} must be a power of two, at least 16")
    for key in ("lr_g", "lr_d", "latent_dim"):
        if c[key] <= 0:
            raise ConfigError(f"--{key.replace('_', '-')} must be positive")
    if c["metrics_every"] < 0 or c["metrics_fake"] < 2:
        raise ConfigError("--metrics-every must not be negative and --metrics-fake must be at least 2")
    if c["metrics_extractor"] not in ("inception", "inception-2015") and \
            not str(c["metrics_extractor"]).endswith(".keras"):
        raise ConfigError(f"--metrics-extractor must be inception, inception-2015 or a .keras feature model file, got "
                          f"{c['metrics_extractor']!r}")
    if model == "stylegan2":
        _validate_stylegan2(c)
        return
    if c["patch_discriminator"] and size < 32:
        raise ConfigError(f"--patch-discriminator needs --image-size of at least 32, got {size}")
    if c["filters"] <= 0:
        raise ConfigError("--filters must be positive")
    if not 0 <= c["label_flip"] < 0.5:
        raise ConfigError(f"--label-flip {c['label_flip']} must be in [0, 0.5)")
    if not 0 <= c["d_dropout"] < 1:
        raise ConfigError(f"--d-dropout {c['d_dropout']} must be in [0, 1)")
    for key in ("instance_noise", "g_ema_kimg"):
        if c[key] < 0:
            raise ConfigError(f"--{key.replace('_', '-')} must not be negative")


def _validate_stylegan2(c: dict) -> None:
    batch, size = c["batch_size"], c["image_size"]
    group = min(c["mbstd_group"], batch)
    if c["mbstd_group"] < 1 or batch % group:
        raise ConfigError(f"--batch-size {batch} must be a multiple of the minibatch-std group {c['mbstd_group']}")
    if c["r1_gamma"] is None:
        c["r1_gamma"] = 0.0002 * size ** 2 / batch  # NVIDIA's --cfg auto heuristic
    if c["g_ema_kimg"] is None:
        c["g_ema_kimg"] = batch * 10 / 32
    for key in ("r1_gamma", "pl_weight", "g_ema_kimg", "ema_rampup"):
        if c[key] < 0:
            raise ConfigError(f"--{key.replace('_', '-')} must not be negative")
    for key in ("style_mixing", "augment_p", "augment_target"):
        if not 0 <= c[key] <= 1:
            raise ConfigError(f"--{key.replace('_', '-')} {c[key]} must be in [0, 1]")
    if c["augment"] not in ("ada", "fixed", "diffaugment", "none"):
        raise ConfigError(f"--augment must be ada, fixed, diffaugment or none, got {c['augment']!r}")
    for key in ("w_dim", "mapping_layers", "channel_base", "channel_max"):
        if c[key] < 1:
            raise ConfigError(f"--{key.replace('_', '-')} must be positive")
    if c["conv_clamp"] is not None and c["conv_clamp"] <= 0:
        raise ConfigError("--conv-clamp must be positive")


def build_networks(config) -> dict:
    if config["model"] == "stylegan2":
        return _stylegan2_networks(config)
    size, f = config["image_size"], config["filters"]
    return {"generator": models.dcgan_generator(size, config["latent_dim"], f, name="generator"),
            "discriminator": models.dcgan_discriminator(size, f, dropout=config["d_dropout"],
                                                        patch=config["patch_discriminator"], name="discriminator")}


def _stylegan2_networks(config) -> dict:
    """mapping, synthesis, discriminator and the EMA copies; with --mixed-precision the four highest
    resolutions compute in the mixed policy (float16 on a GPU) and everything else in float32."""
    from common.runtime.distribute import mixed_precision_policy

    size, c = config["image_size"], config
    mixed = dict(mixed_resolutions=4, mixed_policy=mixed_precision_policy()) if c["mixed_precision"] else {}
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


def lazy_regularization(lr, betas, interval):
    """NVIDIA's correction for regularising every `interval` steps: lr and betas ** (interval / (interval + 1))."""
    ratio = interval / (interval + 1)
    return lr * ratio, tuple(b ** ratio for b in betas)


def build_gan(config, compile=True) -> DCGAN | StyleGAN2:
    """The GAN of a config; compiled with one Adam per network unless compile=False (enough to generate)."""
    if config["model"] == "stylegan2":
        return _build_stylegan2(config, compile)
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


def _build_stylegan2(config, compile=True) -> StyleGAN2:
    c = config
    model = StyleGAN2(**build_networks(c), seed=c["seed"], ema_kimg=c["g_ema_kimg"], ema_rampup=c["ema_rampup"],
                      augment_p=c["augment_p"])
    if compile:
        opts = {}
        for name, interval in (("g", G_REG_INTERVAL), ("d", D_REG_INTERVAL)):
            lr, (b1, b2) = lazy_regularization(c[f"lr_{name}"], (c["beta_1"], c["beta_2"]), interval)
            opts[name] = keras.optimizers.Adam(lr, beta_1=b1, beta_2=b2, epsilon=1e-8)
        if c["mixed_precision"] and needs_loss_scaling():
            opts = {k: keras.optimizers.LossScaleOptimizer(v) for k, v in opts.items()}
        model.compile(g_optimizer=opts["g"], d_optimizer=opts["d"], r1_gamma=c["r1_gamma"], pl_weight=c["pl_weight"],
                      style_mixing=c["style_mixing"], g_reg_interval=G_REG_INTERVAL, d_reg_interval=D_REG_INTERVAL,
                      augment=c["augment"], augment_target=c["augment_target"],
                      jit_compile=c["jit_compile"] == "on")
    # XLA only when asked for (--jit-compile on): Keras's "auto" turns it on with a GPU, and measured on a
    # CPU the XLA step recompiles at every regularisation step (path length every 4th, R1 every 16th;
    # benchmarks.stylegan2_step), which costs far more than it saves
    return model
