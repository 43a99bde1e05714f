"""The loss-curve plot of a run's metrics.jsonl (matplotlib, no display needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def plot_losses(jsonl_path, png_path, smooth: int = 0) -> Path | None:
    """Plot every scalar of metrics.jsonl against step; returns the PNG path (None if no data)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    records = []
    for line in Path(jsonl_path).read_text().splitlines() if Path(jsonl_path).exists() else []:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    if not records:
        return None
    # every key any step logged, in first-seen order: a regulariser is logged only at the steps it runs
    keys = list(dict.fromkeys(k for r in records for k in r if k != "step"))
    steps = np.array([r["step"] for r in records])
    fig, ax = plt.subplots(figsize=(10, 5))
    for key in keys:
        values = np.array([float(r.get(key, np.nan)) for r in records], dtype=float)  # "nan" strings too
        logged = ~np.isnan(values)  # the steps that logged it, joined by one line
        values, at = values[logged], steps[logged]
        if smooth > 1 and len(values) > smooth:
            values = np.convolve(values, np.ones(smooth) / smooth, mode="same")
        ax.plot(at, values, label=key, linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("symlog", linthresh=1e-2)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return Path(png_path)
