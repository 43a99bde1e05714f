"""common.runtime.optimizers: the one way every task makes its Adam optimizers."""

from __future__ import annotations

import keras
import pytest

from common.runtime.optimizers import adam_optimizers, lazy_regularization


def test_lazy_regularization_is_nvidias_correction():
    lr, betas = lazy_regularization(0.0025, (0.0, 0.99), 16)
    assert lr == pytest.approx(0.0025 * 16 / 17) and betas == pytest.approx((0.0, 0.99 ** (16 / 17)))


def test_one_adam_per_network_corrected_only_where_regularised():
    opts, jit = adam_optimizers({"g": 0.1, "d": 0.2}, beta_1=0.5, beta_2=0.9, epsilon=1e-8, reg_intervals={"d": 1})
    assert jit == "auto"
    assert float(opts["g"].learning_rate) == pytest.approx(0.1) and float(opts["g"].beta_2) == pytest.approx(0.9)
    assert float(opts["d"].learning_rate) == pytest.approx(0.1) and float(opts["d"].beta_1) == pytest.approx(0.5 ** 0.5)
    assert opts["g"].epsilon == 1e-8


@pytest.mark.parametrize("setting, auto_jit, expected", [("auto", "auto", "auto"), ("auto", False, False),
                                                         ("on", False, True), ("off", "auto", False)])
def test_the_jit_setting_and_what_auto_means_per_model(setting, auto_jit, expected):
    jit = adam_optimizers({"g": 0.1}, beta_1=0.5, beta_2=0.9, jit_compile=setting, auto_jit=auto_jit)[1]
    assert jit == expected and type(jit) is type(expected)


def test_loss_scaling_only_under_a_float16_policy():
    previous = keras.mixed_precision.global_policy()
    try:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        opts, _ = adam_optimizers({"g": 0.1}, beta_1=0.5, beta_2=0.9, mixed_precision=True)
        assert not isinstance(opts["g"], keras.optimizers.LossScaleOptimizer)
        keras.mixed_precision.set_global_policy("mixed_float16")
        opts, _ = adam_optimizers({"g": 0.1}, beta_1=0.5, beta_2=0.9, mixed_precision=True)
        assert isinstance(opts["g"], keras.optimizers.LossScaleOptimizer)
        opts, _ = adam_optimizers({"g": 0.1}, beta_1=0.5, beta_2=0.9, mixed_precision=False)
        assert not isinstance(opts["g"], keras.optimizers.LossScaleOptimizer)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _adam_run(adam_cls, graph, steps=5):
    """Variables of three shapes stepped `steps` times by adam_cls on fixed gradients (lr a schedule, as the
    multi-scale preset's inverse-time decay) -> (variables, momentums, velocities) as numpy arrays."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    shapes = [(3, 3, 4, 8), (8,), (5, 7)]
    variables = [keras.Variable(rng.standard_normal(s).astype("float32"), name=f"v{i}") for i, s in enumerate(shapes)]
    grads = [[tf.constant(rng.standard_normal(s).astype("float32") * 10 ** -k) for s in shapes] for k in range(steps)]
    lr = keras.optimizers.schedules.InverseTimeDecay(2e-3, decay_steps=1, decay_rate=0.1)
    opt = adam_cls(lr, beta_1=0.5, beta_2=0.99, epsilon=1e-8)
    opt.build(variables)
    def apply(step_grads):
        opt.apply(step_grads, variables)

    for step_grads in grads:
        (tf.function(apply) if graph else apply)(step_grads)
    return ([np.asarray(v) for v in variables], [np.asarray(m) for m in opt._momentums],
            [np.asarray(v) for v in opt._velocities])


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf.function"])
def test_the_fused_adam_computes_keras_adam(graph):
    import numpy as np

    from common.runtime.optimizers import Adam

    ours, theirs = _adam_run(Adam, graph), _adam_run(keras.optimizers.Adam, graph)
    for what, a, b in zip(("variables", "momentums", "velocities"), ours, theirs):
        for x, y in zip(a, b):
            # the same expression in one kernel: equal to float32 rounding, relative to the array's scale
            # (measured: 3e-9 at most, in a velocity of ~1e-4)
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6 * float(np.abs(y).max()), err_msg=what)
    assert max(float(np.abs(x - y).max()) for x, y in zip(ours[0], theirs[0])) < 1e-6
    moved = _adam_run(Adam, graph, steps=1)[0]
    assert all(np.abs(x - y).max() > 1e-4 for x, y in zip(moved, ours[0]))  # it is not a no-op


def test_the_fused_adam_has_keras_adams_slots_and_config():
    from common.runtime.optimizers import Adam

    opts, _ = adam_optimizers({"g": 0.1}, beta_1=0.5, beta_2=0.9)
    assert type(opts["g"]) is Adam and isinstance(opts["g"], keras.optimizers.Adam)
    ours, theirs = Adam(0.1), keras.optimizers.Adam(0.1)
    weights = [keras.Variable([1.0, 2.0], name="w")]
    ours.build(weights)
    theirs.build(weights)
    assert [(v.name, v.shape) for v in ours.variables] == [(v.name, v.shape) for v in theirs.variables]
    assert type(keras.optimizers.deserialize(keras.optimizers.serialize(ours))) is Adam
