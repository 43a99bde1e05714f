"""Train a night->day CycleGAN.

    python -m night2day.train --model resnet --data DIR          # SPEC model A (the standard CycleGAN)
    python -m night2day.train --epochs 30000                      # SPEC model B, the notebook's settings
    python -m night2day.train --data demo --image-size 64 ...     # built-in demo data

DIR holds trainA/ (night) and trainB/ (day) [+ testA/ testB/]; see night2day.prepare.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common.runtime.trainer import TrainCommand  # noqa: E402
from night2day.build import PRESETS, Night2DayOptions  # noqa: E402
from night2day.task import Night2DayTask  # noqa: E402

command = TrainCommand(Night2DayTask, Night2DayOptions, PRESETS, __doc__)
parse_config, main = command.parse_config, command.main

if __name__ == "__main__":
    sys.exit(main())
