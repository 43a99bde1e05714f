"""Every real model: a few training steps on two logical CPU replicas vs one device, same global batch.

Run as a subprocess (`python -m tests.common.two_replica_models MODEL ...`): the logical devices must
exist before TensorFlow initialises. For each model both copies start from the same weights and
train through `fit` on the task's own pipeline (the mirrored one through `common.replicas.for_replicas`,
as the runtime feeds it); every variable the checkpoint holds (weights, optimizer slots, EMA copies,
counters, ADA's p, the path-length mean, w_avg, BatchNorm statistics) is compared. Prints one JSON
line per model: {"model", "replicas", "steps", "max_abs_diff", "worst", "changed", "losses_diff"}.
"""

import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

from tests.common.logical_cpus import cpu_mirrored_strategy, split_cpu  # noqa: E402

split_cpu(2)

import keras  # noqa: E402

from common.replicas import for_replicas  # noqa: E402
from common.runtime.checkpoint import keyed_variables  # noqa: E402
from tests.common.variable_groups import relative_diffs  # noqa: E402

# models compared in float64: at test size the multi-scale CycleGAN is so ill-conditioned that float32
# rounding (sums in another order) moves its first step's Adam moments by 2-15%, which says nothing about
# the distribution; in float64 the same rounding is 1e-13 and any real difference (a gradient off by a
# factor, a statistic of one replica's share) stays as large as it is
FLOAT64 = {"night2day-multiscale"}
from tests.common.tiny_models import COMMON, MODELS, task_and_parser as _task  # noqa: E402


def _values(model):
    return {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v, dtype=np.float64)
            for k, v in keyed_variables(model).items()}


def compare(name, steps_override=None):
    task_name, flags, steps = MODELS[name]
    steps = steps_override or steps
    task, parse_config = _task(task_name)
    with tempfile.TemporaryDirectory() as out:
        config = parse_config([*COMMON, *flags, "--out", out])
        task.prepare(config)
        keras.utils.set_random_seed(0)
        single = task.build_model(config)
        single.build_optimizers()
        start = keyed_variables(single)
        strategy = cpu_mirrored_strategy()
        with strategy.scope():
            mirrored = task.build_model(config)
            mirrored.build_optimizers()
            for key, v in keyed_variables(mirrored).items():
                v.assign(np.asarray(start[key]))
        before = _values(single)
        dataset = task.dataset(config, start_step=0)
        logs_one = single.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False).history
        logs_two = mirrored.fit(for_replicas(dataset, strategy.num_replicas_in_sync), epochs=1,
                                steps_per_epoch=steps, verbose=0, shuffle=False).history
    a, b = _values(single), _values(mirrored)
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))
    diffs = {k: float(np.max(np.abs(a[k] - b[k]))) if a[k].size else 0.0 for k in a}
    relative = relative_diffs(a, b)
    worst = max(diffs, key=diffs.get)
    worst_rel = max(relative, key=relative.get)
    changed = max(float(np.max(np.abs(a[k] - before[k]))) for k in a if a[k].size and k.startswith("network/"))
    losses = max(abs(logs_one[k][-1] - logs_two[k][-1]) for k in logs_one)
    return {"model": name, "replicas": strategy.num_replicas_in_sync, "steps": steps, "variables": len(a),
            "max_abs_diff": diffs[worst], "worst": worst,
            "max_rel_diff": relative[worst_rel], "worst_rel": worst_rel, "changed": changed, "losses_diff": losses}


def main(names):
    names = names or list(MODELS)
    if {n in FLOAT64 for n in names} == {True, False}:
        raise SystemExit("run the float64 models (FLOAT64) in a process of their own: after float32 models have "
                         "trained, the mirrored multi-scale CycleGAN in float64 no longer matches one device")
    for name in names:
        keras.config.set_floatx("float64" if name in FLOAT64 else "float32")
        print(json.dumps(compare(name)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
