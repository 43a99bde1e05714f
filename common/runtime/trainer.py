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

import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from common.runtime import checkpoint as ckpt
from common.runtime.callbacks import (ProgressLine, RunController, RunState, SampleWriter, ScalarLogger,
                                      truncate_log)
from common.runtime.config import ConfigError, save_config
from common.runtime.distribute import make_strategy
from common.runtime.images import plot_losses

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

    def on_finish(self, model, config: dict) -> None:
        """Called after training ends normally (e.g. export the generators)."""


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


def _find_checkpoint(config, manager, store_factory) -> Path | None:
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
    found = manager.latest()
    if found is not None:
        return found
    store = store_factory()
    if store is not None:
        downloaded = store.download_latest(manager.root / "downloaded")
        if downloaded is not None:
            print(f"downloaded checkpoint {downloaded.name} from W&B", flush=True)
            return downloaded
    return None


def train(task: TrainingTask, config: dict, *, artifact_store=None, extra_callbacks=()) -> RunResult:
    """Run (or continue) training as `config` says. Returns where it stopped.

    artifact_store: an ArtifactStore overriding W&B's (tests use LocalArtifactStore).
    extra_callbacks: more Keras callbacks, run after the runtime's own.
    """
    out = Path(config["out"])
    out.mkdir(parents=True, exist_ok=True)
    manager = ckpt.CheckpointManager(out / "checkpoints", keep=config["keep_checkpoints"])
    _configure_determinism(config)
    task.prepare(config)  # data errors surface here, before any model is built

    if config["mixed_precision"]:
        keras.mixed_precision.set_global_policy("mixed_float16")
    strategy = make_strategy(config["strategy"])
    replicas = strategy.num_replicas_in_sync
    if config["batch_size"] % replicas:
        raise ConfigError(f"--batch-size {config['batch_size']} is not divisible by the {replicas} devices")

    from common.runtime import tracking

    mode = tracking.resolve_mode(config["wandb"])
    project = config.get("wandb_project") or task.wandb_project

    def store_factory():
        if artifact_store is not None:
            return artifact_store
        if mode == "online" and config.get("wandb_run_id"):
            return tracking.WandbArtifactStore(project=project, run_id=config["wandb_run_id"])
        return None

    resume_from = _find_checkpoint(config, manager, store_factory)
    meta = ckpt.read_state(resume_from) if resume_from else {}
    with strategy.scope():
        model = task.build_model(config)
        model.build_optimizers()
        if resume_from is not None:
            ckpt.restore(model, resume_from)
    step = int(meta.get("step", 0))
    spe = int(config["steps_per_epoch"])
    total = int(config["epochs"]) * spe
    run_id = config.get("wandb_run_id") or meta.get("wandb_run_id")
    save_config(config, out / "config.json")

    tracker = tracking.Tracker(mode=mode, project=project, config=task.wandb_config(config),
                               run_id=run_id, out_dir=out, name=out.name)
    run_id = tracker.run_id or run_id
    store = artifact_store if artifact_store is not None else tracker.artifact_store(project)
    state = RunState(step=step, total_steps=total, start_step=step)
    if resume_from is not None:
        state.last_checkpoint_step = step
        print(f"resuming from {resume_from} at step {step}/{total}", flush=True)
    truncate_log(out / "metrics.jsonl", step)

    def save_checkpoint(at_step):
        path = manager.save(model, at_step, {
            "epoch": at_step // spe, "seed": config["seed"], "config": config,
            "wandb_run_id": run_id, "task": task.name,
        })
        if store is not None:
            store.upload(path, at_step)

    callbacks = [
        RunController(state, checkpoint_every=config["checkpoint_every"], save_checkpoint=save_checkpoint,
                      max_duration=config.get("max_duration")),
        ScalarLogger(state, out / "metrics.jsonl", tracker, log_every=config["log_every"]),
        SampleWriter(state, task.sample_grid, out / "samples", config["sample_every"], tracker),
        ProgressLine(state),
        *extra_callbacks,
    ]

    previous = {}

    def on_signal(signum, frame):
        if state.signal_received and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop right now
        state.signal_received = True
        print(f"\nreceived {signal.Signals(signum).name}: finishing this step and saving a checkpoint",
              file=sys.stderr, flush=True)

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[sig] = signal.signal(sig, on_signal)
        except ValueError:  # not the main thread (e.g. some notebook runners)
            pass
    exit_code = 0
    try:
        while state.step < total and state.stop_reason is None:
            epoch, done_in_epoch = divmod(state.step, spe)
            dataset = task.dataset(config, start_step=state.step)
            if done_in_epoch:  # finish a partly done epoch, then continue whole epochs
                model.fit(dataset, epochs=1, steps_per_epoch=spe - done_in_epoch, verbose=0,
                          shuffle=False, callbacks=callbacks)
            else:
                model.fit(dataset, initial_epoch=epoch, epochs=int(config["epochs"]), steps_per_epoch=spe,
                          verbose=0, shuffle=False, callbacks=callbacks)
            if state.stop_reason is None and state.step < total and not done_in_epoch:
                break  # the dataset ran dry (should not happen: pipelines are infinite)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    plot_losses(out / "metrics.jsonl", out / "losses.png")
    if state.stop_reason == "nan":
        print(f"training stopped: {state.failure}", file=sys.stderr, flush=True)
        exit_code = 1
    elif state.stop_reason in ("signal", "duration"):
        why = "on request" if state.stop_reason == "signal" else "at --max-duration"
        print(f"stopped {why} at step {state.step}/{total}; checkpoint saved in {manager.root}. "
              f"Resume with the same command (--resume auto is the default).", flush=True)
    else:
        task.on_finish(model, config)
        print(f"finished {state.step} steps; outputs in {out}", flush=True)
    tracker.finish(exit_code=exit_code)
    return RunResult(step=state.step, total_steps=total, stop_reason=state.stop_reason, out_dir=out,
                     checkpoint=manager.latest(), exit_code=exit_code, model=model)


def run_cli(task: TrainingTask, config: dict) -> int:
    """Train from a resolved config; turn expected failures into one-line messages."""
    from common.data import DataError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        result = train(task, config)
    except (DataError, ckpt.CheckpointError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    return result.exit_code
