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


def resolve_mode(requested: str) -> str:
    """auto|online|offline|disabled -> online|offline|disabled (explains offline once)."""
    env_mode = os.environ.get("WANDB_MODE")
    if requested == "auto" and env_mode in ("offline", "disabled", "dryrun"):
        return "offline" if env_mode == "dryrun" else env_mode
    if requested != "auto":
        return requested
    if os.environ.get("WANDB_API_KEY") or _netrc_has_wandb():
        return "online"
    key = _kaggle_secret()
    if key:
        os.environ["WANDB_API_KEY"] = key
        return "online"
    return "offline"


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
    """Checkpoints as versioned W&B artifacts `<run id>-checkpoint` with alias `latest`."""

    def __init__(self, run=None, *, project=None, run_id=None, entity=None):
        self.run = run
        self.project = project
        self.run_id = run_id or (run.id if run is not None else None)
        self.entity = entity or os.environ.get("WANDB_ENTITY")

    @property
    def artifact_name(self) -> str:
        return f"{self.run_id}-checkpoint"

    def upload(self, checkpoint_dir, step):
        import wandb

        artifact = wandb.Artifact(self.artifact_name, type="checkpoint", metadata={"step": step})
        artifact.add_dir(str(checkpoint_dir), name=Path(checkpoint_dir).name)
        self.run.log_artifact(artifact, aliases=["latest", f"step-{step}"])

    def download_latest(self, dest):
        import wandb

        api = wandb.Api()
        entity = self.entity or api.default_entity
        try:
            artifact = api.artifact(f"{entity}/{self.project}/{self.artifact_name}:latest")
        except Exception as exc:  # noqa: BLE001 - wandb raises CommError/ValueError variants
            log.warning("no checkpoint artifact for W&B run %s: %s", self.run_id, exc)
            return None
        root = Path(artifact.download(root=str(Path(dest) / "wandb-artifact")))
        candidates = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("ckpt-"))
        return candidates[-1] if candidates else None


class Tracker:
    """A thin wrapper over one W&B run; every method is safe in disabled mode."""

    def __init__(self, *, mode, project, config, run_id=None, out_dir, name=None):
        import wandb

        self.mode = mode
        self.wandb = wandb
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=project, config=config, id=run_id, resume="allow" if run_id else None,
            mode=mode, dir=str(out_dir), name=name, reinit="finish_previous",
        )
        self.run_id = getattr(self.run, "id", None)
        if mode != "disabled":
            # logging against our own step metric keeps history monotonic-agnostic:
            # after a kill, steps already logged past the checkpoint are logged again
            self.run.define_metric("global_step")
            self.run.define_metric("*", step_metric="global_step")
        if mode == "offline":
            run_dir = getattr(self.run, "dir", None)
            sync_dir = Path(run_dir).parent if run_dir else Path(out_dir) / "wandb"
            print(f"W&B offline (no credentials found): logging to {sync_dir}; "
                  f"upload later with `wandb sync {sync_dir}`", flush=True)

    @property
    def active(self) -> bool:
        return self.mode != "disabled"

    def log(self, values: dict, step: int) -> None:
        if self.active:
            self.run.log({**values, "global_step": step})

    def log_image(self, key: str, image, step: int, caption: str | None = None) -> None:
        if self.active:
            self.run.log({key: self.wandb.Image(image, caption=caption), "global_step": step})

    def artifact_store(self, project) -> ArtifactStore | None:
        if self.mode == "online":
            return WandbArtifactStore(self.run, project=project)
        return None

    def finish(self, exit_code: int = 0) -> None:
        self.run.finish(exit_code=exit_code)
