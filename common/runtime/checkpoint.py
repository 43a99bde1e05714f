"""Checkpoints that hold a whole training state, written so that a kill never corrupts one.

Format: one directory per checkpoint, `<root>/ckpt-<step:09d>/`, holding

* `variables.npz` - every variable of the GAN model (all networks, plus any state
  the model keeps, e.g. a history pool or seed-generator state) and of every
  optimizer (step counter, learning rate, moments), keyed by position, with each
  variable's path and shape kept beside it so a mismatch is reported by name;
* `state.json`   - global step, epoch, seed, the resolved config, the W&B run id and
  anything else the runtime needs to continue (the data position is the global
  step: pipelines are a function of (seed, step)).

Writing goes to `ckpt-<step>.tmp-<pid>/`, is fsynced, renamed into place (atomic on
POSIX), read back and checked, and only then is the `latest` pointer replaced
(temp file + os.replace) and old checkpoints pruned. A directory that is still
`.tmp-*` after a kill is never loaded and is cleaned up by the next save.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_NAME = re.compile(r"^ckpt-(\d{9})$")
VARIABLES_FILE = "variables.npz"
STATE_FILE = "state.json"
LATEST_FILE = "latest"
FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be written or does not fit the model."""


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def collect_variables(model) -> list:
    """Every variable a resumed run needs, in a fixed order: model then optimizers."""
    variables = list(model.variables)
    for name in sorted(model.optimizers):
        variables.extend(model.optimizers[name].variables)
    return variables


def _variable_paths(variables) -> list[str]:
    return [getattr(v, "path", None) or getattr(v, "name", f"var{i}") for i, v in enumerate(variables)]


class CheckpointManager:
    """Saves and finds checkpoints under `root`, keeping the newest `keep`."""

    def __init__(self, root, keep: int = 3):
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.root = Path(root)
        self.keep = keep

    # ------------------------------------------------------------------ finding
    def complete_checkpoints(self) -> list[Path]:
        """Complete checkpoint directories, oldest first."""
        if not self.root.is_dir():
            return []
        found = []
        for p in self.root.iterdir():
            m = _NAME.match(p.name)
            if m and p.is_dir() and (p / STATE_FILE).is_file() and (p / VARIABLES_FILE).is_file():
                found.append((int(m.group(1)), p))
        return [p for _, p in sorted(found)]

    def latest(self) -> Path | None:
        """The newest complete checkpoint, or None.

        The `latest` pointer is a hint for humans and tools; the directory scan is
        the truth, so a kill between rename and pointer update loses nothing.
        """
        checkpoints = self.complete_checkpoints()
        for path in reversed(checkpoints):
            if is_readable(path):
                return path
            log.warning("checkpoint %s is unreadable; trying an older one", path)
        return None

    # ------------------------------------------------------------------ saving
    def save(self, model, step: int, state: dict) -> Path:
        """Write model + optimizer variables and `state` as checkpoint `step`.

        Refuses (CheckpointError) to write a checkpoint whose variables hold NaN/Inf.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()
        variables = collect_variables(model)
        arrays = {}
        for i, v in enumerate(variables):
            value = np.asarray(v.numpy() if hasattr(v, "numpy") else v)
            if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                raise CheckpointError(
                    f"not writing checkpoint at step {step}: variable {_variable_paths([v])[0]} "
                    "holds NaN/Inf")
            arrays[f"v{i:05d}"] = value
        final = self.root / f"ckpt-{step:09d}"
        tmp = self.root / f"ckpt-{step:09d}.tmp-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        np.savez(tmp / VARIABLES_FILE, **arrays)
        _fsync_file(tmp / VARIABLES_FILE)
        _slow_write_hook()
        meta = dict(state)
        meta.update(
            format=FORMAT_VERSION,
            step=int(step),
            saved_at=time.time(),
            variable_paths=_variable_paths(variables),
            variable_shapes=[list(a.shape) for a in arrays.values()],
        )
        (tmp / STATE_FILE).write_text(json.dumps(meta, indent=1, default=str))
        _fsync_file(tmp / STATE_FILE)
        _fsync_dir(tmp)
        if final.exists():  # same step saved twice (e.g. interrupt right after a periodic save)
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(self.root)
        if not is_readable(final):
            raise CheckpointError(f"checkpoint {final} did not read back; older checkpoints kept")
        pointer_tmp = self.root / f".{LATEST_FILE}.tmp-{os.getpid()}"
        pointer_tmp.write_text(final.name + "\n")
        os.replace(pointer_tmp, self.root / LATEST_FILE)
        self._prune()
        return final

    def _remove_stale_temporaries(self) -> None:
        for p in self.root.glob("ckpt-*.tmp-*"):
            shutil.rmtree(p, ignore_errors=True)

    def _prune(self) -> None:
        checkpoints = self.complete_checkpoints()
        for old in checkpoints[: max(0, len(checkpoints) - self.keep)]:
            shutil.rmtree(old, ignore_errors=True)


def _slow_write_hook() -> None:
    # Lets the kill-during-write test land a SIGKILL between the two files of a
    # checkpoint deterministically; unset in normal use.
    delay = os.environ.get("GANWORKS_TEST_CHECKPOINT_DELAY")
    if delay:
        time.sleep(float(delay))


def is_readable(path) -> bool:
    path = Path(path)
    try:
        meta = json.loads((path / STATE_FILE).read_text())
        with np.load(path / VARIABLES_FILE) as data:
            if len(data.files) != len(meta["variable_paths"]):
                return False
            for key in data.files:
                data[key]  # forces a full read: a truncated file raises here
        return True
    except Exception:  # noqa: BLE001 - any failure means "do not load this one"
        return False


def read_state(path) -> dict:
    return json.loads((Path(path) / STATE_FILE).read_text())


def restore(model, path) -> dict:
    """Load checkpoint `path` into `model` (networks, state, optimizers); return its state."""
    path = Path(path)
    model.build_optimizers()
    variables = collect_variables(model)
    meta = read_state(path)
    with np.load(path / VARIABLES_FILE) as data:
        if len(data.files) != len(variables):
            raise CheckpointError(
                f"{path} holds {len(data.files)} variables but the model has {len(variables)}: "
                "it was written by a different model or settings (check --model / --image-size)")
        saved_paths = meta.get("variable_paths", [])
        for i, v in enumerate(variables):
            value = data[f"v{i:05d}"]
            if tuple(value.shape) != tuple(v.shape):
                name = saved_paths[i] if i < len(saved_paths) else f"#{i}"
                raise CheckpointError(
                    f"{path}: variable {name} has shape {value.shape}, model expects {tuple(v.shape)}")
            v.assign(value)
    return meta
