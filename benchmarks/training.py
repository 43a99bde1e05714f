"""What the learning benchmarks share: one timed training run through a task's CLI."""

from __future__ import annotations

import time
from pathlib import Path


class TrainingFailed(RuntimeError):
    """The benchmark's training run failed or left no checkpoint (one line)."""


def timed_training(task: str, train_main, argv: list[str], out) -> tuple[float, list[Path]]:
    """Print the command, run `python -m <task>.train argv` in-process -> (wall seconds, its complete
    checkpoints oldest first); TrainingFailed if it exits non-zero or leaves no checkpoint in out."""
    from common.runtime import checkpoint as ckpt

    print(f"python -m {task}.train " + " ".join(argv), flush=True)
    start = time.perf_counter()
    code = train_main(argv)
    seconds = time.perf_counter() - start
    if code != 0:
        raise TrainingFailed(f"training exited with {code}")
    checkpoints = ckpt.CheckpointManager(Path(out) / "checkpoints").complete_checkpoints()
    if not checkpoints:
        raise TrainingFailed(f"training left no checkpoint in {Path(out) / 'checkpoints'}")
    return seconds, checkpoints
