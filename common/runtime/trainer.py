"""The training loop every task shares: resume, fit, checkpoint, monitor, stop cleanly.

Resume flow: `--resume auto` takes the newest complete checkpoint in `<out>/checkpoints`;
if there is none and a W&B run id is known (flag or an earlier state), the run's
latest checkpoint artifact is downloaded first (a fresh Kaggle session). The model
and every optimizer are restored, the data pipeline is rebuilt to start at the saved
global step (data order is a function of (seed, step)), the metrics log is cut back
to that step, and the same W&B run continues. A mid-epoch checkpoint is resumed by a
short first `fit` that finishes the epoch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from common.runtime import checkpoint as ckpt
from common.runtime.callbacks import (CheckpointWriter, ProgressLine, RunController, RunState, SampleWriter,
                                      ScalarLogger, truncate_log)
from common.runtime.config import ConfigError, save_config
from common.runtime.distribute import make_strategy, mixed_precision_policy
from common.runtime.plots import plot_losses

log = logging.getLogger(__name__)


class TrainingTask:
    """What a task supplies to the runtime. Subclass and fill in."""

    name = "task"
    wandb_project = "ganworks"

    def prepare(self, config: dict) -> None:
        """Resolve data, fill derived config values (e.g. steps_per_epoch); raise DataError early."""

    def build_model(self, config: dict):
        """Build and compile the GAN (called inside the strategy scope)."""
        raise NotImplementedError

    def dataset(self, config: dict, start_step: int) -> tf.data.Dataset:
        """An infinite dataset of global batches whose element k is the batch of global step k+start_step."""
        raise NotImplementedError

    def sample_grid(self, model):
        """uint8 [H, W, 3] image of samples from fixed inputs, or None."""
        return None

    def wandb_config(self, config: dict) -> dict:
        return dict(config)

    def step_metrics(self, model, step: int) -> dict:
        """Values to log with this step's losses (e.g. FID every N steps); {} for none."""
        return {}

    # config keys that fix the networks' shapes: a resumed run cannot change them
    fixed_on_resume: tuple = ()

    def check_devices(self, config: dict, replicas: int) -> None:
        """Raise ConfigError if a setting cannot run on `replicas` devices (strategy resolved)."""

    def on_finish(self, model, config: dict) -> None:
        """Called when training ends without failing - finished, or stopped cleanly by a signal
        or --max-duration - e.g. to export the generators as they are now."""


@dataclass
class RunResult:
    step: int
    total_steps: int
    stop_reason: str | None
    out_dir: Path
    checkpoint: Path | None
    exit_code: int
    model: object = None


def _configure_determinism(config):
    keras.utils.set_random_seed(int(config["seed"]))
    if config.get("deterministic"):
        tf.config.experimental.enable_op_determinism()


# Settings that describe this session rather than the experiment: a resumed run
# always takes them from the current command line.
SESSION_KEYS = ("out", "resume", "max_duration", "wandb", "strategy", "jit_compile", "explicit_keys")


def _local_checkpoint(config, manager) -> Path | None:
    """The checkpoint `--resume` names, or the newest complete one under --out (None: start fresh)."""
    resume = config["resume"]
    if resume == "never":
        return None
    if resume != "auto":
        path = Path(resume)
        if path.is_dir() and (path / ckpt.STATE_FILE).exists():
            return path
        nested = ckpt.CheckpointManager(path).latest()
        if nested is None:
            raise ckpt.CheckpointError(f"--resume {resume}: no complete checkpoint there")
        return nested
    return manager.latest()


def resumed_config(config: dict, saved: dict, fixed_keys=()) -> tuple[dict, dict]:
    """The config a resumed run uses: the checkpoint's, with what this command line gave on top.

    Returns (config, {key: (checkpoint value, new value)} for every changed setting).
    Settings the user did not give keep the checkpoint's values (a run resumed with a
    shorter command trains on as it was started); session settings (`SESSION_KEYS`)
    always come from now. Changing a key in `fixed_keys` (the network's shape) is a
    ConfigError.
    """
    explicit = set(config.get("explicit_keys", ()))
    merged = dict(saved)
    for key, value in config.items():
        if key in explicit or key in SESSION_KEYS or key not in saved:
            merged[key] = value
    changed = {k: (saved[k], merged[k]) for k in sorted(explicit) if k in saved and k not in SESSION_KEYS
               and saved[k] != merged[k]}
    for key in fixed_keys:
        if key in changed:
            old, new = changed[key]
            raise ConfigError(f"--{key.replace('_', '-')} {new} differs from the checkpoint's {old} and cannot change "
                              "when resuming; start a new run (--resume never or another --out)")
    return merged, changed


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"--out {out} is not writable: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _precision_policy(mixed: bool):
    """The mixed policy (float16 on a GPU, bfloat16 elsewhere: mixed_precision_policy) for this run only:
    a second run in the same notebook starts from the old policy."""
    previous = keras.mixed_precision.global_policy()
    if mixed:
        keras.mixed_precision.set_global_policy(mixed_precision_policy())
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


@contextlib.contextmanager
def _signal_handlers(state: RunState):
    """SIGTERM / first Ctrl-C: finish the step, checkpoint, exit 0. A second Ctrl-C stops at once."""
    def on_signal(signum, frame):
        if state.signal_received and signum == signal.SIGINT:
            raise KeyboardInterrupt
        state.signal_received = True
        print(f"\nreceived {signal.Signals(signum).name}: finishing this step and saving a checkpoint",
              file=sys.stderr, flush=True)

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[sig] = signal.signal(sig, on_signal)
        except ValueError:  # not the main thread (e.g. some notebook runners)
            pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _resume_from(task, config, path, label) -> tuple[dict, dict]:
    """Read a checkpoint's state and merge its config; print what changed."""
    meta = ckpt.read_state(path)
    config, changed = resumed_config(config, meta.get("config", {}), task.fixed_on_resume)
    for key, (old, new) in changed.items():
        print(f"resuming with a changed setting: {key} {old} -> {new}", flush=True)
    if label:
        print(label, flush=True)
    return config, meta


def train(task: TrainingTask, config: dict, *, artifact_store=None, extra_callbacks=(),
          command: str | None = None) -> RunResult:
    """Run (or continue) training as `config` says. Returns where it stopped.

    The steps, in order: find a local checkpoint and merge its config; check the data
    (before anything is built or a W&B run starts); start monitoring; fetch the W&B
    checkpoint artifact if this is a fresh machine continuing a run; build the model
    and restore it; fit until done, stopped or diverged; export on success.
    artifact_store: an ArtifactStore overriding W&B's (tests use LocalArtifactStore).
    extra_callbacks: more Keras callbacks, run after the runtime's own.
    command: the command line that started this run (printed as the resume command).
    """
    out = Path(config["out"])
    manager = ckpt.CheckpointManager(out / "checkpoints", keep=config["keep_checkpoints"])
    resume_from = _local_checkpoint(config, manager)
    meta = {}
    if resume_from is not None:
        config, meta = _resume_from(task, config, resume_from, None)
    task.prepare(config)  # data errors surface here, before any folder, model or W&B run exists
    _check_writable(out)
    _configure_determinism(config)

    from common.runtime import tracking

    mode, why = tracking.resolve_mode(config["wandb"])
    project = config.get("wandb_project") or task.wandb_project
    run_id = config.get("wandb_run_id") or meta.get("wandb_run_id")
    step = int(meta.get("step", 0))
    truncate_log(out / "metrics.jsonl", step)  # lines past the checkpoint are replayed by this run
    tracker = tracking.Tracker(mode=mode, why=why, project=project, config=task.wandb_config(config),
                               run_id=run_id, out_dir=out, name=out.name,
                               history=out / "metrics.jsonl" if step else None, samples=out / "samples")
    try:
        if tracker.run_id:
            run_id = tracker.run_id
        store = artifact_store if artifact_store is not None else tracker.artifact_store(
            project, keep=config["keep_checkpoints"])
        if resume_from is None and config["resume"] == "auto" and (run_id or artifact_store is not None):
            downloaded = store.download_latest(manager.root / "downloaded") if store is not None else None
            if downloaded is not None:
                config, meta = _resume_from(task, config, downloaded, f"downloaded checkpoint {downloaded.name}")
                resume_from, step = downloaded, int(meta["step"])
                task.prepare(config)
                truncate_log(out / "metrics.jsonl", step)
                tracker.update_config(task.wandb_config(config))
            elif "wandb_run_id" in config.get("explicit_keys", ()):
                where = ("W&B is offline, so its artifacts cannot be fetched" if store is None
                         else f"and no checkpoint artifact {run_id}-checkpoint was found in W&B project {project}")
                raise ckpt.CheckpointError(
                    f"--wandb-run-id {run_id}: no checkpoint in {manager.root} {where}. "
                    "To start this run over from step 0, add --resume never")
        return _fit(task, config, out, manager, resume_from, step, tracker, store, run_id, project,
                    extra_callbacks, command)
    except BaseException:
        tracker.finish(exit_code=1)
        raise


def _fit(task, config, out, manager, resume_from, step, tracker, store, run_id, project, extra_callbacks,
         command) -> RunResult:
    with _precision_policy(config["mixed_precision"]):
        strategy = make_strategy(config["strategy"])
        replicas = strategy.num_replicas_in_sync
        if config["batch_size"] % replicas:
            raise ConfigError(f"--batch-size {config['batch_size']} is not divisible by the {replicas} devices")
        task.check_devices(config, replicas)
        with strategy.scope():
            model = task.build_model(config)
            model.build_optimizers()
            if resume_from is not None:
                ckpt.restore(model, resume_from)
        spe = int(config["steps_per_epoch"])
        total = int(config["epochs"]) * spe
        save_config(config, out / "config.json")
        _announce(tracker, run_id, project, command)
        state = RunState(step=step, total_steps=total, start_step=step)
        if resume_from is not None:
            state.last_checkpoint_step = step
            print(f"resuming from {resume_from} at step {step}/{total}", flush=True)

        def save_checkpoint(at_step):
            path = manager.save(model, at_step, {
                "epoch": at_step // spe, "seed": config["seed"], "config": config,
                "wandb_run_id": run_id, "task": task.name,
            })
            if store is not None:
                store.upload(path, at_step)

        logger = ScalarLogger(state, out / "metrics.jsonl", tracker, log_every=config["log_every"],
                              extra=task.step_metrics)
        callbacks = [
            RunController(state, max_duration=config.get("max_duration")),
            logger,  # the step's log line is on disk before the checkpoint that covers it
            SampleWriter(state, task.sample_grid, out / "samples", config["sample_every"], tracker),
            CheckpointWriter(state, checkpoint_every=config["checkpoint_every"], save_checkpoint=save_checkpoint,
                             before_save=logger.sync),
            ProgressLine(state),
            *extra_callbacks,
        ]
        with _signal_handlers(state):
            _fit_epochs(model, task, config, state, spe, callbacks)

    plot_losses(out / "metrics.jsonl", out / "losses.png")
    exit_code = 0
    if state.stop_reason == "nan":
        print(f"training stopped: {state.failure}", file=sys.stderr, flush=True)
        exit_code = 1
    elif state.stop_reason in ("signal", "duration"):
        task.on_finish(model, config)
        why = "on request" if state.stop_reason == "signal" else "at --max-duration"
        print(f"stopped {why} at step {state.step}/{total}; checkpoint saved in {manager.root}. "
              f"Resume with the same command (--resume auto is the default).", flush=True)
    else:
        task.on_finish(model, config)
        print(f"finished {state.step} steps; outputs in {out}", flush=True)
    tracker.finish(exit_code=exit_code)
    return RunResult(step=state.step, total_steps=total, stop_reason=state.stop_reason, out_dir=out,
                     checkpoint=manager.latest(), exit_code=exit_code, model=model)


def _fit_epochs(model, task, config, state, spe, callbacks) -> None:
    """Keras fit over whole epochs; a run resumed mid-epoch first finishes that epoch."""
    total = state.total_steps
    while state.step < total and state.stop_reason is None:
        epoch, done_in_epoch = divmod(state.step, spe)
        dataset = task.dataset(config, start_step=state.step)
        if done_in_epoch:
            model.fit(dataset, epochs=1, steps_per_epoch=spe - done_in_epoch, verbose=0,
                      shuffle=False, callbacks=callbacks)
        else:
            model.fit(dataset, initial_epoch=epoch, epochs=int(config["epochs"]), steps_per_epoch=spe,
                      verbose=0, shuffle=False, callbacks=callbacks)
            if state.stop_reason is None and state.step < total:
                break  # the dataset ran dry (should not happen: pipelines are infinite)


def _announce(tracker, run_id, project, command) -> None:
    """Print the W&B run id and the command that continues this run in a new session."""
    if not tracker.active or not run_id:
        return
    print(f"W&B run id: {run_id} (project {project})", flush=True)
    if command:
        if "--wandb-run-id" not in command:
            command = f"{command} --wandb-run-id {run_id}"
        print(f"to continue this run in a new session: {command}", flush=True)


def run_cli(task: TrainingTask, config: dict, argv=None) -> int:
    """Train from a resolved config; turn expected failures into one-line messages (exit 2)."""
    from common.data import DataError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    argv = sys.argv[1:] if argv is None else list(argv)
    command = shlex.join(["python", "-m", f"{task.name}.train", *argv])
    try:
        result = train(task, config, command=command)
    except (DataError, ckpt.CheckpointError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    return result.exit_code
