"""The inpainting networks (SPEC section 2): the experiment's U-Net generator and attention discriminator,
and the theory chapters' Context Encoder (Pathak et al. 2016) with its discriminator.

Conventions of the printed PyTorch listings: 4x4 kernels, convolutions without bias,
BatchNorm (PyTorch momentum 0.1 = Keras momentum 0.9, epsilon 1e-5), LeakyReLU(0.2) in
encoders and discriminators, ReLU in decoders; N(0, 0.02) kernels and N(1, 0.02) BatchNorm
scales (the DCGAN initialisation) unless weight_init="keras". Stride-2 layers pad "same"
(PyTorch's k4 s2 p1: exactly half or double); the 4x4 "valid" layers map 4x4 <-> 1x1.

Both generators take an S x S image (S a power of two >= 16) and predict the content of the
hole's box at S/2 x S/2 (64 at 128, 128 at 256). Their encoder has log2(S) - 2 stride-2
stages with channels f, f, 2f, 4f, 8f, 8f, ... (to 4x4), then a 4x4 bottleneck to 1x1; the
decoder goes back up to 4x4 with 8f channels and through stride-2 transposed convolutions
whose channels mirror the encoder, ending in 3 channels and tanh. Final activations run in
float32, so outputs stay float32 under a mixed-precision policy.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from common.layers import SelfAttention2D, StepDropout, batch_norm, weight_initializers

__all__ = ["improved_generator", "improved_discriminator", "context_encoder_generator",
           "context_encoder_discriminator"]


def _stages(size, what, minimum) -> int:
    """Stride-2 stages from size down to 4x4; ValueError (one line) unless size is a power of two >= minimum."""
    size = int(size)
    if size < minimum or size & (size - 1):
        raise ValueError(f"{what} {size} must be a power of two >= {minimum}")
    return int(math.log2(size)) - 2


def _channels(filters, n, widths) -> list[int]:
    """The first n of filters x widths, the last width repeated."""
    return [filters * widths[min(i, len(widths) - 1)] for i in range(n)]


class _Blocks:
    """Layer factory for one network: names, initialisers and the no-bias convention."""

    def __init__(self, weight_init):
        self.kernel, self.gamma = weight_initializers(weight_init)

    def conv(self, x, filters, name, strides=2, padding="same"):
        return layers.Conv2D(filters, 4, strides=strides, padding=padding, use_bias=False,
                             kernel_initializer=self.kernel, name=name)(x)

    def deconv(self, x, filters, name, strides=2, padding="same"):
        return layers.Conv2DTranspose(filters, 4, strides=strides, padding=padding, use_bias=False,
                                      kernel_initializer=self.kernel, name=name)(x)

    def norm(self, x, name):
        return batch_norm(name, gamma_initializer=self.gamma)(x)


def _encoder_decoder(image_size, filters, bottleneck, weight_init, skips, name):
    n = _stages(image_size, "image_size", 16)
    if int(filters) < 1 or int(bottleneck) < 1:
        raise ValueError(f"filters ({filters}) and bottleneck ({bottleneck}) must be positive")
    b = _Blocks(weight_init)
    enc = _channels(filters, n, (1, 1, 2, 4, 8))
    x = inputs = keras.Input((image_size, image_size, 3), name="masked_image")
    features = []
    for i, ch in enumerate(enc):
        x = b.conv(x, ch, f"enc{i + 1}_conv")
        if i:
            x = b.norm(x, f"enc{i + 1}_norm")
        x = layers.LeakyReLU(0.2, name=f"enc{i + 1}_act")(x)
        features.append(x)
    x = b.conv(x, bottleneck, "bottleneck_conv", strides=1, padding="valid")
    x = layers.LeakyReLU(0.2, name="bottleneck_act")(b.norm(x, "bottleneck_norm"))
    x = b.deconv(x, enc[-1], "dec1_deconv", strides=1, padding="valid")
    x = layers.ReLU(name="dec1_act")(b.norm(x, "dec1_norm"))
    if skips:
        x = StepDropout(0.2, name="dec1_dropout")(x)
    ups = enc[::-1][1:-1] + [3]
    for k, ch in enumerate(ups):
        stage = f"dec{k + 2}"
        if skips:  # the encoder output of this resolution: enc_n, ..., enc_2
            x = layers.Concatenate(name=f"{stage}_skip")([x, features[n - 1 - k]])
        x = b.deconv(x, ch, f"{stage}_deconv")
        if k < len(ups) - 1:
            x = layers.ReLU(name=f"{stage}_act")(b.norm(x, f"{stage}_norm"))
    outputs = layers.Activation("tanh", dtype="float32", name="hole_content")(x)
    return keras.Model(inputs, outputs, name=name)


def improved_generator(image_size=128, filters=64, bottleneck=None, weight_init="normal", name="improved_generator"):
    """The experiment's U-Net (SPEC section 2): [B, S, S, 3] masked image -> [B, S/2, S/2, 3] hole content.

    At S = 128: enc1-enc5 3->64->64->128->256->512, bottleneck 4x4 valid to 2048, dec1 transposed
    4x4 valid to 512 + Dropout 0.2, dec2-dec5 with skips from enc5...enc2, tanh: 41,894,656
    trainable parameters. bottleneck defaults to 32 * filters.
    """
    return _encoder_decoder(image_size, filters, bottleneck or 32 * int(filters), weight_init, True, name)


def context_encoder_generator(image_size=256, filters=64, bottleneck=4000, weight_init="normal",
                              name="context_encoder_generator"):
    """Pathak et al.'s Context Encoder without skips: [B, S, S, 3] -> [B, S/2, S/2, 3] (the centre hole).

    At S = 256: encoder 3->64->64->128->256->512->512, channel-wise 4x4 bottleneck to 4000, decoder
    4000->512->512->256->128->64->3: 79,515,200 trainable parameters.
    """
    return _encoder_decoder(image_size, filters, bottleneck, weight_init, False, name)


def _discriminator(hole_size, filters, weight_init, attention, name):
    m = _stages(hole_size, "hole_size", 16 if attention else 8)  # attention follows the second stage
    b = _Blocks(weight_init)
    x = inputs = keras.Input((hole_size, hole_size, 3), name="hole_content")
    for i, ch in enumerate(_channels(filters, m, (1, 2, 4, 8))):
        x = b.conv(x, ch, f"layer{i + 1}_conv")
        if i:
            x = b.norm(x, f"layer{i + 1}_norm")
        x = layers.LeakyReLU(0.2, name=f"layer{i + 1}_act")(x)
        if attention and i == 1:
            x = StepDropout(0.25, spatial=True, name="layer2_dropout")(x)
            x = SelfAttention2D(key_channels=2 * filters // 8, value_channels=2 * filters, name="attention")(x)
    x = b.conv(x, 1, "score_conv", strides=1, padding="valid")
    outputs = layers.Activation("sigmoid", dtype="float32", name="probability")(x)
    return keras.Model(inputs, outputs, name=name)


def improved_discriminator(hole_size=64, filters=64, weight_init="normal", name="improved_discriminator"):
    """The experiment's discriminator on hole content: [B, H, H, 3] -> [B, 1, 1, 1] probability of real.

    At H = 64: conv 3->64, 64->128 + BN + SpatialDropout 0.25, self-attention on 128 channels
    (query/key 1x1 to 16, value 1x1 to 128, gamma from 0), 128->256, 256->512, 4x4 valid conv to 1,
    sigmoid: 2,786,209 trainable parameters.
    """
    return _discriminator(hole_size, filters, weight_init, True, name)


def context_encoder_discriminator(hole_size=128, filters=64, weight_init="normal",
                                  name="context_encoder_discriminator"):
    """Pathak et al.'s discriminator on the hole: at H = 128, 3->64->128->256->512->512, 4x4 valid conv
    to 1, sigmoid: 6,960,896 trainable parameters."""
    return _discriminator(hole_size, filters, weight_init, False, name)
