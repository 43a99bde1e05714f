"""StyleGAN2-ADA's pieces against hand computations: parameter counts of NVIDIA's networks, the modulated
convolution, the [1,3,3,1] resampling, R1, ADA's feedback, truncation, the EMA ramp (the augmentations:
test_augment.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from watches import stylegan2 as S
from watches.stylegan2_gan import StyleGAN2

RNG = np.random.default_rng(0)


def test_full_size_networks_have_nvidias_parameter_counts():
    mapping, synthesis = S.mapping_network(), S.synthesis_network(128)
    assert S.trainable_count(mapping) == 525_312
    assert S.trainable_count(synthesis) == 22_423_965
    assert S.trainable_count(mapping) + S.trainable_count(synthesis) == 22_949_277
    assert S.trainable_count(S.discriminator(128)) == 23_882_369
    assert S.num_ws(128) == synthesis.inputs[0].shape[1] == 12
    assert [S.channels_at(r) for r in (4, 8, 16, 32, 64, 128)] == [512, 512, 512, 512, 256, 128]


def np_upfirdn(x, up=1, down=1, pad=(0, 0), gain=1.0):
    """Direct reference: zero insertion, padding, 2-D correlation with outer([1,3,3,1]) / 64 * gain, decimation."""
    taps = np.array([1.0, 3.0, 3.0, 1.0])
    f = np.outer(taps, taps) / 64.0 * gain
    b, h, w, c = x.shape
    y = np.zeros((b, h * up, w * up, c))
    y[:, ::up, ::up] = x
    y = np.pad(y, [(0, 0), pad, pad, (0, 0)])
    out_h, out_w = y.shape[1] - 3, y.shape[2] - 3
    out = np.zeros((b, out_h, out_w, c))
    for i in range(4):
        for j in range(4):
            out += f[i, j] * y[:, i:i + out_h, j:j + out_w]
    return out[:, ::down, ::down]


def test_up_and_down_sampling_equal_a_direct_numpy_reference():
    x = RNG.standard_normal((2, 6, 6, 3)).astype("float32")
    up = S.upsample2d(tf.constant(x)).numpy()
    down = S.downsample2d(tf.constant(x)).numpy()
    assert up.shape == (2, 12, 12, 3) and down.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(up, np_upfirdn(x, up=2, pad=(2, 1), gain=4.0), atol=1e-5)
    np.testing.assert_allclose(down, np_upfirdn(x, down=2, pad=(1, 1)), atol=1e-5)
    # a constant image stays constant away from the borders (the filter passes DC with gain 1)
    flat = S.upsample2d(tf.ones([1, 6, 6, 1])).numpy()[0, 2:-2, 2:-2, 0]
    np.testing.assert_allclose(flat, 1.0, atol=1e-6)


def per_sample_kernel(layer, w, demodulate=True):
    styles = layer.affine(w).numpy()
    kernels = layer.weight.numpy()[None] * styles[:, None, None, :, None]  # [B, k, k, Cin, Cout]
    if demodulate:
        kernels = kernels / np.sqrt((kernels ** 2).sum(axis=(1, 2, 3), keepdims=True) + 1e-8)
    return kernels


@pytest.mark.parametrize("up", [1, 2])
def test_modulated_conv_equals_per_sample_convolution_with_its_modulated_demodulated_kernel(up):
    layer = S.ModulatedConv2D(5, up=up, use_noise=False, activation="linear", resolution=8 * up)
    x = RNG.standard_normal((3, 8, 8, 4)).astype("float32")
    w = RNG.standard_normal((3, 6)).astype("float32")
    y = layer([x, w]).numpy()
    kernels = per_sample_kernel(layer, w)
    for i in range(3):
        if up == 1:
            ref = tf.nn.conv2d(x[i:i + 1], kernels[i], 1, "SAME").numpy()
        else:  # NVIDIA's order: transposed convolution with the kernel, then the low-pass filter (pad 1, 1)
            ref = tf.nn.conv2d_transpose(x[i:i + 1], np.transpose(kernels[i], [0, 1, 3, 2]), [1, 17, 17, 5], 2,
                                         "VALID").numpy()
            ref = np_upfirdn(ref, pad=(1, 1), gain=4.0)
        np.testing.assert_allclose(y[i], ref[0], atol=1e-5)


def test_demodulation_keeps_unit_variance_per_output_channel():
    layer = S.ModulatedConv2D(16, use_noise=False, activation="linear", resolution=16)
    x = RNG.standard_normal((256, 16, 16, 32)).astype("float32")
    w = RNG.standard_normal((256, 8)).astype("float32")
    y = layer([x, w]).numpy()[:, 1:-1, 1:-1]  # away from the zero padding
    np.testing.assert_allclose(y.var(axis=(0, 1, 2)), 1.0, atol=0.05)
    without = S.ModulatedConv2D(16, demodulate=False, use_noise=False, activation="linear", resolution=16)
    assert abs(without([x, w]).numpy().var() - 1.0) > 0.1  # the check can fail: not a property of the data


def test_minibatch_std_appends_the_group_standard_deviation():
    x = RNG.standard_normal((8, 4, 4, 3)).astype("float32")
    y = S.MinibatchStd(4)(x).numpy()
    assert y.shape == (8, 4, 4, 4)
    np.testing.assert_allclose(y[..., :3], x)
    for i in range(8):  # image i is grouped with i + 2, i + 4, i + 6 (mod 8)
        group = x[i % 2::2]
        expected = np.sqrt(group.var(axis=0) + 1e-8).mean()
        np.testing.assert_allclose(y[i, ..., 3], expected, rtol=1e-5)


def tiny(seed=0, augment_p=0.0, lr=0.002, **compile_kwargs):
    nets = {}
    for suffix, noise in (("", "random"), ("_ema", "const")):
        nets["mapping" + suffix] = S.mapping_network(8, 8, 2, name="mapping" + suffix)
        nets["synthesis" + suffix] = S.synthesis_network(8, 8, 64, 8, noise_mode=noise, name="synthesis" + suffix)
    nets["discriminator"] = S.discriminator(8, 64, 8, name="discriminator")
    model = StyleGAN2(**nets, seed=seed, ema_kimg=0.01, ema_rampup=0.05, augment_p=augment_p)
    model.compile(g_optimizer=keras.optimizers.Adam(lr, beta_1=0.0, beta_2=0.99),
                  d_optimizer=keras.optimizers.Adam(lr, beta_1=0.0, beta_2=0.99), **compile_kwargs)
    return model


def test_r1_is_the_squared_gradient_norm_computed_by_hand():
    model = tiny(augment="none")
    a = RNG.standard_normal((8 * 8 * 3, 1)).astype("float32")
    images = keras.Input((8, 8, 3))
    score = keras.layers.Dense(1, use_bias=False)(keras.layers.Flatten()(images))
    model.networks["discriminator"] = keras.Model(images, keras.ops.square(score))  # D(x) = (a . x)^2
    dense = [layer for layer in model.networks["discriminator"].layers if isinstance(layer, keras.layers.Dense)][0]
    dense.set_weights([a])
    x = RNG.standard_normal((3, 8, 8, 3)).astype("float32")
    penalty = model.r1_penalty(tf.constant(x), tf.constant(0, tf.int64))[0].numpy()
    dot = x.reshape(3, -1) @ a[:, 0]
    np.testing.assert_allclose(penalty, 4 * dot ** 2 * (a ** 2).sum(), rtol=1e-4)  # |2 (a.x) a|^2


def test_ada_p_rises_when_rt_is_above_the_target_and_falls_below_it():
    model = tiny(augment_p=0.5, augment="ada", augment_target=0.6, ada_interval=4, ada_kimg=500)

    def step(real_logits, at):  # what a step does: Dmain observes D(aug(x)), then the adjustment
        model._ada_observe(real_logits)
        model._ada_adjust(tf.constant(at, tf.int64), 32)

    # NVIDIA adjusts once the count of steps taken is a multiple of the interval: after steps 3, 7, 11, ...
    step(tf.ones([32]), 3)  # r_t = 1 > 0.6: D overfits, more augmentation
    assert model.ada_rt.numpy() == 1.0
    np.testing.assert_allclose(model.augment_p.numpy(), 0.5 + 32 * 4 / 500_000, rtol=1e-6)
    step(-tf.ones([32]), 3)  # r_t = -1 < 0.6
    np.testing.assert_allclose(model.augment_p.numpy(), 0.5, rtol=1e-6)
    step(tf.constant([1.0, -1.0] * 16), 4)  # not an adjustment step
    np.testing.assert_allclose(model.augment_p.numpy(), 0.5, rtol=1e-6)
    assert model.ada_count.numpy() == 32  # accumulated for the next adjustment
    step(tf.ones([32]), 0)  # nor is step 0 (one step taken)
    assert model.ada_sign_sum.numpy() == 32 and model.ada_count.numpy() == 64
    step(-tf.ones([32]), 7)  # r_t over the three steps since the last adjustment: (0 + 32 - 32) / 96 = 0
    assert model.ada_rt.numpy() == 0.0 and model.ada_count.numpy() == 0
    np.testing.assert_allclose(model.augment_p.numpy(), 0.5 - 32 * 4 / 500_000, rtol=1e-6)
    model.augment_p.assign(0.0)
    step(-tf.ones([32]), 11)
    assert model.augment_p.numpy() == 0.0  # never below 0
    model.augment_p.assign(1.0)
    step(tf.ones([32]), 15)
    np.testing.assert_allclose(model.augment_p.numpy(), 1.0 + 32 * 4 / 500_000, rtol=1e-6)  # NVIDIA's: not capped at 1


def test_rt_counts_the_real_logits_of_dmain_and_of_the_r1_pass():
    model = tiny(augment="ada", ada_interval=1000, d_reg_interval=2)
    real = tf.random.uniform([4, 8, 8, 3], -1, 1, seed=1)
    counts = []
    for _ in range(3):  # Dreg at steps 0 and 2
        model.train_step(real)
        counts.append(model.ada_count.numpy())
        assert abs(model.ada_sign_sum.numpy()) <= counts[-1]
    assert counts == [8, 12, 20]
    fixed = tiny(augment="fixed", augment_p=0.5, d_reg_interval=2)
    fixed.train_step(real)
    assert fixed.ada_count.numpy() == 0  # a fixed p observes nothing


def test_every_mapping_pass_of_a_step_moves_w_avg_including_the_path_length_pass():
    """NVIDIA's run_G updates w_avg in Gmain, Greg (path length) and Dmain alike: w_avg <- lerp(mean w, w_avg,
    beta) per pass, in order. With lr 0 the mapping is the same in every pass, so this is computable by hand."""
    beta = 0.9
    for pl_weight, purposes in ((2.0, (1, 2, 4)), (0.0, (1, 4))):
        model = tiny(lr=0.0, augment="none", w_avg_beta=beta, pl_weight=pl_weight, g_reg_interval=4)
        avg = model.networks["mapping"].get_layer("truncation").w_avg
        avg.assign(RNG.standard_normal(8).astype("float32"))
        expected = avg.numpy().astype("float64")
        step = tf.constant(0, tf.int64)
        for purpose in purposes:
            z = model.latents(step, 4 if purpose != 2 else 2, purpose)
            w = model.networks["mapping"]([z, tf.ones([z.shape[0], 1])]).numpy()
            expected = w.mean(axis=0) + beta * (expected - w.mean(axis=0))
        model.train_step(tf.random.uniform([4, 8, 8, 3], -1, 1, seed=1))
        np.testing.assert_allclose(avg.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_truncation_psi_0_returns_the_w_average_and_psi_1_leaves_w():
    mapping = S.mapping_network(8, 8, 2)
    avg = RNG.standard_normal(8).astype("float32")
    mapping.get_layer("truncation").w_avg.assign(avg)
    z = RNG.standard_normal((4, 8)).astype("float32")
    at0 = mapping([z, np.zeros((4, 1), "float32")]).numpy()
    np.testing.assert_allclose(at0, np.tile(avg, (4, 1)), atol=1e-6)
    half = mapping([z, np.full((4, 1), 0.5, "float32")]).numpy()
    full = mapping([z, np.ones((4, 1), "float32")]).numpy()
    np.testing.assert_allclose(half, avg + 0.5 * (full - avg), atol=1e-5)
    model = tiny()
    model.networks["mapping_ema"].get_layer("truncation").w_avg.assign(avg)
    images = model.generate(tf.constant(z), psi=0.0).numpy()
    np.testing.assert_allclose(images, np.repeat(images[:1], 4, axis=0), atol=1e-5)  # every z: the average image


def test_ema_starts_as_a_copy_and_ramps_its_half_life_with_images_seen():
    model = tiny()
    raw, ema = model.networks["synthesis"], model.networks["synthesis_ema"]
    weight = raw.get_layer("b8_conv1").weight
    weight.assign(weight + 1.0)
    model.nimg.assign(0)
    model.update_ema(tf.constant(4.0))  # no images seen yet: beta = 0, the EMA copies G
    np.testing.assert_allclose(ema.get_layer("b8_conv1").weight.numpy(), weight.numpy())
    before = ema.get_layer("b8_conv1").weight.numpy()
    weight.assign(weight + 1.0)
    model.nimg.assign(200)  # half-life min(10 images, 0.05 * 200 = 10 images)
    model.update_ema(tf.constant(4.0))
    beta = 0.5 ** (4 / 10)
    np.testing.assert_allclose(ema.get_layer("b8_conv1").weight.numpy(), weight.numpy() + beta * (before - weight.numpy()),
                               rtol=1e-5)


def test_the_phases_are_nvidias_list_each_run_at_the_steps_its_interval_divides():
    model = tiny(g_reg_interval=4, d_reg_interval=16)
    assert [(p.name, p.optimizer, p.interval) for p in model.phases] == [
        ("Gmain", "g", 1), ("Greg", "g", 4), ("Dmain", "d", 1), ("Dreg", "d", 16)]
    due = {step: [p.name for p in model.phases_due(step)] for step in (0, 1, 4, 6, 16, 20, 32)}
    assert due == {0: ["Gmain", "Greg", "Dmain", "Dreg"], 1: ["Gmain", "Dmain"], 4: ["Gmain", "Greg", "Dmain"],
                   6: ["Gmain", "Dmain"], 16: ["Gmain", "Greg", "Dmain", "Dreg"], 20: ["Gmain", "Greg", "Dmain"],
                   32: ["Gmain", "Greg", "Dmain", "Dreg"]}
    unregularised = tiny(pl_weight=0.0, r1_gamma=0.0)  # a regulariser of weight 0 is no phase
    assert [p.name for p in unregularised.phases_due(0)] == ["Gmain", "Dmain"]


def test_train_step_counts_images_and_regularises_on_nvidias_schedule():
    model = tiny(augment="ada", g_reg_interval=2, d_reg_interval=3)
    real = tf.random.uniform([4, 8, 8, 3], -1, 1, seed=1)
    logs = [model.train_step(real) for _ in range(4)]
    assert model.nimg.numpy() == 16 and model.global_step.numpy() == 4
    assert float(logs[1]["kimg"]) == pytest.approx(0.008)
    assert model.optimizers["g"].iterations.numpy() == 6  # Gmain 4 times + Greg at steps 0 and 2
    assert model.optimizers["d"].iterations.numpy() == 6  # Dmain 4 times + Dreg at steps 0 and 3
    # a step logs the regularisers it computed, and only those
    assert [("pl" in step_logs, "r1" in step_logs) for step_logs in logs] == [
        (True, True), (False, False), (True, False), (False, True)]
    assert all(logs[s]["pl"] > 0 for s in (0, 2)) and all(logs[s]["r1"] > 0 for s in (0, 3))
    assert all(np.isfinite(float(v)) for step_logs in logs for v in step_logs.values())
    # the epoch trackers average r1 and pl over the steps that computed them
    trackers = {m.name: float(m.result()) for m in model.metrics}
    assert trackers["r1"] == pytest.approx((float(logs[0]["r1"]) + float(logs[3]["r1"])) / 2, rel=1e-6)
    assert trackers["pl"] == pytest.approx((float(logs[0]["pl"]) + float(logs[2]["pl"])) / 2, rel=1e-6)
    assert trackers["g_loss"] == pytest.approx(np.mean([float(step_logs["g_loss"]) for step_logs in logs]), rel=1e-6)


def test_mixed_precision_computes_the_four_highest_resolutions_in_the_mixed_policy_with_clamping():
    from common.runtime.config import run_config
    from watches.build import StyleGAN2Options, build_gan

    config = run_config(StyleGAN2Options, "watches", image_size=64, batch_size=4, latent_dim=8, w_dim=8,
                        channel_base=128, channel_max=8, mixed_precision=True)
    model = build_gan(config)
    synthesis, disc = model.networks["synthesis"], model.networks["discriminator"]
    mixed = {l.name.split("_")[0]: l.compute_dtype for l in synthesis.layers if l.name.endswith("conv1")}
    assert mixed == {"b4": "float32", "b8": "bfloat16", "b16": "bfloat16", "b32": "bfloat16", "b64": "bfloat16"}
    assert disc.get_layer("b64_conv0").compute_dtype == "bfloat16" and disc.get_layer("b4_conv").compute_dtype == "float32"
    assert synthesis.output.dtype == "float32" and all(l.clamp == 256 for l in synthesis.layers
                                                        if isinstance(l, S.ModulatedConv2D))
    logs = model.train_step(tf.random.uniform([4, 64, 64, 3], -1, 1, seed=4))
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert model.jit_compile is False  # "auto" (the default) leaves XLA off for StyleGAN2; --jit-compile on asks


# --------------------------------------------------------------------------- float16

@pytest.mark.parametrize("up", [1, 2])
def test_float16_pre_normalisation_leaves_the_demodulated_output_unchanged(up):
    """NVIDIA's pre-normalisation (weight / sqrt(Cin k k) / max|weight| per output channel, styles / max|styles|)
    is divided out by the demodulation computed after it: in float32 the output agrees to rounding."""
    layer = S.ModulatedConv2D(6, up=up, use_noise=False, resolution=8 * up, clamp=256)
    x = RNG.standard_normal((3, 8, 8, 5)).astype("float32")
    w = RNG.standard_normal((3, 7)).astype("float32")
    plain = layer([x, w]).numpy()
    assert not layer.prenormalizes()  # float32: NVIDIA's path pre-normalises in float16 only
    layer.prenormalize = True
    assert layer.prenormalizes()
    normalised = layer([x, w]).numpy()
    rel = np.abs(normalised - plain).max() / np.abs(plain).max()
    assert rel < 1e-5, rel
    # toRGB (no demodulation) is never pre-normalised: nothing would divide the scaling out again
    torgb = S.ModulatedConv2D(3, kernel_size=1, demodulate=False, use_noise=False, activation="linear")
    torgb.prenormalize = True
    assert not torgb.prenormalizes()


def test_float16_modulated_conv_pre_normalises_against_overflow_and_matches_float32():
    """Large activations and styles (a style bias of 40, |x| ~ 30) overflow float16's 65504 inside the plain
    modulated convolution; pre-normalised (the float16 default) the result is finite and matches float32."""
    x = (30 * RNG.standard_normal((2, 8, 8, 64))).astype("float32")
    w = RNG.standard_normal((2, 8)).astype("float32")
    outputs = {}
    for name, dtype, prenormalize in (("f32", "float32", None), ("f16", "mixed_float16", None),
                                      ("f16-plain", "mixed_float16", False)):
        layer = S.ModulatedConv2D(16, use_noise=False, resolution=8, activation="linear", dtype=dtype, name="conv")
        layer.build([x.shape, w.shape])
        layer.affine.build(w.shape)
        layer.set_weights([np.full_like(v, 40.0) if v.path.endswith("affine/bias") else
                           np.random.default_rng(1).standard_normal(v.shape).astype("float32")
                           for v in layer.weights])
        layer.prenormalize = prenormalize
        outputs[name] = keras.ops.convert_to_numpy(keras.ops.cast(layer([x, w]), "float32"))
        if dtype == "mixed_float16":
            assert layer.compute_dtype == "float16" and layer.weight.dtype == "float32"
            assert layer.prenormalizes() == (prenormalize is None)
    assert not np.isfinite(outputs["f16-plain"]).all()  # the check can fail: the overflow is real
    assert np.isfinite(outputs["f16"]).all()
    np.testing.assert_allclose(outputs["f16"], outputs["f32"], rtol=0, atol=2e-2 * np.abs(outputs["f32"]).max())


def test_modulated_conv_config_round_trips_in_the_mixed_policy():
    layer = S.ModulatedConv2D(4, up=2, resolution=16, clamp=256.0, noise_mode="const", seed=3, dtype="mixed_float16",
                              name="b16_conv0")
    x = RNG.standard_normal((2, 8, 8, 3)).astype("float32")
    w = RNG.standard_normal((2, 5)).astype("float32")
    y = layer([x, w])
    copy = S.ModulatedConv2D.from_config(layer.get_config())
    assert copy.get_config() == layer.get_config() and copy.compute_dtype == "float16" and copy.clamp == 256.0
    copy([x, w])
    copy.set_weights(layer.get_weights())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(copy([x, w])), keras.ops.convert_to_numpy(y))
    assert "prenormalize" not in layer.get_config()  # an override for checks, not a setting


def tiny_discriminators(size=16):
    """The same weights as a float32 and as a mixed_float16 discriminator (every block but 4x4 in float16)."""
    keras.utils.set_random_seed(5)
    d32 = S.discriminator(size, 128, 16, mbstd_group=2, clamp=256, name="discriminator")
    d16 = S.discriminator(size, 128, 16, mbstd_group=2, clamp=256, mixed_resolutions=4, mixed_policy="mixed_float16",
                          name="discriminator")
    d16.set_weights(d32.get_weights())
    assert d16.get_layer(f"b{size}_conv0").compute_dtype == "float16"
    assert d16.get_layer("b8_conv1").compute_dtype == "float16" and d16.get_layer("b4_conv").compute_dtype == "float32"
    return d32, d16


@pytest.mark.parametrize("flat", [False, True])
def test_r1_in_float16_is_finite_and_close_to_float32(flat):
    """R1's inner gradient through float16 blocks against the float32 network with the same weights and images.
    `flat`: D's output weight times 2**-16, so every inner gradient is 2**16 smaller (as one spread over many more
    elements would be): at unit scale it sinks into float16's subnormals and loses its precision (measured:
    40-85% off, and exactly 0 at 2**-18); the inner scale of r1_penalty keeps it within float16's rounding."""
    d32, d16 = tiny_discriminators()
    if flat:
        for d in (d32, d16):
            out = d.get_layer("b4_out").weight
            out.assign(out * 2.0 ** -16)
    model = tiny(augment="none")
    x = tf.constant(np.random.default_rng(5).uniform(-1, 1, (4, 16, 16, 3)).astype("float32"))
    step = tf.constant(0, tf.int64)
    penalties = {}
    for name, d in (("f32", d32), ("f16", d16)):
        model.networks["discriminator"] = d
        penalties[name] = model.r1_penalty(x, step)[0].numpy()
        penalties[name + "-unscaled"] = model.r1_penalty(x, step, inner_scale=1.0)[0].numpy()
    ref, f16 = penalties["f32"], penalties["f16"]
    assert np.isfinite(f16).all() and (ref > 0).all()
    np.testing.assert_array_equal(penalties["f32-unscaled"], ref)  # a power of two: exact in float32
    # the batch mean is what the loss uses (measured 0.2-0.9% off over seeds); single images up to ~4%
    assert abs(f16.mean() / ref.mean() - 1) < 2e-2, (f16, ref)
    np.testing.assert_allclose(f16, ref, rtol=6e-2)
    if flat:  # the check can fail: without the scale float16 is far off
        assert abs(penalties["f16-unscaled"].mean() / ref.mean() - 1) > 0.3, (penalties["f16-unscaled"], ref)
