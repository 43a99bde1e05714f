"""StyleGAN2's networks in Keras 3, as NVIDIA's stylegan2-ada-pytorch builds them (`training/networks.py`,
`train.py --cfg auto`, one GPU). At 128x128:

    mapping_network(z_dim=512, w_dim=512, layers=2)        525,312 parameters
    synthesis_network(128) ("skip": toRGB at every res)  22,423,965
    discriminator(128)     ("resnet", minibatch std 4)   23,882,369
    channels min(16384 / res, 512): 512 at 4-32, 256 at 64, 128 at 128

Every weight is stored N(0, 1) and scaled at run time (equalized learning rate; the mapping layers
with learning-rate multiplier 0.01). Up- and down-sampling use the separable [1, 3, 3, 1] low-pass
filter (`upfirdn2d`, written with keras.ops depthwise convolutions; no custom kernels). A modulated
convolution scales its input channels by the per-sample style, convolves with the shared kernel and
scales each output channel by the per-sample demodulation coefficient - NVIDIA's non-fused path,
mathematically the per-sample-kernel convolution (tests check both). Images are channels-last
float [B, S, S, 3], nominally in [-1, 1].

The generator a user samples from (`generator(...)`) maps [z, psi] -> image: mapping, truncation
towards the tracked average w (psi = 1 is off, 0 the average watch), broadcast to every layer,
synthesis. Noise inputs follow `set_noise_mode`: "random" (training), "const" (a fixed per-layer
noise image: the default for sampling, as NVIDIA's generate.py) or "none".
"""

from __future__ import annotations

import math
import zlib

import keras
import numpy as np
from keras import ops

from common.replicas import draws_for_layer

_PACKAGE = "ganworks.stylegan2"
FILTER = (1.0, 3.0, 3.0, 1.0)
SQRT2 = math.sqrt(2.0)
NOISE_MODES = ("random", "const", "none")


def channels_at(res, channel_base=16384, channel_max=512) -> int:
    return int(min(channel_base // res, channel_max))


def num_ws(resolution) -> int:
    """Number of w vectors the synthesis network takes: two per block (one for the 4x4 block) + the last toRGB."""
    return 2 * (int(math.log2(resolution)) - 1)


# --------------------------------------------------------------------------- resampling

def upfirdn2d(x, up=1, down=1, pad=(0, 0), gain=1.0, taps=FILTER):
    """Upsample by zero insertion, pad (negative = crop), filter with the separable taps (normalised to
    sum 1, times gain over both axes), keep every `down`-th pixel. x: [B, H, W, C] -> [B, H', W', C]."""
    f = np.asarray(taps, np.float64)
    f = f / f.sum() * math.sqrt(gain)  # the 2-D filter is the outer product, so gain splits over the axes
    channels = x.shape[-1]
    if up > 1:
        b, h, w = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2]
        x = ops.reshape(x, [b, h, 1, w, 1, channels])
        x = ops.pad(x, [[0, 0], [0, 0], [0, up - 1], [0, 0], [0, up - 1], [0, 0]])
        x = ops.reshape(x, [b, h * up, w * up, channels])
    p0, p1 = pad
    if p0 > 0 or p1 > 0:
        x = ops.pad(x, [[0, 0], [max(p0, 0), max(p1, 0)], [max(p0, 0), max(p1, 0)], [0, 0]])
    if p0 < 0 or p1 < 0:
        h, w = x.shape[1], x.shape[2]
        x = x[:, max(-p0, 0):h - max(-p1, 0), max(-p0, 0):w - max(-p1, 0), :]
    if down > 1:  # one 2-D pass: TensorFlow's CPU depthwise kernel refuses unequal strides in float16
        f2 = np.outer(f[::-1], f[::-1])
        kernel = ops.cast(np.tile(f2[:, :, None, None], [1, 1, channels, 1]), x.dtype)
        return ops.depthwise_conv(x, kernel, strides=down, padding="valid")
    kernel = ops.cast(np.tile(f[::-1].reshape(-1, 1, 1, 1), [1, 1, channels, 1]), x.dtype)
    x = ops.depthwise_conv(x, ops.reshape(kernel, [len(f), 1, channels, 1]), strides=1, padding="valid")
    return ops.depthwise_conv(x, ops.reshape(kernel, [1, len(f), channels, 1]), strides=1, padding="valid")


def upsample2d(x, taps=FILTER):
    """[B, H, W, C] -> [B, 2H, 2W, C], the low-pass 2x upsampling of NVIDIA's upfirdn2d.upsample2d."""
    fw = len(taps)
    return upfirdn2d(x, up=2, pad=((fw + 1) // 2, (fw - 2) // 2), gain=4.0, taps=taps)


def downsample2d(x, taps=FILTER):
    """[B, H, W, C] -> [B, H/2, W/2, C], the low-pass 2x downsampling of NVIDIA's upfirdn2d.downsample2d."""
    fw = len(taps)
    return upfirdn2d(x, down=2, pad=((fw - 1) // 2, (fw - 2) // 2), taps=taps)


def _bias_act(x, bias, activation, gain, clamp):
    """NVIDIA's bias_act: act(x + b) * gain (lrelu adds its own gain sqrt 2), clamped to +-clamp * gain."""
    limit = None if clamp is None else clamp * gain
    if bias is not None:
        x = x + ops.cast(bias, x.dtype)
    if activation == "lrelu":
        x = ops.leaky_relu(x, 0.2)
        gain = gain * SQRT2
    if gain != 1:
        x = x * gain
    if limit is not None:
        x = ops.clip(x, -limit, limit)
    return x


# --------------------------------------------------------------------------- layers

class _Layer(keras.layers.Layer):
    _config_keys: tuple = ()

    def get_config(self):
        config = super().get_config()
        config.update({k: getattr(self, k) for k in self._config_keys})
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Normalize2ndMoment(keras.layers.Layer):
    """z / sqrt(mean(z^2) + 1e-8) over the features: the mapping network's input normalisation."""

    def call(self, x):
        return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + 1e-8)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class EqualDense(_Layer):
    """Fully connected layer with equalized learning rate: weight N(0, 1/lr_mul) used as
    weight * lr_mul / sqrt(fan_in), bias * lr_mul; activation "linear" or "lrelu" (gain sqrt 2)."""

    _config_keys = ("units", "lr_multiplier", "bias_init", "activation")

    def __init__(self, units, lr_multiplier=1.0, bias_init=0.0, activation="linear", **kwargs):
        super().__init__(**kwargs)
        self.units, self.lr_multiplier, self.bias_init = int(units), float(lr_multiplier), float(bias_init)
        self.activation = activation

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.weight = self.add_weight(name="weight", shape=(fan_in, self.units),
                                      initializer=keras.initializers.RandomNormal(0.0, 1.0 / self.lr_multiplier))
        self.bias = self.add_weight(name="bias", shape=(self.units,),
                                    initializer=keras.initializers.Constant(self.bias_init))
        self.weight_gain = self.lr_multiplier / math.sqrt(fan_in)

    def call(self, x):
        w = ops.cast(self.weight, x.dtype) * self.weight_gain
        return _bias_act(ops.matmul(x, w), ops.cast(self.bias, x.dtype) * self.lr_multiplier, self.activation,
                         1.0, None)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class EqualConv2D(_Layer):
    """Conv2dLayer of NVIDIA's code: kernel N(0, 1) scaled by 1/sqrt(fan_in), 'same' padding, optional
    2x low-pass downsampling (filter then strided conv), bias, activation, output gain and clamp."""

    _config_keys = ("filters", "kernel_size", "use_bias", "activation", "down", "gain", "clamp")

    def __init__(self, filters, kernel_size, use_bias=True, activation="linear", down=1, gain=1.0, clamp=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.use_bias = int(filters), int(kernel_size), bool(use_bias)
        self.activation, self.down, self.gain, self.clamp = activation, int(down), float(gain), clamp

    def build(self, input_shape):
        fan_in = int(input_shape[-1]) * self.kernel_size ** 2
        k = self.kernel_size
        self.weight = self.add_weight(name="weight", shape=(k, k, int(input_shape[-1]), self.filters),
                                      initializer=keras.initializers.RandomNormal(0.0, 1.0))
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros") if self.use_bias \
            else None
        self.weight_gain = 1.0 / math.sqrt(fan_in)

    def call(self, x):
        w = ops.cast(self.weight, x.dtype) * self.weight_gain
        k, fw = self.kernel_size, len(FILTER)
        if self.down == 1:
            x = ops.conv(x, w, padding="same")
        elif k == 1:  # filter and decimate, then the 1x1 conv
            x = ops.conv(upfirdn2d(x, down=2, pad=((fw - 1) // 2, (fw - 2) // 2)), w)
        else:  # filter with the kernel's padding folded in, then a strided valid conv
            p = k // 2
            x = upfirdn2d(x, pad=(p + (fw - 1) // 2, p + (fw - 2) // 2))
            x = ops.conv(x, w, strides=2, padding="valid")
        return _bias_act(x, self.bias, self.activation, self.gain, self.clamp)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ModulatedConv2D(_Layer):
    """SynthesisLayer / ToRGBLayer of NVIDIA's code. inputs [x [B, H, W, Cin], w [B, w_dim]] ->
    [B, H*up, W*up, filters].

    styles = affine(w) (bias initialised to 1); x * styles -> conv with the shared kernel (transposed
    stride 2 then the [1,3,3,1] filter when up = 2) -> * demodulation coefficients
    rsqrt(sum_{i,k}(weight * style)^2 + 1e-8) -> + noise * strength -> bias, lrelu * sqrt(2), clamp.
    toRGB (demodulate False, 1x1, linear) scales the styles by 1/sqrt(fan_in) instead.

    Computing in float16 with demodulation, the weight and styles are first pre-normalised as NVIDIA's
    modulated_conv2d does against float16 overflow: weight / sqrt(Cin k k) / max|weight| per output
    channel, styles / max|styles| per sample. The demodulation coefficients are computed from the
    pre-normalised values, so they divide both factors out again: the output is mathematically
    unchanged (to the 1e-8 in the demodulation), only the float16 intermediates x * styles and the
    convolution stay small. The affine layer computing the styles runs in float32 (NVIDIA's: its
    input w is float32)."""

    # None: pre-normalise exactly when NVIDIA does (float16 compute and demodulate); True / False force
    # it either way (a per-instance override for checks, not part of the config)
    prenormalize = None

    _config_keys = ("filters", "kernel_size", "up", "demodulate", "use_noise", "resolution", "activation",
                    "clamp", "noise_mode", "seed")

    def __init__(self, filters, kernel_size=3, up=1, demodulate=True, use_noise=True, resolution=4,
                 activation="lrelu", clamp=None, noise_mode="random", seed=0, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.up = int(filters), int(kernel_size), int(up)
        self.demodulate, self.use_noise, self.resolution = bool(demodulate), bool(use_noise), int(resolution)
        self.activation, self.clamp = activation, clamp
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        self.noise_mode = noise_mode
        self.seed = int(seed)
        # a stream of its own per layer (seeded by the run seed and the layer's name), restored on resume
        self.seed_generator = keras.random.SeedGenerator(self.seed * 1000003 + zlib.crc32(self.name.encode()) % 999983,
                                                         name="noise_seed")
        self.affine = EqualDense(0, bias_init=1.0, name="affine", dtype="float32")

    def build(self, input_shape):
        x_shape, w_shape = input_shape
        cin, k = int(x_shape[-1]), self.kernel_size
        self.affine.units = cin  # the styles: one per input channel (built on first call)
        self.weight = self.add_weight(name="weight", shape=(k, k, cin, self.filters),
                                      initializer=keras.initializers.RandomNormal(0.0, 1.0))
        if self.use_noise:
            self.noise_const = self.add_weight(name="noise_const", shape=(self.resolution, self.resolution),
                                               initializer=keras.initializers.RandomNormal(0.0, 1.0),
                                               trainable=False)
            self.noise_strength = self.add_weight(name="noise_strength", shape=(), initializer="zeros")
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
        self.weight_gain = 1.0 if self.demodulate else 1.0 / math.sqrt(cin * k * k)

    def styles(self, w):
        return ops.cast(self.affine(ops.cast(w, "float32")), "float32") * self.weight_gain

    def prenormalizes(self) -> bool:
        if self.prenormalize is not None:
            return bool(self.prenormalize) and self.demodulate
        return self.demodulate and self.compute_dtype == "float16"

    def call(self, inputs):
        x, w = inputs
        styles = self.styles(w)  # [B, Cin] float32
        weight = ops.cast(self.weight, "float32")
        if self.prenormalizes():  # before the demodulation coefficients are computed from them (see above)
            cin, k = weight.shape[2], self.kernel_size
            weight = weight * (1.0 / math.sqrt(cin * k * k)
                               / ops.max(ops.abs(weight), axis=(0, 1, 2), keepdims=True))  # max over (k, k, Cin)
            styles = styles / ops.max(ops.abs(styles), axis=1, keepdims=True)  # max over Cin
        x = x * ops.cast(styles[:, None, None, :], x.dtype)
        kernel = ops.cast(weight, x.dtype)
        if self.up == 1:
            x = ops.conv(x, kernel, padding="same")
        else:
            x = ops.conv_transpose(x, ops.transpose(kernel, [0, 1, 3, 2]), strides=2, padding="valid")
            fw, k = len(FILTER), self.kernel_size
            p = k // 2
            lead, trail = p + (fw + 1) // 2 - (k - 1), p + (fw - 2) // 2 - (k - 2)
            x = upfirdn2d(x, pad=(lead, trail), gain=4.0)
        if self.demodulate:
            # sum over (kernel, in channels) of (weight * style)^2 = styles^2 @ sum_k weight^2
            dcoefs = ops.rsqrt(ops.matmul(ops.square(styles), ops.sum(ops.square(weight), axis=(0, 1))) + 1e-8)
            x = x * ops.cast(dcoefs[:, None, None, :], x.dtype)
        if self.use_noise and self.noise_mode != "none":
            if self.noise_mode == "random":
                shape = [ops.shape(x)[0], self.resolution, self.resolution, 1]
                draws = draws_for_layer(self.name)  # in a training step: its global batch's noise, per image
                noise = keras.random.normal(shape, seed=self.seed_generator) if draws is None else draws.normal(shape)
            else:
                noise = ops.reshape(self.noise_const, [1, self.resolution, self.resolution, 1])
            x = x + ops.cast(noise * self.noise_strength, x.dtype)
        gain = 1.0
        return _bias_act(x, self.bias, self.activation, gain, self.clamp)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ConstantInput(_Layer):
    """The learned 4x4 constant the synthesis network starts from, repeated over the batch of w."""

    _config_keys = ("channels", "resolution")

    def __init__(self, channels, resolution=4, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.resolution = int(channels), int(resolution)

    def build(self, input_shape):
        self.const = self.add_weight(name="const", shape=(self.resolution, self.resolution, self.channels),
                                     initializer=keras.initializers.RandomNormal(0.0, 1.0))

    def call(self, w):
        return ops.cast(ops.repeat(self.const[None], ops.shape(w)[0], axis=0), self.compute_dtype)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Upsample2D(keras.layers.Layer):
    """The skip generator's image path: low-pass 2x upsampling of the running RGB image."""

    def call(self, x):
        return upsample2d(x)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SelectW(_Layer):
    """ws [B, num_ws, w_dim] -> ws[:, index]."""

    _config_keys = ("index",)

    def __init__(self, index, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, ws):
        return ws[:, self.index]


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MinibatchStd(_Layer):
    """Appends one channel: the standard deviation of each feature over a group of `group_size` images
    (NVIDIA's grouping: image i is in group i mod (B / G)), averaged over features and pixels."""

    _config_keys = ("group_size",)

    def __init__(self, group_size=4, **kwargs):
        super().__init__(**kwargs)
        self.group_size = int(group_size)

    def call(self, x):
        shape = ops.shape(x)
        n, h, w, c = shape[0], shape[1], shape[2], x.shape[-1]
        g = ops.minimum(self.group_size, n)
        y = ops.reshape(ops.cast(x, "float32"), [g, -1, h, w, c])
        y = y - ops.mean(y, axis=0)
        y = ops.sqrt(ops.mean(ops.square(y), axis=0) + 1e-8)  # [n/G, H, W, C]
        y = ops.mean(y, axis=[1, 2, 3])  # [n/G]
        y = ops.tile(ops.reshape(y, [-1, 1, 1, 1]), [g, h, w, 1])
        return ops.concatenate([x, ops.cast(y, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)  # older Keras cannot infer it through the tile


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Truncation(_Layer):
    """[w [B, w_dim], psi [B, 1]] -> w_avg + psi * (w - w_avg), exactly w where psi == 1.

    w_avg is the moving average of the mapping network's outputs (decay 0.995 per training step,
    updated by the training model, not here)."""

    _config_keys = ("w_dim",)

    def __init__(self, w_dim, **kwargs):
        super().__init__(**kwargs)
        self.w_dim = int(w_dim)
        self.w_avg = self.add_weight(name="w_avg", shape=(self.w_dim,), initializer="zeros", trainable=False)

    def call(self, inputs):
        w, psi = inputs
        avg = ops.cast(self.w_avg, w.dtype)
        psi = ops.cast(psi, w.dtype)
        return ops.where(ops.equal(psi, 1.0), w, avg + psi * (w - avg))


# --------------------------------------------------------------------------- networks

def mapping_network(z_dim=512, w_dim=512, layers=2, lr_multiplier=0.01, name="mapping") -> keras.Model:
    """[z [B, z_dim], psi [B, 1]] -> w [B, w_dim]: normalised z through `layers` lrelu EqualDense layers
    (lr multiplier 0.01), then truncation towards the tracked average (psi 1 = none). 2 layers: 525,312
    parameters (+ the 512 of w_avg, not trained)."""
    z = keras.Input((z_dim,), name="z")
    psi = keras.Input((1,), name="psi")
    x = Normalize2ndMoment(name="normalize")(z)
    for i in range(layers):
        x = EqualDense(w_dim, lr_multiplier=lr_multiplier, activation="lrelu", name=f"fc{i}")(x)
    w = Truncation(w_dim, name="truncation")([x, psi])
    return keras.Model([z, psi], w, name=name)


def synthesis_network(resolution=128, w_dim=512, channel_base=16384, channel_max=512, clamp=None,
                      mixed_resolutions=0, mixed_policy=None, noise_mode="random", seed=0,
                      name="synthesis") -> keras.Model:
    """ws [B, num_ws, w_dim] -> images [B, resolution, resolution, 3] ("skip" architecture).

    Block 4: constant, one modulated 3x3 conv; each block 8..resolution: two modulated 3x3 convs (the
    first upsampling) with noise; toRGB after every block, the RGB images summed through low-pass
    upsampling. The `mixed_resolutions` highest resolutions compute in `mixed_policy` (float16 on a GPU)
    and clamp activations to +-clamp. 128 px: 22,423,965 parameters."""
    if resolution < 4 or resolution & (resolution - 1):
        raise ValueError(f"resolution must be a power of two >= 4, got {resolution}")
    log2 = int(math.log2(resolution))
    mixed_from = max(2 ** (log2 + 1 - mixed_resolutions), 8) if mixed_resolutions else resolution * 2
    ws = keras.Input((num_ws(resolution), w_dim), name="ws")
    x = img = None
    for i, res in enumerate(2 ** k for k in range(2, log2 + 1)):
        c = channels_at(res, channel_base, channel_max)
        dtype = mixed_policy if (mixed_policy and res >= mixed_from) else "float32"
        common = dict(clamp=clamp, resolution=res, noise_mode=noise_mode, seed=seed, dtype=dtype)
        first = 0 if res == 4 else 2 * i - 1
        if res == 4:
            x = ConstantInput(c, name="b4_const", dtype=dtype)(SelectW(0, name="b4_w0")(ws))
            x = ModulatedConv2D(c, name="b4_conv1", **common)([x, SelectW(0, name="b4_w_conv1")(ws)])
        else:
            x = ModulatedConv2D(c, up=2, name=f"b{res}_conv0", **common)([x, SelectW(first, name=f"b{res}_w0")(ws)])
            x = ModulatedConv2D(c, name=f"b{res}_conv1", **common)([x, SelectW(first + 1, name=f"b{res}_w1")(ws)])
        torgb_w = SelectW(first + (1 if res == 4 else 2), name=f"b{res}_w_torgb")(ws)
        y = ModulatedConv2D(3, kernel_size=1, demodulate=False, use_noise=False, activation="linear", clamp=clamp,
                            resolution=res, name=f"b{res}_torgb", dtype=dtype)([x, torgb_w])
        y = keras.layers.Activation("linear", dtype="float32", name=f"b{res}_rgb")(y)
        img = y if img is None else keras.layers.Add(name=f"b{res}_img", dtype="float32")(
            [Upsample2D(name=f"b{res}_upsample", dtype="float32")(img), y])
    return keras.Model(ws, img, name=name)


def generator(mapping, synthesis, name="generator") -> keras.Model:
    """[z [B, z_dim], psi [B, 1]] -> images: mapping (with truncation), w broadcast to every layer, synthesis.
    Shares the two networks' layers (not a copy)."""
    z = keras.Input(mapping.inputs[0].shape[1:], name="z")
    psi = keras.Input((1,), name="psi")
    w = mapping([z, psi])
    ws = keras.layers.RepeatVector(synthesis.inputs[0].shape[1], name="broadcast")(w)
    return keras.Model([z, psi], synthesis(ws), name=name)


def discriminator(resolution=128, channel_base=16384, channel_max=512, mbstd_group=4, clamp=None,
                  mixed_resolutions=0, mixed_policy=None, name="discriminator") -> keras.Model:
    """images [B, S, S, 3] -> logits [B, 1] ("resnet" architecture).

    fromRGB (1x1) at the input; a residual block per resolution S..8 (3x3 conv, 3x3 conv downsampling,
    a 1x1 downsampling skip, both paths scaled by sqrt(1/2)); at 4x4 the minibatch standard deviation
    (group 4), a 3x3 conv, a dense layer and a linear output. 128 px: 23,882,369 parameters."""
    log2 = int(math.log2(resolution))
    mixed_from = max(2 ** (log2 + 1 - mixed_resolutions), 8) if mixed_resolutions else resolution * 2
    images = keras.Input((resolution, resolution, 3), name="images")
    x = None
    for res in (2 ** k for k in range(log2, 2, -1)):
        tmp, out = channels_at(res, channel_base, channel_max), channels_at(res // 2, channel_base, channel_max)
        dtype = mixed_policy if (mixed_policy and res >= mixed_from) else "float32"
        if x is None:
            x = EqualConv2D(tmp, 1, activation="lrelu", clamp=clamp, name=f"b{res}_fromrgb", dtype=dtype)(images)
        skip = EqualConv2D(out, 1, use_bias=False, down=2, gain=math.sqrt(0.5), name=f"b{res}_skip",
                           dtype=dtype)(x)
        x = EqualConv2D(tmp, 3, activation="lrelu", clamp=clamp, name=f"b{res}_conv0", dtype=dtype)(x)
        x = EqualConv2D(out, 3, activation="lrelu", down=2, gain=math.sqrt(0.5), clamp=clamp, name=f"b{res}_conv1",
                        dtype=dtype)(x)
        x = keras.layers.Add(name=f"b{res}_add", dtype=dtype)([skip, x])
    c = channels_at(4, channel_base, channel_max)
    x = keras.layers.Activation("linear", dtype="float32", name="b4_cast")(x)
    x = MinibatchStd(mbstd_group, name="b4_mbstd")(x)
    x = EqualConv2D(c, 3, activation="lrelu", clamp=clamp, name="b4_conv")(x)
    x = keras.layers.Flatten(name="b4_flatten")(x)
    x = EqualDense(c, activation="lrelu", name="b4_fc")(x)
    return keras.Model(images, EqualDense(1, name="b4_out")(x), name=name)


def set_noise_mode(model, mode) -> None:
    """Switch every noise input of a (synthesis or generator) model: random | const | none.
    Takes effect for the next traced call."""
    if mode not in NOISE_MODES:
        raise ValueError(f"noise mode must be one of {', '.join(NOISE_MODES)}, got {mode!r}")
    for layer in _all_layers(model):
        if isinstance(layer, ModulatedConv2D):
            layer.noise_mode = mode


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def trainable_count(model) -> int:
    return int(sum(np.prod(v.shape) for v in model.trainable_weights))
