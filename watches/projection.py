"""Projecting an image into a StyleGAN2 generator's w space (what `python -m watches.project` runs).

NVIDIA's projector (stylegan2-ada-pytorch `projector.py`, after Karras et al. 2020, "Analyzing and
Improving the Image Quality of StyleGAN", section 5), in TensorFlow:

* start from the average w of `w_avg_samples` mapped z (drawn by numpy's RandomState(123), as
  NVIDIA's) and take w_std, the root mean square distance of those w from it;
* optimise one w (broadcast to every layer) and every constant noise image of the synthesis
  network with Adam (betas 0.9, 0.999), the learning rate ramped up over the first 5% of the steps
  and down (cosine) over the last 25%; during the first 75% w is perturbed by Gaussian noise of
  w_std * 0.05 * (1 - t / 0.75)^2 (t = step / steps) each step;
* the loss: the perceptual distance of the image to the target (the normalised feature distance
  of common.metrics.perceptual over any common.metrics.features extractor: VGG16 by default, as
  NVIDIA's LPIPS features), plus `mse_weight` times the pixel MSE (images in [-1, 1]), plus
  `regularize_noise_weight` times NVIDIA's noise regulariser: the squared autocorrelation of each
  noise image with itself shifted by one pixel across and down, summed over a pyramid of 2x
  average-pooled versions down to 8x8;
* after each step every noise image is renormalised to mean 0 and variance 1.

The noise images start as N(0, 1) draws from the seed (NVIDIA's too). Unlike NVIDIA's projector,
which returns w only and renders proj.png with the generator's own noise, the optimised noise is
kept: the result's image is the one the optimisation reached, and the saved noise
(projected_w.npz) lets `watches.generate --projected-w` render it again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from common.metrics.perceptual import feature_distance_tensor
from common.runtime.images import image_grid, shown, to_uint8
from watches.inference import split_generator
from watches.stylegan2 import ModulatedConv2D, _all_layers, set_noise_mode

NOISE_PREFIX = "noise_"  # projected_w.npz holds each layer's noise image as noise_<layer name>


@keras.saving.register_keras_serializable(package="ganworks")
class ProjectorSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """NVIDIA's projector learning rate at optimiser step s of `num_steps` (t = s / num_steps):
    lr * min(1, t / rampup) * (0.5 - 0.5 cos(pi min(1, (1 - t) / rampdown))) - 0 at the first step,
    the full rate from 5% to 75% of the steps, back towards 0 at the end."""

    def __init__(self, learning_rate=0.1, num_steps=1000, rampup=0.05, rampdown=0.25):
        self.learning_rate, self.num_steps = float(learning_rate), int(num_steps)
        self.rampup, self.rampdown = float(rampup), float(rampdown)

    def __call__(self, step):
        t = ops.cast(step, "float32") / float(self.num_steps)
        down = ops.minimum(1.0, (1.0 - t) / max(self.rampdown, 1e-8))
        ramp = 0.5 - 0.5 * ops.cos(down * math.pi)
        up = ops.minimum(1.0, t / self.rampup) if self.rampup > 0 else 1.0
        return self.learning_rate * ramp * up

    def get_config(self):
        return {"learning_rate": self.learning_rate, "num_steps": self.num_steps, "rampup": self.rampup,
                "rampdown": self.rampdown}


def w_noise_scale(step, num_steps, w_std, initial_noise_factor=0.05, noise_ramp_length=0.75) -> float:
    """The standard deviation of the noise added to w at `step`: w_std * factor * (1 - t / ramp)^2 until
    t = ramp, then 0 (NVIDIA's)."""
    t = step / num_steps
    return float(w_std * initial_noise_factor * max(0.0, 1.0 - t / noise_ramp_length) ** 2)


def noise_regularization(noises):
    """NVIDIA's noise regulariser over noise images [H, W]: at each scale (the image, then 2x
    average-pooled while larger than 8x8) the squared mean of the image times itself shifted by one
    pixel along the width, plus the same along the height; summed over scales and images."""
    total = 0.0
    for noise in noises:
        x = ops.reshape(ops.cast(noise, "float32"), [1, *noise.shape, 1])
        while True:
            total = total + ops.square(ops.mean(x * ops.roll(x, 1, axis=2)))
            total = total + ops.square(ops.mean(x * ops.roll(x, 1, axis=1)))
            if x.shape[1] <= 8:
                break
            x = ops.average_pool(x, 2, strides=2)
    return total


def noise_layers(synthesis) -> list:
    """The synthesis network's modulated convolutions that add noise (each holds its noise_const image)."""
    return [layer for layer in _all_layers(synthesis) if isinstance(layer, ModulatedConv2D) and layer.use_noise]


def w_statistics(mapping, num_samples=10000, batch=2000) -> tuple[np.ndarray, float]:
    """(w_avg [w_dim], w_std): the mean of `num_samples` mapped z (RandomState(123) normal draws, no
    truncation) and the root mean square distance of those w from it, as NVIDIA's projector."""
    z_dim = int(mapping.inputs[0].shape[-1])
    z = np.random.RandomState(123).randn(int(num_samples), z_dim).astype(np.float32)
    ws = np.concatenate([np.asarray(mapping([z[i:i + batch], np.ones([len(z[i:i + batch]), 1], np.float32)],
                                            training=False)) for i in range(0, len(z), batch)]).astype(np.float64)
    w_avg = ws.mean(axis=0)
    return w_avg.astype(np.float32), float(np.sqrt(((ws - w_avg) ** 2).sum() / len(ws)))


def square_crop(image, size) -> np.ndarray:
    """uint8 [H, W, 3] -> uint8 [size, size, 3]: the centred square (NVIDIA's crop), resized with the
    toolkit's one resize (antialiased bilinear; NVIDIA's uses Lanczos)."""
    from common.data import resize

    h, w = image.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    square = image[top:top + s, left:left + s]
    if s == size:
        return np.asarray(square, np.uint8)
    return to_uint8(np.asarray(resize(square, int(size))), "pixels")


@dataclass
class Projection:
    """What `project` found: ws [num_ws, w_dim] (one w repeated), each noise layer's image, and the
    per-step losses (the total, the perceptual distance, the pixel MSE, the noise regulariser)."""

    ws: np.ndarray
    noise: dict
    image: np.ndarray  # uint8 [S, S, 3]: the projection, with its noise
    loss: np.ndarray
    dist: np.ndarray
    mse: np.ndarray
    reg: np.ndarray
    snapshots: list = field(default_factory=list)  # [(step, uint8 [S, S, 3])]: the image after that step
    frames: list = field(default_factory=list)  # uint8 [S, S, 3] after every step (video=True)

    def arrays(self) -> dict:
        """projected_w.npz's arrays: w [1, num_ws, w_dim] (NVIDIA's layout: one w per image), the noise
        images as noise_<layer> and the per-step losses."""
        out = {"w": self.ws[None].astype(np.float32)}
        out.update({NOISE_PREFIX + name: value for name, value in self.noise.items()})
        out.update({"loss": self.loss, "dist": self.dist, "mse": self.mse})
        return out


def project(generator, target, extractor, *, num_steps=1000, w_avg_samples=10000, initial_learning_rate=0.1,
            initial_noise_factor=0.05, lr_rampdown_length=0.25, lr_rampup_length=0.05, noise_ramp_length=0.75,
            regularize_noise_weight=1e5, mse_weight=1.0, seed=303, snapshot_steps=(), video=False,
            on_step=None) -> Projection:
    """Project uint8 target [S, S, 3] (S the generator's size) into StyleGAN2 `generator`'s w space.

    extractor: a common.metrics.features.FeatureExtractor (its features are compared with
    common.metrics.perceptual's normalised distance). snapshot_steps: steps (1..num_steps) after which
    the image is kept for the progress strip; video: keep the image after every step. on_step(step,
    values): called after each step with {"loss", "dist", "mse", "reg"}. The generator's constant noise
    images are left at the projection's (its noise mode set to const)."""
    mapping, synthesis = split_generator(generator)
    num_ws, w_dim = int(synthesis.inputs[0].shape[1]), int(synthesis.inputs[0].shape[2])
    size = int(synthesis.outputs[0].shape[1])
    target = np.asarray(target)
    if target.shape != (size, size, 3):
        raise ValueError(f"the target must be [{size}, {size}, 3] (the generator's size), got {target.shape}")
    set_noise_mode(synthesis, "const")
    w_avg, w_std = w_statistics(mapping, w_avg_samples)
    rng = np.random.default_rng(seed)
    layers = noise_layers(synthesis)
    noises = [layer.noise_const for layer in layers]
    for v in noises:
        v.assign(rng.standard_normal(v.shape).astype(np.float32))
    w = keras.Variable(w_avg[None], name="projected_w")
    variables = [w] + noises
    optimizer = keras.optimizers.Adam(ProjectorSchedule(initial_learning_rate, num_steps, lr_rampup_length,
                                                        lr_rampdown_length), beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    optimizer.build(variables)

    # NVIDIA feeds VGG at most 256 px (area downsampling); an extractor with a fixed input size resizes itself
    factor = size // 256 if extractor.input_size is None and size > 256 else 1

    def features(images, value_range):
        if factor > 1:
            images = ops.average_pool(ops.cast(images, "float32"), factor, strides=factor)
        return extractor.tensors(images, value_range)

    target_float = tf.constant(target[None].astype(np.float32) / 127.5 - 1.0)
    target_features = {k: tf.constant(v) for k, v in features(target[None].astype(np.float32), (0, 255)).items()}

    @tf.function
    def step(w_noise):
        with tf.GradientTape() as tape:
            tape.watch([v.value for v in noises])  # the noise images: non-trainable weights of the generator
            ws = ops.repeat(ops.expand_dims(w + w_noise, 1), num_ws, axis=1)
            images = synthesis(ws, training=False)
            dist = ops.sum(feature_distance_tensor(features(images, (-1, 1)), target_features))
            mse = ops.mean(ops.square(images - target_float))
            reg = noise_regularization(noises)
            loss = dist + mse_weight * mse + regularize_noise_weight * reg
        grads = tape.gradient(loss, [v.value for v in variables])
        optimizer.apply(grads, variables)
        for v in noises:  # back to mean 0, variance 1
            centred = v - ops.mean(v)
            v.assign(centred * ops.rsqrt(ops.mean(ops.square(centred))))
        return loss, dist, mse, reg

    @tf.function
    def render():
        return synthesis(ops.repeat(ops.expand_dims(w, 1), num_ws, axis=1), training=False)

    history = {k: [] for k in ("loss", "dist", "mse", "reg")}
    keep = set(int(s) for s in snapshot_steps)
    snapshots, frames = [], []
    for i in range(num_steps):
        scale = w_noise_scale(i, num_steps, w_std, initial_noise_factor, noise_ramp_length)
        values = step(tf.constant((rng.standard_normal([1, w_dim]) * scale).astype(np.float32)))
        values = dict(zip(history, (float(v) for v in values)))
        for k, v in values.items():
            history[k].append(v)
        if i + 1 in keep or video:
            image = to_uint8(render())[0]
            if i + 1 in keep:
                snapshots.append((i + 1, image))
            if video:
                frames.append(image)
        if on_step is not None:
            on_step(i + 1, values)
    ws = np.repeat(np.asarray(w)[0][None], num_ws, axis=0)
    return Projection(ws=ws, noise={layer.name: np.asarray(layer.noise_const) for layer in layers},
                      image=to_uint8(render())[0], snapshots=snapshots, frames=frames,
                      **{k: np.asarray(v, np.float32) for k, v in history.items()})


def snapshot_steps(num_steps, count=8) -> list[int]:
    """`count` steps for the progress strip: step 1 (the start: its learning rate is 0, so w is still the
    average w), then count - 1 spread evenly up to num_steps."""
    count = max(1, min(int(count), int(num_steps)))
    return sorted({1} | {int(round(num_steps * (i + 1) / (count - 1))) for i in range(count - 1)})


def progress_strip(target, snapshots) -> np.ndarray:
    """uint8 sheet: the target, then the projection after each snapshot step, each labelled."""
    images = shown(np.stack([target] + [image for _, image in snapshots]), "pixels")
    return image_grid([images], captions=[["target"] + [f"step {s}" for s, _ in snapshots]])


def video_writer_available() -> str | None:
    """None when imageio can write an mp4 (imageio with its ffmpeg plugin), else why not."""
    try:
        import imageio  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError as exc:
        return f"no video: {exc.name} is not installed (pip install imageio imageio-ffmpeg)"
    return None


def write_video(path, target, frames, fps=10) -> None:
    """An mp4 of target | projection, one frame per step (NVIDIA's proj.mp4)."""
    import imageio

    with imageio.get_writer(str(path), mode="I", fps=fps, codec="libx264", bitrate="16M") as video:
        for frame in frames:
            video.append_data(np.concatenate([target, frame], axis=1))


def load_projected_w(path, num_ws, w_dim) -> tuple[np.ndarray, dict]:
    """projected_w.npz -> (ws [N, num_ws, w_dim], {layer name: noise image}); a w of [num_ws, w_dim]
    counts as N = 1. One DataError line for a file that is not one or a w of another generator's shape."""
    import zipfile

    from common.data import DataError

    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"--projected-w {path} cannot be read as an .npz file ({type(exc).__name__})") from None
    if "w" not in arrays:
        raise DataError(f"--projected-w {path} holds no array 'w' (it has {', '.join(sorted(arrays)) or 'none'}); "
                        "give a projected_w.npz written by `python -m watches.project`")
    ws = arrays["w"].astype(np.float32)
    ws = ws[None] if ws.ndim == 2 else ws
    if ws.ndim != 3 or ws.shape[1:] != (num_ws, w_dim):
        raise DataError(f"--projected-w {path}: w has shape {arrays['w'].shape}, this generator takes "
                        f"[N, {num_ws}, {w_dim}] (num_ws, w_dim); was it projected with another generator?")
    noise = {k[len(NOISE_PREFIX):]: v for k, v in arrays.items() if k.startswith(NOISE_PREFIX)}
    return ws, noise


def set_noise_images(synthesis, noise) -> int:
    """Put saved noise images {layer name: [H, W]} into the synthesis network's constant noise -> how
    many were set. One DataError line when a name or shape does not match."""
    from common.data import DataError

    by_name = {layer.name: layer for layer in noise_layers(synthesis)}
    for name, value in noise.items():
        layer = by_name.get(name)
        if layer is None or tuple(layer.noise_const.shape) != tuple(value.shape):
            raise DataError(f"the projected noise {name} {tuple(value.shape)} does not fit this generator's noise "
                            "layers; was it projected with another generator?")
        layer.noise_const.assign(value.astype(np.float32))
    return len(noise)
