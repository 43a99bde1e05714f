"""GANModel: one backward pass per optimizer group, mixed-precision loss scaling, the global step, the EMA update."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.gan import GANModel, ema_update


def small_net(name, seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(2)],
                            name=name)


class TwoNets(GANModel):
    """Two networks trained on one shared objective, as a CycleGAN's two generators."""

    def __init__(self):
        super().__init__({"a": small_net("a", 1), "b": small_net("b", 2)})

    def objective(self, x):
        a, b = self.networks["a"](x), self.networks["b"](x)
        return tf.reduce_mean(tf.square(a - 1.0)) + tf.reduce_mean(a * b) + 0.5 * tf.reduce_mean(tf.square(b))


def make(optimizer=lambda: keras.optimizers.SGD(0.1)):
    model = TwoNets()
    model.compile(optimizers={"a": (optimizer(), ["a"]), "b": (optimizer(), ["b"])}, loss_names=[])
    model.build_optimizers()
    return model


X = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")


def weights(model):
    return [np.asarray(v) for n in ("a", "b") for v in model.networks[n].trainable_variables]


def separate_tapes_step(model):
    """The reference: one tape.gradient call per optimizer."""
    with tf.GradientTape(persistent=True) as tape:
        loss = model.objective(X)
    for name in ("a", "b"):
        variables = model.trainable_variables_of(name)
        model.optimizers[name].apply_gradients(zip(tape.gradient(loss, variables), variables))


def test_one_backward_pass_equals_separate_tapes():
    joint, separate = make(), make()
    np.testing.assert_array_equal(np.concatenate([w.ravel() for w in weights(joint)]),
                                  np.concatenate([w.ravel() for w in weights(separate)]))
    before = weights(joint)
    with tf.GradientTape() as tape:
        loss = joint.objective(X)
    joint.apply_gradients(tape, loss, "a", "b")
    separate_tapes_step(separate)
    for w_joint, w_sep, w0 in zip(weights(joint), weights(separate), before):
        np.testing.assert_allclose(w_joint, w_sep, rtol=1e-6, atol=1e-7)
    assert max(float(np.max(np.abs(w - w0))) for w, w0 in zip(weights(joint), before)) > 1e-3


def test_each_loss_scale_optimizer_gets_its_own_scale_and_the_update_is_unscaled():
    scaled = make(lambda: keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1), initial_scale=2.0**10))
    scaled.optimizers["b"].dynamic_scale.assign(2.0**4)  # the two scales differ, as after a skipped step
    plain = make()
    with tf.GradientTape() as tape:
        loss = scaled.objective(X)
    scaled.apply_gradients(tape, loss, "a", "b")  # the loss itself is NOT scaled on the tape
    separate_tapes_step(plain)
    for w_scaled, w_plain in zip(weights(scaled), weights(plain)):
        np.testing.assert_allclose(w_scaled, w_plain, rtol=1e-5, atol=1e-6)
    assert float(scaled.optimizers["a"].dynamic_scale) == 2.0**10  # a finite step keeps each scale
    assert float(scaled.optimizers["b"].dynamic_scale) == 2.0**4


def test_non_finite_gradients_skip_the_step_and_lower_the_scale():
    model = make(lambda: keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1), initial_scale=2.0**10))
    before = weights(model)
    with tf.GradientTape() as tape:
        loss = model.objective(X) * float("inf")
    model.apply_gradients(tape, loss, "a", "b")
    for w, w0 in zip(weights(model), before):
        np.testing.assert_array_equal(w, w0)
    assert float(model.optimizers["a"].dynamic_scale) == 2.0**9


def test_regularization_loss_sums_a_networks_kernel_regularisers():
    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, kernel_regularizer=keras.regularizers.L2(0.5))],
                           name="r")
    model = GANModel({"r": net, "plain": small_net("plain", 0)})
    kernel = np.asarray(net.layers[0].kernel)
    assert float(model.regularization_loss("r")) == pytest.approx(0.5 * float(np.sum(kernel**2)), rel=1e-6)
    assert float(model.regularization_loss("plain")) == 0.0


def test_apply_gradients_needs_an_optimizer():
    model = make()
    with tf.GradientTape() as tape:
        loss = model.objective(X)
    with pytest.raises(ValueError, match="at least one optimizer"):
        model.apply_gradients(tape, loss)


def test_record_ends_the_step_advancing_the_global_step_once_and_step_reads_it_before():
    model = make()
    assert model.global_step.dtype == "int64" and not model.global_step.trainable
    seen = []

    @tf.function
    def train_step():
        seen.append(None)  # traced once
        step = model.step
        logs = model.record({})
        return step, logs

    assert [int(train_step()[0]) for _ in range(3)] == [0, 1, 2] and len(seen) == 1
    assert int(model.global_step.numpy()) == 3 and int(model.step) == 3


def test_ema_update_lerps_the_trained_weights_and_copies_the_others():
    def net():
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(2), keras.layers.BatchNormalization()])

    source, target = net(), net()
    for network, value in ((source, 1.0), (target, 3.0)):
        for w in network.weights:
            w.assign(np.full(w.shape, value, "float32"))
    ema_update(target, source, tf.constant(0.25))
    for w, e in zip(source.weights, target.weights):
        # trained: 1 + 0.25 * (3 - 1) = 1.5; BatchNorm's moving statistics: the source's 1.0
        np.testing.assert_array_equal(np.asarray(e), np.full(w.shape, 1.5 if w.trainable else 1.0), err_msg=w.path)
    assert sum(w.trainable for w in source.weights) == 4 and sum(not w.trainable for w in source.weights) == 2
    ema_update(target, source, 0.0)  # beta 0: a copy
    for w, e in zip(source.weights, target.weights):
        np.testing.assert_array_equal(np.asarray(e), np.asarray(w))


def test_traced_network_is_one_function_with_the_networks_values_and_gradients():
    model = make()
    net, traced = model.networks["a"], model.traced("a")
    assert model.traced("a") is traced and model.traced("a", training=False) is not traced
    x = tf.constant(X)

    @tf.function
    def three_calls(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(traced(x) ** 2) + tf.reduce_sum(traced(2.0 * x)) + tf.reduce_mean(traced(-x))
        return loss, tape.gradient(loss, [x, *net.trainable_variables])

    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(net(x) ** 2) + tf.reduce_sum(net(2.0 * x)) + tf.reduce_mean(net(-x))
    grads = tape.gradient(loss, [x, *net.trainable_variables])
    traced_loss, traced_grads = three_calls(x)
    assert traced.experimental_get_tracing_count() == 1  # three calls, one trace
    np.testing.assert_allclose(float(traced_loss), float(loss), rtol=1e-6)
    for g_traced, g in zip(traced_grads, grads):
        np.testing.assert_allclose(np.asarray(g_traced), np.asarray(g), rtol=1e-5, atol=1e-7)
