"""Checkpoints that hold a whole training state, written so that a kill never corrupts one.

Format: one directory per checkpoint, `<root>/ckpt-<step:09d>/`, holding

* `variables.npz` - every variable of the GAN model (all networks, plus any state
  the model keeps, e.g. a history pool or seed-generator state) and of every
  optimizer (step counter, learning rate, moments). Each is stored under a stable
  identity - `network/<network name>/<variable path>`, `model/<path>` for the
  model's own state, `optimizer/<optimizer name>/<path>` - and restored by it, never
  by position; a checkpoint whose identities or shapes differ from the model's is
  refused with the differing names. Which network variables each optimizer steps is
  recorded too, so a checkpoint cannot load one generator's Adam moments into the other's;
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
FORMAT_VERSION = 2


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


_NUMBERED = re.compile(r"_\d+$")


def network_variable_keys(net_name, net) -> dict:
    """{id(variable): identity} for one network: `network/<net>/<layer name>/<path inside the layer>`.

    Layer names are the stable part (every builder names its layers); a variable
    whose path is not scoped under its layer (a Dropout's seed-generator state gets
    a process-wide counter name) is identified by its position inside that layer.
    """
    keys = {}
    for layer in net.layers:
        for j, v in enumerate(layer.variables):
            if id(v) in keys:
                continue
            inner = f"#{j}-{v.name}"
            for scope in (f"{layer.name}/", f"{net.name}/{layer.name}/"):  # functional / Sequential paths
                if v.path.startswith(scope):
                    inner = v.path[len(scope):]
            keys[id(v)] = f"network/{net_name}/{layer.name}/{inner}"
    for j, v in enumerate(net.variables):  # variables owned by the network itself, if any
        keys.setdefault(id(v), f"network/{net_name}/#{j}-{v.name}")
    return keys


def _optimizer_keys(opt_name, optimizer, owner) -> dict:
    """{id(variable): identity} for one optimizer; slots are named after the variable they track.

    Keras names a slot `<optimizer>/<tracked path with / as _>_<slot>`, and optimizer
    names carry a process-wide counter (`adam_3`), so the identity is rebuilt from
    the tracked network variable's identity and the slot name instead.
    """
    refs = {}
    for v in getattr(optimizer, "_trainable_variables", []) or []:
        if id(v) in owner:
            refs[v.path.replace("/", "_") + "_"] = owner[id(v)]
    keys = {}
    for v in optimizer.variables:
        role, _, name = v.path.partition("/")
        role = _NUMBERED.sub("", role)
        match = max((p for p in refs if name.startswith(p)), key=len, default=None)
        if match is not None:
            keys[id(v)] = f"optimizer/{opt_name}/{role}/{refs[match]}:{name[len(match):]}"
        else:
            keys[id(v)] = f"optimizer/{opt_name}/{role}/{name}"
    return keys


def keyed_variables(model) -> dict:
    """{stable identity: variable} for everything a resumed run needs, in a fixed order.

    Network variables are named by network + layer + path (both CycleGAN generators
    have a `stem_conv/kernel`); any other model variable (history pools, the
    model's own seed generators: give them names) by its path under `model/`;
    optimizer variables by optimizer name + the network variable they track.
    """
    keyed, owner = {}, {}
    for net_name, net in model.networks.items():
        owner.update(network_variable_keys(net_name, net))
    for v in model.variables:
        _add(keyed, owner.get(id(v), f"model/{v.path}"), v)
    for name in sorted(model.optimizers):
        optimizer = model.optimizers[name]
        keys = _optimizer_keys(name, optimizer, owner)
        for v in optimizer.variables:
            _add(keyed, keys[id(v)], v)
    return keyed


def _add(keyed, key, variable):
    if key in keyed:
        if keyed[key] is variable:
            return
        raise CheckpointError(f"two variables share the checkpoint identity {key}; give the layers unique names")
    keyed[key] = variable


def optimizer_targets(model) -> dict:
    """{optimizer name: identities of the network variables it steps, in order}."""
    owner = {}
    for net_name, net in model.networks.items():
        owner.update(network_variable_keys(net_name, net))
    return {name: [owner.get(id(v), v.path) for v in model.trainable_variables_of(name)]
            for name in sorted(model.optimizers)}


def variable_values(model) -> tuple[dict, dict]:
    """({identity: variable}, {"v00000": numpy value, ...}): what a checkpoint stores, read in its order.

    A multi-worker run's other workers call this where the chief saves: reading a variable
    that is synchronised on read is a collective every worker must join.
    """
    keyed = keyed_variables(model)
    arrays = {f"v{i:05d}": np.asarray(v.numpy() if hasattr(v, "numpy") else v) for i, v in enumerate(keyed.values())}
    return keyed, arrays


def collect_variables(model) -> list:
    """Every variable a resumed run needs, in the checkpoint's order."""
    return list(keyed_variables(model).values())


def _describe(names, limit=4) -> str:
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


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
            problem = checkpoint_problem(path)
            if problem is None:
                return path
            log.warning("checkpoint %s is unreadable (%s); trying an older one", path, problem)
        return None

    def resume_point(self) -> Path | None:
        """The checkpoint `--resume auto` continues from: the newest readable one, or None when the
        run has none yet. A run whose every checkpoint is unreadable is a CheckpointError naming the
        newest and what is wrong with it, not a silent start from step 0 over the run's log."""
        found = self.latest()
        checkpoints = self.complete_checkpoints()
        if found is None and checkpoints:
            newest = checkpoints[-1]
            more = f" (and the {len(checkpoints) - 1} older one(s) too)" if len(checkpoints) > 1 else ""
            raise CheckpointError(f"checkpoint {newest} is unreadable: {checkpoint_problem(newest)}{more}; "
                                  "nothing to resume from. To start this run over from step 0 (its log is "
                                  "rewritten), add --resume never")
        return found

    # ------------------------------------------------------------------ saving
    def save(self, model, step: int, state: dict) -> Path:
        """Write model + optimizer variables and `state` as checkpoint `step`.

        Refuses (CheckpointError) to write a checkpoint whose variables hold NaN/Inf.
        A failed write (disk full, folder not writable) leaves no partial folder and
        the previous checkpoints intact, and is reported as one CheckpointError line.
        """
        keyed, arrays = variable_values(model)
        for key, value in zip(keyed, arrays.values()):
            if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                raise CheckpointError(f"not writing checkpoint at step {step}: variable {key} holds NaN/Inf")
        meta = dict(state)
        meta.update(
            format=FORMAT_VERSION,
            step=int(step),
            saved_at=time.time(),
            variable_keys=list(keyed),
            variable_shapes=[list(a.shape) for a in arrays.values()],
            optimizer_targets=optimizer_targets(model),
        )
        final = self.root / f"ckpt-{step:09d}"
        tmp = self.root / f"ckpt-{step:09d}.tmp-{os.getpid()}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._remove_stale_temporaries()
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir()
            np.savez(tmp / VARIABLES_FILE, **arrays)
            _fsync_file(tmp / VARIABLES_FILE)
            (tmp / STATE_FILE).write_text(json.dumps(meta, indent=1, default=str))
            _fsync_file(tmp / STATE_FILE)
            _fsync_dir(tmp)
            if final.exists():  # same step saved twice (e.g. interrupt right after a periodic save)
                shutil.rmtree(final)
            os.replace(tmp, final)
            _fsync_dir(self.root)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            reason = exc.strerror or str(exc)
            raise CheckpointError(f"could not write the checkpoint of step {step} in {self.root}: {reason}; "
                                  "older checkpoints are kept") from None
        if not is_readable(final):
            raise CheckpointError(f"checkpoint {final} did not read back; older checkpoints kept")
        try:
            pointer_tmp = self.root / f".{LATEST_FILE}.tmp-{os.getpid()}"
            pointer_tmp.write_text(final.name + "\n")
            os.replace(pointer_tmp, self.root / LATEST_FILE)
        except OSError:
            pass  # the pointer is only a hint; the directory scan is the truth
        self._prune()
        return final

    def _remove_stale_temporaries(self) -> None:
        """Remove what a kill can leave: write folders (`.tmp-*`) and half-deleted old checkpoints."""
        for p in self.root.glob("ckpt-*.tmp-*"):
            shutil.rmtree(p, ignore_errors=True)
        for p in self.root.glob("ckpt-*"):
            if _NAME.match(p.name) and p.is_dir() and not (p / STATE_FILE).is_file():
                shutil.rmtree(p, ignore_errors=True)

    def _prune(self) -> None:
        checkpoints = self.complete_checkpoints()
        for old in checkpoints[: max(0, len(checkpoints) - self.keep)]:
            # renamed first, so a kill during the deletion leaves a .tmp folder the next save removes
            doomed = old.with_name(f"{old.name}.tmp-prune-{os.getpid()}")
            try:
                os.replace(old, doomed)
            except OSError:
                continue
            shutil.rmtree(doomed, ignore_errors=True)


def find_checkpoint(path) -> Path:
    """The checkpoint a user names: a ckpt-* folder itself, or the newest complete one in a run's
    checkpoints/ folder or its run folder; DataError (one line) if there is none, or if the one named
    (or every one found) is unreadable."""
    from common.data import DataError

    path = Path(path)
    if (path / STATE_FILE).is_file() or (path / VARIABLES_FILE).is_file():
        problem = checkpoint_problem(path)
        if problem is not None:
            raise DataError(f"checkpoint {path} is unreadable: {problem}")
        return path
    for root in (path, path / "checkpoints"):
        manager = CheckpointManager(root)
        found = manager.latest()
        if found is not None:
            return found
        if manager.complete_checkpoints():
            newest = manager.complete_checkpoints()[-1]
            raise DataError(f"checkpoint {newest} is unreadable: {checkpoint_problem(newest)} (and no older one "
                            "reads back)")
    raise DataError(f"no checkpoint found at {path} (expected a ckpt-* folder, a run folder or a .keras file)")


def open_checkpoint(path, task: str) -> tuple[Path, dict]:
    """(checkpoint folder, its state) for a checkpoint a user names for `task` (see find_checkpoint).

    One DataError line, never a traceback, when there is none, when it is unreadable (a truncated
    variables.npz or state.json) or when another task wrote it (a night2day run given to
    inpainting.fill): the state's "task" says which, or, for a state without one, its config's keys.
    """
    from common.data import DataError

    found = find_checkpoint(path)
    state = read_state(found)
    config = state.get("config")
    if not isinstance(config, dict):
        raise DataError(f"checkpoint {found} is unreadable: its {STATE_FILE} holds no config")
    written_by = state.get("task") or _task_of(config)
    if written_by and written_by != task:
        raise DataError(f"{path} is {a_or_an(written_by)} checkpoint, not {a_or_an(task)} one (its model: "
                        f"{config.get('model', '?')}); give a run of `python -m {task}.train`")
    return found, state


def load_keras_file(path):
    """A model saved as .keras (an exported generator), or one DataError line when the file is
    missing, truncated or not a Keras model file."""
    import zipfile

    import keras

    from common.data import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path} is not a Keras model file (a .keras file is a zip archive; this one is "
                        "truncated or something else)")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - Keras raises ValueError, KeyError, zip and OS errors alike
        text = " ".join(str(exc).split())[:200]
        raise DataError(f"{path} cannot be loaded as a Keras model ({type(exc).__name__}: {text})") from None


# config keys only one task's runs have: how a checkpoint without a "task" entry is recognised
_TASK_KEYS = {"night2day": "res_blocks", "inpainting": "bottleneck", "watches": "latent_dim"}


def a_or_an(word: str) -> str:
    """'an inpainting', 'a watches'."""
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _task_of(config: dict) -> str | None:
    return next((task for task, key in _TASK_KEYS.items() if key in config), None)


def checkpoint_problem(path) -> str | None:
    """What is wrong with checkpoint folder `path` (one phrase), or None when it reads back whole."""
    path = Path(path)
    try:
        meta = json.loads((path / STATE_FILE).read_text())
    except FileNotFoundError:
        return f"it has no {STATE_FILE}"
    except (OSError, UnicodeDecodeError) as exc:
        return f"{STATE_FILE} cannot be read ({getattr(exc, 'strerror', None) or exc})"
    except json.JSONDecodeError:
        return f"{STATE_FILE} is not valid JSON (truncated?)"
    if not isinstance(meta, dict):
        return f"{STATE_FILE} is not a checkpoint state"
    names = meta.get("variable_keys") or meta.get("variable_paths")  # an older format is still "complete"
    if not isinstance(names, list):
        return f"{STATE_FILE} lists no variables"
    try:
        with np.load(path / VARIABLES_FILE) as data:
            if len(data.files) != len(names):
                return f"{VARIABLES_FILE} holds {len(data.files)} arrays, {STATE_FILE} lists {len(names)}"
            for key in data.files:
                data[key]  # forces a full read: a truncated file raises here
    except FileNotFoundError:
        return f"it has no {VARIABLES_FILE}"
    except Exception as exc:  # noqa: BLE001 - zipfile, zlib, numpy and OS errors all mean "truncated or damaged"
        return f"{VARIABLES_FILE} is truncated or damaged ({type(exc).__name__})"
    return None


def is_readable(path) -> bool:
    return checkpoint_problem(path) is None


def read_state(path) -> dict:
    """A checkpoint's state; its config with renamed keys under their new names (options.upgrade_keys)."""
    from common.runtime.options import upgrade_keys

    state = json.loads((Path(path) / STATE_FILE).read_text())
    if isinstance(state, dict) and isinstance(state.get("config"), dict):
        state["config"] = upgrade_keys(state["config"])
    return state


def restore_networks(model, path, task: str) -> Path:
    """Start `model` from the networks of the checkpoint a user names for `task` (open_checkpoint: a run
    folder, checkpoints/ or ckpt-* folder) -> that checkpoint's folder (--init-from).

    Every float variable of every network is assigned by identity (weights, EMA copies, non-trained
    buffers such as StyleGAN2's tracked average w and constant noise, BatchNorm statistics); nothing else
    is: the step, the model's counters, the networks' seed-generator states and the optimizers stay this
    run's. A checkpoint whose networks differ from the model's (a variable missing, extra or of another
    shape) is refused in one CheckpointError line, before anything is assigned."""
    from common.data import DataError

    try:
        found, meta = open_checkpoint(path, task)
    except DataError as exc:
        raise CheckpointError(f"--init-from {path}: {exc}") from None
    keyed = {key: v for key, v in keyed_variables(model).items()
             if key.startswith("network/") and "float" in str(v.dtype)}
    shapes = dict(zip(meta["variable_keys"], meta.get("variable_shapes", [])))
    saved = {key: i for i, key in enumerate(meta["variable_keys"]) if key.startswith("network/")}
    missing = set(keyed) - set(saved)
    wrong = [k for k in keyed if k in shapes and tuple(shapes[k]) != tuple(keyed[k].shape)]
    unexpected = {k for k in set(saved) - set(keyed) if not k.endswith("seed_generator_state")}
    if missing or unexpected or wrong:
        if wrong:
            key = sorted(wrong)[0]
            what = f"{key} has shape {tuple(shapes[key])} there, {tuple(keyed[key].shape)} here"
        elif missing:
            what = f"this run's networks have {len(missing)} variable(s) it lacks ({_describe(missing, 2)})"
        else:
            what = f"it has {len(unexpected)} network variable(s) this run lacks ({_describe(unexpected, 2)})"
        raise CheckpointError(f"--init-from {path}: its networks are not this run's ({what}); leave out the flags "
                              "that change the networks (--model, --image-size, network sizes)")
    with np.load(found / VARIABLES_FILE) as data:
        values = {key: data[f"v{saved[key]:05d}"] for key in keyed}
    for key, v in keyed.items():
        v.assign(values[key])
    return found


def restore(model, path) -> dict:
    """Load checkpoint `path` into `model` (networks, state, optimizers) by identity; return its state.

    Refuses (CheckpointError, naming them) a checkpoint whose variables, shapes or
    optimizer targets differ from the model's, before assigning anything. Optimizer
    learning rates are not restored: they come from the run's config (a resumed run
    given `--lr-g` trains with it; schedules are functions of the restored iteration).
    """
    path = Path(path)
    model.build_optimizers()
    meta = read_state(path)
    if meta.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path} was written in checkpoint format {meta.get('format')}, this version reads "
                              f"format {FORMAT_VERSION}; resume it with the ganworks version that wrote it")
    targets = optimizer_targets(model)
    for name, saved_targets in meta.get("optimizer_targets", {}).items():
        if targets.get(name) != saved_targets:
            raise CheckpointError(f"{path}: optimizer {name!r} stepped different variables when it was saved "
                                  f"({_describe(saved_targets, 2)}) than it does now "
                                  f"({_describe(targets.get(name, []), 2)})")
    keyed = keyed_variables(model)
    saved = {key: i for i, key in enumerate(meta["variable_keys"])}
    missing, unexpected = set(keyed) - set(saved), set(saved) - set(keyed)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"the model has {len(missing)} variable(s) the checkpoint lacks ({_describe(missing)})")
        if unexpected:
            parts.append(f"the checkpoint has {len(unexpected)} the model lacks ({_describe(unexpected)})")
        raise CheckpointError(f"{path} does not fit this model: {'; '.join(parts)}. It was written by a different "
                              "model or settings (check --model / --image-size / network options)")
    with np.load(path / VARIABLES_FILE) as data:
        values = {key: data[f"v{saved[key]:05d}"] for key in keyed}
    for key, v in keyed.items():
        if tuple(values[key].shape) != tuple(v.shape):
            raise CheckpointError(f"{path}: variable {key} has shape {values[key].shape}, "
                                  f"the model expects {tuple(v.shape)}")
    for key, v in keyed.items():
        if key.startswith("optimizer/") and key.endswith("/learning_rate"):
            continue  # the run's config sets learning rates, so a resumed run can change them
        v.assign(values[key])
    return meta
