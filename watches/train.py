"""Train an unconditional watch-image GAN.

    python -m watches.train --data kaggle:minhquntntht/wrist-watch-128      # the DCGAN baseline, 128 px
    python -m watches.train --data demo --image-size 32 --filters 8         # built-in demo data, tiny
    python -m watches.train --model stylegan2 --data kaggle:minhquntntht/wrist-watch-128 --max-duration 11h30m
    python -m watches.train --model stylegan2 --cfg cpu --data demo         # StyleGAN2 sized for a CPU, 32 px

DIR (or the Kaggle dataset) is a folder of images, searched recursively. StyleGAN2's --cfg picks its
defaults: auto (NVIDIA's --cfg auto, 128 px) or cpu (32 px, z = w = 64, 2 mapping layers, 128 channels
(64 at 32 px), batch 8: about 0.3 s a step on 2 CPU cores); any flag given overrides them.
"""

import sys

from common.runtime.command import TrainCommand
from watches.options import PRESETS, WatchesOptions

# the task (and TensorFlow with it) is imported once the arguments are parsed: --help stays instant
command = TrainCommand("watches.task:WatchesTask", WatchesOptions, PRESETS, __doc__, name="watches")
parse_config, main = command.parse_config, command.main


def __getattr__(name):  # watches.train.WatchesTask, as before
    if name == "WatchesTask":
        return command.task_cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    sys.exit(main())
