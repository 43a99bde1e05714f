"""The training loop every task shares: resume, fit, checkpoint, monitor, stop cleanly.

Resume flow: `--resume auto` takes the newest complete checkpoint in `<out>/checkpoints`;
if there is none and a W&B run id is known (flag or an earlier state), the run's
latest checkpoint artifact is downloaded first (a fresh Kaggle session). The model
and every optimizer are restored, the data pipeline is rebuilt to start at the saved
global step (data order is a function of (seed, step)), the metrics log is cut back
to that step, and the same W&B run continues. A mid-epoch checkpoint is resumed by a
short first `fit` that finishes the epoch.

Several machines (`--strategy multi-worker`): every worker runs the same command; the
strategy is made first (before TensorFlow runs anything else). Only the chief writes
(checkpoints, samples, metrics.jsonl, config.json, losses.png, report.html, exports, W&B); the other
workers take part in every collective and write nothing. Every worker reads the chief's
checkpoints from the shared `--out`, and before training they check that they resume
from the same step (a worker that cannot see the chief's checkpoint stops with an error).
Stopping (a signal to any worker, --max-duration) is agreed after every step, so all
workers stop at the same step and the chief's checkpoint covers it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shlex
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from common.runtime import checkpoint as ckpt
from common.runtime.callbacks import (CheckpointWriter, ProgressLine, RunController, RunState, SampleWriter,
                                      ScalarLogger, truncate_log)
from common.runtime.config import ConfigError, RunConfig, save_config
from common.runtime.distribute import (WorkerSync, graph_optimizer, is_chief, make_strategy, mixed_precision_policy,
                                      worker_label)
from common.replicas import for_replicas
from common.runtime.plots import plot_losses

log = logging.getLogger(__name__)


class TrainingTask:
    """What a task supplies to the runtime. Subclass and fill in."""

    name = "task"
    wandb_project = "ganworks"

    def prepare(self, config: dict) -> None:
        """Resolve data, fill derived config values (e.g. steps_per_epoch); raise DataError early.
        The last time a task may write to the config: it is saved after this (and check_devices)."""

    def start(self, config: Mapping) -> None:
        """The run config as it is saved (config.json, every checkpoint): a read-only RunConfig, which a
        write to raises TypeError. Called once it is final (after check_devices' changes), before the
        model is built; sample_grid and step_metrics read it as self.config. What a task changes
        during the run is its own state."""
        self.config = config

    def build_model(self, config: Mapping):
        """Build and compile the GAN (called inside the strategy scope)."""
        raise NotImplementedError

    def dataset(self, config: Mapping, start_step: int) -> tf.data.Dataset:
        """An infinite dataset of global batches whose element k is the batch of global step k+start_step."""
        raise NotImplementedError

    def sample_grid(self, model):
        """uint8 [H, W, 3] image of samples from fixed inputs, or None."""
        return None

    def wandb_config(self, config: Mapping) -> dict:
        return dict(config)

    def step_metrics(self, model, step: int) -> dict:
        """Values to log with this step's losses (e.g. FID every N steps); {} for none."""
        return {}

    # config keys that fix the networks' shapes: a resumed run cannot change them
    fixed_on_resume: tuple = ()
    # config keys that define the networks (their shapes and what they compute): a run started with --init-from
    # takes them from the checkpoint it starts from unless given (and refuses a given one of fixed_on_resume
    # that differs)
    network_keys: tuple = ()

    def check_devices(self, config: Mapping, replicas: int) -> dict:
        """The settings that must change to run on `replicas` devices (strategy resolved), as
        {key: (new value, why)}: the trainer applies them, with a note, before the config is saved.
        Raise ConfigError if a setting cannot run on them."""
        return {}

    def on_finish(self, model, config: Mapping, step: int | None = None) -> None:
        """Called when training ends without failing - finished, or stopped cleanly by a signal
        or --max-duration - at global step `step`, e.g. to export the generators as they are now."""


@dataclass
class RunResult:
    step: int
    total_steps: int
    stop_reason: str | None
    out_dir: Path
    checkpoint: Path | None
    exit_code: int
    model: object = None


@dataclass
class Run:
    """One training session, as `train` hands it to `_fit`: the task, its resolved config (a dict, until
    _fit saves it) and where and how the run goes on."""

    task: TrainingTask
    config: dict
    out: Path
    manager: ckpt.CheckpointManager
    resume_from: Path | None = None  # the checkpoint it continues from (None: step 0)
    step: int = 0  # the global step it starts at
    tracker: object = None  # tracking.Tracker
    store: object = None  # where checkpoints are uploaded (an ArtifactStore), or None
    run_id: str | None = None  # the W&B run id
    project: str | None = None  # the W&B project
    extra_callbacks: tuple = ()
    command: str | None = None  # the command line that started it (printed as the resume command)
    strategy: object = None  # a tf.distribute strategy made already (multi-worker), else made by _fit
    worker: "_Worker" = None


def device_changes(task: TrainingTask, config: dict, replicas: int, say=print) -> dict:
    """config with the changes the task needs on `replicas` devices, each said in a note (a new dict)."""
    changes = task.check_devices(config, replicas)
    for key, (value, why) in changes.items():
        say(f"note: {why}: training with --{key.replace('_', '-')} {value}")
    return {**config, **{key: value for key, (value, _) in changes.items()}}


def _configure_determinism(config):
    keras.utils.set_random_seed(int(config["seed"]))
    if config.get("deterministic"):
        tf.config.experimental.enable_op_determinism()


# Settings that describe this session rather than the experiment: a resumed run
# always takes them from the current command line.
SESSION_KEYS = ("out", "resume", "max_duration", "wandb", "strategy", "jit_compile", "graph_optimizer", "verbose",
                "explicit_keys")


def _local_checkpoint(config, manager, task_name=None) -> Path | None:
    """The checkpoint `--resume` names, or the newest readable one under --out (None: start fresh).

    CheckpointError (one line) when the one named is missing, unreadable or another task's (the
    loaders' own checkpoint.open_checkpoint), or when every checkpoint under --out is unreadable
    (never a silent start from step 0 over the run's log)."""
    from common.data import DataError

    resume = config["resume"]
    if resume == "never":
        return None
    path, where = Path(resume), f"--resume {resume}"
    if resume == "auto":
        path, where = manager.resume_point(), f"--out {manager.root.parent}"
        if path is None:
            return None
    try:
        return ckpt.open_checkpoint(path, task_name)[0] if task_name else ckpt.find_checkpoint(path)
    except DataError as exc:
        raise ckpt.CheckpointError(f"{where}: {exc}") from None


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


def _interactive() -> bool:
    """A notebook kernel or a Python prompt: there the process is the user's session."""
    if hasattr(sys, "ps1") or sys.flags.interactive:
        return True
    ipython = sys.modules.get("IPython")
    return getattr(ipython, "get_ipython", lambda: None)() is not None


def _stopped_while_compiling(state: RunState, resume_from) -> str:
    if resume_from is not None and state.last_checkpoint_step is not None:
        return f"nothing new to save: resume from checkpoint {resume_from} at step {state.last_checkpoint_step}"
    return "no checkpoint yet: the run starts over next time"


# how long a stop while compiling waits for `before_exit` (ending the W&B run) before exiting anyway
BEFORE_EXIT_SECONDS = 20.0


@contextlib.contextmanager
def _signal_handlers(state: RunState, resume_from=None, before_exit=None):
    """SIGTERM / first Ctrl-C: finish the step, checkpoint, exit 0. A second Ctrl-C stops at once.

    Until this session's first step has finished (tracing, compiling - minutes for StyleGAN2 on
    a CPU - and running it) TensorFlow holds the main thread in C++, where no Python signal
    handler runs. So signal.set_wakeup_fd has the C-level handler write the signal's number to
    a pipe, and a daemon thread reading it acts at once: it says which checkpoint the next run
    resumes from, calls `before_exit(exit code)` (ends the W&B run, so its offline files are
    complete; at most BEFORE_EXIT_SECONDS, a second signal cuts it short) and exits the process
    with 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM: what a shell reports for a
    process the signal stopped; nothing was trained, so `train && upload` does not go on).
    os._exit corrupts nothing: before its first step ends a session has written only complete
    files (config.json; metrics.jsonl, cut back by an atomic rename and opened for appending;
    the W&B files, which before_exit closes) and no checkpoint is being written. In a notebook
    or at a Python prompt the process is the user's session: the message comes at once and
    training stops after the first step, with a checkpoint. From the first step on, the
    handler acts alone. The previous handlers and wakeup fd come back afterwards.
    """
    interactive = _interactive()
    watching = False

    def on_signal(signum, frame):
        compiling = watching and not state.first_step_done  # the watcher has said what happens
        if compiling and not interactive:
            state.signal_received = True  # the watcher ends the process (or, the step just done, we stop)
            return
        if state.signal_received and signum == signal.SIGINT:
            raise KeyboardInterrupt
        state.signal_received = True
        if not compiling:
            print(f"\nreceived {signal.Signals(signum).name}: finishing this step and saving a checkpoint",
                  file=sys.stderr, flush=True)

    def stop_while_compiling(signum, read_fd):
        with state.first_step_lock:  # held to the exit: the first step cannot end meanwhile
            if state.first_step_done:
                return
            name = signal.Signals(signum).name
            if interactive:
                print(f"\nreceived {name} while compiling the training step: training stops after the first "
                      "step, with a checkpoint", file=sys.stderr, flush=True)
                return
            print(f"\nreceived {name}: stopped while compiling; {_stopped_while_compiling(state, resume_from)}",
                  file=sys.stderr, flush=True)
            if before_exit is not None:
                finisher = threading.Thread(target=before_exit, args=(128 + signum,), name="before-exit",
                                            daemon=True)
                finisher.start()
                deadline = time.monotonic() + BEFORE_EXIT_SECONDS
                while finisher.is_alive() and time.monotonic() < deadline:
                    ready, _, _ = select.select([read_fd], [], [], 0.1)
                    if ready and set(os.read(read_fd, 64)) & {signal.SIGINT, signal.SIGTERM}:
                        break  # a second signal: stop now
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(128 + signum)

    def watch(read_fd):
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            if not data:  # the write end is closed: training is over
                return
            for signum in data:
                if signum in (signal.SIGINT, signal.SIGTERM):
                    stop_while_compiling(signum, read_fd)

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[sig] = signal.signal(sig, on_signal)
        except ValueError:  # not the main thread (e.g. some notebook runners)
            pass
    watcher = read_fd = write_fd = None
    previous_fd = -1
    if previous and os.name == "posix":  # (select and non-blocking pipes; elsewhere: the handler alone)
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        watcher = threading.Thread(target=watch, args=(read_fd,), name="signal-watcher", daemon=True)
        watcher.start()
        watching = True
    try:
        yield
    finally:
        if watcher is not None:
            signal.set_wakeup_fd(previous_fd)
            os.close(write_fd)
            watcher.join(timeout=5)
            if not watcher.is_alive():
                os.close(read_fd)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Worker:
    """Who this process is in the run: the chief (or the only process) writes; others print prefixed."""

    def __init__(self, strategy=None):
        self.chief = strategy is None or is_chief(strategy)
        self.label = worker_label(strategy) if strategy is not None else ""
        self.sync = WorkerSync(strategy) if strategy is not None else None

    @property
    def several(self) -> bool:
        return self.sync is not None and self.sync.active

    def say(self, message, file=None) -> None:
        prefix = "" if self.chief or not self.label else f"[{self.label}] "
        print(prefix + message, file=file or sys.stdout, flush=True)


def _resume_from(task, config, path, label, worker=None) -> tuple[dict, dict]:
    """Read a checkpoint's state and merge its config; print what changed."""
    say = worker.say if worker is not None else (lambda m: print(m, flush=True))
    meta = ckpt.read_state(path)
    config, changed = resumed_config(config, meta.get("config", {}), task.fixed_on_resume)
    for key, (old, new) in changed.items():
        say(f"resuming with a changed setting: {key} {old} -> {new}")
    if label:
        say(label)
    return config, meta


def _agree_on_start(task, given, config, meta, resume_from, manager, worker):
    """Multi-worker: every worker continues from the chief's step, or all stop with one error.

    One gather tells every worker whether any worker failed to start and the chief's resume
    step; a worker that found another step looks for the chief's checkpoint (under
    checkpoints/ or checkpoints/downloaded/ of the shared --out); a second gather says
    whether every worker found it. Returns (config, meta, resume_from).
    """
    step = int(meta.get("step", 0))
    rows = worker.sync.gather([0.0, step])
    if rows[:, 0].max():
        raise ConfigError("another worker of this run could not start (its own output says why); stopping too")
    chief_step = int(rows[0, 1])
    problem = None
    if step != chief_step:
        if chief_step == 0:  # the chief starts afresh (e.g. --resume never): so does this worker
            resume_from, config, meta = None, dict(given), {}
            task.prepare(config)
        else:
            name = f"ckpt-{chief_step:09d}"
            found = [p for p in (manager.root / name, manager.root / "downloaded" / name) if ckpt.is_readable(p)]
            if found:
                config, meta = _resume_from(task, dict(given), found[0], None, worker)
                resume_from = found[0]
                task.prepare(config)
            else:
                problem = (f"the chief resumes from step {chief_step} but {worker.label} finds "
                           f"{'no checkpoint' if step == 0 else f'step {step}'} in {manager.root}: --out must be "
                           "one folder every worker reads (a shared filesystem or a mounted bucket)")
    flags = worker.sync.gather([float(problem is not None)])
    if problem is not None:
        raise ConfigError(problem)
    if flags.max():
        raise ConfigError(f"another worker cannot see the chief's checkpoint of step {chief_step} (its own output "
                          "says where it looked): --out must be one folder every worker reads")
    return config, meta, resume_from


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
    from common.data import DataError
    from common.runtime import tracking

    # several machines: the collective strategy comes before TensorFlow runs anything else here
    strategy = make_strategy(config["strategy"]) if config["strategy"] == "multi-worker" else None
    worker = _Worker(strategy)
    given = dict(config)
    out = Path(config["out"])
    manager = ckpt.CheckpointManager(out / "checkpoints", keep=config["keep_checkpoints"])
    tracker = None
    try:
        resume_from = _local_checkpoint(config, manager, task.name)
        meta = {}
        if resume_from is not None:
            config, meta = _resume_from(task, config, resume_from, None, worker)
            if config.get("init_from") is not None:
                worker.say(f"note: --init-from {config['init_from']} is not used: this run resumes from its own "
                           f"checkpoint {resume_from}")
        task.prepare(config)  # data errors surface here, before any folder, model or W&B run exists
        if worker.chief:
            _check_writable(out)
        _configure_determinism(config)

        mode, why = tracking.resolve_mode(config["wandb"]) if worker.chief else ("disabled", "not the chief")
        project = config.get("wandb_project") or task.wandb_project
        run_id = config.get("wandb_run_id") or meta.get("wandb_run_id")
        step = int(meta.get("step", 0))
        if worker.chief:
            truncate_log(out / "metrics.jsonl", step)  # lines past the checkpoint are replayed by this run
        tracker = tracking.Tracker(mode=mode, why=why, project=project, config=task.wandb_config(config),
                                   run_id=run_id, out_dir=out, name=out.name, task=task.name,
                                   history=out / "metrics.jsonl" if step else None, samples=out / "samples")
        if tracker.run_id:
            run_id = tracker.run_id
        store = None
        if worker.chief:
            store = artifact_store if artifact_store is not None else tracker.artifact_store(
                project, keep=config["keep_checkpoints"])
        if (worker.chief and resume_from is None and config["resume"] == "auto"
                and (run_id or artifact_store is not None)):
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
    except (ckpt.CheckpointError, ConfigError, DataError):
        if worker.several:
            worker.sync.gather([1.0, -1.0])  # the other workers stop too instead of waiting for this one
        if tracker is not None:
            tracker.finish(exit_code=1)
        raise
    except BaseException:
        if tracker is not None:
            tracker.finish(exit_code=1)
        raise
    try:
        if worker.several:
            config, meta, resume_from = _agree_on_start(task, given, config, meta, resume_from, manager, worker)
            step = int(meta.get("step", 0))
        return _fit(Run(task, config, out, manager, resume_from=resume_from, step=step, tracker=tracker,
                        store=store, run_id=run_id, project=project, extra_callbacks=tuple(extra_callbacks),
                        command=command, strategy=strategy, worker=worker))
    except BaseException:
        tracker.finish(exit_code=1)
        raise


def _fit(run: Run) -> RunResult:
    task, out, manager, resume_from, step = run.task, run.out, run.manager, run.resume_from, run.step
    tracker, store, run_id = run.tracker, run.store, run.run_id
    worker = run.worker or _Worker()
    with _precision_policy(run.config["mixed_precision"]):
        strategy = run.strategy or make_strategy(run.config["strategy"])
        graph_optimizer(run.config.get("graph_optimizer", "auto"))
        replicas = strategy.num_replicas_in_sync
        if run.config["batch_size"] % replicas:
            raise ConfigError(f"--batch-size {run.config['batch_size']} is not divisible by the {replicas} devices")
        # the config is final from here: saved as it is, and read-only for the task
        config = RunConfig(device_changes(task, run.config, replicas, say=worker.say))
        task.start(config)
        with strategy.scope():
            model = task.build_model(config)
            model.build_optimizers()
            if resume_from is not None:
                ckpt.restore(model, resume_from)
            elif config.get("init_from") is not None:
                found = ckpt.restore_networks(model, config["init_from"], task.name)
                worker.say(f"starting at step 0 from the networks of {found} (--init-from)")
        spe = int(config["steps_per_epoch"])
        total = int(config["epochs"]) * spe
        if worker.chief:
            save_config(dict(config), out / "config.json")
            _announce(tracker, run_id, run.project, run.command, out)
        elif worker.label:
            worker.say(f"training with the chief ({strategy.num_replicas_in_sync} replicas in all); the chief "
                       f"writes checkpoints, logs and samples to {out}")
        state = RunState(step=step, total_steps=total, start_step=step)
        if resume_from is not None:
            state.last_checkpoint_step = step
            worker.say(f"resuming from {resume_from} at step {step}/{total}")

        def save_checkpoint(at_step):
            if not worker.chief:
                # reads every value as the chief's save does (the same collectives, if a variable needs any)
                ckpt.variable_values(model)
                return
            path = manager.save(model, at_step, {
                "epoch": at_step // spe, "seed": config["seed"], "config": dict(config),
                "wandb_run_id": run_id, "task": task.name,
            })
            if store is not None:
                store.upload(path, at_step)

        logger = None
        if worker.chief:
            logger = ScalarLogger(state, out / "metrics.jsonl", tracker, log_every=config["log_every"],
                                  extra=task.step_metrics)
        callbacks = [
            RunController(state, max_duration=config.get("max_duration"),
                          agree=worker.sync.any if worker.several else None, say=worker.say),
            # the step's log line is on disk before the checkpoint that covers it
            *([logger, SampleWriter(state, task.sample_grid, out / "samples", config["sample_every"], tracker)]
              if worker.chief else []),
            CheckpointWriter(state, checkpoint_every=config["checkpoint_every"], save_checkpoint=save_checkpoint,
                             before_save=logger.sync if logger is not None else None),
            *([ProgressLine(state)] if worker.chief else []),
            *run.extra_callbacks,
        ]
        with _signal_handlers(state, resume_from, before_exit=lambda code: tracker.finish(exit_code=code)):
            _fit_epochs(model, task, config, state, spe, callbacks)

    if worker.chief:
        plot_losses(out / "metrics.jsonl", out / "losses.png", task=task.name, title=out.name)
        _write_report(out)
    exit_code = 0
    if state.stop_reason == "nan":
        worker.say(f"training stopped: {state.failure}", file=sys.stderr)
        exit_code = 1
    elif state.stop_reason in ("signal", "duration"):
        if worker.chief:
            task.on_finish(model, config, step=state.step)
        why = "on request" if state.stop_reason == "signal" else "at --max-duration"
        worker.say(f"stopped {why} at step {state.step}/{total}; checkpoint saved in {manager.root}. "
                   f"Resume with the same command (--resume auto is the default).")
    else:
        if worker.chief:
            task.on_finish(model, config, step=state.step)
        worker.say(f"finished {state.step} steps; outputs in {out}")
    tracker.finish(exit_code=exit_code)
    return RunResult(step=state.step, total_steps=total, stop_reason=state.stop_reason, out_dir=out,
                     checkpoint=manager.latest(), exit_code=exit_code, model=model)


def _write_report(out: Path) -> None:
    """report.html of the run (common.runtime.run_report); a page that cannot be written is a warning, the
    run itself is saved."""
    from common.runtime.run_report import write_report

    try:
        write_report(out)
    except Exception as exc:  # noqa: BLE001 - the report is a view of the run folder, never worth a failed run
        log.warning("could not write %s: %s", out / "report.html", exc)


def _keras_multi_worker_fixes(model) -> None:
    """Two gaps of Keras 3's fit under MultiWorkerMirroredStrategy (tensorflow/tensorflow#72388), mended
    on this model only:

    * the step's logged values are averaged over workers with strategy.reduce("MEAN", v, axis=0),
      which fails on a scalar loss: each scalar leaves the step as shape [1], so the average over
      the workers' replicas is the same number one device logs (every worker gets it);
    * fit builds the model from its first batch, averaged with one strategy.reduce call on the whole
      (tuple) element, which this strategy cannot reduce: it builds from this worker's first
      replica's batch instead (shapes are what the build needs; no collective).
    """
    if getattr(model, "_multi_worker_fixed", False):
        return
    step, build, strategy = model.train_step, model._maybe_symbolic_build, model.distribute_strategy

    def train_step(data):
        logs = step(data)
        return {k: tf.reshape(v, [1]) if isinstance(v, tf.Tensor) and v.shape.rank == 0 else v
                for k, v in logs.items()} if isinstance(logs, dict) else logs

    def local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(local, next(it))
                break
        return build(data_batch=data_batch)

    model.train_step = train_step
    model._maybe_symbolic_build = maybe_symbolic_build
    model.train_function = None
    model._multi_worker_fixed = True


def _fit_epochs(model, task, config, state, spe, callbacks) -> None:
    """Keras fit over whole epochs; a run resumed mid-epoch first finishes that epoch."""
    if isinstance(model.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
        _keras_multi_worker_fixes(model)
    total = state.total_steps
    while state.step < total and state.stop_reason is None:
        epoch, done_in_epoch = divmod(state.step, spe)
        dataset = for_replicas(task.dataset(config, start_step=state.step),
                               model.distribute_strategy.num_replicas_in_sync)
        # several workers: each takes its replicas' slices of every global batch, in order (the pipeline
        # is a function of (seed, step), so every worker builds the same global batches)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        dataset = dataset.with_options(options)
        if done_in_epoch:
            model.fit(dataset, epochs=1, steps_per_epoch=spe - done_in_epoch, verbose=0,
                      shuffle=False, callbacks=callbacks)
        else:
            model.fit(dataset, initial_epoch=epoch, epochs=int(config["epochs"]), steps_per_epoch=spe,
                      verbose=0, shuffle=False, callbacks=callbacks)
            if state.stop_reason is None and state.step < total:
                break  # the dataset ran dry (should not happen: pipelines are infinite)


def _announce(tracker, run_id, project, command, out=None) -> None:
    """Print the W&B run id and how to continue this run in a new session.

    Online, the command with --wandb-run-id fetches the newest checkpoint artifact on a fresh
    machine. Offline nothing can be fetched: the run folder itself has to come along."""
    if not tracker.active or not run_id:
        return
    print(f"W&B run id: {run_id} (project {project})", flush=True)
    if not command:
        return
    if tracker.mode != "online":
        where = f" {out}" if out is not None else ""
        print(f"to continue this run in a new session: {command} (W&B is offline, so no checkpoint is uploaded "
              f"and --wandb-run-id cannot fetch one: keep the --out folder{where}, e.g. as a Kaggle output or on "
              "Drive, and put it back at the same path first)", flush=True)
        return
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
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as exc:
        if config.get("strategy") != "multi-worker":
            raise
        print(f"error: lost contact with another worker of this run (a collective failed with "
              f"{type(exc).__name__}); restart every worker with the same command: they continue from the chief's "
              "newest checkpoint", file=sys.stderr, flush=True)
        return 1
    return result.exit_code


from common.runtime.command import TrainCommand  # noqa: E402,F401  (its old home)
