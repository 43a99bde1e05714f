"""Train an inpainting GAN.

    python -m inpainting.train --data DIR                                # SPEC section 2's experiment (default)
    python -m inpainting.train --model context-encoder --data DIR        # the theory chapters' Context Encoder
    python -m inpainting.train --data demo --image-size 32 --filters 8   # built-in demo data, tiny

DIR holds train/ [val/ test/] (see inpainting.prepare), or just images (all used for training);
'kaggle:<owner>/<dataset>' downloads one.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common.runtime.config import add_runtime_arguments, parse_bool, resolve_config  # noqa: E402
from common.runtime.trainer import run_cli  # noqa: E402
from inpainting.build import PRESETS, TASK_DEFAULTS, validate_config  # noqa: E402
from inpainting.inpainting_gan import RECON_LOSSES  # noqa: E402
from inpainting.masks import KINDS  # noqa: E402
from inpainting.task import InpaintingTask  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    S = argparse.SUPPRESS
    parser = argparse.ArgumentParser(prog="python -m inpainting.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    g = parser.add_argument_group("model (every preset value can be overridden)")
    g.add_argument("--model", default=S, choices=sorted(PRESETS),
                   help="improved: the experiment's U-Net, 128 px (default); context-encoder: Pathak et al., 256 px")
    g.add_argument("--filters", type=int, default=S, help="base filters, ngf = ndf (64)")
    g.add_argument("--bottleneck", type=int, default=S, help="channels of the 1x1 bottleneck (improved 2048, "
                                                             "context-encoder 4000)")
    g = parser.add_argument_group("holes")
    g.add_argument("--mask", default=S, choices=KINDS,
                   help="hole shape in training (improved: random-block, context-encoder: centre)")
    g.add_argument("--hole-size", type=int, default=S, metavar="PX", help="centre: hole side (half the image)")
    g.add_argument("--hole-min", type=float, default=S, metavar="F",
                   help="random-block: smallest side, fraction of the image side (0.25)")
    g.add_argument("--hole-max", type=float, default=S, metavar="F", help="random-block: largest side (0.5)")
    g.add_argument("--area-min", type=float, default=S, metavar="F",
                   help="free-form: smallest hole area, fraction of the image (0.1)")
    g.add_argument("--area-max", type=float, default=S, metavar="F", help="free-form: largest hole area (0.4)")
    g.add_argument("--fill", default=S, choices=["zero", "mean"],
                   help="what the hole holds in the generator's input: 0 (improved) or the training images' "
                        "mean colour (context-encoder)")
    g = parser.add_argument_group("augmentation (the source has none; it helps small datasets)")
    g.add_argument("--load-size", type=int, default=S, metavar="PX",
                   help="resize training images to PX x PX and take random --image-size crops (default: no crop)")
    g.add_argument("--random-flip", type=parse_bool, default=S, metavar="BOOL", help="mirror images at random")
    g = parser.add_argument_group("losses and optimisation")
    g.add_argument("--recon-loss", default=S, choices=RECON_LOSSES,
                   help="weighted-l2: border-weighted MSE (improved); l1: L1 over the hole (context-encoder)")
    g.add_argument("--recon-weight", type=float, default=S, help="improved 0.99 (weightRecon); context-encoder 100")
    g.add_argument("--adv-weight", type=float, default=S, help="improved 0.01 (1 - weightRecon); context-encoder 1")
    g.add_argument("--overlap", type=int, default=S, metavar="PX",
                   help="weighted-l2: width of the hole's border band (hole content size / 16: 4 at 64)")
    g.add_argument("--border-weight", type=float, default=S, help="weighted-l2: weight of the border band (10)")
    g.add_argument("--lr-g", type=float, default=S, help="generator's learning rate (2e-4)")
    g.add_argument("--lr-d", type=float, default=S, help="discriminator's learning rate (2e-4)")
    g.add_argument("--beta-1", type=float, default=S, help="Adam beta 1 (0.5)")
    g.add_argument("--beta-2", type=float, default=S, help="Adam beta 2 (0.999)")
    add_runtime_arguments(parser)
    return parser


def parse_config(argv=None) -> dict:
    return resolve_config(build_parser(), argv, task="inpainting", task_defaults=TASK_DEFAULTS,
                          presets=PRESETS, validators=[validate_config])


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    return run_cli(InpaintingTask(), parse_config(argv), argv)


if __name__ == "__main__":
    sys.exit(main())
