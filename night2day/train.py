"""Train a night->day CycleGAN.

    python -m night2day.train --model resnet --data DIR          # SPEC model A (the standard CycleGAN)
    python -m night2day.train --epochs 30000                      # SPEC model B, the notebook's settings
    python -m night2day.train --data demo --image-size 64 ...     # built-in demo data

DIR holds trainA/ (night) and trainB/ (day) [+ testA/ testB/]; see night2day.prepare.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common.runtime.config import add_runtime_arguments, parse_bool, resolve_config  # noqa: E402
from common.runtime.trainer import run_cli  # noqa: E402
from night2day.build import PRESETS, TASK_DEFAULTS, validate_config  # noqa: E402
from night2day.task import Night2DayTask  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    S = argparse.SUPPRESS
    parser = argparse.ArgumentParser(prog="python -m night2day.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    g = parser.add_argument_group("model (every preset value can be overridden)")
    g.add_argument("--model", default=S, choices=sorted(PRESETS),
                   help="resnet: SPEC model A; multiscale: SPEC model B (default)")
    g.add_argument("--filters", type=int, default=S, help="base filters (resnet 64, multiscale 16)")
    g.add_argument("--res-blocks", type=int, default=S, help="resnet: residual blocks (9)")
    g.add_argument("--kernel-size", type=int, default=S, help="multiscale: inception kernel (5)")
    g.add_argument("--fusion-kernel", type=int, default=S,
                   help="multiscale: kernel of the x16 fusion transpose conv (16; 5 reproduces the notebook)")
    g.add_argument("--weight-init", default=S, choices=["normal", "keras"],
                   help="normal: N(0, 0.02) kernels and N(1, 0.02) norm scales, as both CycleGAN references "
                        "(resnet default); keras: Keras's default initialisers (multiscale default, as its notebook)")
    g.add_argument("--inception-residual", type=parse_bool, default=S,
                   metavar="BOOL", help="multiscale: add the 1x1-conv residual to each inception module")
    g = parser.add_argument_group("optimisation")
    g.add_argument("--lr-g", type=float, default=S, help="generators' learning rate")
    g.add_argument("--lr-d", type=float, default=S, help="discriminators' learning rate")
    g.add_argument("--beta-1", type=float, default=S)
    g.add_argument("--beta-2", type=float, default=S)
    g.add_argument("--inverse-time-decay", type=float, default=S, metavar="RATE",
                   help="lr / (1 + RATE * iteration), legacy Keras Adam(decay=RATE) (multiscale: 6e-8)")
    g.add_argument("--decay-epochs", type=int, default=S, metavar="K",
                   help="linearly decay the learning rates to 0 over the last K epochs (CycleGAN paper; 0 = off)")
    g.add_argument("--cycle-weight", type=float, default=S, help="weight of each cycle term (10)")
    g.add_argument("--identity-weight", type=float, default=S,
                   help="weight of each identity term (resnet 5 = 10 x 0.5; multiscale 0.5)")
    g.add_argument("--load-size", type=int, default=S, metavar="PX",
                   help="resnet: resize to PX x PX before the random --image-size crop (default 720/256 x "
                        "--image-size: the source's 720 at 256); samples and evaluation run at this scale")
    g.add_argument("--history-pool", type=int, default=S, metavar="N",
                   help="show D a buffer of the last N fakes (resnet 50, as the CycleGAN paper and reference code; "
                        "multiscale 0, as its notebook; 0 = off)")
    add_runtime_arguments(parser)
    return parser


def parse_config(argv=None) -> dict:
    return resolve_config(build_parser(), argv, task="night2day", task_defaults=TASK_DEFAULTS,
                          presets=PRESETS, validators=[validate_config])


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    return run_cli(Night2DayTask(), parse_config(argv), argv)


if __name__ == "__main__":
    sys.exit(main())
