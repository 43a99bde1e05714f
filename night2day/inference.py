"""Loading trained night2day generators and running them on images of any size
(what `python -m night2day.translate` runs).

A "checkpoint" argument is anything common.runtime.generator.load takes: a checkpoint folder
(ckpt-*), a run's checkpoints/ folder or run folder (the newest complete checkpoint is taken), or
a generator exported as .keras with its card beside it.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import common.layers  # noqa: F401 - registers the custom layers for load_model and from_config
from common.data import check_image_file, from_range, resize, to_range
from common.report import one_line_error
from common.runtime import generator as gen
from common.runtime.images import enlarged, image_grid, read_image, save_png, to_uint8
from night2day.build import build_cyclegan, training_scale
from night2day.data import value_range_of


def _card_fields(config, network) -> dict:
    return {"model": config["model"], "value_range": value_range_of(config["model"]),
            "image_size": int(config["image_size"]), "training_scale": int(training_scale(config))}


# a run's two generators: generator_g (night -> day) and generator_f (day -> night)
GENERATORS = gen.GeneratorSpec("night2day", build=build_cyclegan,
                               exports=lambda m: {"generator_g": m.generator_g, "generator_f": m.generator_f},
                               card_fields=_card_fields)


def load(path) -> gen.Generators:
    """A night2day run, checkpoint or exported generator -> its generators and cards (one DataError line
    for anything else)."""
    return gen.load(path, GENERATORS)


class ImageTooSmallError(ValueError):
    """An image (or --size) below the smallest size the generator can run at; the message is
    one line, e.g. "5x7 px is smaller than the 8 px minimum of this generator" (width x height)."""


# The fully convolutional generator runs at the image's size rounded down to a multiple of
# this (its two stride-2 steps), at least SIZE_STEP; see _run_size.
SIZE_STEP = 4


# the columns of a translation sheet (translate --grid, and the training sample sheets), by direction
GRID_COLUMNS = {"night2day": ("night", "G(night)", "F(G(night))"), "day2night": ("day", "F(day)", "G(F(day))")}


class Translator:
    """Runs one generator (and optionally its inverse) on uint8 images.

    value_range: "tanh" or "sigmoid", the generator's input/output range.
    image_size: the training size; a generator with dense layers (multi-scale)
    only runs at that size. A fully convolutional one (ResNet) runs at any size of at
    least min_size: through a copy of itself whose input has no fixed size, made at most
    once per generator of this Translator.
    training_scale: the square size training images were resized to before the random
    crop (night2day.build.training_scale), which size="train" runs at; None if unknown,
    and then "train" means "original".
    card: the forward generator's card (what `translate --export` writes beside it).
    direction: "night2day" (forward = G) or "day2night" (forward = F), which names a sheet's columns.

    size, in translate / reconstruct: "train" (run at the training scale, the image resized
    to training_scale x training_scale as in training and the result back to the image's
    own size), "original" (run at the image's own resolution) or a square side in pixels.
    """

    def __init__(self, forward, backward=None, *, value_range, image_size, fully_convolutional,
                 training_scale=None, card=None, direction="night2day"):
        self.forward, self.backward = forward, backward
        self.direction = direction
        self.card = card
        self.value_range = value_range
        self.image_size = image_size
        self.fully_convolutional = fully_convolutional
        self.training_scale = training_scale
        self._min_size = None
        self._any_size = {}  # "forward" / "backward" -> copy_with_input_size(that generator)

    @classmethod
    def load(cls, path, direction="night2day"):
        """From anything `load` takes; an exported file holds one generator, run as the forward one."""
        if direction not in ("night2day", "day2night"):
            raise ValueError(f"direction must be night2day or day2night, got {direction!r}")
        found = load(path)
        if found.model is None:  # an exported file: its one generator, whichever direction it was
            forward, backward = found.network(), None
            card = found.card
        else:
            g, f = found.networks["generator_g"], found.networks["generator_f"]
            forward, backward = (g, f) if direction == "night2day" else (f, g)
            card = found.cards[forward.name]
        return cls(forward, backward, value_range=card.value_range, image_size=card.image_size,
                   fully_convolutional=card.model == "resnet", training_scale=card.training_scale, card=card,
                   direction=direction)

    @property
    def min_size(self) -> int:
        """Smallest height and width, in pixels, the generator can run at (1: any size).

        Worked out from the network: every reflection padding of p pixels needs more than p
        pixels where it sits, i.e. more than p * r at the input when the resolution there is
        1/r of the input's, and the input is first rounded down to a multiple of SIZE_STEP.
        For the ResNet generator (pad 3 at full resolution, pad 1 in the residual blocks at
        1/4) that is 8 px. A generator with dense layers runs every image at its training
        size, so any image works.
        """
        if not self.fully_convolutional:
            return 1
        if self._min_size is None:
            self._min_size = max(_min_size(self.forward), _min_size(self.backward) if self.backward else 1)
        return self._min_size

    def check_size(self, height: int, width: int, size="original") -> None:
        """Raise, before any network runs, if an image of height x width cannot be translated at ``size``
        ("original" or a square side in pixels): ImageTooSmallError (one line) below min_size, ValueError
        for a size other than the training size of a generator with dense layers."""
        size = self._resolve(size)
        if size == "train":
            return  # any image is resized to the training scale, which the generator trained at
        if not self.fully_convolutional:
            if size != "original" and int(size) != self.image_size:
                raise ValueError(f"this generator has dense layers and only runs at its training size "
                                 f"{self.image_size}; use --size {self.image_size} or original")
            return
        if size == "original":
            if min(height, width) < self.min_size:
                raise ImageTooSmallError(f"{width}x{height} px is smaller than the {self.min_size} px minimum "
                                         f"of this generator")
        elif int(size) < self.min_size:
            raise ImageTooSmallError(f"size {int(size)} px is smaller than the {self.min_size} px minimum "
                                     f"of this generator")

    def _run(self, which, image_uint8, size):
        """Run self.<which> ("forward" or "backward") on image_uint8: [H, W, 3] -> uint8;
        size "original" keeps H x W, an int gives a square.

        The image is resized to the size the network runs at (if that differs) and the result back.
        Raises ImageTooSmallError (or ValueError, see check_size) before the network runs.
        """
        image = np.asarray(image_uint8)
        h, w = int(image.shape[0]), int(image.shape[1])
        self.check_size(h, w, size)
        size = self._resolve(size)
        out_h, out_w = (h, w) if size in ("original", "train") else (int(size), int(size))
        net = getattr(self, which)
        if self.fully_convolutional:
            th, tw = ((self.training_scale,) * 2 if size == "train" else (_run_size(out_h), _run_size(out_w)))
            if tuple(net.input_shape[1:3]) != (th, tw):
                if which not in self._any_size:
                    self._any_size[which] = copy_with_input_size(net)
                net = self._any_size[which]
        else:
            th = tw = self.image_size  # dense layers: only the training size works; resize there and back
        x = image.astype(np.float32) if (th, tw) == (h, w) else resize(image, (th, tw))
        y = net(to_range(x[None], self.value_range), training=False)
        out = from_range(tf.cast(y, tf.float32), self.value_range)[0]
        if (th, tw) != (out_h, out_w):
            out = resize(out, (out_h, out_w))
        return to_uint8(out, "pixels")

    def _resolve(self, size):
        """size as run: "train" means "original" when the training scale is unknown."""
        return "original" if size == "train" and self.training_scale is None else size

    def translate(self, image_uint8, size="train"):
        return self._run("forward", image_uint8, size)

    def reconstruct(self, translated_uint8, size="train"):
        if self.backward is None:
            raise ValueError("reconstruction needs a checkpoint (an exported generator has no inverse)")
        return self._run("backward", translated_uint8, size)


def _run_size(side: int) -> int:
    """The side a fully convolutional generator runs an image side at: rounded down to a multiple of
    SIZE_STEP (its two stride-2 steps), at least SIZE_STEP."""
    return max(SIZE_STEP, side // SIZE_STEP * SIZE_STEP)


def copy_with_input_size(net, height=None, width=None):
    """The same fully convolutional generator (weights copied) with an input of [B, height, width, 3];
    None (the default) leaves a side free, so the copy runs at any size."""
    config = net.get_config()
    config["layers"][0]["config"]["batch_shape"] = (None, height, width, 3)
    copy = keras.Model.from_config(config)
    copy.set_weights(net.get_weights())
    return copy


def _min_size(net) -> int:
    """Smallest input side (px) at which every ReflectionPadding2D in ``net`` has more pixels than
    it pads, counting the rounding of the input down to a multiple of SIZE_STEP."""
    pads = [layer for layer in net.layers if layer.__class__.__name__ == "ReflectionPadding2D"]
    if not pads:
        return SIZE_STEP
    size = net.input_shape[1]
    if size is None or any(layer.input.shape[1] is None for layer in pads):
        # input of unknown size: the resolution ratios are read from a copy at a fixed size
        return _min_size(copy_with_input_size(net, 16 * SIZE_STEP, 16 * SIZE_STEP))
    need = SIZE_STEP
    for layer in pads:
        ratio = size / layer.input.shape[1]  # input pixels per pixel where the padding sits
        pad = max(layer.padding)
        smallest = int(np.floor(pad * ratio)) + 1  # input side at which the padded side exceeds pad
        # the input is first rounded down to a multiple of SIZE_STEP: the smallest side that still
        # gives at least `smallest` is `smallest` rounded up to such a multiple
        need = max(need, -(-smallest // SIZE_STEP) * SIZE_STEP)
    return need


def translate_file(translator, path, out, *, size="train", grid=False) -> str | None:
    """Translate one file and write <out>/<stem>.png (and <stem>_grid.png: input | translated |
    reconstructed, under the columns' names, e.g. night | G(night) | F(G(night)), small images enlarged
    to 128 px) -> None, or why it was skipped, in one line (no traceback, no TensorFlow
    function_node text)."""
    path, out = Path(path), Path(out)
    reason = check_image_file(path)
    if reason is not None:
        return reason
    try:
        image = read_image(path)
    except Exception as exc:  # noqa: BLE001 - one unreadable file must not stop the batch
        return f"cannot be decoded ({one_line_error(exc)})"
    try:
        translated = translator.translate(image, size)  # checks the size before running the network
        sheet = None
        if grid:
            rebuilt = translator.reconstruct(translated, size)
            shown = image
            if image.shape != translated.shape:  # --size N: show the input at the size it was translated
                shown = to_uint8(resize(image, translated.shape[:2]), "pixels")
            sheet = image_grid([[enlarged(x) for x in (shown, translated, rebuilt)]],
                               columns=GRID_COLUMNS[translator.direction])
        save_png(out / f"{path.stem}.png", translated)
        if sheet is not None:
            save_png(out / f"{path.stem}_grid.png", sheet)
    except ImageTooSmallError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - nor must one image the network fails on
        return f"translation failed ({type(exc).__name__}: {one_line_error(exc)})"
    return None


def translate_files(translator, paths, out, *, size="train", grid=False, on_skip=None):
    """Translate each file into the folder out (created if needed); one file that cannot be read or
    translated is skipped, not fatal.

    -> (translated: the paths done, skipped: [{"path", "reason"}] with a one-line reason each).
    on_skip(path, reason), if given, is called as each file is skipped.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    translated, skipped = [], []
    for path in paths:
        reason = translate_file(translator, path, out, size=size, grid=grid)
        if reason is None:
            translated.append(path)
        else:
            skipped.append({"path": str(path), "reason": reason})
            if on_skip is not None:
                on_skip(path, reason)
    return translated, skipped
