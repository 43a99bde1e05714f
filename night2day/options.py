"""night2day's options: one frozen dataclass per preset (SPEC section 1), light to import (no Keras), so
`python -m night2day.train --help` is instant. night2day.build turns a config of them into networks.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.runtime.config import RuntimeOptions
from common.runtime.options import ConfigError, option, preset

# the ResNet notebook resized 1280x720 frames to 720x720 before taking 256x256 crops
RESNET_LOAD_RATIO = 720 / 256

MODEL, OPTIMISATION = "model (every preset value can be overridden)", "optimisation"


@dataclass(frozen=True)
class Night2DayOptions(RuntimeOptions):
    """What both CycleGANs read; the multi-scale model (SPEC model B) is the default."""

    model: str = option("multiscale", "resnet: SPEC model A; multiscale: SPEC model B", group=MODEL)
    filters: int = option(16, "base filters", group=MODEL)
    res_blocks: int = option(9, "resnet: residual blocks", group=MODEL)
    kernel_size: int = option(5, "multiscale: inception kernel", group=MODEL)
    fusion_kernel: int = option(16, "multiscale: kernel of the x16 fusion transpose conv (5 reproduces the "
                                    "notebook)", group=MODEL)
    weight_init: str = option("keras", "normal: N(0, 0.02) kernels and N(1, 0.02) norm scales, as both CycleGAN "
                                       "references; keras: Keras's default initialisers, as the multiscale notebook",
                              choices=("normal", "keras"), group=MODEL)
    inception_residual: bool = option(False, "multiscale: add the 1x1-conv residual to each inception module",
                                      group=MODEL)
    lr_g: float = option(5e-5, "generators' learning rate", group=OPTIMISATION)
    lr_d: float = option(1e-4, "discriminators' learning rate", group=OPTIMISATION)
    beta_1: float = option(0.9, "Adam beta 1", group=OPTIMISATION)
    beta_2: float = option(0.999, "Adam beta 2", group=OPTIMISATION)
    inverse_time_decay: float = option(6e-8, "lr / (1 + RATE * iteration), legacy Keras Adam(decay=RATE)",
                                       metavar="RATE", group=OPTIMISATION)
    decay_epochs: int = option(0, "linearly decay the learning rates to 0 over the last K epochs (CycleGAN paper; "
                                  "0 = off)", metavar="K", group=OPTIMISATION)
    cycle_weight: float = option(10.0, "weight of each cycle term", group=OPTIMISATION)
    identity_weight: float = option(0.5, "weight of each identity term (resnet: 10 x 0.5)", group=OPTIMISATION)
    load_size: int | None = option(None, "resnet: resize to PX x PX before the random --image-size crop; samples "
                                         "and evaluation run at this scale", metavar="PX", group=OPTIMISATION,
                                   none="resnet 720/256 x --image-size, the source's 720 at 256; multiscale "
                                        "--image-size")
    history_pool: int = option(0, "show D a buffer of the last N fakes (0 = off)", metavar="N", group=OPTIMISATION)
    wandb_project: str | None = "night2day-cyclegan"

    def derived(self) -> "Night2DayOptions":
        options = super().derived()
        if options.load_size is None:
            options = options.replace(load_size=default_load_size(options.model, options.image_size))
        return options

    def validate(self) -> None:
        super().validate()
        step = 32 if self.model == "multiscale" else 4
        if self.image_size % step:
            raise ConfigError(f"--image-size {self.image_size} must be divisible by {step} for the {self.model} "
                              "model")
        if self.model == "resnet" and self.image_size < 24:
            raise ConfigError(f"--image-size {self.image_size} is too small for the resnet model: its PatchGAN needs "
                              "at least 24 px (it scores (size / 8 - 2)^2 patches)")
        if self.model == "multiscale" and self.load_size != self.image_size:
            raise ConfigError("--load-size must equal --image-size for the multiscale model (it does not crop)")
        if self.load_size < self.image_size:
            raise ConfigError(f"--load-size {self.load_size} is smaller than the --image-size {self.image_size} crop")
        if self.model == "multiscale" and self.weight_init != "keras":
            raise ConfigError("--weight-init normal is for the resnet model; the multiscale notebook used Keras's")
        for key in ("lr_g", "lr_d"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"--{key.replace('_', '-')} must be positive")
        if self.decay_epochs < 0 or self.decay_epochs > self.epochs:
            raise ConfigError("--decay-epochs must be between 0 and --epochs")


@preset(model="resnet", image_size=256, batch_size=1, epochs=100, steps_per_epoch=None, filters=64, res_blocks=9,
        weight_init="normal", lr_g=2e-4, lr_d=2e-4, beta_1=0.5, beta_2=0.999, inverse_time_decay=0.0,
        cycle_weight=10.0, identity_weight=5.0, history_pool=50, checkpoint_every=1000, sample_every=500, flip=True)
class ResNetOptions(Night2DayOptions):
    """SPEC section 1, model A: batch 1, Adam 2e-4 (0.5, 0.999), cycle 10, identity 10 * 0.5, random flips; and,
    as the CycleGAN paper and its reference code, D sees a history pool of the last 50 fakes."""


@preset(model="multiscale", image_size=256, batch_size=4, epochs=30000, steps_per_epoch=1, filters=16,
        kernel_size=5, fusion_kernel=16, inception_residual=False, weight_init="keras", lr_g=5e-5, lr_d=1e-4,
        beta_1=0.9, beta_2=0.999, inverse_time_decay=6e-8, cycle_weight=10.0, identity_weight=0.5,
        checkpoint_every=2000, sample_every=1000, flip=False)
class MultiScaleOptions(Night2DayOptions):
    """SPEC section 1, model B: batch 4, Adam default betas, D 1e-4, G 5e-5, legacy decay 6e-8, 30,000
    one-batch epochs, checkpoint every 2,000, images every 1,000."""


PRESETS = {"resnet": ResNetOptions, "multiscale": MultiScaleOptions}


def default_load_size(model: str, image_size: int) -> int:
    """The size images are resized to before the random crop: the scale the model learns at."""
    return round(image_size * RESNET_LOAD_RATIO) if model == "resnet" else image_size
