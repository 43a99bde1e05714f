"""Images as people see them: network output -> uint8 pixels, sample sheets, reading and writing files.

One place maps a generator's value range to pixels (to_uint8), one rule sizes the tiles of every
sample sheet (sheet_tile, shown), and one path reads the images users hand to the inference verbs
(read_image, input_images).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# the side every sample sheet shows an image at: the image's own, kept within these bounds
SHEET_TILE_MIN, SHEET_TILE_MAX = 128, 256


def to_pixels(images, value_range: str = "tanh") -> np.ndarray:
    """Network pixels in value_range ("tanh": [-1, 1], "sigmoid": [0, 1], "pixels": already [0, 255])
    -> float32 in [0, 255], not rounded (to resize before rounding)."""
    x = np.asarray(images, np.float32)
    if value_range == "tanh":
        return (x + 1.0) * 127.5
    if value_range == "sigmoid":
        return x * 255.0
    if value_range != "pixels":
        raise ValueError(f"value_range must be tanh, sigmoid or pixels, got {value_range!r}")
    return x


def to_uint8(images, value_range: str = "tanh") -> np.ndarray:
    """Network pixels in value_range (see to_pixels; "pixels" e.g. after resizing, which may overshoot)
    -> uint8, rounded and clipped."""
    return np.clip(np.round(to_pixels(images, value_range)), 0, 255).astype(np.uint8)


def sheet_tile(size: int) -> int:
    """The side a sample sheet shows an image of side `size` at: kept between 128 and 256 px, so a
    small training size stays visible and a large one keeps the sheet viewable."""
    return int(min(max(int(size), SHEET_TILE_MIN), SHEET_TILE_MAX))


def shown(images, value_range: str = "tanh", tile: int | None = None) -> list:
    """A batch [B, S, S, 3] of network pixels -> B uint8 images at the sheet tile side (sheet_tile(S)
    unless given), resized (common.data.resize: bilinear, antialiased) when that differs from S."""
    pixels = to_pixels(images, value_range)
    tile = tile or sheet_tile(pixels.shape[1])
    if pixels.shape[1] != tile or pixels.shape[2] != tile:
        from common.data import resize

        pixels = resize(pixels, tile)
    return list(to_uint8(pixels, "pixels"))


def read_image(path) -> np.ndarray:
    """uint8 [H, W, 3] (the toolkit's one decoding path: common.data.load_image)."""
    from common.data import load_image

    return np.asarray(load_image(str(path)))


def input_images(source) -> list[Path]:
    """An image file, or the images in a folder (sorted, recursive) -> paths; DataError (one line)
    for a file that is not an image or a folder without images."""
    from common.data import IMAGE_EXTENSIONS, DataError, list_images

    source = Path(source)
    if source.is_file():
        if source.suffix.lower() not in IMAGE_EXTENSIONS:
            raise DataError(f"not an image file: {source}")
        return [source]
    return [Path(p) for p in list_images(source)]


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
