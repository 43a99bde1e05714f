"""The one way every task makes its optimizers: Adam per network, NVIDIA's lazy-regularisation correction
when a network's regulariser runs every few steps, loss scaling under a float16 policy, and the step's
XLA setting."""

from __future__ import annotations

import keras

from common.runtime.distribute import needs_loss_scaling

JIT = {"auto": "auto", "on": True, "off": False}


@keras.saving.register_keras_serializable(package="ganworks")
class Adam(keras.optimizers.Adam):
    """keras.optimizers.Adam whose update of each variable is one fused kernel on the TensorFlow backend.

    The same function as Keras's Adam, step for step (its update_step, in the same order of operations):
        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2);  var -= m * alpha / (sqrt(v) + epsilon)
    computed by TensorFlow's ResourceApplyAdam kernel (training_ops: the same expression, written to m, v
    and var in place) instead of about forty graph ops per variable. Keras's own update runs where the
    kernel does not apply (another backend, amsgrad, sparse gradients). The slots (momentums, velocities)
    and the iteration counter are Keras's, so checkpoints of either load into the other.
    """

    def update_step(self, gradient, variable, learning_rate):
        if keras.backend.backend() != "tensorflow" or self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        if isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        var = variable.value if isinstance(variable, keras.Variable) else variable
        dtype = var.dtype
        index = self._get_variable_index(variable)
        # under a tf.distribute strategy this runs in its update() call: .handle is this device's copy
        m, v = self._momentums[index].value, self._velocities[index].value
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(var=var.handle, m=m.handle, v=v.handle, beta1_power=tf.pow(beta_1, step),
                                     beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, dtype),
                                     beta1=beta_1, beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype),
                                     grad=tf.cast(gradient, dtype))


def lazy_regularization(lr, betas, interval):
    """NVIDIA's correction for a regulariser run every `interval` steps (StyleGAN2, training_loop.py): the
    optimizer then takes interval + 1 steps' worth of updates per interval, so lr * r and betas ** r
    with r = interval / (interval + 1)."""
    ratio = interval / (interval + 1)
    return lr * ratio, tuple(b ** ratio for b in betas)


def adam_optimizers(learning_rates: dict, *, beta_1: float, beta_2: float, jit_compile: str = "auto",
                    mixed_precision: bool = False, epsilon: float = 1e-7, reg_intervals: dict | None = None,
                    auto_jit="auto") -> tuple[dict, object]:
    """({name: optimizer}, the jit_compile value for keras.Model.compile) of a run.

    learning_rates: {name: a float or a schedule}, one Adam each (epsilon as given; Keras's 1e-7 by
    default, NVIDIA's StyleGAN2 uses 1e-8). reg_intervals: {name: N} for a network regularised every N
    steps (lazy regularisation): its lr and betas get lazy_regularization's correction. With
    mixed_precision under a float16 policy each is wrapped in a LossScaleOptimizer (bfloat16 needs none).
    jit_compile: the run's "auto" | "on" | "off"; auto_jit: what "auto" means for this model - Keras's
    own "auto" (XLA with a GPU), or False where XLA costs more than it saves (StyleGAN2: its
    regularisation steps change the graph, so XLA recompiles at every one of them).
    """
    optimizers = {}
    for name, lr in learning_rates.items():
        betas = (beta_1, beta_2)
        if reg_intervals and reg_intervals.get(name):
            lr, betas = lazy_regularization(lr, betas, reg_intervals[name])
        optimizers[name] = Adam(lr, beta_1=betas[0], beta_2=betas[1], epsilon=epsilon)
    if mixed_precision and needs_loss_scaling():
        optimizers = {name: keras.optimizers.LossScaleOptimizer(opt) for name, opt in optimizers.items()}
    jit = auto_jit if jit_compile == "auto" else JIT[jit_compile]
    return optimizers, jit


def run_optimizers(config, learning_rates: dict, **options) -> tuple[dict, object]:
    """adam_optimizers with a run config's betas, --mixed-precision and --jit-compile; `options`:
    the model's own (epsilon, reg_intervals, auto_jit)."""
    return adam_optimizers(learning_rates, beta_1=config["beta_1"], beta_2=config["beta_2"],
                           mixed_precision=config["mixed_precision"], jit_compile=config["jit_compile"], **options)
