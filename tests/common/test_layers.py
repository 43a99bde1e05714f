"""Shared layers: values against numpy, shapes, parameter counts, and .keras save/load round trips."""

import keras
import numpy as np
import pytest

from common.layers import InceptionModule, ReflectionPadding2D, SelfAttention2D, instance_norm


def rand(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def assert_round_trip(model, x, tmp_path):
    path = tmp_path / "x.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    assert [v.path for v in loaded.weights] == [v.path for v in model.weights]
    return loaded


# ---- instance norm -------------------------------------------------------------------------------

def test_instance_norm_gives_each_channel_of_each_image_mean_0_std_1():
    x = rand(3, 9, 7, 5) * np.arange(1, 6, dtype="float32") * 4 + 10  # channels with different scales
    y = np.asarray(instance_norm()(x))
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1, atol=1e-3)


def test_instance_norm_has_learned_scale_and_offset_and_pytorch_epsilon():
    layer = instance_norm(name="in")
    assert layer.groups == -1 and layer.epsilon == 1e-5 and layer.name == "in"
    layer.build((None, 4, 4, 6))
    assert layer.groups == 6  # one group per channel
    assert [tuple(w.shape) for w in layer.trainable_weights] == [(6,), (6,)]
    gamma, beta = np.full(6, 2.0, "float32"), np.full(6, 3.0, "float32")
    layer.set_weights([gamma, beta])
    y = np.asarray(layer(rand(2, 4, 4, 6)))
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 3, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 2, atol=1e-3)


def test_instance_norm_round_trips(tmp_path):
    x = keras.Input((6, 6, 3))
    model = keras.Model(x, instance_norm()(x))
    model.layers[-1].set_weights([rand(3, seed=1), rand(3, seed=2)])
    assert_round_trip(model, rand(2, 6, 6, 3) * 5, tmp_path)


# ---- reflection padding --------------------------------------------------------------------------

@pytest.mark.parametrize("padding,pads", [(1, (1, 1)), (3, (3, 3)), ((2, 1), (2, 1)), ((0, 2), (0, 2))])
def test_reflection_padding_matches_numpy_reflect(padding, pads):
    x = rand(2, 7, 6, 3)
    expected = np.pad(x, [(0, 0), (pads[0], pads[0]), (pads[1], pads[1]), (0, 0)], mode="reflect")
    np.testing.assert_array_equal(np.asarray(ReflectionPadding2D(padding)(x)), expected)


def test_reflection_padding_does_not_repeat_the_edge_pixel():
    x = np.arange(4, dtype="float32").reshape(1, 1, 4, 1)  # row 0 1 2 3
    y = np.asarray(ReflectionPadding2D((0, 2))(x))[0, 0, :, 0]
    np.testing.assert_array_equal(y, [2, 1, 0, 1, 2, 3, 2, 1])


def test_reflection_padding_output_shape_handles_unknown_dims():
    layer = ReflectionPadding2D((2, 3))
    assert layer.compute_output_shape((None, None, 10, 4)) == (None, None, 16, 4)
    assert layer.compute_output_shape((1, 5, None, 4)) == (1, 9, None, 4)
    x = keras.Input((None, None, 2))
    model = keras.Model(x, layer(x))
    assert model.output_shape == (None, None, None, 2)
    assert model(rand(1, 5, 7, 2)).shape == (1, 9, 13, 2)


def test_reflection_padding_rejects_bad_padding():
    with pytest.raises(ValueError, match="padding"):
        ReflectionPadding2D((1, 2, 3))
    with pytest.raises(ValueError, match="padding"):
        ReflectionPadding2D(-1)


def test_reflection_padding_round_trips(tmp_path):
    x = keras.Input((5, 6, 2))
    model = keras.Model(x, ReflectionPadding2D((2, 1))(x))
    loaded = assert_round_trip(model, rand(1, 5, 6, 2), tmp_path)
    assert loaded.layers[-1].padding == (2, 1)


# ---- self-attention ------------------------------------------------------------------------------

def numpy_attention(layer, x):
    """softmax(Q K^T) V over the H*W positions, then gamma * that + x; straight from the SAGAN paper."""
    b, h, w, c = x.shape

    def conv1x1(conv, inp):
        kernel, bias = (np.asarray(v) for v in conv.weights)
        return inp.reshape(b, h * w, -1) @ kernel[0, 0] + bias

    q, k, v = conv1x1(layer.query_conv, x), conv1x1(layer.key_conv, x), conv1x1(layer.value_conv, x)
    scores = q @ k.transpose(0, 2, 1)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    attention = scores / scores.sum(axis=-1, keepdims=True)
    out = (attention @ v).reshape(b, h, w, -1)
    if layer.output_conv is not None:
        out = conv1x1(layer.output_conv, out).reshape(b, h, w, c)
    return float(np.asarray(layer.gamma)) * out + x


def test_self_attention_starts_as_the_identity():
    x = rand(2, 5, 4, 16)
    layer = SelfAttention2D()
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    assert float(np.asarray(layer.gamma)) == 0.0


def test_self_attention_matches_numpy_softmax_qk_v():
    x = rand(2, 4, 5, 16)
    layer = SelfAttention2D()
    layer.build(x.shape)
    layer.gamma.assign(0.7)
    expected = numpy_attention(layer, x)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-4, atol=1e-4)
    assert not np.allclose(expected, x)  # the attention term really contributes


def test_self_attention_default_channels_and_inpainting_sizes():
    default = SelfAttention2D()
    default.build((None, 8, 8, 64))
    assert (default.query_conv.filters, default.key_conv.filters, default.value_conv.filters) == (8, 8, 64)
    assert default.output_conv is None
    # SPEC 2: query/key 16, value 128 on 128 channels: 3 biased 1x1 convs + gamma
    spec = SelfAttention2D(key_channels=16, value_channels=128)
    spec.build((None, 16, 16, 128))
    assert spec.count_params() == 2 * (128 * 16 + 16) + (128 * 128 + 128) + 1


def test_self_attention_projects_other_value_widths_back_to_the_input_channels():
    x = rand(1, 3, 3, 6)
    layer = SelfAttention2D(key_channels=2, value_channels=4)
    layer.build(x.shape)
    layer.gamma.assign(1.5)
    y = np.asarray(layer(x))
    assert y.shape == x.shape
    np.testing.assert_allclose(y, numpy_attention(layer, x), rtol=1e-4, atol=1e-4)


def test_self_attention_accepts_unknown_spatial_size():
    inp = keras.Input((None, None, 8))
    layer = SelfAttention2D(key_channels=2)
    model = keras.Model(inp, layer(inp))
    layer.gamma.assign(0.9)
    for shape in ((2, 3, 7, 8), (1, 5, 2, 8)):  # attention over every position, whatever the size
        x = rand(*shape)
        y = np.asarray(model(x))
        np.testing.assert_allclose(y, numpy_attention(layer, x), rtol=1e-4, atol=1e-4)
        assert not np.allclose(y, x)


def test_self_attention_round_trips(tmp_path):
    x = keras.Input((4, 4, 8))
    model = keras.Model(x, SelfAttention2D(key_channels=2, value_channels=8)(x))
    model.layers[-1].gamma.assign(0.5)
    loaded = assert_round_trip(model, rand(2, 4, 4, 8), tmp_path)
    assert (loaded.layers[-1].key_channels, loaded.layers[-1].value_channels) == (2, 8)
    assert float(np.asarray(loaded.layers[-1].gamma)) == 0.5


# ---- inception module ----------------------------------------------------------------------------

def inception_params(c_in, f, k, depth, residual):
    convs = k * k * c_in * f + f + (depth - 1) * (k * k * f * f + f)
    norms = depth * 2 * f
    projection = c_in * f + f if residual else 0
    return convs + norms + projection


@pytest.mark.parametrize("c_in,f,k,depth,residual", [(3, 16, 5, 3, False), (8, 4, 3, 2, True), (5, 6, 5, 1, False)])
def test_inception_module_shape_and_parameter_count(c_in, f, k, depth, residual):
    layer = InceptionModule(f, kernel_size=k, depth=depth, residual=residual)
    y = layer(rand(2, 12, 10, c_in))
    assert y.shape == (2, 12, 10, f)
    assert layer.compute_output_shape((None, 12, 10, c_in)) == (None, 12, 10, f)
    assert layer.count_params() == inception_params(c_in, f, k, depth, residual)


def test_inception_module_without_residual_ends_in_instance_norm():
    y = np.asarray(InceptionModule(4, kernel_size=3)(rand(2, 8, 8, 3)))
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1, atol=1e-2)


def test_inception_module_computes_conv_activation_norm_stages_then_adds_the_projection():
    x = rand(1, 6, 6, 3)
    layer = InceptionModule(4, kernel_size=3, depth=2, activation=0.1, residual=True)
    layer(x)
    h = x
    for conv, norm in zip(layer.convs, layer.norms):
        h = np.asarray(conv(h))
        h = np.where(h > 0, h, 0.1 * h)
        h = (h - h.mean(axis=(1, 2), keepdims=True)) / np.sqrt(h.var(axis=(1, 2), keepdims=True) + 1e-5)
    kernel, bias = (np.asarray(v) for v in layer.projection.weights)
    expected = h + x @ kernel[0, 0] + bias
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("activation,slope", [("leaky_relu", 0.2), (0.3, 0.3)])
def test_inception_module_leaky_relu_slopes(activation, slope):
    layer = InceptionModule(2, activation=activation)
    assert all(isinstance(a, keras.layers.LeakyReLU) and a.negative_slope == pytest.approx(slope)
               for a in layer.activations)


def test_inception_module_accepts_keras_activation_names_and_rejects_unknown_ones():
    layer = InceptionModule(2, activation="relu")
    assert all(a.activation is keras.activations.relu for a in layer.activations)
    with pytest.raises(ValueError):
        InceptionModule(2, activation="no_such_activation")
    with pytest.raises(ValueError, match="depth"):
        InceptionModule(2, depth=0)


def test_inception_module_variable_paths_are_stable():
    layer = InceptionModule(2, kernel_size=3, residual=True, name="block")
    layer.build((None, 4, 4, 1))
    paths = [v.path for v in layer.weights]
    assert "block/conv0/kernel" in paths and "block/norm2/gamma" in paths and "block/projection/bias" in paths


@pytest.mark.parametrize("activation,residual", [("leaky_relu", False), (0.1, True), ("relu", False)])
def test_inception_module_round_trips(tmp_path, activation, residual):
    x = keras.Input((8, 8, 3))
    model = keras.Model(x, InceptionModule(4, kernel_size=3, activation=activation, residual=residual)(x))
    # move the norms' scale/offset off their initial values so loading them is really checked
    model.set_weights([w + rand(*w.shape, seed=i) * 0.1 for i, w in enumerate(model.get_weights())])
    loaded = assert_round_trip(model, rand(2, 8, 8, 3), tmp_path)
    assert loaded.layers[-1].get_config()["activation"] == activation
    assert loaded.layers[-1].residual is residual


def test_all_layers_together_round_trip(tmp_path):
    x = keras.Input((8, 8, 3))
    y = ReflectionPadding2D(1)(x)
    y = InceptionModule(8, kernel_size=3, residual=True)(y)
    y = SelfAttention2D(key_channels=2)(y)
    y = instance_norm()(y)
    model = keras.Model(x, y)
    model.set_weights([w + rand(*w.shape, seed=i) * 0.1 for i, w in enumerate(model.get_weights())])
    assert_round_trip(model, rand(2, 8, 8, 3), tmp_path)


def test_layers_follow_a_mixed_precision_policy():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        x = rand(2, 6, 6, 8)
        inception = InceptionModule(8, kernel_size=3, residual=True)
        attention = SelfAttention2D()
        attention(inception(x))  # build, so gamma exists
        attention.gamma.assign(1.0)
        y = np.asarray(attention(inception(x)))
        assert all(layer.compute_dtype == "float16" for layer in (*inception.convs, *inception.norms))
        assert y.dtype == np.float16 and np.all(np.isfinite(y))
        assert {v.dtype for v in (*inception.weights, *attention.weights)} == {"float32"}
    finally:
        keras.mixed_precision.set_global_policy(previous)
