"""Weights & Biases: choosing the mode, the run, and checkpoint artifacts.

`--wandb auto` is online when credentials exist (WANDB_API_KEY, `wandb login`'s
netrc entry, or the Kaggle notebook secret WANDB_API_KEY) and offline otherwise;
offline runs write real files that `wandb sync` uploads later. `disabled` gives
W&B's no-op run. Keys are read into the environment for wandb and never printed.

Checkpoints travel as W&B artifacts behind `ArtifactStore`, so the resume flow is
tested offline with `LocalArtifactStore` and runs online with `WandbArtifactStore`.
"""

from __future__ import annotations

import logging
import netrc
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


def _netrc_has_wandb() -> bool:
    path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        hosts = netrc.netrc(path).hosts
    except (OSError, netrc.NetrcParseError):
        return False
    return any("wandb" in host for host in hosts)


def _kaggle_secret() -> str | None:
    try:
        from kaggle_secrets import UserSecretsClient  # only exists inside Kaggle notebooks
    except ImportError:
        return None
    try:
        return UserSecretsClient().get_secret("WANDB_API_KEY")
    except Exception:  # noqa: BLE001 - no such secret / not attached
        return None


def resolve_mode(requested: str) -> tuple[str, str]:
    """auto|online|offline|disabled -> (online|offline|disabled, why, in words for the user)."""
    env_mode = os.environ.get("WANDB_MODE")
    if requested == "auto" and env_mode in ("offline", "disabled", "dryrun"):
        return ("offline" if env_mode == "dryrun" else env_mode), f"WANDB_MODE={env_mode}"
    if requested != "auto":
        return requested, f"--wandb {requested}"
    if os.environ.get("WANDB_API_KEY") or _netrc_has_wandb():
        return "online", "credentials found"
    key = _kaggle_secret()
    if key:
        os.environ["WANDB_API_KEY"] = key
        return "online", "Kaggle secret WANDB_API_KEY"
    return "offline", "no credentials found"


class ArtifactStore:
    """Where checkpoints are backed up and fetched from (a new Kaggle session has none)."""

    def upload(self, checkpoint_dir: Path, step: int) -> None:
        raise NotImplementedError

    def download_latest(self, dest: Path) -> Path | None:
        """Fetch the newest backed-up checkpoint into dest; return its folder or None."""
        raise NotImplementedError


class LocalArtifactStore(ArtifactStore):
    """A folder standing in for W&B's artifact storage (tests, shared drives)."""

    def __init__(self, root):
        self.root = Path(root)

    def upload(self, checkpoint_dir, step):
        target = self.root / f"step-{step:09d}"
        tmp = self.root / f".tmp-{step:09d}"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(checkpoint_dir, tmp / Path(checkpoint_dir).name)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)

    def download_latest(self, dest):
        versions = sorted(p for p in self.root.glob("step-*") if p.is_dir()) if self.root.is_dir() else []
        if not versions:
            return None
        (src,) = list(versions[-1].iterdir())
        out = Path(dest) / src.name
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(src, out)
        return out


class WandbArtifactStore(ArtifactStore):
    """Checkpoints as versioned W&B artifacts `<run id>-checkpoint` (alias `latest`), newest `keep` kept.

    A 30k-step multi-scale run checkpointed every 2,000 steps would otherwise store
    15 versions of ~600 MB. Downloads go through `run.use_artifact`, so W&B records
    that the continued run consumed that checkpoint.
    """

    def __init__(self, run, *, project=None, keep: int = 3, entity=None):
        self.run = run
        self.project = project
        self.keep = max(1, int(keep))
        self.run_id = run.id
        self.entity = entity or os.environ.get("WANDB_ENTITY")

    @property
    def artifact_name(self) -> str:
        return f"{self.run_id}-checkpoint"

    def upload(self, checkpoint_dir, step):
        import wandb

        artifact = wandb.Artifact(self.artifact_name, type="checkpoint", metadata={"step": step})
        artifact.add_dir(str(checkpoint_dir), name=Path(checkpoint_dir).name)
        logged = self.run.log_artifact(artifact, aliases=["latest", f"step-{step}"])
        try:
            logged.wait()  # the new version must exist before older ones are deleted
            self._prune()
        except Exception as exc:  # noqa: BLE001 - pruning is housekeeping; training goes on
            log.warning("could not prune old checkpoint artifacts of run %s: %s", self.run_id, exc)

    def _prune(self) -> None:
        import wandb

        api = wandb.Api()
        entity = self.entity or self.run.entity
        versions = list(api.artifacts("checkpoint", f"{entity}/{self.project}/{self.artifact_name}"))
        versions.sort(key=lambda a: int(str(a.version).lstrip("v") or 0), reverse=True)
        for old in versions[self.keep:]:
            if "latest" not in old.aliases:
                old.delete(delete_aliases=True)

    def download_latest(self, dest):
        try:
            artifact = self.run.use_artifact(f"{self.artifact_name}:latest", type="checkpoint")
            root = Path(artifact.download(root=str(Path(dest) / "wandb-artifact")))
        except Exception as exc:  # noqa: BLE001 - wandb raises CommError/ValueError variants
            log.warning("no checkpoint artifact for W&B run %s: %s", self.run_id, str(exc).splitlines()[0])
            return None
        candidates = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("ckpt-"))
        return candidates[-1] if candidates else None


class Tracker:
    """A thin wrapper over one W&B run; every method is safe in disabled mode.

    mode: online | offline | disabled; why: how the mode was chosen (printed).
    task: the task's name, which decides the W&B section of each metric (common.runtime.plots.metric_kind).
    history: a resumed run's metrics.jsonl (already cut back to the checkpoint). W&B
    cannot append to an offline run, so an offline run that resumes starts a fresh
    offline folder for the same run id, replays the logged steps (and sample grids
    from `samples`) into it and deletes the earlier folders of that id: one folder per
    run, one entry per step, which `wandb sync` uploads whole.
    """

    def __init__(self, *, mode, project, config, run_id=None, out_dir, name=None, why=None, history=None,
                 samples=None, task=None):
        import wandb

        self.mode = mode
        self.task = task  # the task whose metric names `log` sorts into W&B sections
        self.wandb = wandb
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=project, config=config, id=run_id, resume="allow" if run_id else None,
            mode=mode, dir=str(out_dir), name=name, reinit="finish_previous",
        )
        # a disabled run's id is made up: never report it as a run to continue
        self.run_id = getattr(self.run, "id", None) if mode != "disabled" else None
        if mode != "disabled":
            # logging against our own step metric: a resumed run logs its steps again
            self.run.define_metric("global_step")
            self.run.define_metric("*", step_metric="global_step")
        if mode == "offline":
            run_dir = self.offline_dir = Path(self.run.dir).parent
            if history is not None:
                self._replay(Path(history), Path(samples) if samples else None)
                self._remove_earlier_offline_folders(run_dir)
            print(f"W&B offline ({why or 'offline'}): logging to {run_dir}; "
                  f"upload later with `wandb sync {run_dir}`", flush=True)
        elif mode == "online":
            print(f"W&B online ({why or 'online'})", flush=True)

    @property
    def active(self) -> bool:
        return self.mode != "disabled"

    def log(self, values: dict, step: int) -> None:
        """Log one step's scalars, each under its W&B section (plots.wandb_key: `loss/g_loss`, `reg/r1`,
        `ada/p`, ...): the dashboard groups them as the loss plot's panels do."""
        if self.active:
            from common.runtime.plots import wandb_key

            self.run.log({**{wandb_key(k, self.task): v for k, v in values.items()}, "global_step": step})

    def log_image(self, key: str, image, step: int, caption: str | None = None) -> None:
        if self.active:
            self.run.log({key: self.wandb.Image(image, caption=caption), "global_step": step})

    def update_config(self, config: dict) -> None:
        if self.active:
            self.run.config.update(config, allow_val_change=True)

    def artifact_store(self, project, keep: int = 3) -> ArtifactStore | None:
        if self.mode == "online":
            return WandbArtifactStore(self.run, project=project, keep=keep)
        return None

    def _replay(self, history: Path, samples: Path | None) -> None:
        import json

        last = 0
        for line in history.read_text().splitlines() if history.exists() else []:
            try:
                record = json.loads(line)
                step = int(record.pop("step"))
            except (ValueError, KeyError):
                continue
            self.log({k: float(v) for k, v in record.items()}, step=step)
            last = max(last, step)
        for png in sorted(samples.glob("step_*.png")) if samples is not None and samples.is_dir() else []:
            step = int(png.stem.split("_")[1])
            if step <= last:
                self.log_image("samples", str(png), step=step, caption=f"step {step}")

    def _remove_earlier_offline_folders(self, current: Path) -> None:
        # wandb names a folder offline-run-<time>-<id>, with -1, -2... when the time repeats
        for folder in current.parent.glob(f"offline-run-*-{self.run_id}*"):
            same_run = folder.name.endswith(f"-{self.run_id}") or f"-{self.run_id}-" in folder.name
            if same_run and folder.resolve() != current.resolve():
                shutil.rmtree(folder, ignore_errors=True)

    def finish(self, exit_code: int = 0) -> None:
        """End the run; an offline run's `.wandb` file is complete when this returns."""
        self.run.finish(exit_code=exit_code)
        if self.mode == "offline":
            # run.finish() returns once wandb-core has acknowledged the exit record, but (wandb 0.31)
            # the core writes the transaction log's buffered tail only when it closes the run's
            # stream, which it does after an unacknowledged inform_finish: a `wandb sync` (or a
            # test) reading the file right away could find only its 7-byte header. teardown()
            # waits for the service process to exit, so every stream is closed and flushed; the
            # next wandb.init starts a new service (a fraction of a second). Any other run of this
            # process was already finished by our wandb.init(reinit="finish_previous").
            try:
                self.wandb.teardown()
            except SystemExit as exc:  # wandb exits if its service failed; training itself is done
                log.warning("W&B's service stopped with code %s; check the offline files in %s",
                            exc.code, self.offline_dir)
