"""Sample grids and PNG files (matplotlib, no display needed)."""

from __future__ import annotations

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
