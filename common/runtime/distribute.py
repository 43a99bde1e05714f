"""Picking a tf.distribute strategy: Kaggle's 2xT4 (mirrored), Kaggle/Colab TPUs, or one device."""

from __future__ import annotations

import logging
import os

import tensorflow as tf

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


def _tpu_resolver():
    if not (os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_ACCELERATOR_TYPE")):
        return None
    try:
        return tf.distribute.cluster_resolver.TPUClusterResolver()
    except (ValueError, RuntimeError):
        return None


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """auto | default | mirrored | tpu.

    mirrored uses every GPU; on a machine without GPUs it uses every logical CPU
    device (how the tests check two-replica training on CPU).
    """
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
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()
