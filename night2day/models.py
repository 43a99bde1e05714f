"""The night2day networks (SPEC section 1): ResNet CycleGAN (model A) and Multi-Scale CycleGAN (model B).

Each builder returns a functional keras.Model; the CycleGAN training model
(night2day.cycle_gan) takes two generators and two discriminators built here.

Conventions for the parameter counts SPEC quotes: instance norm is
GroupNormalization(groups=-1) with learned scale and offset; a convolution whose
output goes straight into a norm has no bias (the norm's offset makes it redundant)
except inside the inception module, whose convs feed the activation first and keep
their bias. Final activations run in float32 so outputs stay float32 under a
mixed-precision policy.
"""

from __future__ import annotations

import keras
from keras import layers

from common.layers import InceptionModule, ReflectionPadding2D, instance_norm, weight_initializers

__all__ = ["resnet_generator", "patch_discriminator", "multiscale_generator", "multiscale_discriminator",
           "MULTISCALE_ENCODER_FILTERS"]

# Multiples of the base filters for model B's encoder blocks 1..5 (16, 32, 64, 128, 256 at base 16).
MULTISCALE_ENCODER_FILTERS = (1, 2, 4, 8, 16)


def _input(image_size, name="image"):
    size = None if image_size is None else int(image_size)
    return keras.Input(shape=(size, size, 3), name=name)


# ---- Model A: ResNet CycleGAN ----------------------------------------------------------------------

def _residual_block(x, filters, name, kernel_init, gamma_init):
    """[ReflectionPad(1) -> Conv 3x3 -> IN -> ReLU -> ReflectionPad(1) -> Conv 3x3 -> IN] + x."""
    y = ReflectionPadding2D(1, name=f"{name}_pad1")(x)
    y = layers.Conv2D(filters, 3, use_bias=False, kernel_initializer=kernel_init, name=f"{name}_conv1")(y)
    y = instance_norm(f"{name}_norm1", gamma_initializer=gamma_init)(y)
    y = layers.ReLU(name=f"{name}_relu1")(y)
    y = ReflectionPadding2D(1, name=f"{name}_pad2")(y)
    y = layers.Conv2D(filters, 3, use_bias=False, kernel_initializer=kernel_init, name=f"{name}_conv2")(y)
    y = instance_norm(f"{name}_norm2", gamma_initializer=gamma_init)(y)
    return layers.Add(name=f"{name}_add")([x, y])


def resnet_generator(image_size=256, filters=64, res_blocks=9, weight_init="normal", name="resnet_generator"):
    """CycleGAN's ResNet generator (Zhu et al. 2017; SPEC model A).

        ReflectionPad(3) -> Conv 7x7, f -> IN -> ReLU
        Conv 3x3 s2, 2f -> IN -> ReLU;  Conv 3x3 s2, 4f -> IN -> ReLU
        res_blocks x residual block at 4f
        ConvTranspose 3x3 s2, 2f -> IN -> ReLU;  ConvTranspose 3x3 s2, f -> IN -> ReLU
        ReflectionPad(3) -> Conv 7x7, 3 (with bias) -> tanh

    Padded as the reference's ResnetGenerator (junyanz's; benchmarks.cyclegan_check): the stride-2 convs by
    1 px on each side, the transposed convs as ConvTranspose2d(padding=1, output_padding=1).
    Fully convolutional: image_size only fixes the input layer (None accepts any size).
    Sizes must be divisible by 4 so the two stride-2 steps undo exactly.
    weight_init: "normal" (the references': kernels N(0, 0.02), norm scales N(1, 0.02),
    biases 0) or "keras" (Keras's defaults).
    input: float32 [B, S, S, 3] in [-1, 1]; output: float32 [B, S, S, 3] in [-1, 1] (tanh).
    At 256 / 64 filters / 9 blocks it has 11,383,427 parameters.
    """
    if image_size is not None and int(image_size) % 4:
        raise ValueError(f"image_size must be divisible by 4 (two stride-2 convolutions), got {image_size}")
    k_init, g_init = weight_initializers(weight_init)
    inputs = _input(image_size)
    x = ReflectionPadding2D(3, name="stem_pad")(inputs)
    x = layers.Conv2D(filters, 7, use_bias=False, kernel_initializer=k_init, name="stem_conv")(x)
    x = instance_norm("stem_norm", gamma_initializer=g_init)(x)
    x = layers.ReLU(name="stem_relu")(x)
    for i, mult in enumerate((2, 4), start=1):
        # PyTorch's padding=1 on both sides (Keras's "same" would pad bottom/right only at stride 2)
        x = layers.ZeroPadding2D(1, name=f"down{i}_pad")(x)
        x = layers.Conv2D(filters * mult, 3, strides=2, use_bias=False, kernel_initializer=k_init,
                          name=f"down{i}_conv")(x)
        x = instance_norm(f"down{i}_norm", gamma_initializer=g_init)(x)
        x = layers.ReLU(name=f"down{i}_relu")(x)
    for i in range(1, res_blocks + 1):
        x = _residual_block(x, filters * 4, f"res{i}", k_init, g_init)
    for i, mult in enumerate((2, 1), start=1):
        # ConvTranspose2d(padding=1, output_padding=1): rows 1 .. 2H of the full 2H + 1 ("same" keeps 0 .. 2H - 1)
        x = layers.Conv2DTranspose(filters * mult, 3, strides=2, use_bias=False, kernel_initializer=k_init,
                                   name=f"up{i}_conv")(x)
        x = layers.Cropping2D(((1, 0), (1, 0)), name=f"up{i}_crop")(x)
        x = instance_norm(f"up{i}_norm", gamma_initializer=g_init)(x)
        x = layers.ReLU(name=f"up{i}_relu")(x)
    x = ReflectionPadding2D(3, name="out_pad")(x)
    x = layers.Conv2D(3, 7, kernel_initializer=k_init, name="out_conv")(x)
    outputs = layers.Activation("tanh", dtype="float32", name="out_tanh")(x)
    return keras.Model(inputs, outputs, name=name)


def patch_discriminator(image_size=256, filters=64, weight_init="normal", name="patch_discriminator"):
    """70x70 PatchGAN discriminator (Isola et al. 2017; SPEC model A), 4x4 kernels, every conv zero-padded by 1
    on each side as the reference's (junyanz's NLayerDiscriminator; benchmarks.cyclegan_check).

        Conv f s2 (bias) -> LeakyReLU(0.2)
        Conv 2f s2 -> IN -> LeakyReLU;  Conv 4f s2 -> IN -> LeakyReLU;  Conv 8f s1 -> IN -> LeakyReLU
        Conv 1 s1 (bias)                                   one real/fake score per patch

    Fully convolutional (image_size None accepts any size).
    input: float32 [B, S, S, 3] in [-1, 1]; output: float32 [B, S//8 - 2, S//8 - 2, 1] (30 x 30 at 256),
    raw unbounded scores (LSGAN compares them to 1 and 0 with MSE).
    weight_init: as resnet_generator.
    At 256 / 64 filters it has 2,765,633 parameters.
    """
    k_init, g_init = weight_initializers(weight_init)
    if image_size is not None and int(image_size) < 24:
        raise ValueError(f"image_size must be at least 24 (the two stride-1 4x4 convs take 2 off an S/8 grid), "
                         f"got {image_size}")
    inputs = _input(image_size)
    x = layers.ZeroPadding2D(1, name="pad1")(inputs)
    x = layers.Conv2D(filters, 4, strides=2, kernel_initializer=k_init, name="conv1")(x)
    x = layers.LeakyReLU(0.2, name="lrelu1")(x)
    for i, (mult, stride) in enumerate(((2, 2), (4, 2), (8, 1)), start=2):
        x = layers.ZeroPadding2D(1, name=f"pad{i}")(x)
        x = layers.Conv2D(filters * mult, 4, strides=stride, use_bias=False, kernel_initializer=k_init,
                          name=f"conv{i}")(x)
        x = instance_norm(f"norm{i}", gamma_initializer=g_init)(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu{i}")(x)
    x = layers.ZeroPadding2D(1, name="score_pad")(x)
    x = layers.Conv2D(1, 4, kernel_initializer=k_init, name="score_conv")(x)
    outputs = layers.Activation("linear", dtype="float32", name="score")(x)
    return keras.Model(inputs, outputs, name=name)


# ---- Model B: Multi-Scale CycleGAN -----------------------------------------------------------------

def _check_multiscale_size(image_size):
    if image_size is None or int(image_size) % 32 or int(image_size) < 32:
        raise ValueError(f"image_size must be a positive multiple of 32 (five 2x poolings), got {image_size}")
    return int(image_size)


def _encoder(inputs, filters, kernel_size, inception_residual, activation):
    """Five [inception -> MaxPool 2x2] blocks. Returns (skips before pooling, outputs after pooling), fine to coarse."""
    skips, pooled = [], []
    x = inputs
    for i, mult in enumerate(MULTISCALE_ENCODER_FILTERS, start=1):
        x = InceptionModule(filters * mult, kernel_size=kernel_size, activation=activation,
                            residual=inception_residual, name=f"enc{i}")(x)
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"enc{i}_pool")(x)
        pooled.append(x)
    return skips, pooled


def multiscale_generator(image_size=256, filters=16, kernel_size=5, fusion_kernel=16, inception_residual=False,
                         activation="leaky_relu", latent_units=128, l2=1e-3, name="multiscale_generator"):
    """The multi-scale CycleGAN generator (SPEC model B): inception U-Net with a dense bottleneck and fusion.

        encoder i = 1..5: e_i = inception(x, f_i); x = MaxPool(e_i)      f_i = 16, 32, 64, 128, 256
        latent: Flatten -> Dense(latent_units=128) -> Dense(S/32 * S/32 * 16f) -> Reshape   (kernel L2 = l2, 1e-3)
        decoder j = 1..5: x = inception(concat(UpSample2x(x), e_{6-j}), f_{6-j})
        fusion: ConvTranspose(f, fusion_kernel, stride 16) of decoder block 1 (S/16 -> S),
                concat decoder block 5 -> ConvTranspose(3, kernel_size, stride 1) -> sigmoid

    The dense layers fix the size: image_size must be a multiple of 32 and the model only
    runs at it. fusion_kernel=16 covers every output pixel; 5 reproduces the source
    notebook (which leaves gaps between the painted 5x5 patches).
    activation: the inception activation ("leaky_relu" = LeakyReLU(0.2), a slope, or a keras name).
    input: float32 [B, S, S, 3] in [0, 1]; output: float32 [B, S, S, 3] in [0, 1] (sigmoid).
    At 256 with the defaults it has 19,998,339 parameters.
    """
    size = _check_multiscale_size(image_size)
    inputs = _input(size)
    skips, pooled = _encoder(inputs, filters, kernel_size, inception_residual, activation)

    bottom = pooled[-1]  # [S/32, S/32, 16f]
    regularizer = keras.regularizers.L2(l2)
    x = layers.Flatten(name="latent_flatten")(bottom)
    x = layers.Dense(latent_units, kernel_regularizer=regularizer, name="latent_dense")(x)
    x = layers.Dense(bottom.shape[1] * bottom.shape[2] * bottom.shape[3], kernel_regularizer=regularizer,
                     name="latent_expand")(x)
    x = layers.Reshape(bottom.shape[1:], name="latent_reshape")(x)

    decoded = []
    for j, mult in enumerate(reversed(MULTISCALE_ENCODER_FILTERS), start=1):
        x = layers.UpSampling2D(2, name=f"dec{j}_up")(x)
        x = layers.Concatenate(name=f"dec{j}_concat")([x, skips[5 - j]])  # e_{6-j}
        x = InceptionModule(filters * mult, kernel_size=kernel_size, activation=activation,
                            residual=inception_residual, name=f"dec{j}")(x)
        decoded.append(x)

    # Coarse decoder features painted straight up to full size, fused with the fine ones.
    coarse = layers.Conv2DTranspose(filters, fusion_kernel, strides=16, padding="same", name="fusion_up")(decoded[0])
    x = layers.Concatenate(name="fusion_concat")([coarse, decoded[-1]])
    x = layers.Conv2DTranspose(3, kernel_size, strides=1, padding="same", name="out_conv")(x)
    outputs = layers.Activation("sigmoid", dtype="float32", name="out_sigmoid")(x)
    return keras.Model(inputs, outputs, name=name)


def multiscale_discriminator(image_size=256, filters=16, kernel_size=5, inception_residual=False,
                             activation="leaky_relu", name="multiscale_discriminator"):
    """The multi-scale PatchGAN (SPEC model B): the generator's five encoder blocks and three score heads.

    Each head is Conv kernel_size x kernel_size -> 1 channel ("same", with bias, no activation)
    on a pooled encoder output: block 5 (S/32, coarse: distant objects), block 4 (S/16),
    block 3 (S/8, fine: near objects). image_size must be a multiple of 32.
    input: float32 [B, S, S, 3] in [0, 1];
    output: list of three float32 raw score maps, coarse to fine:
        [[B, S/32, S/32, 1], [B, S/16, S/16, 1], [B, S/8, S/8, 1]]   (8, 16, 32 at S = 256)
    At 256 with the defaults it has 5,469,667 parameters.
    """
    size = _check_multiscale_size(image_size)
    inputs = _input(size)
    _, pooled = _encoder(inputs, filters, kernel_size, inception_residual, activation)
    outputs = []
    for scale, block in enumerate((5, 4, 3), start=1):
        x = layers.Conv2D(1, kernel_size, padding="same", name=f"scale{scale}_conv")(pooled[block - 1])
        outputs.append(layers.Activation("linear", dtype="float32", name=f"scale{scale}")(x))
    return keras.Model(inputs, outputs, name=name)
