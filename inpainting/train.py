"""Train an inpainting GAN.

    python -m inpainting.train --data DIR                                # SPEC section 2's experiment (default)
    python -m inpainting.train --model context-encoder --data DIR        # the theory chapters' Context Encoder
    python -m inpainting.train --data demo --image-size 32 --filters 8   # built-in demo data, tiny

DIR holds train/ [val/ test/] (see inpainting.prepare), or just images (all used for training);
'kaggle:<owner>/<dataset>' downloads one.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common.runtime.trainer import TrainCommand  # noqa: E402
from inpainting.build import PRESETS, InpaintingOptions  # noqa: E402
from inpainting.task import InpaintingTask  # noqa: E402

command = TrainCommand(InpaintingTask, InpaintingOptions, PRESETS, __doc__)
parse_config, main = command.parse_config, command.main

if __name__ == "__main__":
    sys.exit(main())
