"""Train a night->day CycleGAN.

    python -m night2day.train --model resnet --data DIR          # SPEC model A (the standard CycleGAN)
    python -m night2day.train --epochs 30000                      # SPEC model B, the notebook's settings
    python -m night2day.train --data demo --image-size 64 ...     # built-in demo data

DIR holds trainA/ (night) and trainB/ (day) [+ testA/ testB/]; see night2day.prepare.
"""

import sys

from common.runtime.command import TrainCommand
from night2day.options import PRESETS, Night2DayOptions

# the task (and TensorFlow with it) is imported once the arguments are parsed: --help stays instant
command = TrainCommand("night2day.task:Night2DayTask", Night2DayOptions, PRESETS, __doc__, name="night2day")
parse_config, main = command.parse_config, command.main


def __getattr__(name):  # night2day.train.Night2DayTask, as before
    if name == "Night2DayTask":
        return command.task_cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    sys.exit(main())
