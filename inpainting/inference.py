"""Filling holes in photos of any size with a trained generator (what `python -m inpainting.fill` runs).

The generator sees a fixed square window (its training size S) and predicts the content of
the hole's bounding box. A mask may hold several holes: its connected pieces (8-connected)
are grouped so that pieces whose joint box fits the model's largest training hole share one
window, and every other piece gets a window of its own, cut around it at the photo's own
resolution. Only a piece larger than the holes the model was trained on makes its window be
cut from the photo scaled down (and `Inpainter.fill` says so); the predicted content is then
resized to that piece's box at the photo's resolution and written inside the hole only: every
other pixel is the input's.

Windows are filled one after another in reading order (by their box's top, then left edge).
The context a window shows is the photo with the holes filled so far (the model's content)
and the holes still to come pre-filled by OpenCV's Telea inpainting: the generator never sees
the pixels a mask removes, and sees the fill value in its own hole only, as in training.

A "checkpoint" argument is anything common.runtime.generator.load takes: a checkpoint folder
(ckpt-*), a run's checkpoints/ folder or run folder (the newest complete checkpoint), or a
generator exported as .keras with its card beside it (the card's "holes" say the fill value
and the holes it was trained on).

Photos are read and written with Pillow (`read_photo`, `Photo.completed`): the model fills the
colour of an RGB view of the photo, and the output keeps the photo's own mode and alpha:
    L, LA, RGB, RGBA   written in the same mode; the alpha is the input's everywhere, inside the
                       hole too (a grey hole gets the luma of the filled colour, ITU-R 601)
    I;16 (16-bit grey) the model sees value / 257 rounded; written as 16-bit, the hole as luma x 257
    P (palette)        written as RGB, or RGBA when the palette has transparency (a palette
                       cannot hold the new colours)
    1, CMYK, YCbCr ... converted by Pillow to RGB (RGBA if they have alpha) and written so
JPEG photos: the pixels kept outside the hole are Pillow's (libjpeg) decode of the file,
written losslessly; the output name's extension picks the format (PNG unless it says
otherwise, e.g. out.jpg writes JPEG, which re-encodes every pixel). EXIF orientation is not
applied: the mask is matched to the stored pixel grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from scipy import ndimage

import common.layers  # noqa: F401 - registers the custom layers for load_model
from common.data import DataError, resize, to_range
from common.runtime import generator as gen
from common.runtime.images import to_pixels
from inpainting.build import build_gan, mask_options
from inpainting.holes import expand_content, hole_boxes, paste_holes, region_boxes
from inpainting.inpainting_gan import generator_input


def max_hole_fraction(config) -> float:
    """The largest hole side the model was trained on, as a fraction of its input side."""
    if config["mask"] == "centre":
        return mask_options(config)["hole_size"] / config["image_size"]
    return config["hole_max"] if config["mask"] == "random-block" else 1.0


def _card_fields(config, network) -> dict:
    return {"model": config["model"], "value_range": "tanh", "image_size": int(config["image_size"]),
            "holes": {"fill_value": config.get("fill_value") or 0.0, "overlap": int(config["overlap"]),
                      "context": config.get("context", "image"),
                      "mask": config["mask"],
                      "mask_options": mask_options(config), "max_hole_fraction": max_hole_fraction(config)}}


GENERATORS = gen.GeneratorSpec("inpainting", build=build_gan, exports=lambda m: {"generator": m.generator},
                               card_fields=_card_fields)


def load(path) -> gen.Generators:
    """An inpainting run, checkpoint or exported generator -> its generator and card (one DataError line
    for anything else)."""
    return gen.load(path, GENERATORS)


@dataclass
class Filled:
    image: np.ndarray  # uint8 [H, W, 3], the photo with its holes filled
    hole: np.ndarray  # bool [H, W], the pixels written (the mask's holes)
    note: str | None = None  # e.g. that the photo was scaled down for a large hole


_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601, as Pillow's RGB -> L


@dataclass
class Photo:
    """A photo as Pillow decoded it, in the mode it is written back in (see the module's docstring).

    pixels: uint8 [H, W] (L), [H, W, 2] (LA), [H, W, 3] (RGB), [H, W, 4] (RGBA), or uint16 [H, W] (I;16).
    """

    pixels: np.ndarray
    mode: str
    format: str | None = None  # the file's format as Pillow names it (JPEG, PNG, ...)

    @property
    def rgb(self) -> np.ndarray:
        """uint8 [H, W, 3]: what the model fills (grey replicated, 16 bits as value / 257, alpha left out)."""
        grey = self.pixels if self.pixels.ndim == 2 else None
        if self.mode == "I;16":
            grey = np.round(self.pixels / 257.0).astype(np.uint8)
        elif self.mode == "LA":
            grey = self.pixels[..., 0]
        if grey is not None:
            return np.repeat(grey[..., None], 3, axis=-1)
        return self.pixels[..., :3]

    def completed(self, rgb, hole):
        """The output as a PIL image in this photo's mode: `rgb` uint8 [H, W, 3] (the filled colour)
        written inside `hole` bool [H, W] only; every other pixel, and the alpha everywhere, is the input's."""
        from PIL import Image

        out = self.pixels.copy()
        colour = np.asarray(rgb, np.uint8)[hole]
        if self.mode in ("L", "LA", "I;16"):
            luma = colour.astype(np.float32) @ _LUMA
            value = np.round(luma * 257.0).astype(np.uint16) if self.mode == "I;16" else np.round(luma)
            if self.mode == "LA":
                out[..., 0][hole] = value
            else:
                out[hole] = value
        else:  # RGB, RGBA: the colour channels only
            out[..., :3][hole] = colour
        return Image.fromarray(out)  # uint8 [H, W, 1..4] -> L, LA, RGB, RGBA; uint16 [H, W] -> I;16


def read_photo(path) -> Photo:
    """Decode an image file with Pillow, keeping its mode where a PNG can hold it (module docstring);
    DataError (one line) for a file Pillow cannot read or a mode the model cannot fill."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{path} cannot be decoded as an image ({' '.join(str(exc).split())[:160]})") from None
    mode, fmt = image.mode, image.format
    if mode.startswith("I;16") or mode == "I":
        values = np.asarray(image)
        if values.min() < 0 or values.max() > 65535:
            raise DataError(f"{path} is a 32-bit integer image: only 8- and 16-bit ones can be filled")
        return Photo(values.astype(np.uint16), "I;16", fmt)
    if mode in ("L", "LA", "RGB", "RGBA"):
        return Photo(np.asarray(image), mode, fmt)
    if mode == "1":
        return Photo(np.asarray(image.convert("L")), "L", fmt)
    if mode == "F":
        raise DataError(f"{path} is a floating-point image: only 8- and 16-bit ones can be filled")
    has_alpha = "A" in image.getbands() or "transparency" in image.info  # P, PA, La, RGBa ...
    target = "RGBA" if has_alpha else "RGB"
    return Photo(np.asarray(image.convert(target)), target, fmt)


def write_photo(path, image) -> None:
    """Write a PIL image; the format follows the name's extension (.png for a name without one);
    DataError (one line) when that format cannot hold the image's mode (RGBA as JPEG)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        image.save(path, format=None if path.suffix else "PNG")
    except (OSError, KeyError, ValueError) as exc:
        path.unlink(missing_ok=True)
        raise DataError(f"cannot write {path.name} ({' '.join(str(exc).split())[:160]}): write a .png "
                        f"to keep the photo's {image.mode} pixels") from None


class Inpainter:
    """A generator and its card (common.runtime.generator); `fill(image, mask)` completes one photo."""

    def __init__(self, generator, card: gen.GeneratorCard):
        self.generator = generator
        self.size = int(card.image_size)
        self.fill_value = card.holes["fill_value"]
        self.max_hole = float(card.holes["max_hole_fraction"])
        self.overlap = int(card.holes.get("overlap", 0))  # cards written before the overlap band: none
        self.context = card.holes.get("context", "image")  # cards written before hole windows: the image
        self.card = card

    @classmethod
    def load(cls, path) -> Inpainter:
        """From anything common.runtime.generator.load takes (one DataError line for anything else)."""
        found = load(path)
        return cls(found.network(), found.card)

    def export(self, path) -> Path:
        """Write the generator as a standalone .keras file with its card beside it."""
        return gen.export(self.generator, path, self.card)

    def fill(self, image, mask) -> Filled:
        """image uint8 [H, W, 3]; mask [H, W] or [H, W, 1], > 0.5 (or > 127 for uint8) = hole.

        Each group of holes (hole_groups) is filled in its own window, in reading order (see the
        module's docstring for the context each window shows)."""
        image = np.asarray(image, np.uint8)
        hole = _binary(mask, image.shape[:2])
        if not hole.any():
            return Filled(image.copy(), hole, "the mask has no hole: image unchanged")
        limit = self.max_hole * self.size
        labels, groups = hole_groups(hole, limit)
        # the holes not filled yet show OpenCV's Telea fill, never the pixels the mask removes
        work = (telea(image, hole) if len(groups) > 1 else image).astype(np.float32)
        notes = []
        for box, members in groups:
            y0, x0, h, w = box
            scale = 1.0
            if max(h, w) > limit:
                scale = limit / max(h, w)
                notes.append(f"the hole ({w}x{h} px) is larger than the {int(limit)} px holes this model was "
                             f"trained on: the photo was scaled by {scale:.3f} to fill it")
            # the part of the photo the window can reach: the box grown by a window's width each way
            reach = int(np.ceil(self.size / scale))
            top, left = max(0, y0 - reach), max(0, x0 - reach)
            bottom, right = min(image.shape[0], y0 + h + reach), min(image.shape[1], x0 + w + reach)
            own = np.isin(labels[top:bottom, left:right], members)
            content = self._predict(work[top:bottom, left:right], own, scale, (y0 - top, x0 - left, h, w))
            inside = own[y0 - top:y0 - top + h, x0 - left:x0 - left + w]
            region = work[y0:y0 + h, x0:x0 + w]
            pasted = paste_holes(region[None], content, np.array([[0, 0, h, w]]), inside[None, ..., None])
            region[...] = np.asarray(pasted[0])
        out = np.where(hole[..., None], np.clip(np.round(work), 0, 255), image).astype(np.uint8)
        return Filled(out, hole, "; ".join(notes) or None)

    def _predict(self, context, hole, scale, box):
        """The generator's content of one hole's box: context float [h, w, 3] in [0, 255] around it,
        hole bool [h, w], box its (y0, x0, height, width) there -> float32 [1, bh, bw, 3] in [0, 255],
        the box at the window's scale (the box itself unless the photo was scaled down)."""
        small = _scaled(context, scale)
        small_hole = _scaled(hole.astype(np.float32), scale, nearest=True) > 0.5
        if not small_hole.any():  # a thin hole can vanish when scaled: keep its centre pixel
            small_hole[min(int((box[0] + box[2] // 2) * scale), small.shape[0] - 1),
                       min(int((box[1] + box[3] // 2) * scale), small.shape[1] - 1)] = True
        window, win_hole = _window(small, small_hole, self.size)
        x = to_range(window[None], "tanh")
        m = tf.constant(win_hole[None, ..., None], tf.float32)
        content = self.generator(generator_input(x, m, self.fill_value, self.context), training=False)
        # the generator predicts the box of the hole grown by its overlap band (inpainting.holes): the
        # part of that prediction on the hole's own box, at the window's resolution
        on_window = expand_content(content, region_boxes(m, self.overlap), self.size, self.size)
        y0, x0, h, w = (int(v) for v in hole_boxes(m)[0])
        return to_pixels(on_window[:, y0:y0 + h, x0:x0 + w], "tanh")


def hole_groups(hole, limit) -> tuple[np.ndarray, list]:
    """The holes of a mask, grouped into the windows that fill them.

    hole bool [H, W] -> (labels int [H, W]: 0 outside, k on the k-th 8-connected piece;
    [(box (y0, x0, height, width), [piece labels])] in reading order). Pieces are merged, two
    groups at a time, while their joint box's longer side stays within `limit` px (the largest
    hole the model was trained on): such pieces share a window with no scaling; the others are
    filled each in its own window.
    """
    labels, count = ndimage.label(hole, structure=np.ones((3, 3), bool))
    spans = ndimage.find_objects(labels)
    boxes = np.array([[s[0].start, s[1].start, s[0].stop, s[1].stop] for s in spans], np.int64)  # y0 x0 y1 x1
    members = [[k + 1] for k in range(count)]
    i = 0
    while i < len(boxes):
        low, high = np.minimum(boxes[:, :2], boxes[i, :2]), np.maximum(boxes[:, 2:], boxes[i, 2:])
        side = (high - low).max(axis=1)
        side[i] = np.iinfo(np.int64).max
        j = int(np.argmin(side))
        if side[j] <= limit:  # merge the group that adds least, then look again from the merged box
            # (j > i: the groups before i fit with none, and a merged box only grows)
            boxes[i] = np.concatenate([low[j], high[j]])
            members[i] = members[i] + members[j]
            del members[j]
            boxes = np.delete(boxes, j, axis=0)
        else:
            i += 1
    order = sorted(range(len(boxes)), key=lambda k: (boxes[k, 0], boxes[k, 1]))
    return labels, [((int(boxes[k, 0]), int(boxes[k, 1]), int(boxes[k, 2] - boxes[k, 0]),
                      int(boxes[k, 3] - boxes[k, 1])), members[k]) for k in order]


def telea(image, hole) -> np.ndarray:
    """OpenCV's Telea inpainting (radius 3) of uint8 [H, W, 3] inside bool [H, W] `hole`: the classical
    baseline; every pixel outside the hole is the input's."""
    import cv2

    return cv2.inpaint(np.ascontiguousarray(image), hole.astype(np.uint8), 3, cv2.INPAINT_TELEA)


def _binary(mask, shape) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask[..., 0]
    if mask.shape != tuple(shape):
        raise DataError(f"the mask is {mask.shape[1]}x{mask.shape[0]} px but the image is {shape[1]}x{shape[0]} px")
    return mask > (127 if mask.dtype == np.uint8 else 0.5)


def _scaled(array, scale, nearest=False) -> np.ndarray:
    if scale == 1.0:
        return array
    h, w = array.shape[:2]
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    if nearest:
        return np.asarray(tf.image.resize(array[..., None], size, method="nearest"))[..., 0]
    return np.asarray(resize(array, size))


def _window(image, hole, size):
    """The size x size window around the hole's box (the image padded by reflection when smaller),
    -> (float pixels [size, size, 3], bool hole [size, size])."""
    pad_h, pad_w = max(0, size - image.shape[0]), max(0, size - image.shape[1])
    if pad_h or pad_w:
        pads = ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2))
        image = np.pad(image, pads + ((0, 0),), mode="reflect" if min(image.shape[:2]) > 1 else "edge")
        hole = np.pad(hole, pads)
    rows, cols = np.nonzero(hole)
    y = int(np.clip((rows.min() + rows.max()) // 2 - size // 2, 0, image.shape[0] - size))
    x = int(np.clip((cols.min() + cols.max()) // 2 - size // 2, 0, image.shape[1] - size))
    return image[y:y + size, x:x + size], hole[y:y + size, x:x + size]
