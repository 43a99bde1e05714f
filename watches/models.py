"""The watches DCGAN baseline (SPEC section 3): a generator from a normal latent to S x S x 3 and a
discriminator with one logit or a PatchGAN grid of logits.

DCGAN conventions, as the source's notes list them: transposed convolutions for upsampling,
BatchNorm + ReLU in G and no dropout there, tanh output; strided convolutions, LeakyReLU(0.2),
no BatchNorm on D's first layer, optional dropout in D. 4x4 kernels without bias before a
BatchNorm, N(0, 0.02) kernels and N(1, 0.02) BatchNorm scales. Outputs are float32 under a
mixed-precision policy. Discriminator outputs are logits (the losses apply the sigmoid).
"""

from __future__ import annotations

import math

import keras
from keras import layers

from common.layers import batch_norm, weight_initializers

__all__ = ["dcgan_generator", "dcgan_discriminator"]


def _stages(image_size) -> int:
    size = int(image_size)
    if size < 16 or size & (size - 1):
        raise ValueError(f"image_size {size} must be a power of two >= 16")
    return int(math.log2(size)) - 2


def _bn(x, gamma, name):
    return batch_norm(name, gamma_initializer=gamma)(x)


def dcgan_generator(image_size=128, latent_dim=128, filters=64, weight_init="normal", name="dcgan_generator"):
    """[B, latent_dim] normal latent -> [B, S, S, 3] in [-1, 1].

    ConvT 4x4 valid to 4x4, then stride-2 ConvT up to S; channels f * 2^k capped at 8f
    (S = 128: 4x4x512, 8x8x512, 16x16x256, 32x32x128, 64x64x64, 128x128x3 at f = 64).
    """
    n = _stages(image_size)
    kernel, gamma = weight_initializers(weight_init)
    channels = [filters * min(8, 2 ** (n - 1 - k)) for k in range(n)]
    z = keras.Input((int(latent_dim),), name="latent")
    x = layers.Reshape((1, 1, int(latent_dim)), name="latent_map")(z)
    for k, ch in enumerate(channels):
        strides, padding = (1, "valid") if k == 0 else (2, "same")
        x = layers.Conv2DTranspose(ch, 4, strides=strides, padding=padding, use_bias=False,
                                   kernel_initializer=kernel, name=f"up{k}_deconv")(x)
        x = layers.ReLU(name=f"up{k}_act")(_bn(x, gamma, f"up{k}_norm"))
    x = layers.Conv2DTranspose(3, 4, strides=2, padding="same", kernel_initializer=kernel, name="to_rgb")(x)
    return keras.Model(z, layers.Activation("tanh", dtype="float32", name="image")(x), name=name)


def dcgan_discriminator(image_size=128, filters=64, dropout=0.0, patch=False, weight_init="normal",
                        name="dcgan_discriminator"):
    """[B, S, S, 3] -> logits: [B, 1] (one score), or with patch=True a PatchGAN grid [B, S/8 - 2, S/8 - 2, 1]
    (14 x 14 at 128) from three stride-2 stages and a 3x3 valid convolution."""
    n = _stages(image_size)
    if patch and n < 3:
        raise ValueError(f"image_size {image_size} must be at least 32 for the patch discriminator")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout {dropout} must be in [0, 1)")
    kernel, gamma = weight_initializers(weight_init)
    stages = 3 if patch else n
    x = inputs = keras.Input((int(image_size), int(image_size), 3), name="image")
    for k in range(stages):
        x = layers.Conv2D(filters * min(8, 2 ** k), 4, strides=2, padding="same", use_bias=k == 0,
                          kernel_initializer=kernel, name=f"down{k}_conv")(x)
        if k:
            x = _bn(x, gamma, f"down{k}_norm")
        x = layers.LeakyReLU(0.2, name=f"down{k}_act")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"down{k}_dropout")(x)
    if patch:
        x = layers.Conv2D(1, 3, padding="valid", kernel_initializer=kernel, name="patch_logits")(x)
    else:
        x = layers.Flatten(name="flatten")(layers.Conv2D(1, 4, padding="valid", kernel_initializer=kernel,
                                                         name="logit_conv")(x))
    return keras.Model(inputs, layers.Activation("linear", dtype="float32", name="logits")(x), name=name)
