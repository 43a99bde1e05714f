"""The loss panels of a run's metrics.jsonl (matplotlib, no display needed), and the kinds of metric they group.

Every logged name has one kind (`metric_kind`): generator and discriminator losses, regularisers,
discriminator probabilities and accuracies (or raw scores), ADA's state, progress, evaluation during
training, learning rates, other. The same kind orders the loss plot's panels and names the metric on W&B
(`wandb_key`: `loss/g_loss`, `reg/r1`, `ada/p`, ...), so the dashboard has the plot's sections;
metrics.jsonl keeps the names the models log (resume and tests read them).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Panel:
    title: str
    ylabel: str
    wandb_prefix: str  # the W&B section


# the panels in the order they are drawn; a kind nothing logged is left out
PANELS = {
    "generator": Panel("Generator losses", "loss", "loss/"),
    "discriminator": Panel("Discriminator losses", "loss", "loss/"),
    "regulariser": Panel("Regularisers", "value", "reg/"),
    "probability": Panel("Discriminator probabilities and accuracies", "fraction", "prob/"),
    "score": Panel("Discriminator scores (mean logits)", "logit", "score/"),
    "ada": Panel("ADA: augmentation probability p and overfitting heuristic r_t", "value", "ada/"),
    "progress": Panel("Progress", "kimg (real images shown / 1000)", "progress/"),
    "evaluation": Panel("Evaluation during training", "value", "eval/"),
    "learning_rate": Panel("Learning rates", "learning rate", "lr/"),
    "other": Panel("Other values", "value", "other/"),
}

# (name pattern, kind), the first match wins; a task's own rules come before these
_RULES = (
    ("lr/*", "learning_rate"),
    ("kimg", "progress"),
    ("augment_p", "ada"), ("rt", "ada"), ("ada_*", "ada"),
    # terms that regularise the objective rather than play the game: StyleGAN2's lazy R1 and path-length
    # penalty (and its running mean), gradient penalties, kernel L2, CycleGAN's cycle and identity terms
    ("r1", "regulariser"), ("pl", "regulariser"), ("pl_mean", "regulariser"), ("gp", "regulariser"),
    ("gradient_penalty*", "regulariser"), ("*regularization*", "regulariser"),
    ("cycle_*", "regulariser"), ("identity_*", "regulariser"),
    # D(x), D(G(z)) as probabilities, D's accuracies, the share of flipped labels
    ("d_x", "probability"), ("d_g_z*", "probability"), ("*acc*", "probability"), ("flip_share", "probability"),
    ("fid*", "evaluation"), ("kid*", "evaluation"), ("is", "evaluation"), ("precision*", "evaluation"),
    ("recall*", "evaluation"),
    ("g_*", "generator"), ("d_*", "discriminator"),
)

# where a task's names mean something else than the shared rules say
TASK_RULES = {
    # F (day -> night) is the second generator: f_source is its adversarial loss
    "night2day": (("f_*", "generator"),),
    # StyleGAN2 logs D's mean logits on real and generated images (NVIDIA's Loss/scores/real, /fake)
    "watches": (("d_real", "score"), ("d_fake", "score")),
}

# shorter W&B names within a section
_WANDB_NAMES = {"augment_p": "p", "rt": "r_t"}


def metric_kind(name: str, task: str | None = None) -> str:
    """The kind (a key of PANELS) of the metric `name` as task `task` logs it; "other" if no rule knows it."""
    for pattern, kind in (*TASK_RULES.get(task, ()), *_RULES):
        if fnmatchcase(name, pattern):
            return kind
    return "other"


def wandb_key(name: str, task: str | None = None) -> str:
    """The name W&B shows `name` under: its kind's section and the name (`loss/g_loss`, `ada/p`); a name
    with a section of its own (`lr/g`) is kept."""
    if "/" in name:
        return name
    return PANELS[metric_kind(name, task)].wandb_prefix + _WANDB_NAMES.get(name, name)


def read_metrics(jsonl_path) -> list[dict]:
    """The records of metrics.jsonl ({"step": int, name: value}); lines that are not JSON are skipped."""
    path = Path(jsonl_path)
    records = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "step" in record:
            records.append(record)
    return records


def _series(records, key):
    """(steps, values) of the steps that logged `key`, as floats ("nan"/"inf" strings included)."""
    steps, values = [], []
    for r in records:
        if key in r:
            try:
                values.append(float(r[key]))
            except (TypeError, ValueError):
                continue
            steps.append(r["step"])
    return np.asarray(steps, dtype=float), np.asarray(values, dtype=float)


def ema(values, span: float | None = None) -> np.ndarray:
    """The exponential moving average of `values` (float [N]) with alpha 2 / (span + 1); span defaults to
    N / 20 (at least 1: no smoothing, at most 100). Non-finite values are passed over (the average holds)."""
    values = np.asarray(values, dtype=float)
    if span is None:
        span = min(max(len(values) / 20.0, 1.0), 100.0)
    alpha = 2.0 / (span + 1.0)
    out = np.empty_like(values)
    level = math.nan
    for i, v in enumerate(values):
        if math.isfinite(v):
            level = v if math.isnan(level) else level + alpha * (v - level)
        out[i] = level
    return out


def loss_figure(records, task: str | None = None, title: str | None = None):
    """A matplotlib Figure with one panel per kind of metric in `records` (read_metrics), or None if none.

    Each panel (axes titled PANELS[kind].title) draws every metric of its kind against step: the logged
    values faint, their moving average (ema) solid and in the legend. A panel's y axis is logarithmic when
    every value it shows is positive, else linear."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    # every key any step logged, in first-seen order: a regulariser is logged only at the steps it runs
    keys = list(dict.fromkeys(k for r in records for k in r if k != "step"))
    groups: dict[str, list] = {}
    for key in keys:
        steps, values = _series(records, key)
        if len(values):
            groups.setdefault(metric_kind(key, task), []).append((key, steps, values))
    kinds = [k for k in PANELS if k in groups]
    if not kinds:
        return None
    ncols = 1 if len(kinds) == 1 else 2
    nrows = math.ceil(len(kinds) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.0 * ncols, 3.6 * nrows), squeeze=False)
    for ax in axes.flat[len(kinds):]:
        ax.remove()
    for ax, kind in zip(axes.flat, kinds):
        panel = PANELS[kind]
        finite = []
        for i, (key, steps, values) in enumerate(groups[kind]):
            color = f"C{i % 10}"
            marker = "o" if len(values) == 1 else None
            # a label starting with "_" stays out of the legend
            ax.plot(steps, values, color=color, alpha=0.25, linewidth=0.8, marker=marker, label=f"_{key} (raw)")
            ax.plot(steps, ema(values), color=color, linewidth=1.6, marker=marker, label=key)
            finite.append(values[np.isfinite(values)])
        shown = np.concatenate(finite)
        if len(shown) and (shown > 0).all():
            ax.set_yscale("log")
            # a few near-zero raw values would stretch the axis over decades the averages never reach
            ax.set_ylim(bottom=max(shown.min(), np.percentile(shown, 1) / 2) / 1.2, top=shown.max() * 1.5)
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel(panel.ylabel)
        ax.grid(alpha=0.3, which="both" if ax.get_yscale() == "log" else "major")
        ax.legend(fontsize=8, ncol=2 if len(groups[kind]) > 4 else 1, loc="best")
    fig.suptitle((f"{title}: " if title else "") + "solid lines: moving averages; faint: the logged values",
                 fontsize=11)
    fig.tight_layout()
    return fig


def plot_losses(jsonl_path, png_path, task: str | None = None, title: str | None = None) -> Path | None:
    """The loss panels (loss_figure) of metrics.jsonl as a PNG at png_path; returns it (None if no data)."""
    fig = loss_figure(read_metrics(jsonl_path), task, title)
    if fig is None:
        return None
    import matplotlib.pyplot as plt

    try:
        fig.savefig(png_path, dpi=100)
    finally:
        plt.close(fig)
    return Path(png_path)
