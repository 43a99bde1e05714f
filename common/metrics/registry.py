"""Metrics by name, over features from the shared extractor (StyleGAN2-ADA's metric_main style).

A metric is a function ``(real, fake, **options) -> dict`` where ``real`` and ``fake``
are feature dicts {"pool": [N, D], "logits": [N, K]}; adding one is writing one
decorated function. Options carry the metric's prefix (``kid_subset_size``, ``pr_k``) so
one set of keyword arguments can configure every metric; each metric takes the ones its
signature names. Every result dict carries the sample counts it was computed from.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

from common.metrics import fid, inception_score, kid, precision_recall


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable[..., dict]
    description: str
    values: tuple[str, ...]  # headline keys of the result; "<key>_std" is its spread if present


_METRICS: dict[str, Metric] = {}


def register_metric(name: str, description: str, values: tuple[str, ...] | None = None):
    """Decorator: make ``fn(real, fake, **options) -> dict`` available as ``name``."""

    def register(fn):
        _METRICS[name] = Metric(name, fn, description, values or (name,))
        return fn

    return register


def list_metrics() -> list[str]:
    return sorted(_METRICS)


def get_metric(name: str) -> Metric:
    try:
        return _METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}; available: {', '.join(list_metrics())}") from None


def metric_options() -> set[str]:
    """Every option name some registered metric takes."""
    return {p for m in _METRICS.values() for p in list(inspect.signature(m.fn).parameters)[2:]}


def compute_metric(name: str, real: dict, fake: dict, **options) -> dict:
    """Run metric ``name``; options it does not take (other metrics' options) are ignored."""
    fn = get_metric(name).fn
    accepted = inspect.signature(fn).parameters
    return fn(real, fake, **{k: v for k, v in options.items() if k in accepted})


@register_metric("fid", "Fréchet Inception Distance (lower is better)")
def _fid(real, fake):
    return fid.fid_from_features(real["pool"], fake["pool"]).as_dict()


@register_metric("kid", "Kernel Inception Distance, mean and std over subsets (lower is better)")
def _kid(real, fake, kid_subsets: int = 100, kid_subset_size: int = 1000):
    return kid.kid_from_features(real["pool"], fake["pool"], num_subsets=kid_subsets, subset_size=kid_subset_size)


@register_metric("is", "Inception Score of the generated images, mean and std over 10 splits (higher is better)")
def _is(real, fake, is_splits: int = 10):
    if "logits" not in fake:
        raise ValueError("the Inception Score needs classifier logits, which this extractor does not produce")
    return inception_score.inception_score(fake["logits"], splits=is_splits)


@register_metric(
    "pr",
    "Improved precision (realism) and recall (coverage), k-NN manifolds (higher is better)",
    values=("precision", "recall"),
)
def _pr(real, fake, pr_k: int = 3):
    return precision_recall.precision_recall(real["pool"], fake["pool"], k=pr_k)
