"""Loading trained night2day generators and running them on images of any size.

A "checkpoint" argument may be a checkpoint folder (ckpt-*), a run's checkpoints/
folder or run folder (the newest complete checkpoint is taken), or a standalone
generator exported as .keras.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.data import DataError, from_range, load_image, to_range
from common.runtime import checkpoint as ckpt


def find_checkpoint(path) -> Path:
    path = Path(path)
    if (path / ckpt.STATE_FILE).is_file():
        return path
    for root in (path, path / "checkpoints"):
        found = ckpt.CheckpointManager(root).latest()
        if found is not None:
            return found
    raise DataError(f"no checkpoint found at {path} (expected a ckpt-* folder, a run folder or a .keras file)")


def load_cyclegan(path):
    """-> (CycleGAN with restored weights, the config it was trained with)."""
    from night2day.train import build_cyclegan

    found = find_checkpoint(path)
    config = ckpt.read_state(found)["config"]
    model = build_cyclegan(config)
    ckpt.restore(model, found)
    return model, config


class ImageTooSmallError(ValueError):
    """An image (or --size) below the smallest size the generator can run at; the message is
    one line, e.g. "5x7 px is smaller than the 8 px minimum of this generator" (width x height)."""


# The fully convolutional generator runs at the image's size rounded down to a multiple of
# this (its two stride-2 steps); see _resized_copy.
SIZE_STEP = 4


class Translator:
    """Runs one generator (and optionally its inverse) on uint8 images.

    value_range: "tanh" or "sigmoid", the generator's input/output range.
    image_size: the training size; a generator with dense layers (multi-scale)
    only runs at that size.
    """

    def __init__(self, forward, backward=None, *, value_range, image_size, fully_convolutional):
        self.forward, self.backward = forward, backward
        self.value_range = value_range
        self.image_size = image_size
        self.fully_convolutional = fully_convolutional
        self._min_size = None

    @classmethod
    def load(cls, path, direction="night2day"):
        import keras

        import common.layers  # noqa: F401 - registers the custom layers for load_model

        if direction not in ("night2day", "day2night"):
            raise ValueError(f"direction must be night2day or day2night, got {direction!r}")
        path = Path(path)
        if path.suffix == ".keras":
            net = keras.models.load_model(path, compile=False)
            size = net.input_shape[1]
            value_range = "tanh" if _last_activation(net) == "tanh" else "sigmoid"
            return cls(net, None, value_range=value_range, image_size=size,
                       fully_convolutional=not _has_dense(net))
        model, config = load_cyclegan(path)
        from night2day.data import value_range_of

        g, f = model.generator_g, model.generator_f
        forward, backward = (g, f) if direction == "night2day" else (f, g)
        return cls(forward, backward, value_range=value_range_of(config["model"]), image_size=config["image_size"],
                   fully_convolutional=config["model"] == "resnet")

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
        """Raise ImageTooSmallError (one line) if an image of height x width cannot be run at ``size``."""
        if not self.fully_convolutional:
            return
        if size == "original":
            if min(height, width) < self.min_size:
                raise ImageTooSmallError(f"{width}x{height} px is smaller than the {self.min_size} px minimum "
                                         f"of this generator")
        elif int(size) < self.min_size:
            raise ImageTooSmallError(f"size {int(size)} px is smaller than the {self.min_size} px minimum "
                                     f"of this generator")

    def _run(self, net, image_uint8, size):
        """image_uint8: [H, W, 3] -> uint8; size "original" keeps H x W, an int gives a square.

        Raises ImageTooSmallError, before the network runs, for an image (or size) below min_size.
        """
        import tensorflow as tf

        image = tf.cast(tf.convert_to_tensor(image_uint8), tf.float32)
        h, w = int(image.shape[0]), int(image.shape[1])
        self.check_size(h, w, size)
        out_h, out_w = (h, w) if size == "original" else (int(size), int(size))
        if size == "original" and not self.fully_convolutional:
            th = tw = self.image_size  # dense layers: only the training size works; resize there and back
        elif size != "original" and out_h == self.image_size:
            th = tw = self.image_size
        else:
            if not self.fully_convolutional:
                raise ValueError(f"this generator has dense layers and only runs at its training size "
                                 f"{self.image_size}; use --size {self.image_size} or original")
            net = _resized_copy(net, out_h, out_w)
            th, tw = net.input_shape[1], net.input_shape[2]
        x = image if (th, tw) == (h, w) else tf.image.resize(image, (th, tw), antialias=True)
        y = net(to_range(x[None], self.value_range), training=False)
        out = tf.cast(from_range(tf.cast(y, tf.float32), self.value_range)[0], tf.float32)
        if (th, tw) != (out_h, out_w):
            out = tf.image.resize(out, (out_h, out_w), antialias=True)
        return np.clip(np.round(np.asarray(out)), 0, 255).astype(np.uint8)

    def translate(self, image_uint8, size="original"):
        return self._run(self.forward, image_uint8, size)

    def reconstruct(self, translated_uint8, size="original"):
        if self.backward is None:
            raise ValueError("reconstruction needs a checkpoint (an exported generator has no inverse)")
        return self._run(self.backward, translated_uint8, size)


_COPIES = {}


def _resized_copy(net, h, w):
    """The same generator with an input of about h x w (weights shared by copying): resnet only.

    The copy's input is h x w rounded *down* to a multiple of SIZE_STEP (two stride-2 steps),
    at least SIZE_STEP; the caller resizes the image to the copy's input_shape and the
    result back to h x w.
    """
    h4, w4 = max(SIZE_STEP, h // SIZE_STEP * SIZE_STEP), max(SIZE_STEP, w // SIZE_STEP * SIZE_STEP)
    key = (id(net), h4, w4)
    if key not in _COPIES:
        import keras

        config = net.get_config()
        config["layers"][0]["config"]["batch_shape"] = (None, h4, w4, 3)
        copy = keras.Model.from_config(config, custom_objects=None)
        copy.set_weights(net.get_weights())
        _COPIES[key] = copy
    return _COPIES[key]


def _min_size(net) -> int:
    """Smallest input side (px) at which every ReflectionPadding2D in ``net`` has more pixels than
    it pads, counting the rounding of the input down to a multiple of SIZE_STEP."""
    pads = [layer for layer in net.layers if layer.__class__.__name__ == "ReflectionPadding2D"]
    if not pads:
        return SIZE_STEP
    size = net.input_shape[1]
    if size is None or any(layer.input.shape[1] is None for layer in pads):
        probe = _resized_copy(net, 16 * SIZE_STEP, 16 * SIZE_STEP)  # input of unknown size: a fixed one
        return _min_size(probe)
    need = SIZE_STEP
    for layer in pads:
        ratio = size / layer.input.shape[1]  # input pixels per pixel where the padding sits
        pad = max(layer.padding)
        smallest = int(np.floor(pad * ratio)) + 1  # input side at which the padded side exceeds pad
        # the input is first rounded down to a multiple of SIZE_STEP: the smallest side that still
        # gives at least `smallest` is `smallest` rounded up to such a multiple
        need = max(need, -(-smallest // SIZE_STEP) * SIZE_STEP)
    return need


def _has_dense(net) -> bool:
    return any(layer.__class__.__name__ == "Dense" for layer in net.layers)


def _last_activation(net) -> str:
    for layer in reversed(net.layers):
        act = getattr(layer, "activation", None)
        if act is not None:
            return getattr(act, "__name__", str(act))
    return "linear"


def read_image(path) -> np.ndarray:
    return np.asarray(load_image(str(path)))
