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

    def _run(self, net, image_uint8, size):
        """image_uint8: [H, W, 3] -> uint8; size "original" keeps H x W, an int gives a square."""
        import tensorflow as tf

        image = tf.cast(tf.convert_to_tensor(image_uint8), tf.float32)
        h, w = int(image.shape[0]), int(image.shape[1])
        if size == "original":
            if self.fully_convolutional:
                net = _resized_copy(net, h, w)
                th, tw = net.input_shape[1], net.input_shape[2]
            else:  # dense layers: only the training size works; resize there and back
                th = tw = self.image_size
        else:
            th = tw = int(size)
            if th != self.image_size:
                if not self.fully_convolutional:
                    raise ValueError(f"this generator has dense layers and only runs at its training size "
                                     f"{self.image_size}; use --size {self.image_size} or original")
                net = _resized_copy(net, th, tw)
        x = image if (th, tw) == (h, w) else tf.image.resize(image, (th, tw), antialias=True)
        y = net(to_range(x[None], self.value_range), training=False)
        out = tf.cast(from_range(tf.cast(y, tf.float32), self.value_range)[0], tf.float32)
        if size == "original" and (th, tw) != (h, w):
            out = tf.image.resize(out, (h, w), antialias=True)
        return np.clip(np.round(np.asarray(out)), 0, 255).astype(np.uint8)

    def translate(self, image_uint8, size="original"):
        return self._run(self.forward, image_uint8, size)

    def reconstruct(self, translated_uint8, size="original"):
        if self.backward is None:
            raise ValueError("reconstruction needs a checkpoint (an exported generator has no inverse)")
        return self._run(self.backward, translated_uint8, size)


_COPIES = {}


def _resized_copy(net, h, w):
    """The same generator with an input of h x w (weights shared by copying): resnet only.

    Sizes are padded up by the caller's resize to a multiple of 4 (two stride-2 steps).
    """
    h4, w4 = max(4, h // 4 * 4), max(4, w // 4 * 4)
    key = (id(net), h4, w4)
    if key not in _COPIES:
        import keras

        config = net.get_config()
        config["layers"][0]["config"]["batch_shape"] = (None, h4, w4, 3)
        copy = keras.Model.from_config(config, custom_objects=None)
        copy.set_weights(net.get_weights())
        _COPIES[key] = copy
    return _COPIES[key]


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
