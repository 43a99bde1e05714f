"""The one feature extractor every generative metric stands on, and its folder cache.

An extractor turns a batch of images into named feature arrays:

    extractor(images, value_range) -> {"pool": float32 [B, D], "logits": float32 [B, K]}

* ``images`` are uint8 [B, H, W, 3] (value range implied), or float [B, H, W, 3] in the
  range the caller names: ``value_range=(-1, 1)``, ``(0, 1)`` or ``(0, 255)``. There is
  no guessing: a float batch without a value range is an error.
* Images of any size are resized to the extractor's ``input_size`` (299 for Inception)
  with antialiased bilinear filtering, so downscaling 1280x720 photos does not alias.
* "pool" are the 2048-d global-average-pooled Inception-v3 features (FID, KID,
  precision/recall); "logits" the 1000-way ImageNet logits (Inception Score).

Weights policy (Inception here, VGG16 for the perceptual distance likewise): an explicit
file path, else the file named by ``$GANWORKS_INCEPTION_WEIGHTS``, else Keras's own
ImageNet download (cached in ``~/.keras/models``; works on Kaggle/Colab). If none of
these yields weights the builder raises :class:`WeightsUnavailableError` saying how to
provide the file; it never falls back to a randomly initialised network, whose numbers
would look plausible and mean nothing.

Any other feature network can be given as a saved Keras model (a ``.keras`` file, see
:func:`keras_model_extractor`): images in, a feature vector out (tests pass a tiny one).

Comparability: Keras's InceptionV3 ImageNet weights are *not* the 2015 TF-slim Inception
graph that the FID/IS literature uses (TTUR, pytorch-fid, clean-fid, StyleGAN). Numbers
from :func:`inception_extractor` are comparable with each other, not with papers. For
paper-comparable features pass that graph (``classify_image_graph_def.pb`` from
``inception-2015-12-05.tgz``) to :func:`inception_2015_extractor`.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import numpy as np
import tensorflow as tf

INCEPTION_WEIGHTS_ENV = "GANWORKS_INCEPTION_WEIGHTS"
VGG16_WEIGHTS_ENV = "GANWORKS_VGG16_WEIGHTS"
FEATURE_CACHE_ENV = "GANWORKS_FEATURE_CACHE"

_KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class _KerasWeights:
    """Where Keras keeps one set of ImageNet weights (file name, URL, md5 of the file)."""

    fname: str
    url: str
    md5: str
    env: str
    flag: str


_INCEPTION_FILE = _KerasWeights(
    "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
    _KERAS_URL + "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
    "9a0d58056eeedaa3f26cb7ebd46da564",
    INCEPTION_WEIGHTS_ENV,
    "--inception-weights",
)
_VGG16_FILE = _KerasWeights(
    "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    _KERAS_URL + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "6d6bbae143d832006294945121d1f1fc",
    VGG16_WEIGHTS_ENV,
    "--vgg16-weights",
)


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be found or loaded; the message says how to supply them."""


# --------------------------------------------------------------------------- pixels


def to_pixels(images, value_range=None) -> tf.Tensor:
    """Images -> float32 [B, H, W, 3] in [0, 255].

    images: uint8 [B, H, W, 3] (value_range None or (0, 255)), or float [B, H, W, 3]
    in ``value_range`` = (low, high), e.g. (-1, 1) for tanh generators, (0, 1) for
    sigmoid ones; common.data's names "tanh" and "sigmoid" are accepted too. Values
    outside the range are clipped (a generator may overshoot).
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected images [B, H, W, 3], got shape {images.shape}")
    if value_range is None:
        if images.dtype != tf.uint8:
            raise ValueError(
                f"{images.dtype.name} images need value_range=(low, high), e.g. (-1, 1) or (0, 1); "
                "only uint8 images imply their range"
            )
        value_range = (0, 255)
    if isinstance(value_range, str):
        from common.data import VALUE_RANGES

        if value_range not in VALUE_RANGES:
            raise ValueError(f"value_range must be (low, high) or one of {sorted(VALUE_RANGES)}, got {value_range!r}")
        value_range = VALUE_RANGES[value_range]
    low, high = (float(v) for v in value_range)
    if not high > low:
        raise ValueError(f"value_range must be (low, high) with high > low, got {value_range}")
    x = tf.cast(images, tf.float32)
    return tf.clip_by_value((x - low) * (255.0 / (high - low)), 0.0, 255.0)


def resize_images(pixels, size: int | None) -> tf.Tensor:
    """float [B, H, W, 3] in [0, 255] -> float32 [B, size, size, 3], antialiased bilinear.

    Antialiasing matters for FID: plain bilinear downscaling aliases and shifts the
    statistics (Parmar et al. 2022, "On Aliased Resizing and Surprising Subtleties in GAN
    Evaluation"). ``size=None`` or an image already at ``size`` is returned unchanged.
    """
    from common.data import resize

    pixels = tf.cast(pixels, tf.float32)
    if size is None or (pixels.shape[1] == size and pixels.shape[2] == size):
        return pixels
    return tf.clip_by_value(resize(pixels, size), 0.0, 255.0)


# --------------------------------------------------------------------------- extractor


class FeatureExtractor:
    """A network that maps images to named feature arrays; shared by all metrics.

    forward: float32 [B, S, S, 3] in [0, 255] (S = input_size) -> dict of tensors,
    including any preprocessing the network wants. ``name`` identifies network and
    weights (it keys the folder-feature cache), so two extractors with the same name must
    compute the same features.
    """

    def __init__(
        self,
        forward: Callable[[tf.Tensor], Mapping[str, tf.Tensor]],
        *,
        name: str,
        input_size: int | None,
        feature_dim: int,
        num_classes: int = 0,
    ):
        self.name = name
        self.input_size = input_size
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        self._forward = tf.function(forward, reduce_retracing=True)

    def __call__(self, images, value_range=None) -> dict[str, np.ndarray]:
        """images: uint8 or float [B, H, W, 3] (see :func:`to_pixels`) -> dict of float32 arrays."""
        return {k: np.asarray(v, np.float32) for k, v in self.tensors(images, value_range).items()}

    def tensors(self, images, value_range=None) -> dict[str, tf.Tensor]:
        """As calling it, but the features as tensors, differentiable with respect to float images (what an
        optimisation through the features needs, e.g. watches.projection's perceptual loss). Pixels
        outside the value range are clipped, so they pass no gradient."""
        return dict(self._forward(resize_images(to_pixels(images, value_range), self.input_size)))

    def __repr__(self) -> str:
        return f"FeatureExtractor({self.name!r}, input_size={self.input_size}, feature_dim={self.feature_dim})"


def _sha256(path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _how_to_provide(spec: _KerasWeights) -> str:
    return (
        f"On a machine with internet, download {spec.url} (or run Keras once there: it caches "
        f"the file as ~/.keras/models/{spec.fname}), copy the file here and pass "
        f"{spec.flag} PATH or set {spec.env}=PATH (copying it to ~/.keras/models/ also works). "
        "On Kaggle/Colab the download works as is. Metrics never fall back to random weights."
    )


def _resolve_weights(weights, spec: _KerasWeights) -> str:
    """weights: None (env var, else Keras download) | "imagenet" | a file path -> local file path."""
    if weights is None:
        weights = os.environ.get(spec.env) or "imagenet"
    if weights == "imagenet":
        import keras

        try:
            return keras.utils.get_file(spec.fname, spec.url, cache_subdir="models", file_hash=spec.md5)
        except Exception as err:  # no internet, proxy, bad hash: all mean "no weights"
            raise WeightsUnavailableError(
                f"Could not download Keras's ImageNet weights {spec.fname} ({err}). " + _how_to_provide(spec)
            ) from err
    path = Path(os.path.expanduser(str(weights)))
    if not path.is_file():
        raise WeightsUnavailableError(f"Weights file {path} does not exist. " + _how_to_provide(spec))
    return str(path)


def _load_weights(model, path: str, spec: _KerasWeights) -> None:
    try:
        model.load_weights(path)
    except Exception as err:
        raise WeightsUnavailableError(
            f"Could not load {path} into {model.name} ({err}). Expected Keras's {spec.fname} "
            "(a .h5 file with the same layers). " + _how_to_provide(spec)
        ) from err


def inception_extractor(weights=None) -> FeatureExtractor:
    """Keras InceptionV3 (ImageNet): {"pool": [B, 2048], "logits": [B, 1000]} at 299x299.

    weights: None -> ``$GANWORKS_INCEPTION_WEIGHTS`` if set, else "imagenet";
    "imagenet" -> Keras's download/cache (the include-top file, since IS needs the
    classifier); a path -> that file. Raises :class:`WeightsUnavailableError` otherwise.
    Preprocessing is Inception's own: pixels / 127.5 - 1 (Szegedy et al. 2016).
    """
    path = _resolve_weights(weights, _INCEPTION_FILE)
    return _keras_inception(path, name=f"inception_v3-keras-{_sha256(path)[:16]}")


def untrained_inception_extractor(seed: int = 0) -> FeatureExtractor:
    """InceptionV3 architecture with random weights: for timing only (cost does not depend on
    weights). Its name starts with "random-", so its numbers are labelled meaningless."""
    import keras

    keras.utils.set_random_seed(seed)
    return _keras_inception(None, name=f"random-inception_v3-seed{seed}")


def _keras_inception(path: str | None, name: str) -> FeatureExtractor:
    import keras

    net = keras.applications.InceptionV3(include_top=True, weights=None, classifier_activation=None)
    if path is not None:
        _load_weights(net, path, _INCEPTION_FILE)
    model = keras.Model(net.input, [net.get_layer("avg_pool").output, net.output], name="inception_v3_features")

    def forward(pixels):
        pool, logits = model(pixels / 127.5 - 1.0, training=False)
        return {"pool": pool, "logits": logits}

    return FeatureExtractor(forward, name=name, input_size=299, feature_dim=2048, num_classes=1000)


def inception_2015_extractor(graph_path) -> FeatureExtractor:
    """The 2015 TF Inception graph used by TTUR/pytorch-fid/clean-fid, from a user's file.

    graph_path: ``classify_image_graph_def.pb`` from
    http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz.
    Images are fed at the graph's "ExpandDims:0" tensor (float [B, H, W, 3] in [0, 255],
    as TTUR's reference FID code does); the graph normalises them itself. Returns
    {"pool": "pool_3:0" [B, 2048], "logits": pool @ "softmax/weights" [B, 1008]}, the
    logits without bias exactly as the original Inception Score code (Salimans et al.
    2016) computes them. Resizing to 299 is ours (antialiased bilinear), so values can
    still differ slightly from pytorch-fid (non-antialiased) and clean-fid (PIL bicubic).
    """
    path = Path(os.path.expanduser(str(graph_path)))
    if not path.is_file():
        raise WeightsUnavailableError(
            f"Inception graph {path} does not exist. Download inception-2015-12-05.tgz from "
            "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz on a machine "
            "with internet and pass the classify_image_graph_def.pb inside it."
        )
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(path.read_bytes())

    def import_graph(images):
        pool, weights = tf.compat.v1.import_graph_def(
            graph_def,
            input_map={"ExpandDims:0": images},
            return_elements=["pool_3:0", "softmax/weights:0"],
            name="inception_2015",
        )
        pool = tf.squeeze(pool, [1, 2])  # [B, 1, 1, D] -> [B, D]
        return pool, tf.matmul(pool, weights)

    wrapped = tf.compat.v1.wrap_function(import_graph, [tf.TensorSpec([None, None, None, 3], tf.float32)])
    # keep only what pool and logits need: the graph's own batch-1 reshape and JPEG decoder go
    graph = wrapped.prune(feeds=wrapped.inputs[0], fetches=wrapped.outputs)
    feature_dim = int(graph.outputs[0].shape[-1])
    num_classes = int(graph.outputs[1].shape[-1])

    def forward(pixels):
        pool, logits = graph(pixels)
        return {"pool": pool, "logits": logits}

    return FeatureExtractor(
        forward,
        name=f"inception-2015-graph-{_sha256(path)[:16]}",
        input_size=299,
        feature_dim=feature_dim,
        num_classes=num_classes,
    )


VGG16_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")


def vgg16_extractor(weights=None, layers=VGG16_LAYERS) -> FeatureExtractor:
    """Keras VGG16 (ImageNet, no top): {layer: float32 [B, h, w, C]} for the perceptual distance.

    The default layers are relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (Keras's convs
    include the ReLU), the ones LPIPS uses (Zhang et al. 2018). No resizing
    (input_size None): images are compared at their own size. Preprocessing is VGG's
    "caffe" mode: RGB -> BGR minus the ImageNet channel means. Weights policy as
    :func:`inception_extractor`, with ``$GANWORKS_VGG16_WEIGHTS`` and the notop file.
    """
    import keras

    path = _resolve_weights(weights, _VGG16_FILE)
    net = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    _load_weights(net, path, _VGG16_FILE)
    model = keras.Model(net.input, [net.get_layer(n).output for n in layers], name="vgg16_features")
    mean_bgr = tf.constant([103.939, 116.779, 123.68], tf.float32)

    def forward(pixels):
        maps = model(pixels[..., ::-1] - mean_bgr, training=False)
        return dict(zip(layers, maps))

    return FeatureExtractor(
        forward, name=f"vgg16-keras-{_sha256(path)[:16]}", input_size=None, feature_dim=model.outputs[-1].shape[-1]
    )


def keras_model_extractor(path) -> FeatureExtractor:
    """A saved Keras feature model (a ``.keras`` file) as an extractor.

    The model takes float32 [B, S, S, 3] pixels in [0, 255] (its own preprocessing inside;
    S from its input shape, images are resized to it; any size if that is None) and returns
    features float [B, D] -> "pool" (FID, KID, precision/recall), or two outputs (features
    [B, D], logits [B, K]) -> "pool" and "logits" (the Inception Score needs logits). Its
    name carries the file's SHA-256, so cached folder features belong to these exact weights.
    Raises :class:`WeightsUnavailableError` (one line) for a missing or unloadable file or a
    model of another shape.
    """
    from common.data import DataError
    from common.runtime.checkpoint import load_keras_file

    path = Path(os.path.expanduser(str(path)))
    try:
        model = load_keras_file(path)
    except DataError as err:
        raise WeightsUnavailableError(f"feature model: {err}") from None
    shape = tuple(model.inputs[0].shape) if len(model.inputs) == 1 else ()
    outputs = [tuple(o.shape) for o in model.outputs]
    if len(shape) != 4 or shape[-1] != 3 or shape[1] != shape[2] or len(outputs) not in (1, 2) \
            or any(len(o) != 2 for o in outputs):
        raise WeightsUnavailableError(
            f"feature model {path} must take images [B, S, S, 3] and return features [B, D] (or features and "
            f"logits [B, K]); it takes {[tuple(i.shape) for i in model.inputs]} and returns {outputs}")
    names = ("pool", "logits")[:len(outputs)]

    def forward(pixels):
        result = model(pixels, training=False)
        return dict(zip(names, result if len(names) > 1 else [result]))

    return FeatureExtractor(
        forward,
        name=f"keras-model-{_sha256(path)[:16]}",
        input_size=shape[1],
        feature_dim=int(outputs[0][1]),
        num_classes=int(outputs[1][1]) if len(outputs) > 1 else 0,
    )


# --------------------------------------------------------------------------- streaming


def iter_features(
    batches: Iterable, extractor: FeatureExtractor, value_range=None, *, total=None, progress=False, label="features"
) -> Iterator[dict[str, np.ndarray]]:
    """Stream feature dicts, one per batch; nothing is held beyond the current batch.

    batches: any iterable of image batches [B, H, W, 3] (a tf.data.Dataset, a generator
    of model outputs, a list of arrays); value_range as in :func:`to_pixels`.
    """
    from common.report import Progress

    bar = Progress(total, label, unit="img", enabled=progress)
    try:
        for images in batches:
            out = extractor(images, value_range)
            bar.update(len(next(iter(out.values()))))
            yield out
    finally:
        bar.close()


def collect_features(batches: Iterable, extractor: FeatureExtractor, value_range=None, **kwargs) -> dict[str, np.ndarray]:
    """All batches' features concatenated: {name: float32 [N, ...]} (empty input -> ValueError)."""
    parts: dict[str, list] = {}
    for out in iter_features(batches, extractor, value_range, **kwargs):
        for k, v in out.items():
            parts.setdefault(k, []).append(v)
    if not parts:
        raise ValueError("no images to extract features from")
    return {k: np.concatenate(v) for k, v in parts.items()}


# --------------------------------------------------------------------------- folders


def select_images(folder, max_images: int | None = None, seed: int = 0) -> list[str]:
    """Image paths under ``folder`` (common.data.list_images order); with max_images, a
    seeded random subset of that size kept in sorted order, so it spans all subfolders
    instead of the first few (clean-fid does the same)."""
    from common.data import list_images

    paths = list(list_images(folder))
    if max_images is not None and max_images < len(paths):
        keep = np.sort(np.random.default_rng(seed).choice(len(paths), size=max_images, replace=False))
        paths = [paths[i] for i in keep]
    return paths


def folder_dataset(paths, input_size: int | None, batch_size: int = 64) -> tf.data.Dataset:
    """Files -> tf.data batches of float32 [B, S, S, 3] in [0, 255], decoded and resized in
    parallel (AUTOTUNE) and prefetched so the extractor never waits on the disk."""
    from common.data import load_image

    if input_size is None:
        raise ValueError("folder_dataset needs a fixed input_size to batch images of different sizes")

    def load(path):
        image = load_image(path)
        image.set_shape([None, None, 3])
        return resize_images(image[tf.newaxis], input_size)[0]

    # bytes, not text: a file name that is not valid UTF-8 is still a file TensorFlow can read
    ds = tf.data.Dataset.from_tensor_slices(tf.constant([os.fsencode(p) for p in paths], tf.string))
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.ignore_errors(log_warning=True)  # an unreadable file is skipped (and logged), not fatal
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def default_cache_dir() -> Path:
    """$GANWORKS_FEATURE_CACHE, else ~/.cache/ganworks/features."""
    return Path(os.environ.get(FEATURE_CACHE_ENV) or Path.home() / ".cache" / "ganworks" / "features")


def folder_cache_key(folder, paths, extractor: FeatureExtractor) -> str:
    """sha256 over the extractor name and every selected file's relative path, size and
    modification time: a changed, added or removed image gives a new key."""
    h = hashlib.sha256(extractor.name.encode())
    root = Path(folder)
    for p in paths:
        st = os.stat(p)
        h.update(f"\0{os.path.relpath(p, root)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()


def folder_features(
    folder,
    extractor: FeatureExtractor,
    *,
    max_images: int | None = None,
    batch_size: int = 64,
    cache_dir=None,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Features of every image in ``folder``: {"pool": float32 [N, D], "logits": [N, K]}.

    Cached as an .npz under ``cache_dir`` (default :func:`default_cache_dir`; ``False``
    disables) keyed by :func:`folder_cache_key`, so the real-image features of a dataset
    are computed once and reused by every later evaluation.
    """
    paths = select_images(folder, max_images)
    cache_file = None
    if cache_dir is not False:
        key = folder_cache_key(folder, paths, extractor)
        name = Path(folder).resolve().name or "root"
        cache_file = Path(cache_dir or default_cache_dir()) / f"{name}-{len(paths)}-{key[:24]}.npz"
        if cache_file.is_file():
            with np.load(cache_file) as data:
                return {k: data[k] for k in data.files}
    feats = collect_features(
        folder_dataset(paths, extractor.input_size, batch_size),
        extractor,
        (0, 255),
        total=len(paths),
        progress=progress,
        label=f"features {Path(folder).name}",
    )
    skipped = len(paths) - len(next(iter(feats.values())))
    if skipped:
        warnings.warn(f"{skipped} of {len(paths)} images in {folder} could not be read and were skipped", stacklevel=2)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_file.parent, suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **feats)
        os.replace(tmp, cache_file)  # atomic: a killed run never leaves half a cache file
    return feats
