"""The base class every GAN in the toolkit trains with.

A GAN is a `keras.Model` whose `compile` takes one optimizer per trained network
group, whose `train_step` returns this step's named losses, and whose loss trackers
(`keras.metrics.Mean`, reset every Keras epoch) are exposed through `metrics`.
The runtime (checkpoints, multi-device training) relies on three things declared
here: `networks` (name -> sub-model), `optimizers` (name -> optimizer) and
`optimizer_targets` (optimizer name -> the networks it updates).

Each model has one step counter, `global_step`: every `train_step` reads it for its random draws and its
intervals and advances it once (in `record`). Optimizer iterations are no substitute: a LossScaleOptimizer
that skips a non-finite step does not advance them, and draws keyed on them would repeat at the next step.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from common.replicas import Draws, cross_replica_mean


def network(name: str) -> property:
    """A read-only attribute for one of a GANModel's networks: `generator_g = network("generator_g")`."""
    return property(lambda self: self.networks[name], doc=f"the {name} network (self.networks[{name!r}])")


class GANModel(keras.Model):
    """Common plumbing of the toolkit's GANs.

    Subclasses set `self.networks` in `__init__`, call `super().compile(...)` with
    `optimizers={name: (optimizer, [network names])}` and `loss_names=[...]`, and in
    `train_step` compute this replica's mean losses under a `tf.GradientTape`, step the
    optimizers with `apply_gradients(tape, loss, *optimizer_names)`, take every random draw
    from `self.draws(self.step, purpose)` and return `self.record(losses)`. Written so, a step on
    N replicas computes what it computes on one device for the same global batch.
    """

    def __init__(self, networks: dict[str, keras.Model], *, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.networks = dict(networks)
        self.seed = int(seed)
        self.optimizers: dict[str, keras.optimizers.Optimizer] = {}
        self.optimizer_targets: dict[str, list[str]] = {}
        self._trackers: dict[str, keras.metrics.Mean] = {}
        # the steps taken (applied or skipped by a loss scale optimizer); in checkpoints as model/global_step
        self.global_step = keras.Variable(0, dtype="int64", trainable=False, name="global_step")
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

    def traced(self, name: str, training: bool = True):
        """The network `name` as one `tf.function` of its inputs, traced once per input signature.

        A train step that calls a network several times (the CycleGAN step calls each generator
        three times and each discriminator three times) otherwise traces every call again, op by
        op, when the step's graph is built. Called through this, the network's forward pass is
        traced once and its gradient function built once; each call is a call of that function,
        which TensorFlow inlines before running, so the same kernels run on the same values.
        """
        cache = self.__dict__.get("_traced_networks")
        if cache is None:
            cache = {}
            object.__setattr__(self, "_traced_networks", cache)  # not tracked by Keras: no state
        key = (name, bool(training))
        if key not in cache:
            net = self.networks[name]
            cache[key] = tf.function(lambda inputs: net(inputs, training=training), autograph=False)
        return cache[key]

    @property
    def step(self) -> tf.Tensor:
        """The index of the step under way, int64 scalar: how many train_steps came before it (read it before
        `record`, which advances it)."""
        return tf.identity(self.global_step.value)

    def draws(self, step, purpose) -> Draws:
        """The random draws of (self.seed, step, purpose), each replica given its rows of the global batch."""
        return Draws.of(self.seed, step, purpose)

    def apply_gradients(self, tape, loss, *optimizer_names: str):
        """Differentiate this replica's mean `loss` once and step every named optimizer.

        Optimizers sum gradients over replicas, so the backward pass starts from 1/replicas (the
        global-batch mean's share of this replica): passed as the output gradient, it needs no
        scaled copy of the loss on the tape, and works for a loss computed after the tape closed.

        One `tape.gradient` call covers all the networks the optimizers train (e.g. both
        CycleGAN generators, whose shared objective would otherwise be differentiated
        twice, or two discriminators whose losses are summed: each network only gets
        the gradient of its own term). With LossScaleOptimizers (mixed precision) the
        backward pass starts from the smallest loss scale of the group, passed as the
        output gradient, so no scaled copy of the loss has to be recorded on the tape;
        each optimizer then receives its gradients at its own scale, unscales them and
        skips its step (lowering its scale) if they are not finite.
        """
        if not optimizer_names:
            raise ValueError("apply_gradients needs at least one optimizer name")
        groups = [(self.optimizers[n], self.trainable_variables_of(n)) for n in optimizer_names]
        variables = [v for _, vs in groups for v in vs]
        scales = []
        for opt, vs in groups:
            if isinstance(opt, keras.optimizers.LossScaleOptimizer):
                if not opt.built:  # dynamic_scale is created by build
                    opt.build(vs)
                scales.append(tf.convert_to_tensor(opt.dynamic_scale))
            else:
                scales.append(None)
        start = None
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if any(s is not None for s in scales):
            start = tf.reduce_min(tf.stack([s for s in scales if s is not None]))
            grads = tape.gradient(loss, variables, output_gradients=tf.cast(start / replicas, loss.dtype))
        elif replicas > 1:
            grads = tape.gradient(loss, variables, output_gradients=tf.cast(1.0 / replicas, loss.dtype))
        else:
            grads = tape.gradient(loss, variables)
        offset = 0
        for (opt, vs), own_scale in zip(groups, scales):
            g = grads[offset:offset + len(vs)]
            offset += len(vs)
            if start is not None:
                # this optimizer expects gradients at its own scale (or unscaled if it has none)
                ratio = (own_scale if own_scale is not None else 1.0) / start
                g = [None if x is None else x * tf.cast(ratio, x.dtype) for x in g]
            opt.apply_gradients(zip(g, vs))

    def regularization_loss(self, *network_names: str):
        """Sum of the named networks' own losses (kernel regularisers), float32 scalar; 0 if none."""
        terms = [tf.cast(t, "float32") for n in network_names for t in self.networks[n].losses]
        return tf.add_n(terms) if terms else tf.constant(0.0)

    def record(self, losses: dict) -> dict:
        """The end of a train_step: update the epoch trackers, advance `global_step` by one and return this
        step's values (what callbacks log), each the mean over the replicas: the value one device would
        report for the global batch."""
        names = list(losses)
        values = [tf.reshape(tf.cast(losses[n], "float32"), []) for n in names]
        if values:  # one all-reduce for the whole step (the identity on one device)
            values = tf.unstack(cross_replica_mean(tf.stack(values)), num=len(values))
        out = {}
        for name, value in zip(names, values):
            if name in self._trackers:
                self._trackers[name].update_state(value)
            out[name] = value
        self.global_step.assign_add(1)
        return out

    def get_config(self):
        # The training wrapper is rebuilt from its task config, not deserialised;
        # the networks are what gets exported as standalone .keras files.
        return {"networks": list(self.networks)}


def ema_update(target_network, source_network, beta) -> list:
    """target <- lerp(source, target, beta) = source + beta * (target - source) for every trainable weight, the
    other weights (BatchNorm statistics, w_avg, constant noise) copied; beta: float scalar in [0, 1] (0 copies).

    The networks are built by the same builder (their weights in the same order); returns the assignments.
    """
    updates = []
    for w, e in zip(source_network.weights, target_network.weights):
        if w.trainable:
            updates.append(e.assign(w + tf.cast(beta, e.dtype) * (e - w)))
        else:
            updates.append(e.assign(w))
    return updates
