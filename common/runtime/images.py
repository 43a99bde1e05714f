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


def label_strip(labels, width: int, column_width: int, pad: int = 2, height: int = 18) -> np.ndarray:
    """uint8 [height, width, 3] white strip with each label centred over its column (OpenCV text)."""
    import cv2

    strip = np.full((height, width, 3), 255, np.uint8)
    scale = 0.4
    for j, text in enumerate(labels):
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        x = pad + j * (column_width + pad) + max(0, (column_width - tw) // 2)
        cv2.putText(strip, text, (x, (height + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return strip


def labelled_grid(groups, pad: int = 2) -> np.ndarray:
    """groups: [(column labels, rows of uint8 [H, W, 3] images)] -> one uint8 sheet, each group under
    a strip naming its columns (e.g. night | G(night) | F(G(night)))."""
    parts = []
    for labels, rows in groups:
        grid = image_grid(rows, pad)
        column_width = np.asarray(rows[0][0]).shape[1]
        parts += [label_strip(labels, grid.shape[1], column_width, pad), grid]
    width = max(p.shape[1] for p in parts)
    parts = [np.pad(p, ((0, 0), (0, width - p.shape[1]), (0, 0)), constant_values=255) for p in parts]
    return np.concatenate(parts, axis=0)


def save_png(path, image) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, np.asarray(image, np.uint8))
