"""Picking a tf.distribute strategy: Kaggle's 2xT4 (mirrored), Kaggle/Colab TPUs, several machines
(multi-worker, its cluster from TF_CONFIG), or one device."""

from __future__ import annotations

import json
import logging
import os

import tensorflow as tf

from common.runtime.config import GRAPH_OPTIMIZER_MODES, ConfigError

log = logging.getLogger(__name__)


def mixed_precision_policy() -> str:
    """The Keras policy --mixed-precision selects: "mixed_float16" where a GPU is visible (tensor
    cores; needs loss scaling), else "mixed_bfloat16" (CPUs with AVX-512 BF16 or AMX and TPUs compute
    bfloat16 natively, and its float32 exponent range needs no loss scaling)."""
    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"


def needs_loss_scaling() -> bool:
    """True when the global policy computes in float16 (its gradients underflow without loss scaling)."""
    import keras

    return keras.mixed_precision.global_policy().compute_dtype == "float16"


def graph_optimizer(mode: str = "auto") -> str:
    """Set how TensorFlow optimises a step's graph before its first run (--graph-optimizer); returns "on" or "off".

    auto: off on a machine with neither GPU nor TPU, on otherwise. on: TensorFlow's defaults. off: no grappler
    passes (tf.config.optimizer's disable_meta_optimizer) and no common-subexpression elimination or constant
    folding by the graph optimizer that runs before them (opt_level L0 in the options every tf.function call
    of this thread is instantiated with). Grappler's rewrites are made for accelerators (layouts, cuDNN fusions, memory
    swapping); on a CPU its passes and the graph optimizer's took 5-7 s of the ResNet CycleGAN's 22-25 s first
    step at 256 px and nothing measurable off the steps after it (benchmarks.train_step --graph-optimizer auto,on).
    Takes effect for functions not run yet.
    """
    if mode == "auto":
        accelerated = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU")
        mode = "on" if accelerated else "off"
    if mode not in ("on", "off"):  # auto resolved above
        raise ValueError(f"graph optimizer mode {mode!r}: expected one of {', '.join(GRAPH_OPTIMIZER_MODES)}")
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.eager import context

    # resets this thread's function call options to the context's config, which now carries the toggle
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": mode == "off"})
    options = context.context().function_call_options
    config = config_pb2.ConfigProto.FromString(options.config_proto_serialized)
    level = config_pb2.OptimizerOptions.L0 if mode == "off" else config_pb2.OptimizerOptions.L1
    config.graph_options.optimizer_options.opt_level = level
    options.config_proto_serialized = config
    return mode


def _tpu_resolver():
    if not (os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_ACCELERATOR_TYPE")):
        return None
    try:
        return tf.distribute.cluster_resolver.TPUClusterResolver()
    except (ValueError, RuntimeError):
        return None


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """auto | default | mirrored | multi-worker | tpu.

    mirrored uses every GPU and needs at least two (ConfigError otherwise). multi-worker is
    MultiWorkerMirroredStrategy over the cluster TF_CONFIG describes (every GPU of every
    worker, or each worker's CPU); it must be made before TensorFlow runs anything else in
    the process, and a process makes it once (a second call returns the same strategy).
    """
    if name == "multi-worker":
        return _multi_worker_strategy()
    if name in ("auto", "tpu"):
        resolver = _tpu_resolver()
        if resolver is not None:
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            return tf.distribute.TPUStrategy(resolver)
        if name == "tpu":
            raise ValueError("--strategy tpu: no TPU found (TPU_NAME / COLAB_TPU_ADDR not set or unreachable)")
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored":
        if len(gpus) < 2:
            raise ConfigError(f"--strategy mirrored needs two or more GPUs, but {len(gpus)} "
                              f"{'is' if len(gpus) == 1 else 'are'} visible; use --strategy auto")
        return _mirrored(tuple(d.name for d in gpus))
    if name == "auto" and len(gpus) > 1:
        return _mirrored(tuple(d.name for d in gpus))
    return tf.distribute.get_strategy()


_MIRRORED: dict = {}


def _mirrored(devices: tuple) -> tf.distribute.MirroredStrategy:
    """One MirroredStrategy per device set and process: a second one (a second run in the same notebook)
    would start its collective instance keys where the first one's are still registered, and its first
    all-reduce fails with a shape mismatch."""
    if devices not in _MIRRORED:
        _MIRRORED[devices] = tf.distribute.MirroredStrategy(list(devices))
    return _MIRRORED[devices]


# ----------------------------------------------------------------------------- several machines
_MULTI_WORKER = None
_TF_CONFIG_EXAMPLE = ('TF_CONFIG=\'{"cluster": {"worker": ["host0:12345", "host1:12345"]}, '
                      '"task": {"type": "worker", "index": 0}}\'')


def read_tf_config(environ=None) -> dict:
    """The TF_CONFIG environment variable, checked: {"cluster": {job: [host:port, ...]}, "task": {...}}.

    Raises ConfigError (one line) when it is missing or cannot describe this worker's place in a
    cluster of chief/worker tasks. Pure JSON: TensorFlow is not touched (config validation calls it).
    """
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG", "").strip()
    if not text:
        raise ConfigError("--strategy multi-worker needs the TF_CONFIG environment variable (the cluster and this "
                          f"worker's place in it), e.g. {_TF_CONFIG_EXAMPLE}")
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({exc.msg} at column {exc.colno}); expected e.g. "
                          f"{_TF_CONFIG_EXAMPLE}") from None
    cluster = spec.get("cluster") if isinstance(spec, dict) else None
    if not isinstance(cluster, dict) or not cluster:
        raise ConfigError(f"TF_CONFIG has no \"cluster\" mapping of job name to host:port list; expected e.g. "
                          f"{_TF_CONFIG_EXAMPLE}")
    for job, hosts in cluster.items():
        if job not in ("chief", "worker"):
            raise ConfigError(f"TF_CONFIG cluster job {job!r} is not supported by --strategy multi-worker "
                              "(only \"chief\" and \"worker\")")
        if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) and ":" in h for h in hosts):
            raise ConfigError(f"TF_CONFIG cluster job {job!r} must be a non-empty list of \"host:port\" strings, "
                              f"got {hosts!r}")
    if len(cluster.get("chief", [])) > 1:
        raise ConfigError("TF_CONFIG cluster has more than one chief")
    task = spec.get("task")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ConfigError("TF_CONFIG has no \"task\": {\"type\": ..., \"index\": ...} saying which of the "
                          "cluster's tasks this process is")
    kind, index = task["type"], task["index"]
    if kind not in cluster:
        raise ConfigError(f"TF_CONFIG task type {kind!r} is not a job of its cluster ({', '.join(cluster)})")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cluster[kind]):
        raise ConfigError(f"TF_CONFIG task index {index!r} is not in 0..{len(cluster[kind]) - 1} "
                          f"(the cluster's {kind!r} list)")
    return spec


def _multi_worker_strategy():
    global _MULTI_WORKER
    if _MULTI_WORKER is not None:
        return _MULTI_WORKER
    read_tf_config()
    try:
        _MULTI_WORKER = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as exc:
        if "program startup" not in str(exc):
            raise
        raise ConfigError("--strategy multi-worker has to start before TensorFlow runs anything else in this "
                          "process; run training as its own process (python -m <task>.train ...)") from None
    return _MULTI_WORKER


def is_multi_worker(strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def worker_of(strategy) -> tuple[str | None, int]:
    """(task type, task id) of this process in a multi-worker cluster; (None, 0) for any other strategy."""
    resolver = getattr(strategy, "cluster_resolver", None) if is_multi_worker(strategy) else None
    if resolver is None or resolver.task_type is None:
        return None, 0
    return resolver.task_type, int(resolver.task_id or 0)


def worker_count(strategy) -> int:
    """How many processes (chief + workers) train together: 1 unless multi-worker."""
    if not is_multi_worker(strategy):
        return 1
    spec = strategy.cluster_resolver.cluster_spec()
    return sum(spec.num_tasks(job) for job in spec.jobs if job in ("chief", "worker"))


def is_chief(strategy) -> bool:
    """True for the process that writes (checkpoints, logs, samples, exports, W&B): the "chief" task, or
    worker 0 of a cluster without one; True for every strategy other than multi-worker."""
    kind, index = worker_of(strategy)
    if kind is None:
        return True
    return chief_task(strategy.cluster_resolver.cluster_spec().jobs, kind, index)


def chief_task(jobs, kind: str, index: int) -> bool:
    """Whether task (kind, index) of a cluster with these job names is the chief: the "chief" task, or
    worker 0 when there is no chief job."""
    return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in jobs)


def worker_label(strategy) -> str:
    """'worker 1' / 'chief 0' (empty for a one-process strategy): how this process prefixes what it prints."""
    kind, index = worker_of(strategy)
    return "" if kind is None else f"{kind} {index}"


class WorkerSync:
    """Small agreements between the workers of a multi-worker run, outside the training step.

    `gather(values)` -> [workers' replicas, len(values)] array: every replica's copy of its
    process's float values, in global replica order (row 0 is the chief's). One collective
    (all-gather); every worker must call it at the same point. On any other strategy it is
    one row, this process's values, and no collective runs.
    """

    def __init__(self, strategy):
        self.strategy = strategy
        self.active = is_multi_worker(strategy) and worker_count(strategy) > 1
        self._fn = None

    def gather(self, values):
        import numpy as np

        row = np.asarray([list(values)], dtype=np.float64)
        if not self.active:
            return row
        if self._fn is None:
            strategy = self.strategy

            @tf.function
            def gather(x):
                per_replica = strategy.run(lambda: tf.identity(x))
                return strategy.gather(per_replica, axis=0)

            self._fn = gather
        return np.asarray(self._fn(tf.constant(row)))

    def chief_values(self, values):
        """The chief's `values` (the same list on every worker)."""
        return [float(v) for v in self.gather(values)[0]]

    def any(self, flags) -> list[bool]:
        """Per position: True if that flag is set on any worker."""
        return [bool(v) for v in self.gather([float(bool(f)) for f in flags]).max(axis=0)]
