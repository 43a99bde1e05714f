"""Train an unconditional watch-image GAN.

    python -m watches.train --data kaggle:minhquntntht/wrist-watch-128      # the DCGAN baseline, 128 px
    python -m watches.train --data demo --image-size 32 --filters 8         # built-in demo data, tiny
    python -m watches.train --model stylegan2 --data kaggle:minhquntntht/wrist-watch-128 --max-duration 11h30m

DIR (or the Kaggle dataset) is a folder of images, searched recursively.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common.metrics.evaluate import extractor_arg  # noqa: E402
from common.runtime.config import add_runtime_arguments, parse_bool, resolve_config  # noqa: E402
from common.runtime.trainer import run_cli  # noqa: E402
from watches.build import PRESETS, TASK_DEFAULTS, validate_config  # noqa: E402
from watches.task import WatchesTask  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    S = argparse.SUPPRESS
    parser = argparse.ArgumentParser(prog="python -m watches.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    g = parser.add_argument_group("model (every preset value can be overridden)")
    g.add_argument("--model", default=S, choices=sorted(PRESETS),
                   help="dcgan: the baseline (default); stylegan2: NVIDIA's StyleGAN2-ADA (--cfg auto)")
    g.add_argument("--latent-dim", type=int, default=S, help="latent size (dcgan 128, stylegan2 512)")
    g.add_argument("--filters", type=int, default=S, help="base filters of G and D (64)")
    g.add_argument("--d-dropout", type=float, default=S, help="dropout after each D layer (0; none in G)")
    g.add_argument("--patch-discriminator", type=parse_bool, default=S, metavar="BOOL",
                   help="D scores a grid of patches (14x14 at 128 px) instead of the whole image")
    g = parser.add_argument_group("training tricks (the source's notes)")
    g.add_argument("--label-smoothing", type=parse_bool, default=S, metavar="BOOL",
                   help="soft targets: real in [0.9, 1.0], fake in [0.0, 0.1] (true)")
    g.add_argument("--label-flip", type=float, default=S, metavar="P", help="share of D's labels flipped (0.1)")
    g.add_argument("--instance-noise", type=float, default=S, metavar="SIGMA",
                   help="Gaussian noise added to every image D sees (0)")
    g.add_argument("--mirror", type=parse_bool, default=S, metavar="BOOL", help="random horizontal flips (false)")
    g.add_argument("--g-ema-kimg", type=float, default=S, metavar="K",
                   help="keep an EMA of G's weights with a half-life of K thousand images, used for samples and "
                        "export (dcgan: 0 = off; stylegan2: batch * 10/32)")
    g.add_argument("--lr-g", type=float, default=S, help="generator's learning rate (dcgan 2e-4, stylegan2 0.0025)")
    g.add_argument("--lr-d", type=float, default=S, help="discriminator's learning rate (dcgan 2e-4, stylegan2 0.0025)")
    g.add_argument("--beta-1", type=float, default=S, help="Adam beta 1 (dcgan 0.5, stylegan2 0)")
    g.add_argument("--beta-2", type=float, default=S, help="Adam beta 2 (dcgan 0.999, stylegan2 0.99)")
    g = parser.add_argument_group("stylegan2 (NVIDIA's --cfg auto values)")
    g.add_argument("--w-dim", type=int, default=S, help="intermediate latent size (512)")
    g.add_argument("--mapping-layers", type=int, default=S, help="mapping network depth (2)")
    g.add_argument("--channel-base", type=int, default=S, help="channels at a resolution: min(BASE / res, max) (16384)")
    g.add_argument("--channel-max", type=int, default=S, help="(512)")
    g.add_argument("--r1-gamma", type=float, default=S, help="R1 weight (0.0002 * size^2 / batch: 0.1024 at 128 px, 32)")
    g.add_argument("--pl-weight", type=float, default=S, help="path-length regularisation weight (2; 0 = off)")
    g.add_argument("--style-mixing", type=float, default=S, metavar="P", help="style-mixing probability (0.9)")
    g.add_argument("--ema-rampup", type=float, default=S, help="G EMA ramp-up, share of images seen (0.05; 0 = off)")
    g.add_argument("--augment", default=S, choices=["ada", "fixed", "diffaugment", "none"],
                   help="D augmentation: ada (adaptive p, default), fixed (p = --augment-p), diffaugment, none")
    g.add_argument("--augment-p", type=float, default=S, metavar="P", help="augmentation probability to start with (0)")
    g.add_argument("--augment-target", type=float, default=S, help="ADA's target r_t = E[sign D(real)] (0.6)")
    g.add_argument("--conv-clamp", type=float, default=S, help="clamp activations to +-this (256)")
    g.add_argument("--mbstd-group", type=int, default=S, help="minibatch standard deviation group size (4)")
    g = parser.add_argument_group("metrics during training")
    g.add_argument("--metrics-every", type=int, default=S, metavar="N",
                   help="log FID and KID of --metrics-fake generated images every N steps (0 = off)")
    g.add_argument("--metrics-fake", type=int, default=S, metavar="N", help="generated images for them (1000)")
    g.add_argument("--metrics-extractor", default=S, type=extractor_arg, metavar="NAME|FILE.keras",
                   help="features: inception (ImageNet InceptionV3, default), inception-2015 or a saved Keras "
                        "feature model (FILE.keras: images -> features)")
    add_runtime_arguments(parser)
    return parser


def parse_config(argv=None) -> dict:
    return resolve_config(build_parser(), argv, task="watches", task_defaults=TASK_DEFAULTS, presets=PRESETS,
                          validators=[validate_config])


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    return run_cli(WatchesTask(), parse_config(argv), argv)


if __name__ == "__main__":
    sys.exit(main())
