"""Images as people see them: network output -> uint8 pixels, sample sheets, reading and writing files.

One place maps a generator's value range to pixels (to_uint8), one rule sizes the tiles of every
sample sheet (sheet_tile, shown: at least 128 px), one function lays out and labels every sheet
(image_grid, with Pillow's default font), and one path reads the images users hand to the inference verbs
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
    """The side a sample sheet shows an image of side `size` at. A small image is enlarged by the
    smallest whole factor that makes it at least 128 px (nearest: each pixel a sharp square, as the
    network made it), so a 16-px model's sheet is legible; a large one is kept within 256 px."""
    size = int(size)
    if size < SHEET_TILE_MIN:
        return size * -(-SHEET_TILE_MIN // size)
    return min(size, SHEET_TILE_MAX)


def enlarged(image, minimum: int = SHEET_TILE_MIN) -> np.ndarray:
    """uint8 [H, W, 3] -> the same, enlarged (nearest) by the smallest whole factor that makes its shorter
    side at least `minimum`; unchanged when it already is."""
    image = np.asarray(image, np.uint8)
    k = -(-int(minimum) // max(1, min(image.shape[:2])))
    return image if k <= 1 else np.repeat(np.repeat(image, k, axis=0), k, axis=1)


def shown(images, value_range: str = "tanh", tile: int | None = None) -> list:
    """A batch [B, S, S, 3] of network pixels -> B uint8 images at the sheet tile side (sheet_tile(S)
    unless given): enlarged with nearest neighbours, reduced with common.data.resize (bilinear,
    antialiased)."""
    pixels = to_pixels(images, value_range)
    tile = tile or sheet_tile(pixels.shape[1])
    if pixels.shape[1] > tile or pixels.shape[2] > tile:
        from common.data import resize

        pixels = resize(pixels, tile)
    elif pixels.shape[1] != tile or pixels.shape[2] != tile:
        rows = np.arange(tile) * pixels.shape[1] // tile
        cols = np.arange(tile) * pixels.shape[2] // tile
        pixels = pixels[:, rows][:, :, cols]
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


# labels: Pillow's default font at this size (it shrinks, then ends in "...", to fit a narrow column)
LABEL_SIZE, LABEL_MIN_SIZE = 14, 9
LABEL_BAND = 20  # px: the height of a label band (column labels, captions, a title)


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _fitted(draw, text: str, width: int):
    """(text, font) that fit `width` px: the label size, smaller if needed, then the text cut short."""
    for size in range(LABEL_SIZE, LABEL_MIN_SIZE - 1, -1):
        font = _font(size)
        if draw.textlength(text, font=font) <= width:
            return text, font
    while len(text) > 1 and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "...", font


def _write(draw, text: str, box) -> None:
    """text centred in box (x0, y0, x1, y1), in dark grey on the sheet's white."""
    if not text:
        return
    x0, y0, x1, y1 = box
    text, font = _fitted(draw, text, x1 - x0 - 4)
    draw.text(((x0 + x1) / 2, (y0 + y1) / 2), text, fill=(20, 20, 20), font=font, anchor="mm")


def image_grid(rows, pad: int = 2, *, columns=None, row_labels=None, captions=None, title=None) -> np.ndarray:
    """rows: list of rows, each a list of uint8 [H, W, 3] images of one size -> one uint8 sheet on white.

    Labels, each in a LABEL_BAND-high band and fitted to its space: title (one line over everything),
    columns (one label over each column, e.g. night | G(night) | F(G(night))), row_labels (one left of
    each row) and captions (rows of labels like `rows`, one under each image, e.g. "seed 7").
    """
    rows = [list(r) for r in rows if len(r)]
    if not rows:
        raise ValueError("image_grid needs at least one image")
    h, w, c = np.asarray(rows[0][0]).shape
    ncols = max(len(r) for r in rows)
    from PIL import Image, ImageDraw

    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    left = 0
    if row_labels:
        widest = max(probe.textlength(str(t), font=_font(LABEL_SIZE)) for t in row_labels)
        left = int(min(widest + 8, 2 * w))
    top = LABEL_BAND * (bool(title) + bool(columns))
    cell_h = h + (LABEL_BAND if captions else 0)
    grid = np.full((top + len(rows) * (cell_h + pad) + pad, left + ncols * (w + pad) + pad, c), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            y, x = top + pad + i * (cell_h + pad), left + pad + j * (w + pad)
            grid[y:y + h, x:x + w] = np.asarray(img, np.uint8)
    if not (title or columns or row_labels or captions):
        return grid
    sheet = Image.fromarray(grid)
    draw = ImageDraw.Draw(sheet)
    if title:
        _write(draw, str(title), (0, 0, sheet.width, LABEL_BAND))
    for j, text in enumerate(columns or ()):
        x = left + pad + j * (w + pad)
        _write(draw, str(text), (x, top - LABEL_BAND, x + w, top))
    for i, text in enumerate(row_labels or ()):
        y = top + pad + i * (cell_h + pad)
        _write(draw, str(text), (0, y, left, y + h))
    for i, row in enumerate(captions or ()):
        for j, text in enumerate(row):
            x, y = left + pad + j * (w + pad), top + pad + i * (cell_h + pad) + h
            _write(draw, str(text), (x, y, x + w, y + LABEL_BAND))
    return np.asarray(sheet)


def labelled_grid(groups, pad: int = 2) -> np.ndarray:
    """groups: [(column labels, rows of uint8 [H, W, 3] images)] -> one uint8 sheet, each group under
    a band naming its columns (e.g. night | G(night) | F(G(night)))."""
    parts = [image_grid(rows, pad, columns=labels) for labels, rows in groups]
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
