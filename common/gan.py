"""The base class every GAN in the toolkit trains with.

A GAN is a `keras.Model` whose `compile` takes one optimizer per trained network
group, whose `train_step` returns this step's named losses, and whose loss trackers
(`keras.metrics.Mean`, reset every Keras epoch) are exposed through `metrics`.
The runtime (checkpoints, multi-device training) relies on three things declared
here: `networks` (name -> sub-model), `optimizers` (name -> optimizer) and
`optimizer_targets` (optimizer name -> the networks it updates).
"""

from __future__ import annotations

import keras
import tensorflow as tf


class GANModel(keras.Model):
    """Common plumbing of the toolkit's GANs.

    Subclasses set `self.networks` in `__init__`, call `super().compile(...)` with
    `optimizers={name: (optimizer, [network names])}` and `loss_names=[...]`, and in
    `train_step` compute per-replica losses, scale what they differentiate with
    `replica_mean`, and return `self.record(losses)`.
    """

    def __init__(self, networks: dict[str, keras.Model], **kwargs):
        super().__init__(**kwargs)
        self.networks = dict(networks)
        self.optimizers: dict[str, keras.optimizers.Optimizer] = {}
        self.optimizer_targets: dict[str, list[str]] = {}
        self._trackers: dict[str, keras.metrics.Mean] = {}
        # the networks are built functional models; the wrapper has no call() of its own
        self.built = True

    def compile(self, *, optimizers, loss_names, jit_compile="auto", **kwargs):
        """optimizers: {name: (keras optimizer, [network names it updates])}."""
        super().compile(jit_compile=jit_compile, **kwargs)
        for name, (optimizer, targets) in optimizers.items():
            unknown = [t for t in targets if t not in self.networks]
            if unknown:
                raise ValueError(f"optimizer {name!r} targets unknown networks {unknown}")
            self.optimizers[name] = optimizer
            self.optimizer_targets[name] = list(targets)
            setattr(self, f"{name}_optimizer", optimizer)
        self._trackers = {n: keras.metrics.Mean(name=n) for n in loss_names}

    @property
    def metrics(self):
        return list(self._trackers.values())

    def trainable_variables_of(self, optimizer_name: str):
        variables = []
        for net in self.optimizer_targets[optimizer_name]:
            variables.extend(self.networks[net].trainable_variables)
        return variables

    def build_optimizers(self):
        """Create every optimizer's slot variables (needed before restoring them)."""
        for name, optimizer in self.optimizers.items():
            if not optimizer.built:
                optimizer.build(self.trainable_variables_of(name))

    def apply_gradients(self, optimizer_name: str, tape, loss):
        """Differentiate `loss` (already replica-scaled) and step one optimizer.

        With a LossScaleOptimizer (mixed precision) the loss is scaled up before
        differentiation and the optimizer unscales (and skips non-finite steps).
        """
        optimizer = self.optimizers[optimizer_name]
        variables = self.trainable_variables_of(optimizer_name)
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            loss = optimizer.scale_loss(loss)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))

    @staticmethod
    def replica_mean(loss):
        """Per-replica mean loss -> contribution to the global-batch mean.

        Optimizers sum gradients over replicas, so each replica's mean is divided by
        the replica count; on one device this is the identity.
        """
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas == 1:
            return loss
        return loss / tf.cast(replicas, loss.dtype)

    def record(self, losses: dict) -> dict:
        """Update the epoch trackers; return this step's values (what callbacks log)."""
        out = {}
        for name, value in losses.items():
            value = tf.cast(value, "float32")
            if name in self._trackers:
                self._trackers[name].update_state(value)
            out[name] = value
        return out

    def get_config(self):
        # The training wrapper is rebuilt from its task config, not deserialised;
        # the networks are what gets exported as standalone .keras files.
        return {"networks": list(self.networks)}
