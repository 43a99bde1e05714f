"""How one global batch is shared by N replicas, so that N devices compute what one device computes.

The runtime feeds global batches; `tf.distribute` gives replica r the r-th contiguous slice of
each. `for_replicas` first reorders every global batch so that slice r holds the global rows
r, r + N, r + 2N, ... (an interleave; the identity on one device). Every per-image random draw is
made for the whole global batch and each replica keeps the same rows (`Draws`), so image i of the
global batch meets the same latent, noise, label flip and augmentation on any number of replicas.
The interleave (rather than contiguous slices) also keeps NVIDIA's minibatch-standard-deviation
groups (image i in group i mod B/G) the same groups on N replicas as on one device, as long as
each replica's batch is a multiple of the group size.

Layers that draw inside a network (dropout, StyleGAN2's noise inputs) take their draws from
`layer_draws`: the training step says which (step, purpose) a network call belongs to, and each
such layer folds in its own name. Without it (inference, a plain `fit` of a network) they use
their Keras seed generators as usual.

Statistics a step accumulates (ADA's sign sum, the path-length mean, the tracked w average, the
logged losses) go through `cross_replica_sum` / `cross_replica_mean` before they are used, so all
replicas hold the values one device would.
"""

from __future__ import annotations

import contextlib
import threading
import zlib

import tensorflow as tf


def replica_position():
    """(replica id: int32 scalar tensor or 0, number of replicas in sync: int) of the calling replica.

    Outside a replica context (cross-replica code, plain eager calls) this is (0, 1).
    """
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return 0, 1
    return tf.cast(ctx.replica_id_in_sync_group, tf.int32), int(ctx.num_replicas_in_sync)


def several_replicas() -> bool:
    """True when the current strategy (the one whose scope builds the model) has more than one replica."""
    return tf.distribute.get_strategy().num_replicas_in_sync > 1


def _interleave(x, replicas):
    """[N*b, ...] -> [N*b, ...] whose r-th contiguous slice of b rows is rows r, r+N, ... of x."""
    shape = tf.shape(x)
    per = shape[0] // replicas
    rest = shape[1:]
    y = tf.reshape(x, tf.concat([[per, replicas], rest], 0))
    perm = tf.concat([[1, 0], tf.range(2, tf.rank(y))], 0)
    return tf.reshape(tf.transpose(y, perm), shape)


def for_replicas(dataset: tf.data.Dataset, replicas: int) -> tf.data.Dataset:
    """The dataset of global batches reordered for `replicas` replicas (the identity for one).

    Every component of an element must have the global batch as its first axis, divisible by
    `replicas` (the runtime checks --batch-size before training starts).
    """
    replicas = int(replicas)
    if replicas == 1:
        return dataset
    return dataset.map(lambda *xs: tf.nest.map_structure(lambda x: _interleave(x, replicas),
                                                         xs if len(xs) > 1 else xs[0]),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def cross_replica_sum(value):
    """Sum of `value` over the replicas (identity on one device); every replica gets the sum."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return value
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, value)


def cross_replica_mean(value):
    """Mean of `value` over the replicas (each replica's value computed on equally many images)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return value
    total = ctx.all_reduce(tf.distribute.ReduceOp.SUM, value)
    return total / tf.cast(ctx.num_replicas_in_sync, total.dtype)


def stateless_key(seed, step, purpose):
    """int64 [2] key of the draw for (seed, step, purpose): the same on every replica and machine."""
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(purpose, tf.int64)])
    return tf.random.experimental.stateless_fold_in(key, tf.cast(step, tf.int64))


class Draws:
    """The stateless random draws of one (seed, step, purpose), shared out over the replicas.

    `normal` / `uniform` take the shape of this replica's share, batch axis first, draw it for the
    whole global batch and keep this replica's rows (see the module docstring); on one device that
    is exactly `tf.random.stateless_*(shape, key)`. `shared_*` draw one value (any shape, no batch
    axis) that every replica sees, e.g. a per-batch style-mixing cutoff. `fold(i)` is an
    independent stream of the same step (one per augmentation parameter or per layer). `whole_batch()`
    draws the global batch on every replica, and `own_rows` keeps this replica's rows of it.
    """

    def __init__(self, key, replica=None):
        self.key = key
        self.replica = replica_position() if replica is None else replica

    @classmethod
    def of(cls, seed, step, purpose):
        return cls(stateless_key(seed, step, purpose))

    def fold(self, i) -> "Draws":
        return Draws(tf.random.experimental.stateless_fold_in(self.key, tf.cast(i, tf.int64)), self.replica)

    def whole_batch(self) -> "Draws":
        """The same draws as one device makes them: a shape's batch axis is the global batch's (for a value
        that depends on every image of the batch, such as ADA's padding; `own_rows` then keeps this replica's)."""
        return Draws(self.key, (0, 1))

    def own_rows(self, everything):
        """This replica's rows of a tensor over the global batch: the rows `normal` / `uniform` keep."""
        index, count = self.replica
        if count == 1:
            return everything
        shape = tf.shape(everything)
        rows = tf.reshape(everything, tf.concat([[shape[0] // count, count], shape[1:]], 0))
        return tf.gather(rows, index, axis=1)

    def _share(self, draw, shape):
        count = self.replica[1]
        if count == 1:
            return draw(shape)
        shape = tf.unstack(tf.convert_to_tensor(shape, tf.int32)) if not isinstance(shape, (list, tuple)) \
            else list(shape)
        return self.own_rows(draw([shape[0] * count, *shape[1:]]))

    def normal(self, shape, dtype=tf.float32):
        return self._share(lambda s: tf.random.stateless_normal(s, self.key, dtype=dtype), shape)

    def uniform(self, shape, minval=0.0, maxval=1.0, dtype=tf.float32):
        return self._share(lambda s: tf.random.stateless_uniform(s, self.key, minval, maxval, dtype=dtype), shape)

    def shared_normal(self, shape, dtype=tf.float32):
        return tf.random.stateless_normal(shape, self.key, dtype=dtype)

    def shared_uniform(self, shape, minval=0.0, maxval=1.0, dtype=tf.float32):
        return tf.random.stateless_uniform(shape, self.key, minval, maxval, dtype=dtype)


# the draws of the network call being traced, per thread: MirroredStrategy traces each replica in a thread
_LAYER_DRAWS = threading.local()


@contextlib.contextmanager
def layer_draws(draws: Draws):
    """Within this block, random layers of the networks called draw from `draws` (one stream per layer)."""
    previous = getattr(_LAYER_DRAWS, "draws", None)
    _LAYER_DRAWS.draws = draws
    try:
        yield
    finally:
        _LAYER_DRAWS.draws = previous


def draws_for_layer(name: str) -> Draws | None:
    """The calling layer's stream of the current `layer_draws` block (folded with its name), or None."""
    draws = getattr(_LAYER_DRAWS, "draws", None)
    return None if draws is None else draws.fold(zlib.crc32(name.encode()) % (2 ** 31))
