"""inpainting's options: one frozen dataclass per preset (SPEC section 2), light to import (no Keras or
TensorFlow), so `python -m inpainting.train --help` is instant. inpainting.build turns a config of them into
networks.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.runtime.config import RuntimeOptions
from common.runtime.options import ConfigError, option, preset

# the hole shapes inpainting.masks draws, and the reconstruction losses inpainting.inpainting_gan knows
KINDS = ("centre", "random-block", "free-form")
RECON_LOSSES = ("weighted-l2", "l1")

MODEL, HOLES = "model (every preset value can be overridden)", "holes"
AUGMENTATION, LOSSES = "augmentation (the source has none; it helps small datasets)", "losses and optimisation"


@dataclass(frozen=True)
class InpaintingOptions(RuntimeOptions):
    """What both inpainting models read; the improved model (SPEC section 2's experiment) is the default."""

    model: str = option("improved", "improved: the experiment's U-Net, 128 px; context-encoder: Pathak et al., "
                                    "256 px", group=MODEL)
    filters: int = option(64, "base filters, ngf = ndf", group=MODEL)
    bottleneck: int = option(2048, "channels of the 1x1 bottleneck", group=MODEL)
    mask: str = option("random-block", "hole shape in training", choices=KINDS, group=HOLES)
    hole_size: int | None = option(None, "centre: hole side", metavar="PX", group=HOLES, none="half the image")
    hole_min: float = option(0.25, "random-block: smallest side, fraction of the image side", metavar="F",
                             group=HOLES)
    hole_max: float = option(0.5, "random-block: largest side", metavar="F", group=HOLES)
    area_min: float = option(0.1, "free-form: smallest hole area, fraction of the image", metavar="F", group=HOLES)
    area_max: float = option(0.4, "free-form: largest hole area", metavar="F", group=HOLES)
    fill: str = option("zero", "what the hole holds in the generator's input: 0 or the training images' mean "
                               "colour", choices=("zero", "mean"), group=HOLES)
    context: str = option("hole", "what the generator sees: hole = a window of twice the hole's box around it, "
                                  "resampled to --image-size (for a centre hole of half the image: the image "
                                  "itself), image = the whole image, as the source", choices=("hole", "image"),
                          group=HOLES)
    # fill "mean": the training images' mean colour [r, g, b] in [-1, 1], measured once (InpaintingTask.prepare)
    fill_value: list | None = option(None, flag=False)
    load_size: int | None = option(None, "resize training images to PX x PX and take random --image-size crops",
                                   metavar="PX", group=AUGMENTATION, none="no crop")
    recon_loss: str = option("weighted-l2", "weighted-l2: MSE, l1: L1, each a weighted mean over the hole and "
                                            "its --overlap band", choices=RECON_LOSSES, group=LOSSES)
    recon_weight: float = option(0.999, "weight of the reconstruction loss (improved: Pathak's wtl2 0.999; the "
                                        "source's weightRecon was 0.99)", group=LOSSES)
    adv_weight: float = option(0.001, "weight of the adversarial loss (improved: 1 - wtl2; the source's was 0.01)",
                               group=LOSSES)
    overlap: int | None = option(None, "width of the band of known pixels around the hole that the generator "
                                       "predicts as well (Pathak's overlapPred), in input pixels", metavar="PX",
                                 group=LOSSES, none="image size / 32: 4 at 128")
    border_weight: float = option(10.0, "weight of the --overlap band in the reconstruction loss (the hole's "
                                        "is 1)", group=LOSSES)
    lr_g: float = option(2e-4, "generator's learning rate", group=LOSSES)
    lr_d: float = option(2e-4, "discriminator's learning rate", group=LOSSES)
    beta_1: float = option(0.5, "Adam beta 1", group=LOSSES)
    beta_2: float = option(0.999, "Adam beta 2", group=LOSSES)
    wandb_project: str | None = "inpainting-context-encoder"

    def validate_types(self) -> None:
        super().validate_types()
        size = self.image_size
        if size < 32 or size & (size - 1):
            raise ConfigError(f"--image-size {size} must be a power of two, at least 32 (the networks halve it "
                              "down to 4x4)")

    def derived(self) -> "InpaintingOptions":
        options = super().derived()
        if options.overlap is None:
            options = options.replace(overlap=max(1, content_size(options.asdict()) // 16))
        return options

    def validate(self) -> None:
        super().validate()
        size = self.image_size
        if self.hole_size is not None and not 2 <= self.hole_size < size:
            raise ConfigError(f"--hole-size {self.hole_size} must be at least 2 and smaller than --image-size {size}")
        for low, high, what in (("hole_min", "hole_max", "side"), ("area_min", "area_max", "area")):
            if not 0 < getattr(self, low) <= getattr(self, high) < 1:
                raise ConfigError(f"--{low.replace('_', '-')} {getattr(self, low)} and --{high.replace('_', '-')} "
                                  f"{getattr(self, high)} must satisfy 0 < min <= max < 1 (hole {what} as a fraction "
                                  "of the image)")
        if self.hole_min * size < 2:
            raise ConfigError(f"--hole-min {self.hole_min} gives holes under 2 px at --image-size {size}")
        if self.load_size is not None and self.load_size < size:
            raise ConfigError(f"--load-size {self.load_size} is smaller than the --image-size {size} crop")
        content = size // 2
        if not 0 <= self.overlap < content // 2:
            raise ConfigError(f"--overlap {self.overlap} must be between 0 and half the {content} px hole content")
        for key in ("lr_g", "lr_d", "filters", "bottleneck"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"--{key.replace('_', '-')} must be positive")
        for key in ("recon_weight", "adv_weight", "border_weight"):
            if getattr(self, key) < 0:
                raise ConfigError(f"--{key.replace('_', '-')} must not be negative")


@preset(model="improved", image_size=128, batch_size=256, epochs=100, seed=999, filters=64, bottleneck=2048,
        mask="random-block", fill="zero", recon_loss="weighted-l2", recon_weight=0.999, adv_weight=0.001,
        checkpoint_every=500, sample_every=250)
class ImprovedOptions(InpaintingOptions):
    """SPEC section 2, the experiment: U-Net generator predicting the 64x64 hole content of a 128x128 image,
    attention discriminator, (1 - w) BCE + w overlap-weighted MSE, batch 256, Adam 2e-4 (0.5, 0.999), 100 epochs,
    seed 999, random block masks. w = 0.999 as Pathak et al.'s wtl2 (paper and train.lua), not the source's
    weightRecon = 0.99: at 0.99 the discriminator wins early and the adversarial term costs about 4 dB of hole
    PSNR at 1,500 CPU steps (benchmarks.inpainting_patterns); --recon-weight 0.99 --adv-weight 0.01 restores it."""


@preset(model="context-encoder", image_size=256, batch_size=64, epochs=25, seed=0, filters=64, bottleneck=4000,
        mask="centre", fill="mean", recon_loss="l1", recon_weight=100.0, adv_weight=1.0, checkpoint_every=500,
        sample_every=250)
class ContextEncoderOptions(InpaintingOptions):
    """SPEC section 2, the theory chapters: Pathak et al.'s Context Encoder at 256 px with a 128 px centre
    hole, no skips, 100 * L1 over the hole and its overlap band (8 px at 256, x10, as train.lua's
    overlapPred 4 at 128) + non-saturating adversarial loss, fill value = the mean colour; batch 64 and
    25 epochs as Pathak et al.'s train.lua."""


PRESETS = {"improved": ImprovedOptions, "context-encoder": ContextEncoderOptions}


def content_size(config) -> int:
    """The side of the hole content the generator predicts (and the discriminator judges): half the image."""
    return config["image_size"] // 2
