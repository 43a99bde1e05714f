"""How far apart two trainings' variables are, relative to the scale of each variable's group.

Groups: a network's weights, one optimizer slot kind (Adam's second moments are ~1e-8, weights ~1), or
one piece of model state. Pooled, because a variable whose true gradient is 0 (a conv bias before a norm,
an attention key bias) gets rounding noise that Adam turns into +-lr steps; a gradient off by a factor
shows in its group's moments.
"""

from __future__ import annotations

import numpy as np


def group(key):
    """network/<net> | optimizer/<name>:<slot> | the key itself (model state)."""
    parts = key.split("/")
    if parts[0] == "network":
        return "/".join(parts[:2])
    if parts[0] == "optimizer":
        return f"{parts[1]}:{key.rsplit(':', 1)[-1]}" if ":" in key else key
    return key


def relative_diffs(a, b):
    """{key: max |a - b| / (largest |a| in the key's group)} over the keys of `a` (which `b` must share)."""
    assert sorted(a) == sorted(b), sorted(set(a) ^ set(b))
    diffs = {k: float(np.max(np.abs(np.asarray(a[k], np.float64) - b[k]))) if a[k].size else 0.0 for k in a}
    scale = {}
    for k in a:
        scale[group(k)] = max(scale.get(group(k), 0.0), float(np.max(np.abs(a[k]))) if a[k].size else 0.0)
    return {k: diffs[k] / max(scale[group(k)], 1e-30) for k in a}
