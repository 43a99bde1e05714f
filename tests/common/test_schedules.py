import keras
import numpy as np
import pytest

from common.schedules import LinearDecayTail

InverseTimeDecay = keras.optimizers.schedules.InverseTimeDecay


def test_linear_tail_is_constant_then_reaches_zero():
    lr = LinearDecayTail(2e-4, total_steps=200, decay_steps=100)
    values = [float(lr(s)) for s in (0, 99, 100, 150, 199, 200, 250)]
    np.testing.assert_allclose(values, [2e-4, 2e-4, 2e-4, 1e-4, 2e-6, 0.0, 0.0], rtol=1e-5, atol=1e-12)


def test_linear_tail_over_another_schedule_and_serialisation():
    lr = LinearDecayTail(InverseTimeDecay(1e-3, 1, 0.01), total_steps=100, decay_steps=50)
    assert float(lr(75)) == pytest.approx(1e-3 / (1 + 0.75) * 0.5, rel=1e-5)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(lr))
    for s in (0, 60, 99):
        assert float(clone(s)) == pytest.approx(float(lr(s)), rel=1e-6)
