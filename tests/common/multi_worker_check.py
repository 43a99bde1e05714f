"""One process of a `--strategy multi-worker` run through the real runtime (or its one-process reference).

    TF_CONFIG='{"cluster": {"worker": [...]}, "task": {...}}' \
        python -m tests.common.multi_worker_check [--hold-at-step N] -- <python -m night2day.train flags>

Trains night2day's task with `common.runtime.trainer.train`; `--logical-cpus 2 -- ... --strategy mirrored`
is the one-process reference with the same two replicas. `--hold-at-step N` stops this
process after step N (after the chief's checkpoint of step N is written; the runtime's callbacks
come first): it touches `<--out>/../hold-<pid>` and sleeps until the test kills it, so a kill
lands mid-run at a known step without any timing. Prints one JSON line at the end.
Run as a subprocess: MultiWorkerMirroredStrategy must be made before TensorFlow runs anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402


class HoldAtStep(keras.callbacks.Callback):
    """After global step `step`: mark the moment in a file, then wait to be killed (bounded: 10 minutes)."""

    def __init__(self, step: int, marker: Path):
        super().__init__()
        self.step = step
        self.marker = marker
        self.seen = None

    def on_train_begin(self, logs=None):
        self.seen = int(next(iter(self.model.optimizers.values())).iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.step:
            self.marker.write_text(str(self.step))
            time.sleep(600)
            sys.exit(3)  # never reached in the tests: they kill the process long before


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m tests.common.multi_worker_check")
    parser.add_argument("--hold-at-step", type=int, default=None)
    parser.add_argument("--logical-cpus", type=int, default=None,
                        help="split the CPU into this many devices (the one-process reference, --strategy mirrored)")
    parser.add_argument("train_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.logical_cpus:
        from tests.common.logical_cpus import mirror_on_cpus, split_cpu

        split_cpu(args.logical_cpus)
        mirror_on_cpus()  # --strategy mirrored needs GPUs; the reference runs on the logical CPUs
    train_args = [a for a in args.train_args if a != "--"] if args.train_args[:1] == ["--"] else args.train_args

    from common.runtime.trainer import train
    from night2day.task import Night2DayTask
    from night2day.train import parse_config

    config = parse_config(train_args)
    extra = []
    if args.hold_at_step is not None:
        extra.append(HoldAtStep(args.hold_at_step, Path(config["out"]).parent / f"hold-{os.getpid()}"))
    result = train(Night2DayTask(), config, extra_callbacks=extra)
    print(json.dumps({"step": result.step, "exit_code": result.exit_code,
                      "replicas": result.model.distribute_strategy.num_replicas_in_sync}), flush=True)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
