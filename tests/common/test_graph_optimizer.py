"""--graph-optimizer: what each mode sets for the functions TensorFlow instantiates next, and that a training run
applies it (auto: off on a machine with neither GPU nor TPU, as this one)."""

import pytest
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow.python.eager import context

from common.runtime.distribute import graph_optimizer
from common.runtime.trainer import train
from tests.common.toy_gan import ToyTask, parse


def in_effect():
    """(grappler disabled, graph optimizer level) of the options this thread's function calls are made with."""
    config = config_pb2.ConfigProto.FromString(context.context().function_call_options.config_proto_serialized)
    return config.graph_options.rewrite_options.disable_meta_optimizer, config.graph_options.optimizer_options.opt_level


@pytest.fixture
def restores_auto():
    yield
    graph_optimizer("auto")  # what every training run in this process sets


def test_modes_set_the_options_functions_are_instantiated_with(restores_auto):
    assert graph_optimizer("off") == "off"
    assert in_effect() == (True, config_pb2.OptimizerOptions.L0)
    assert tf.config.optimizer.get_experimental_options()["disable_meta_optimizer"] is True
    assert graph_optimizer("on") == "on"
    assert in_effect() == (False, config_pb2.OptimizerOptions.L1)  # TensorFlow's defaults
    accelerated = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU")
    assert graph_optimizer("auto") == ("on" if accelerated else "off")
    with pytest.raises(ValueError, match="graph optimizer mode .fast.: expected one of auto, on, off"):
        graph_optimizer("fast")


def test_a_function_computes_the_same_without_them(restores_auto):
    """A conv + bias + leaky ReLU and its gradient (what grappler's remapper fuses on a CPU), traced anew under
    each mode: the same values to float rounding."""
    images = tf.random.stateless_normal([2, 16, 16, 3], [1, 2])
    kernel = tf.random.stateless_normal([3, 3, 3, 8], [3, 4])
    bias = tf.random.stateless_normal([8], [5, 6])

    def step(x, w, b):
        with tf.GradientTape() as tape:
            tape.watch([w, b])
            y = tf.nn.leaky_relu(tf.nn.bias_add(tf.nn.conv2d(x, w, 1, "SAME"), b), 0.2)
            loss = tf.reduce_mean(tf.square(y - 0.5))
        return loss, tape.gradient(loss, [w, b])

    results = {}
    for mode in ("on", "off"):
        graph_optimizer(mode)
        results[mode] = tf.function(step)(images, kernel, bias)  # a new function: instantiated under this mode
    (loss_on, grads_on), (loss_off, grads_off) = results["on"], results["off"]
    assert float(loss_off) == pytest.approx(float(loss_on), rel=1e-6)
    for a, b in zip(grads_off, grads_on):
        assert float(tf.reduce_max(tf.abs(b))) > 1e-3  # a gradient that is there
        tf.debugging.assert_near(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("flag, expected", [(None, "off"), ("on", "on")])
def test_a_training_run_applies_the_flag(tmp_path, flag, expected, restores_auto):
    if tf.config.list_logical_devices("GPU"):
        pytest.skip("auto is on with a GPU")
    graph_optimizer("on" if expected == "off" else "off")  # the opposite, so that the run must set it
    argv = ["--out", str(tmp_path), "--epochs", "1", "--steps-per-epoch", "1"]
    result = train(ToyTask(), parse(argv + (["--graph-optimizer", flag] if flag else [])))
    assert result.step == 1
    assert in_effect()[0] == (expected == "off")
