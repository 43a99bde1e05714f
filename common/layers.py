"""Layers shared by the GANs: instance norm, reflection padding, self-attention, inception module.

All are channels-last (`[B, H, W, C]`), written with keras.layers / keras.ops only, and
registered as serialisable so a model using them saves to `.keras` and loads back.
Import this module before `keras.models.load_model` on such a file.
"""

from __future__ import annotations

import numbers

import keras
from keras import ops

from common.replicas import draws_for_layer, several_replicas

__all__ = ["instance_norm", "batch_norm", "StepDropout", "ReflectionPadding2D", "SelfAttention2D", "InceptionModule"]

_PACKAGE = "ganworks"


def instance_norm(name=None, epsilon=1e-5, **kwargs):
    """Instance normalisation: each image's each channel to mean 0 / variance 1, then a learned scale and offset.

    `GroupNormalization` with one group per channel is exactly instance norm; it
    replaces tensorflow-addons' InstanceNormalization (SPEC section 0). epsilon 1e-5
    matches the PyTorch/CycleGAN reference (Keras' default is 1e-3).
    Input and output: float [B, H, W, C], any range in, roughly zero-mean unit-variance out.
    kwargs (e.g. dtype) go to the layer.
    """
    return keras.layers.GroupNormalization(groups=-1, epsilon=epsilon, center=True, scale=True, name=name,
                                           **kwargs)


def batch_norm(name=None, momentum=0.9, epsilon=1e-5, gamma_initializer="ones", **kwargs):
    """Batch normalisation as PyTorch's defaults have it (momentum 0.1 there is 0.9 here, epsilon 1e-5).

    Built under a strategy with several replicas, the batch statistics are the global batch's
    (`synchronized`, one all-reduce per layer), so N devices normalise as one device does and every
    replica writes the same moving averages; on one device it is the plain layer.
    Input and output: float [B, H, W, C].
    """
    return keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon, gamma_initializer=gamma_initializer,
                                           synchronized=several_replicas(), name=name, **kwargs)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class StepDropout(keras.layers.Layer):
    """Dropout (spatial=False) or spatial dropout (whole channels, spatial=True) whose masks are drawn
    for the training step's global batch (`common.replicas.layer_draws`): the same masks for image i
    on any number of replicas, and again after a resume. Outside a training step it is Keras's
    dropout with its own seed generator. Inputs float [B, ..., C]; scaled by 1/(1 - rate) as Keras's.
    """

    def __init__(self, rate, spatial=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.spatial, self.seed = float(rate), bool(spatial), seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="dropout_seed")

    def call(self, x, training=False):
        if not training or self.rate == 0:
            return x
        shape = ops.shape(x)
        noise_shape = [shape[0], *([1] * (len(x.shape) - 2)), shape[-1]] if self.spatial else list(shape)
        draws = draws_for_layer(self.name)
        if draws is None:
            return keras.random.dropout(x, self.rate, noise_shape=noise_shape, seed=self.seed_generator)
        keep = ops.cast(draws.uniform(noise_shape) >= self.rate, x.dtype)
        return x * keep / ops.cast(1.0 - self.rate, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "spatial": self.spatial, "seed": self.seed}


def weight_initializers(weight_init):
    """(kernel, norm scale) initialisers: "normal" is the DCGAN / CycleGAN references' N(0, 0.02) kernels
    and N(1, 0.02) norm scales; "keras" is Keras's defaults (glorot_uniform, ones)."""
    if weight_init == "normal":
        return keras.initializers.RandomNormal(0.0, 0.02), keras.initializers.RandomNormal(1.0, 0.02)
    if weight_init == "keras":
        return "glorot_uniform", "ones"
    raise ValueError(f"weight_init must be 'normal' or 'keras', got {weight_init!r}")


def _pair(value, what):
    if isinstance(value, numbers.Integral):
        value = (int(value), int(value))
    value = tuple(int(v) for v in value)
    if len(value) != 2 or min(value) < 0:
        raise ValueError(f"{what} must be a non-negative int or a pair (height, width), got {value!r}")
    return value


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ReflectionPadding2D(keras.layers.Layer):
    """Pads height and width by mirroring the border (the edge pixel is not repeated, as numpy's "reflect").

    CycleGAN uses it before its 7x7 and residual 3x3 convolutions so that borders are
    not pulled towards zero. Each padding must be smaller than the padded dimension.
    padding: int p (p rows/columns on every side) or (ph, pw).
    inputs: [B, H, W, C] -> outputs [B, H + 2*ph, W + 2*pw, C], same dtype and values.
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pair(padding, "padding")

    def call(self, inputs):
        ph, pw = self.padding
        return ops.pad(inputs, [[0, 0], [ph, ph], [pw, pw], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        ph, pw = self.padding
        b, h, w, c = input_shape
        return (b, None if h is None else h + 2 * ph, None if w is None else w + 2 * pw, c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SelfAttention2D(keras.layers.Layer):
    """SAGAN self-attention (Zhang et al. 2019): every position attends to every other.

        q = Conv1x1(x) [N, key_channels], k = Conv1x1(x) [N, key_channels], v = Conv1x1(x) [N, value_channels]
        out = gamma * softmax(q k^T, over key positions) v + x          (N = H*W positions)

    gamma is a learned scalar initialised to 0, so the layer starts as the identity and
    the network learns how much non-local evidence to mix in. key_channels defaults to
    C // 8 (at least 1), value_channels to C. If value_channels != C a final 1x1 conv
    projects the attended values back to C channels so they can be added to x.
    inputs: float [B, H, W, C] -> outputs [B, H, W, C]. Memory grows as (H*W)^2.
    """

    def __init__(self, key_channels=None, value_channels=None, **kwargs):
        super().__init__(**kwargs)
        self.key_channels = None if key_channels is None else int(key_channels)
        self.value_channels = None if value_channels is None else int(value_channels)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        kc = self.key_channels or max(1, channels // 8)
        vc = self.value_channels or channels

        def conv(filters, role):
            return keras.layers.Conv2D(filters, 1, dtype=self.dtype_policy, name=role)

        self.query_conv, self.key_conv, self.value_conv = conv(kc, "query"), conv(kc, "key"), conv(vc, "value")
        for layer in (self.query_conv, self.key_conv, self.value_conv):
            layer.build(input_shape)
        self.output_conv = None
        if vc != channels:
            self.output_conv = conv(channels, "output")
            self.output_conv.build((*input_shape[:-1], vc))
        self.gamma = self.add_weight(shape=(), initializer="zeros", name="gamma")

    def call(self, inputs):
        shape = ops.shape(inputs)
        batch = shape[0]
        q = ops.reshape(self.query_conv(inputs), (batch, -1, self.query_conv.filters))
        k = ops.reshape(self.key_conv(inputs), (batch, -1, self.key_conv.filters))
        v = ops.reshape(self.value_conv(inputs), (batch, -1, self.value_conv.filters))
        scores = ops.matmul(q, ops.transpose(k, (0, 2, 1)))  # [B, N, N]: query i against key j
        # softmax in float32: under mixed precision the unnormalised scores can overflow float16
        attention = ops.cast(ops.softmax(ops.cast(scores, "float32"), axis=-1), v.dtype)
        attended = ops.reshape(ops.matmul(attention, v), (batch, shape[1], shape[2], self.value_conv.filters))
        if self.output_conv is not None:
            attended = self.output_conv(attended)
        return ops.cast(self.gamma, attended.dtype) * attended + inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "key_channels": self.key_channels, "value_channels": self.value_channels}


def _activation_layer(activation, name, dtype=None):
    """"leaky_relu" -> LeakyReLU(0.2); a number -> LeakyReLU(that slope); any other name -> keras Activation."""
    if isinstance(activation, numbers.Real) and not isinstance(activation, bool):
        return keras.layers.LeakyReLU(negative_slope=float(activation), name=name, dtype=dtype)
    if activation == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=0.2, name=name, dtype=dtype)
    return keras.layers.Activation(activation, name=name, dtype=dtype)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class InceptionModule(keras.layers.Layer):
    """The multi-scale CycleGAN's "inception" block (SPEC section 1, model B): stacked same-size convolutions.

        depth x [Conv kxk, filters, "same", with bias -> activation -> instance norm]; return the last

    With residual=True a 1x1 conv (with bias) of the block input is added to the output,
    the source's "1x1 residual to skip useless transformations".
    filters: output channels; kernel_size: k; depth: number of conv stages.
    activation: "leaky_relu" (slope 0.2, the default), a float slope for LeakyReLU, or
    any keras activation name.
    inputs: float [B, H, W, C] -> outputs [B, H, W, filters] (instance-normalised, so
    roughly zero-mean unit-variance per channel, plus the projection if residual).
    """

    def __init__(self, filters, kernel_size=5, depth=3, activation="leaky_relu", residual=False, **kwargs):
        super().__init__(**kwargs)
        if int(depth) < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.depth = int(depth)
        self.activation = activation
        self.residual = bool(residual)
        # Fixed sub-layer names give stable variable paths ("<layer>/conv0/kernel") in every process.
        policy = self.dtype_policy
        self.convs = [keras.layers.Conv2D(self.filters, self.kernel_size, padding="same", dtype=policy,
                                          name=f"conv{i}") for i in range(self.depth)]
        self.activations = [_activation_layer(activation, f"act{i}", policy) for i in range(self.depth)]
        self.norms = [instance_norm(f"norm{i}", dtype=policy) for i in range(self.depth)]
        self.projection = (keras.layers.Conv2D(self.filters, 1, dtype=policy, name="projection")
                           if self.residual else None)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for conv, norm in zip(self.convs, self.norms):
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            norm.build(shape)
        if self.projection is not None:
            self.projection.build(tuple(input_shape))

    def call(self, inputs, training=None):
        x = inputs
        for conv, act, norm in zip(self.convs, self.activations, self.norms):
            x = norm(act(conv(x)), training=training)
        if self.projection is not None:
            x = x + self.projection(inputs)
        return x

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "depth": self.depth, "activation": self.activation, "residual": self.residual}
