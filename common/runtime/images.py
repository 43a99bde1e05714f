"""Sample grids, PNG files and the loss-curve plot (matplotlib, no display needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def image_grid(rows, pad: int = 2) -> np.ndarray:
    """rows: list of rows, each a list of uint8 [H, W, 3] images of one size -> uint8 grid."""
    rows = [list(r) for r in rows if len(r)]
    if not rows:
        raise ValueError("image_grid needs at least one image")
    h, w, c = np.asarray(rows[0][0]).shape
    ncols = max(len(r) for r in rows)
    grid = np.full((len(rows) * (h + pad) + pad, ncols * (w + pad) + pad, c), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[y:y + h, x:x + w] = np.asarray(img, np.uint8)
    return grid


def save_png(path, image) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, np.asarray(image, np.uint8))


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
    keys = [k for k in records[0] if k != "step"]
    steps = np.array([r["step"] for r in records])
    fig, ax = plt.subplots(figsize=(10, 5))
    for key in keys:
        values = np.array([float(r.get(key, np.nan)) for r in records], dtype=float)  # "nan" strings too
        if smooth > 1 and len(values) > smooth:
            values = np.convolve(values, np.ones(smooth) / smooth, mode="same")
        ax.plot(steps, values, label=key, linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("symlog", linthresh=1e-2)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return Path(png_path)
