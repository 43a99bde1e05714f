"""Keras callbacks of the training runtime.

`RunController` goes first: it owns the global step and decides to stop on a signal,
on `--max-duration` or on a non-finite loss. The scalar log (JSON lines + W&B) and
the sample grids (PNG + W&B) come next, then `CheckpointWriter`, so a step's log
line is on disk before the checkpoint that covers it; the progress line is last.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np


@dataclass
class RunState:
    step: int
    total_steps: int
    started: float = field(default_factory=time.monotonic)
    start_step: int = 0
    stop_reason: str | None = None  # "signal" | "duration" | "nan"
    failure: str | None = None
    signal_received: bool = False
    last_checkpoint_step: int | None = None
    # this session's first step has finished (tracing and compilation included); the signal watcher
    # takes `first_step_lock` to decide, so a signal is acted on by it or by the handler, never both
    first_step_done: bool = False
    first_step_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


def _scalar(value) -> float:
    return float(np.asarray(value))


def _say(message: str) -> None:
    print(message, flush=True)


class RunController(keras.callbacks.Callback):
    """Counts global steps and decides when to stop: a signal, --max-duration, a non-finite loss.

    It also says when the session's first step starts compiling and how long that step took
    (minutes for StyleGAN2 on a CPU, with nothing else to show meanwhile), through `say`.
    """

    def __init__(self, state: RunState, *, max_duration=None, agree=None, say=_say):
        super().__init__()
        self.state = state
        self.max_duration = max_duration
        # several workers: agree(flags) -> flags set on any worker (one collective per step), so every
        # worker stops at the same step whichever of them got the signal or reached --max-duration first
        self.agree = agree
        self.say = say
        self._compiling_since = None

    def on_train_begin(self, logs=None):
        if not self.state.first_step_done and self._compiling_since is None:
            self._compiling_since = time.monotonic()
            self.say("compiling the training step...")

    def on_train_batch_end(self, batch, logs=None):
        s = self.state
        if not s.first_step_done:
            with s.first_step_lock:
                s.first_step_done = True
            if self._compiling_since is not None:
                seconds = time.monotonic() - self._compiling_since
                self.say(f"first step compiled in {seconds:.1f} s" if seconds < 10 else
                         f"first step compiled in {seconds:.0f} s")
        s.step += 1
        bad = {k: _scalar(v) for k, v in (logs or {}).items() if not math.isfinite(_scalar(v))}
        late = self.max_duration is not None and time.monotonic() - s.started >= self.max_duration
        nan, signalled = bool(bad), s.signal_received
        if self.agree is not None:
            nan, signalled, late = self.agree([nan, signalled, late])
        if nan:
            name, value = next(iter(bad.items())) if bad else ("on another worker", "nan")
            s.stop_reason = "nan"
            if s.last_checkpoint_step is None:
                kept = "no checkpoint had been written yet. Start again"
            else:
                kept = (f"the last good checkpoint (step {s.last_checkpoint_step}) is kept. Resume from it (learning-"
                        "rate flags given when resuming take effect)")
            s.failure = (f"loss {name} became {value} at step {s.step}; {kept} with a lower learning rate, "
                         "or without --mixed-precision.")
            self.model.stop_training = True
            return
        if signalled:
            s.stop_reason = "signal"
        elif late:
            s.stop_reason = "duration"
        if s.stop_reason or s.step >= s.total_steps:
            self.model.stop_training = True


class CheckpointWriter(keras.callbacks.Callback):
    """Saves every `checkpoint_every` steps, at the end, and when the run is stopping cleanly.

    Runs after the scalar logger: `before_save` (the logger's sync) puts this step's
    log line on disk first, so a kill at any moment leaves no step without its line.
    """

    def __init__(self, state: RunState, *, checkpoint_every: int, save_checkpoint, before_save=None):
        super().__init__()
        self.state = state
        self.checkpoint_every = checkpoint_every
        self.save_checkpoint = save_checkpoint  # callable(step) -> None
        self.before_save = before_save

    def on_train_batch_end(self, batch, logs=None):
        s = self.state
        if s.stop_reason == "nan":
            return
        if s.stop_reason or s.step % self.checkpoint_every == 0 or s.step >= s.total_steps:
            if self.before_save is not None:
                self.before_save()
            self.save_checkpoint(s.step)
            s.last_checkpoint_step = s.step


class ScalarLogger(keras.callbacks.Callback):
    """Every `log_every` steps: one JSON line in metrics.jsonl and a W&B log call.

    extra(model, step) -> dict, if given, is asked every step for more values (e.g. FID at a
    snapshot); a step where it returns some is logged whatever log_every says.
    """

    def __init__(self, state: RunState, path, tracker=None, log_every=1, extra=None):
        super().__init__()
        self.state = state
        self.path = Path(path)
        self.tracker = tracker
        self.log_every = log_every
        self.extra = extra
        self._file = None

    def on_train_begin(self, logs=None):
        self._file = open(self.path, "a", buffering=1)

    def on_train_batch_end(self, batch, logs=None):
        extra = self.extra(self.model, self.state.step) if self.extra is not None else {}
        if self.state.step % self.log_every and self.state.stop_reason is None and not extra:
            return
        values = {**{k: _scalar(v) for k, v in (logs or {}).items()}, **extra}
        lrs = _learning_rates(self.model)
        self._file.write(json.dumps({"step": self.state.step, **json_safe(values)}) + "\n")
        self._file.flush()
        if self.tracker is not None:
            self.tracker.log({**values, **lrs}, step=self.state.step)

    def sync(self):
        """Force the lines written so far to disk (called before each checkpoint)."""
        if self._file:
            self._file.flush()
            os.fsync(self._file.fileno())

    def on_train_end(self, logs=None):
        if self._file:
            self._file.close()
            self._file = None


def json_safe(values: dict) -> dict:
    """Non-finite floats as the strings "nan", "inf", "-inf": metrics.jsonl stays strict JSON."""
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else str(v)) for k, v in values.items()}


def _learning_rates(model) -> dict:
    out = {}
    for name, opt in getattr(model, "optimizers", {}).items():
        try:
            out[f"lr/{name}"] = float(np.asarray(opt.learning_rate))
        except Exception:  # noqa: BLE001 - an exotic schedule without a value
            pass
    return out


def truncate_log(path, step: int) -> None:
    """Drop log lines past `step` (written after the checkpoint a run resumes from).

    The shorter log is written beside the old one and renamed over it, so a kill during
    the cut leaves either the old log or the new one, never an empty file.
    """
    path = Path(path)
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line)
        except (ValueError, KeyError):
            continue
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text("".join(line + "\n" for line in kept))
    os.replace(tmp, path)


class SampleWriter(keras.callbacks.Callback):
    """Every `every` steps, and once at the run's last step (however short the run, and when it stops on
    a signal or at --max-duration): task.sample_grid(model) -> PNG under samples/ and a W&B image."""

    def __init__(self, state: RunState, make_grid, out_dir, every, tracker=None):
        super().__init__()
        self.state = state
        self.make_grid = make_grid  # callable(model) -> uint8 [H, W, 3]
        self.out_dir = Path(out_dir)
        self.every = every
        self.tracker = tracker
        self._written = None  # the step of the last sheet written

    def on_train_batch_end(self, batch, logs=None):
        s = self.state
        if s.stop_reason == "nan" or s.step == self._written:
            return
        if s.step % self.every == 0 or s.stop_reason or s.step >= s.total_steps:
            self.write(s.step)

    def write(self, step):
        from common.runtime.images import save_png

        grid = self.make_grid(self.model)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        save_png(self.out_dir / f"step_{step:09d}.png", grid)
        self._written = step
        if self.tracker is not None:
            self.tracker.log_image("samples", grid, step=step, caption=f"step {step}")


# losses shown on the progress line (all of them for night2day's ResNet, inpainting and StyleGAN2)
CONSOLE_LOSSES = 10


class ProgressLine(keras.callbacks.Callback):
    """One line for the whole run: step/total, losses, it/s, ETA (redrawn in place).

    The rate is measured from the end of the run's first step, so the ETA leaves out
    the one-off graph tracing and compilation.
    """

    def __init__(self, state: RunState, interval=1.0, stream=None):
        super().__init__()
        from common.report import Progress

        self.state = state
        self.progress = Progress(state.total_steps, "step", stream=stream or sys.stdout, interval=interval,
                                 start_count=state.step)

    def on_train_batch_end(self, batch, logs=None):
        s = self.state
        if s.step == s.start_step + 1:
            self.progress.count = s.step
            self.progress.restart_clock()
        losses = " ".join(f"{k}={_scalar(v):.4g}" for k, v in list((logs or {}).items())[:CONSOLE_LOSSES])
        self.progress.update(count=s.step, text=losses)

    def on_train_end(self, logs=None):
        self.progress.close()
