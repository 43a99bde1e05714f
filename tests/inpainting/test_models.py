"""The four inpainting networks: SPEC section 2's parameter counts, shapes, skips, saving, mixed precision."""

import keras
import numpy as np
import pytest

from inpainting import models


def trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("builder, size, expected_trainable, expected_all", [
    (models.improved_generator, 128, 41_894_656, 41_902_592),
    (models.improved_discriminator, 64, 2_786_209, 2_788_001),
    (models.context_encoder_generator, 256, 79_515_200, 79_529_088),
    (models.context_encoder_discriminator, 128, 6_960_896, 6_963_712),
])
def test_full_size_parameter_counts_equal_the_printed_listings(builder, size, expected_trainable, expected_all):
    model = builder(size)
    assert trainable(model) == expected_trainable
    assert model.count_params() == expected_all  # with BatchNorm's moving statistics
    side = size // 2 if "generator" in model.name else 1
    assert model.output_shape == (None, side, side, 3 if "generator" in model.name else 1)


def tiny(builder, size):
    kwargs = {"bottleneck": 16} if "generator" in builder.__name__ else {}
    return builder(size, filters=4, **kwargs)


@pytest.mark.parametrize("builder, size, out_shape, low", [
    (models.improved_generator, 32, (2, 16, 16, 3), -1.0),
    (models.context_encoder_generator, 32, (2, 16, 16, 3), -1.0),
    (models.improved_discriminator, 16, (2, 1, 1, 1), 0.0),
    (models.context_encoder_discriminator, 16, (2, 1, 1, 1), 0.0),
])
def test_tiny_outputs_have_the_hole_content_shape_and_range(builder, size, out_shape, low):
    x = np.random.default_rng(0).uniform(-1, 1, (2, size, size, 3)).astype(np.float32)
    y = np.asarray(tiny(builder, size)(x, training=False))
    assert y.shape == out_shape and y.dtype == np.float32
    assert low <= y.min() and y.max() <= 1.0


def test_the_improved_generator_has_unet_skips_and_the_context_encoder_none():
    def skips(model):
        return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Concatenate)]

    # 128 px: dec2..dec5 take enc5..enc2
    assert skips(models.improved_generator(128, filters=4, bottleneck=16)) == [
        "dec2_skip", "dec3_skip", "dec4_skip", "dec5_skip"]
    assert skips(models.context_encoder_generator(128, filters=4, bottleneck=16)) == []
    unet = models.improved_generator(128, filters=4, bottleneck=16)
    assert [tuple(t.shape[1:3]) for t in unet.get_layer("dec5_skip").input] == [(32, 32), (32, 32)]


def test_a_tiny_model_saves_and_loads_as_a_keras_file(tmp_path):
    for net in (tiny(models.improved_generator, 32), tiny(models.improved_discriminator, 16)):
        path = tmp_path / f"{net.name}.keras"
        net.save(path)
        loaded = keras.saving.load_model(path)
        x = np.random.default_rng(1).uniform(-1, 1, (1, *net.input_shape[1:])).astype(np.float32)
        np.testing.assert_array_equal(np.asarray(loaded(x, training=False)), np.asarray(net(x, training=False)))


def test_outputs_are_float32_under_mixed_bfloat16():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        g = tiny(models.improved_generator, 32)
        d = tiny(models.improved_discriminator, 16)
        x = np.zeros((1, 32, 32, 3), np.float32)
        assert g(x).dtype == "float32" and d(g(x)).dtype == "float32"
        assert g.get_layer("enc2_conv").compute_dtype == "bfloat16"
    finally:
        keras.mixed_precision.set_global_policy(previous)


@pytest.mark.parametrize("call, message", [
    (lambda: models.improved_generator(100), "image_size 100 must be a power of two >= 16"),
    (lambda: models.context_encoder_generator(8), "image_size 8 must be a power of two >= 16"),
    (lambda: models.improved_discriminator(8), "hole_size 8 must be a power of two >= 16"),
    (lambda: models.improved_generator(32, weight_init="he"), "weight_init must be 'normal' or 'keras'"),
])
def test_bad_arguments_are_one_line_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
