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
