"""Stopping a run by a signal while its first step compiles (the main thread is in TensorFlow's C++)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from common.runtime import checkpoint as ckpt
from common.runtime.trainer import train
from tests.common.test_runtime import _offline_history, _record_types, toy_config
from tests.common.toy_gan import FIRST_STEP_MARKER, ToyTask

REPO = Path(__file__).resolve().parents[2]
# the toy's first step blocks this long in a TF op: far beyond the bound the tests give a stop
FIRST_STEP_SECONDS = 600
STOP_WITHIN = 60  # generous: a loaded CI machine still stops in a few seconds


class Child:
    """The toy CLI in a subprocess whose first step is slow; its output collected by a thread."""

    def __init__(self, out, *args, delay=FIRST_STEP_SECONDS, python_flags=()):
        cmd = [sys.executable, *python_flags, "-m", "tests.common.toy_gan", "--out", str(out),
               "--steps-per-epoch", "4", "--first-step-delay", str(delay), *args]
        self.marker = Path(out) / FIRST_STEP_MARKER
        self.marker.unlink(missing_ok=True)
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True)
        self.reader.start()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_first_step(self, timeout=180) -> None:
        """Until the slow op runs: tracing is over and the main thread waits in C++."""
        end = time.monotonic() + timeout
        while not self.marker.exists() and self.proc.poll() is None and time.monotonic() < end:
            time.sleep(0.05)
        assert self.marker.exists(), f"the first step never started:\n{self.output}"
        assert "compiling the training step..." in self.output

    def signal_and_wait(self, signum) -> float:
        sent = time.monotonic()
        self.proc.send_signal(signum)
        self.proc.wait(timeout=STOP_WITHIN)
        self.reader.join(timeout=10)
        return time.monotonic() - sent

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def test_ctrl_c_while_the_first_step_compiles_stops_at_once_saying_the_run_starts_over(tmp_path):
    child = Child(tmp_path, "--epochs", "2")
    try:
        child.wait_for_first_step()
        child.signal_and_wait(signal.SIGINT)
    finally:
        child.kill()
    assert child.proc.returncode == 128 + signal.SIGINT, child.output
    assert "received SIGINT: stopped while compiling; no checkpoint yet: the run starts over next time" \
        in child.output
    assert "finishing this step" not in child.output
    assert ckpt.CheckpointManager(tmp_path / "checkpoints").latest() is None


def test_sigterm_while_a_resumed_run_compiles_names_its_checkpoint_and_closes_the_wandb_files(tmp_path):
    first = train(ToyTask(), toy_config(tmp_path, "--epochs", "1", "--wandb", "offline"))
    assert first.step == 4
    child = Child(tmp_path, "--epochs", "2", "--wandb", "offline")
    try:
        child.wait_for_first_step()
        child.signal_and_wait(signal.SIGTERM)
    finally:
        child.kill()
    assert child.proc.returncode == 128 + signal.SIGTERM, child.output
    assert (f"received SIGTERM: stopped while compiling; nothing new to save: resume from checkpoint "
            f"{tmp_path / 'checkpoints' / 'ckpt-000000004'} at step 4") in child.output
    assert ckpt.CheckpointManager(tmp_path / "checkpoints").latest().name == "ckpt-000000004"
    # the resumed session's W&B folder (the earlier one is gone) holds the replayed steps, complete
    (folder,) = (tmp_path / "wandb").glob("offline-run-*")
    assert _record_types(folder)[-1] == "exit"
    assert sorted(_offline_history(folder)) == [1, 2, 3, 4]


def test_in_an_interactive_session_a_signal_while_compiling_stops_after_the_first_step_keeping_the_process(
        tmp_path):
    # python -i stands for a notebook kernel: the process is the user's session, not to be ended
    child = Child(tmp_path, "--epochs", "2", delay=5, python_flags=("-i",))
    try:
        child.wait_for_first_step()
        child.signal_and_wait(signal.SIGINT)
    finally:
        child.kill()
    assert "received SIGINT while compiling the training step: training stops after the first step" in child.output
    assert "stopped on request at step 1/8" in child.output
    assert ckpt.CheckpointManager(tmp_path / "checkpoints").latest().name == "ckpt-000000001"


def test_training_says_when_it_compiles_and_gives_back_the_signal_handlers_and_wakeup_fd(tmp_path, capsys):
    def previous_handler(signum, frame):
        pass

    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    old_handler = signal.signal(signal.SIGTERM, previous_handler)
    old_fd = signal.set_wakeup_fd(write_fd)
    try:
        result = train(ToyTask(), toy_config(tmp_path, "--epochs", "1"))
        assert signal.set_wakeup_fd(old_fd) == write_fd
        assert signal.getsignal(signal.SIGTERM) is previous_handler
    finally:
        signal.set_wakeup_fd(old_fd)
        signal.signal(signal.SIGTERM, old_handler)
        os.close(read_fd)
        os.close(write_fd)
    assert result.step == 4
    out = capsys.readouterr().out
    assert out.count("compiling the training step...") == 1
    assert "first step compiled in " in out
    assert out.index("compiling the training step...") < out.index("first step compiled in ")
