"""Replica-aware pieces shared by every GAN: how a global batch maps onto replicas (placeholder, being written)."""

from __future__ import annotations

import tensorflow as tf


def for_replicas(dataset: tf.data.Dataset, replicas: int) -> tf.data.Dataset:
    """The dataset of global batches reordered for `replicas` replicas (identity for one)."""
    return dataset
