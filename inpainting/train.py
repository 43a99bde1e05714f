"""Train an inpainting GAN.

    python -m inpainting.train --data DIR                                # SPEC section 2's experiment (default)
    python -m inpainting.train --model context-encoder --data DIR        # the theory chapters' Context Encoder
    python -m inpainting.train --data demo --image-size 32 --filters 8   # built-in demo data, tiny

DIR holds train/ [val/ test/] (see inpainting.prepare), or just images (all used for training);
'kaggle:<owner>/<dataset>' downloads one.
"""

import sys

from common.runtime.command import TrainCommand
from inpainting.options import PRESETS, InpaintingOptions

# the task (and TensorFlow with it) is imported once the arguments are parsed: --help stays instant
command = TrainCommand("inpainting.task:InpaintingTask", InpaintingOptions, PRESETS, __doc__, name="inpainting")
parse_config, main = command.parse_config, command.main


def __getattr__(name):  # inpainting.train.InpaintingTask, as before
    if name == "InpaintingTask":
        return command.task_cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    sys.exit(main())
