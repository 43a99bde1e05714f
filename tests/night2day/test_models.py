"""The night2day networks: SPEC's parameter counts and shapes at 256, behaviour at tiny sizes, save/load."""

import keras
import numpy as np
import pytest

import common.layers  # noqa: F401 - registers the custom layers for load_model
from night2day import models


def images(n, size, value_range, seed=0, width=None):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, size, width or size, 3)).astype("float32")
    return x * 2 - 1 if value_range == "tanh" else x


def randomise(net, seed=0, scale=0.05):
    """Perturb every weight (incl. norm scale/offset, zero-initialised biases) so a load is really checked."""
    rng = np.random.default_rng(seed)
    net.set_weights([w + scale * rng.normal(size=w.shape).astype(w.dtype) for w in net.get_weights()])


def biased(net, layer_type):
    return {layer.name: layer.use_bias for layer in net.layers if type(layer) is layer_type}


# ---- SPEC section 1: full-size parameter counts and shapes (built, never run) ---------------------

@pytest.mark.parametrize("builder,expected", [
    (models.resnet_generator, 11_383_427),
    (models.patch_discriminator, 2_765_633),
    (models.multiscale_generator, 19_998_339),
    (models.multiscale_discriminator, 5_469_667),
])
def test_full_size_parameter_counts_equal_spec(builder, expected):
    net = builder(256)
    assert net.count_params() == expected


def test_full_size_output_shapes():
    assert models.resnet_generator(256).output_shape == (None, 256, 256, 3)
    assert models.patch_discriminator(256).output_shape == (None, 30, 30, 1)  # the 70x70 PatchGAN's 30 x 30
    assert models.multiscale_generator(256).output_shape == (None, 256, 256, 3)
    assert models.multiscale_discriminator(256).output_shape == [(None, 8, 8, 1), (None, 16, 16, 1),
                                                                 (None, 32, 32, 1)]


def test_multiscale_generator_intermediate_shapes_follow_spec():
    net = models.multiscale_generator(256)
    shape = {layer.name: layer.output.shape[1:] for layer in net.layers}
    assert [shape[f"enc{i}_pool"] for i in range(1, 6)] == [(128, 128, 16), (64, 64, 32), (32, 32, 64),
                                                             (16, 16, 128), (8, 8, 256)]
    assert shape["latent_dense"] == (128,) and shape["latent_reshape"] == (8, 8, 256)
    assert [shape[f"dec{j}"] for j in range(1, 6)] == [(16, 16, 256), (32, 32, 128), (64, 64, 64),
                                                        (128, 128, 32), (256, 256, 16)]
    # skips are the blocks' outputs before pooling: decoder 1 sees 256 upsampled + 256 from e5
    assert shape["dec1_concat"] == (16, 16, 512) and shape["dec5_concat"] == (256, 256, 48)
    assert shape["fusion_up"] == (256, 256, 16) and shape["fusion_concat"] == (256, 256, 32)


# ---- bias / normalisation conventions --------------------------------------------------------------

def test_resnet_generator_bias_only_on_the_output_conv():
    net = models.resnet_generator(32, filters=4, res_blocks=2)
    convs = biased(net, keras.layers.Conv2D)
    assert convs.pop("out_conv") is True
    assert convs and not any(convs.values())
    assert not any(biased(net, keras.layers.Conv2DTranspose).values())
    norms = [layer for layer in net.layers if isinstance(layer, keras.layers.GroupNormalization)]
    assert len(norms) == 3 + 2 * 2 + 2 and all(n.groups == n.input.shape[-1] and n.center and n.scale for n in norms)


def test_patch_discriminator_bias_on_first_and_output_conv_only():
    net = models.patch_discriminator(32, filters=4)
    assert biased(net, keras.layers.Conv2D) == {"conv1": True, "conv2": False, "conv3": False, "conv4": False,
                                                "score_conv": True}
    convs = [layer for layer in net.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(c.kernel_size == (4, 4) and c.padding == "valid" for c in convs)  # each after a ZeroPadding2D(1)
    pads = [layer for layer in net.layers if isinstance(layer, keras.layers.ZeroPadding2D)]
    assert [p.padding for p in pads] == [((1, 1), (1, 1))] * 5
    assert [c.strides for c in convs] == [(2, 2), (2, 2), (2, 2), (1, 1), (1, 1)]


def resnet_generator_params(f, blocks):
    stem = 7 * 7 * 3 * f + 2 * f
    down = 9 * f * 2 * f + 4 * f + 9 * 2 * f * 4 * f + 8 * f
    res = blocks * 2 * (9 * (4 * f) ** 2 + 8 * f)
    up = 9 * 4 * f * 2 * f + 4 * f + 9 * 2 * f * f + 2 * f
    out = 7 * 7 * f * 3 + 3
    return stem + down + res + up + out


def test_resnet_generator_parameter_formula_holds_at_other_widths():
    assert resnet_generator_params(64, 9) == 11_383_427
    assert models.resnet_generator(32, filters=6, res_blocks=3).count_params() == resnet_generator_params(6, 3)


def test_multiscale_dense_layers_carry_l2_1e3():
    net = models.multiscale_generator(32, filters=4)
    dense = [layer for layer in net.layers if isinstance(layer, keras.layers.Dense)]
    assert len(dense) == 2 and dense[0].units == 128
    assert all(d.use_bias and d.kernel_regularizer.get_config()["l2"] == pytest.approx(1e-3) for d in dense)
    assert len(net.losses) == 2
    expected = 1e-3 * sum(float(np.sum(np.square(np.asarray(d.kernel)))) for d in dense)
    assert float(sum(np.asarray(loss) for loss in net.losses)) == pytest.approx(expected, rel=1e-5)


def test_inception_residual_adds_one_projection_per_block():
    f = 4
    plain = models.multiscale_discriminator(32, filters=f)
    residual = models.multiscale_discriminator(32, filters=f, inception_residual=True)
    c_in = [3, f, 2 * f, 4 * f, 8 * f]
    c_out = [f, 2 * f, 4 * f, 8 * f, 16 * f]
    assert residual.count_params() - plain.count_params() == sum(i * o + o for i, o in zip(c_in, c_out))


def test_multiscale_activation_option_reaches_every_inception_block():
    net = models.multiscale_discriminator(32, filters=4, activation=0.1)
    blocks = [layer for layer in net.layers if isinstance(layer, common.layers.InceptionModule)]
    assert len(blocks) == 5
    assert all(a.negative_slope == pytest.approx(0.1) for b in blocks for a in b.activations)


# ---- tiny sizes: shapes, ranges, sizes -----------------------------------------------------------

def test_resnet_generator_maps_minus1_1_to_minus1_1_at_tiny_size():
    net = models.resnet_generator(32, filters=4, res_blocks=2, name="generator_g")
    randomise(net, scale=0.5)
    y = np.asarray(net(images(2, 32, "tanh")))
    assert net.name == "generator_g"
    assert y.shape == (2, 32, 32, 3) and y.dtype == np.float32
    assert np.all(np.abs(y) <= 1) and y.std() > 0


def test_resnet_generator_and_patch_discriminator_are_fully_convolutional():
    g = models.resnet_generator(None, filters=4, res_blocks=1)
    d = models.patch_discriminator(None, filters=4)
    x = images(1, 40, "tanh", width=48)
    assert g(x).shape == (1, 40, 48, 3)
    assert d(x).shape == (1, 3, 4, 1)  # (S // 8 - 2): three halvings, then two 4x4 convs padded by 1
    assert models.resnet_generator(48, filters=4, res_blocks=1).output_shape == (None, 48, 48, 3)
    assert models.patch_discriminator(64, filters=4).output_shape == (None, 6, 6, 1)
    assert models.patch_discriminator(36, filters=4).output_shape == (None, 2, 2, 1)  # 36 -> 18 -> 9 -> 4 -> 3 -> 2


def test_patch_discriminator_rejects_sizes_whose_score_grid_would_vanish():
    with pytest.raises(ValueError, match="at least 24"):
        models.patch_discriminator(16, filters=4)


def test_resnet_generator_rejects_sizes_not_divisible_by_4():
    with pytest.raises(ValueError, match="divisible by 4"):
        models.resnet_generator(30, filters=4, res_blocks=1)


def test_patch_discriminator_scores_are_unbounded():
    net = models.patch_discriminator(32, filters=4, name="discriminator_y")
    randomise(net, scale=2.0)
    y = np.asarray(net(images(2, 32, "tanh")))
    assert net.name == "discriminator_y" and y.shape == (2, 2, 2, 1)
    assert np.abs(y).max() > 1  # no squashing activation (LSGAN)


@pytest.mark.parametrize("size", [32, 64])
def test_multiscale_generator_maps_0_1_to_0_1(size):
    net = models.multiscale_generator(size, filters=4)
    y = np.asarray(net(images(2, size, "sigmoid")))
    assert y.shape == (2, size, size, 3) and y.dtype == np.float32
    assert np.all((y >= 0) & (y <= 1)) and y.std() > 0


def test_multiscale_discriminator_returns_three_maps_coarse_to_fine():
    net = models.multiscale_discriminator(64, filters=4)
    out = net(images(2, 64, "sigmoid"))
    assert isinstance(out, list) and [tuple(o.shape) for o in out] == [(2, 2, 2, 1), (2, 4, 4, 1), (2, 8, 8, 1)]
    assert net.output_names == ["scale1", "scale2", "scale3"]


@pytest.mark.parametrize("builder", [models.multiscale_generator, models.multiscale_discriminator])
@pytest.mark.parametrize("size", [48, 0, None])
def test_multiscale_models_need_a_multiple_of_32(builder, size):
    with pytest.raises(ValueError, match="multiple of 32"):
        builder(size, filters=4)


def test_fusion_kernel_16_covers_every_pixel_and_5_leaves_gaps():
    x = images(1, 32, "sigmoid")
    coverage = {}
    for kernel in (16, 5):
        net = models.multiscale_generator(32, filters=4, fusion_kernel=kernel)
        fusion = net.get_layer("fusion_up")
        assert fusion.kernel_size == (kernel, kernel) and fusion.strides == (16, 16)
        assert net(x).shape == (1, 32, 32, 3)
        probe = keras.Model(net.input, fusion.output)
        painted = np.asarray(probe(x)) - np.asarray(fusion.bias)  # what the kernel painted, bias removed
        coverage[kernel] = np.mean(np.any(painted != 0, axis=-1))
    assert coverage[16] == 1.0
    assert coverage[5] == pytest.approx(25 / 256)  # a 5x5 patch in every 16x16 cell
    assert (models.multiscale_generator(32, filters=4, fusion_kernel=16).count_params()
            - models.multiscale_generator(32, filters=4, fusion_kernel=5).count_params()) == (256 - 25) * 16 * 4 * 4  # 16f in, f out


# ---- save / load -------------------------------------------------------------------------------------

@pytest.mark.parametrize("builder,kwargs,value_range", [
    (models.resnet_generator, dict(filters=4, res_blocks=1, name="generator_g"), "tanh"),
    (models.patch_discriminator, dict(filters=4, name="discriminator_x"), "tanh"),
    (models.multiscale_generator, dict(filters=4, inception_residual=True, name="generator_f"), "sigmoid"),
    (models.multiscale_discriminator, dict(filters=4, activation=0.1, name="discriminator_y"), "sigmoid"),
])
def test_keras_file_round_trip_gives_identical_outputs(tmp_path, builder, kwargs, value_range):
    net = builder(32, **kwargs)
    randomise(net)
    x = images(2, 32, value_range)
    path = tmp_path / f"{net.name}.keras"
    net.save(path)
    loaded = keras.models.load_model(path, compile=False)
    assert loaded.name == kwargs["name"]
    assert loaded.count_params() == net.count_params()
    before, after = net(x), loaded(x)
    for a, b in zip(before if isinstance(before, list) else [before], after if isinstance(after, list) else [after]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# ---- mixed precision ---------------------------------------------------------------------------------

@pytest.fixture
def mixed_float16():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy(previous)


@pytest.mark.parametrize("builder,kwargs,value_range", [
    (models.resnet_generator, dict(filters=4, res_blocks=1), "tanh"),
    (models.patch_discriminator, dict(filters=4), "tanh"),
    (models.multiscale_generator, dict(filters=4, inception_residual=True), "sigmoid"),
    (models.multiscale_discriminator, dict(filters=4), "sigmoid"),
])
def test_under_mixed_precision_weights_and_outputs_stay_float32(mixed_float16, builder, kwargs, value_range):
    net = builder(32, **kwargs)
    out = net(images(2, 32, value_range))
    assert {v.dtype for v in net.weights} == {"float32"}
    assert any(layer.compute_dtype == "float16" for layer in net.layers)  # the body really runs in float16
    for o in out if isinstance(out, list) else [out]:
        assert o.dtype == "float32" and np.all(np.isfinite(np.asarray(o)))
