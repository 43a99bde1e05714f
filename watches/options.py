"""watches' options: one frozen dataclass per preset (SPEC section 3), light to import (no Keras or
TensorFlow), so `python -m watches.train --help` is instant. watches.build turns a config of them into
networks. Each model has only its own options: one of one model given with the other is refused in one line.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.runtime.config import RuntimeOptions
from common.runtime.options import ConfigError, option, preset

# StyleGAN2's discriminator augmentations (watches.augment)
AUGMENTS = ("ada", "fixed", "diffaugment", "none")

MODEL, TRICKS = "model (every preset value can be overridden)", "training tricks (the source's notes)"
STYLEGAN2, METRICS = "stylegan2 (NVIDIA's --cfg auto values)", "metrics during training"
EXTRACTORS = ("inception", "inception-2015")  # or the path of a saved Keras feature model (.keras)


def _check(condition, message):
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True)
class WatchesOptions(RuntimeOptions):
    """What both watch GANs read; the DCGAN baseline is the default."""

    model: str = option("dcgan", "dcgan: the baseline; stylegan2: NVIDIA's StyleGAN2-ADA (--cfg auto)", group=MODEL)
    latent_dim: int = option(128, "latent size", group=MODEL)
    g_ema_kimg: float | None = option(0.0, "keep an EMA of G's weights with a half-life of K thousand images, used "
                                           "for samples and export (0 = off)", metavar="K", group=TRICKS,
                                      none="batch * 10/32")
    lr_g: float = option(2e-4, "generator's learning rate", group=TRICKS)
    lr_d: float = option(2e-4, "discriminator's learning rate", group=TRICKS)
    beta_1: float = option(0.5, "Adam beta 1", group=TRICKS)
    beta_2: float = option(0.999, "Adam beta 2", group=TRICKS)
    metrics_every: int = option(0, "log FID and KID of --metrics-fake generated images every N steps (0 = off)",
                                metavar="N", group=METRICS)
    metrics_fake: int = option(1000, "generated images for them", metavar="N", group=METRICS)
    metrics_extractor: str = option("inception", "features: inception (ImageNet InceptionV3), inception-2015 or a "
                                                 "saved Keras feature model (FILE.keras: images -> features)",
                                    metavar="NAME|FILE.keras", group=METRICS)
    wandb_project: str | None = "watches-gan"

    def validate_types(self) -> None:
        super().validate_types()
        _check(self.image_size >= 16 and not self.image_size & (self.image_size - 1),
               f"--image-size {self.image_size} must be a power of two, at least 16")

    def validate(self) -> None:
        super().validate()
        for key in ("lr_g", "lr_d", "latent_dim"):
            _check(getattr(self, key) > 0, f"--{key.replace('_', '-')} must be positive")
        _check(self.metrics_every >= 0 and self.metrics_fake >= 2,
               "--metrics-every must not be negative and --metrics-fake must be at least 2")
        _check(self.g_ema_kimg >= 0, "--g-ema-kimg must not be negative")
        _check(self.metrics_extractor in EXTRACTORS or str(self.metrics_extractor).endswith(".keras"),
               f"--metrics-extractor must be inception, inception-2015 or a .keras feature model file, got "
               f"{self.metrics_extractor!r}")


@preset(model="dcgan", image_size=128, batch_size=64, epochs=100, steps_per_epoch=None, latent_dim=128, lr_g=2e-4,
        lr_d=2e-4, beta_1=0.5, beta_2=0.999, checkpoint_every=1000, sample_every=500)
class DCGANOptions(WatchesOptions):
    """The notes' DCGAN recipe: Adam 2e-4 with beta_1 0.5, soft one-sided labels, 10% flipped labels,
    real and fake in separate batches; 128-px images from a 128-d latent."""

    filters: int = option(64, "base filters of G and D", group=MODEL)
    d_dropout: float = option(0.0, "dropout after each D layer (none in G)", group=MODEL)
    patch_discriminator: bool = option(False, "D scores a grid of patches (14x14 at 128 px) instead of the whole "
                                              "image", group=MODEL)
    label_smoothing: bool = option(True, "soft targets: real in [0.9, 1.0], fake in [0.0, 0.1]", group=TRICKS)
    label_flip: float = option(0.1, "share of D's labels flipped", metavar="P", group=TRICKS)
    instance_noise: float = option(0.0, "Gaussian noise added to every image D sees", metavar="SIGMA", group=TRICKS)

    def validate(self) -> None:
        super().validate()
        _check(not self.patch_discriminator or self.image_size >= 32,
               f"--patch-discriminator needs --image-size of at least 32, got {self.image_size}")
        _check(self.filters > 0, "--filters must be positive")
        _check(0 <= self.label_flip < 0.5, f"--label-flip {self.label_flip} must be in [0, 0.5)")
        _check(0 <= self.d_dropout < 1, f"--d-dropout {self.d_dropout} must be in [0, 1)")
        _check(self.instance_noise >= 0, "--instance-noise must not be negative")


@preset(model="stylegan2", image_size=128, batch_size=32, epochs=1600, steps_per_epoch=None, latent_dim=512,
        lr_g=0.0025, lr_d=0.0025, beta_1=0.0, beta_2=0.99, g_ema_kimg=None, checkpoint_every=1000,
        sample_every=500)
class StyleGAN2Options(WatchesOptions):
    """NVIDIA's --cfg auto at 128 px: batch 32, Adam 0.0025 betas (0, 0.99), R1 gamma 0.0002 res^2 / batch,
    path length 2, style mixing 0.9, G EMA batch * 10/32 kimg ramped up over 0.05, ADA towards r_t 0.6;
    1600 epochs of the 15.5k images is its 25,000 kimg. The training loop's constants (training_loop.py,
    loss.py, networks.py) are options too, with NVIDIA's values."""

    cfg: str = option("auto", "auto: NVIDIA's --cfg auto (the defaults shown); cpu: a model a CPU trains (32 px, "
                              "z = w = 64, 2 mapping layers, at most 128 channels, batch 8: about 0.3 s a step on "
                              "2 cores); flags given override either", choices=("auto", "cpu"), group=STYLEGAN2)
    w_dim: int = option(512, "intermediate latent size", group=STYLEGAN2)
    mapping_layers: int = option(2, "mapping network depth", group=STYLEGAN2)
    channel_base: int = option(16384, "channels at a resolution: min(BASE / res, max)", group=STYLEGAN2)
    channel_max: int = option(512, "the most channels at any resolution", group=STYLEGAN2)
    r1_gamma: float | None = option(None, "R1 weight", group=STYLEGAN2,
                                    none="0.0002 * size^2 / batch: 0.1024 at 128 px, 32")
    d_reg_interval: int = option(16, "R1 every N steps (lazy regularisation; lr and betas corrected)", metavar="N",
                                 group=STYLEGAN2)
    pl_weight: float = option(2.0, "path-length regularisation weight (0 = off)", group=STYLEGAN2)
    g_reg_interval: int = option(4, "path length every N steps (lazy regularisation; lr and betas corrected)",
                                 metavar="N", group=STYLEGAN2)
    pl_batch_shrink: int = option(2, "path length on batch / N images", metavar="N", group=STYLEGAN2)
    pl_decay: float = option(0.01, "decay of the path-length mean's running average", group=STYLEGAN2)
    style_mixing: float = option(0.9, "style-mixing probability", metavar="P", group=STYLEGAN2)
    w_avg_beta: float = option(0.995, "decay of the tracked average w (the truncation centre)", group=STYLEGAN2)
    ema_rampup: float | None = option(None, "G EMA ramp-up, share of images seen (0 = off)", group=STYLEGAN2,
                                      none="0.05; 0 with --init-from, NVIDIA's transfer learning")
    augment: str = option("ada", "D augmentation: ada (adaptive p), fixed (p = --augment-p), diffaugment, none",
                          choices=AUGMENTS, group=STYLEGAN2)
    augment_p: float = option(0.0, "augmentation probability to start with", metavar="P", group=STYLEGAN2)
    augment_target: float = option(0.6, "ADA's target r_t = E[sign D(real)]", group=STYLEGAN2)
    ada_interval: int = option(4, "ADA adjusts p every N steps", metavar="N", group=STYLEGAN2)
    ada_kimg: float | None = option(None, "ADA's speed: p can go from 0 to 1 in K thousand images", metavar="K",
                                    group=STYLEGAN2, none="500; 100 with --init-from, NVIDIA's transfer learning")
    conv_clamp: float | None = option(256.0, "clamp activations to +-this", group=STYLEGAN2)
    mixed_resolutions: int = option(4, "with --mixed-precision, the N highest resolutions compute in it (NVIDIA's "
                                       "num_fp16_res)", metavar="N", group=STYLEGAN2)
    mbstd_group: int = option(4, "minibatch standard deviation group size", group=STYLEGAN2)

    def __new__(cls, *args, **values):
        # --cfg picks the defaults: StyleGAN2Options(cfg="cpu", ...) is a StyleGAN2CPUOptions, whose class
        # defaults are the CPU values, so only the options given override them (the dataclass's replace and
        # the config resolution build options this way too)
        if "cfg" in values and values["cfg"] in CFGS:
            cls = CFGS[values["cfg"]]
        return super().__new__(cls)

    def validate_types(self) -> None:
        super().validate_types()
        group = min(self.mbstd_group, self.batch_size)
        _check(self.mbstd_group >= 1 and not self.batch_size % group,
               f"--batch-size {self.batch_size} must be a multiple of the minibatch-std group {self.mbstd_group}")

    def derived(self) -> "StyleGAN2Options":
        options = super().derived()
        batch, size = options.batch_size, options.image_size
        if options.r1_gamma is None:
            options = options.replace(r1_gamma=0.0002 * size ** 2 / batch)  # NVIDIA's --cfg auto heuristic
        if options.g_ema_kimg is None:
            options = options.replace(g_ema_kimg=batch * 10 / 32)
        transfer = options.init_from is not None  # NVIDIA's train.py --resume: ADA reacts faster, no EMA ramp-up
        if options.ada_kimg is None:
            options = options.replace(ada_kimg=100.0 if transfer else 500.0)
        if options.ema_rampup is None:
            options = options.replace(ema_rampup=0.0 if transfer else 0.05)
        return options

    def validate(self) -> None:
        super().validate()
        for key in ("r1_gamma", "pl_weight", "ema_rampup", "pl_decay", "ada_kimg"):
            _check(getattr(self, key) >= 0, f"--{key.replace('_', '-')} must not be negative")
        for key in ("style_mixing", "augment_p", "augment_target", "w_avg_beta"):
            value = getattr(self, key)
            _check(0 <= value <= 1, f"--{key.replace('_', '-')} {value} must be in [0, 1]")
        for key in ("w_dim", "mapping_layers", "channel_base", "channel_max", "g_reg_interval", "d_reg_interval",
                    "pl_batch_shrink", "ada_interval"):
            _check(getattr(self, key) >= 1, f"--{key.replace('_', '-')} must be positive")
        _check(self.mixed_resolutions >= 0, "--mixed-resolutions must not be negative")
        _check(self.conv_clamp is None or self.conv_clamp > 0, "--conv-clamp must be positive")


@preset(cfg="cpu", image_size=32, batch_size=8, latent_dim=64, w_dim=64, mapping_layers=2, channel_base=2048,
        channel_max=128, sample_every=200)
class StyleGAN2CPUOptions(StyleGAN2Options):
    """--model stylegan2 --cfg cpu: the same training (NVIDIA's losses, lazy regularisation, ADA, EMA; R1 gamma
    and the EMA half-life follow from size and batch as in --cfg auto) with networks a CPU trains: 32 px,
    z = w = 64, 2 mapping layers, 128 channels (64 at 32 px), batch 8 (measured on 2 CPU cores: the first
    step after 18 s, then 0.29 s a step; `python -m benchmarks.stylegan2_step --cfg cpu`)."""


# the defaults --cfg selects (StyleGAN2Options.__new__)
CFGS = {"auto": StyleGAN2Options, "cpu": StyleGAN2CPUOptions}

PRESETS = {"dcgan": DCGANOptions, "stylegan2": StyleGAN2Options}
