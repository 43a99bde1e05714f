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

# models compared in float64: at test size the multi-scale CycleGAN is so ill-conditioned that float32
# rounding (sums in another order) moves its first step's Adam moments by 2-15%, which says nothing about
# the distribution; in float64 the same rounding is 1e-13 and any real difference (a gradient off by a
# factor, a statistic of one replica's share) stays as large as it is
FLOAT64 = {"night2day-multiscale"}
COMMON = ["--data", "demo", "--wandb", "disabled", "--seed", "3", "--jit-compile", "off"]
# tiny versions of the five models (six presets); each global batch splits into two replicas' shares
MODELS = {
    "night2day-resnet": ("night2day", ["--model", "resnet", "--image-size", "16", "--filters", "4", "--res-blocks",
                                       "1", "--batch-size", "2", "--history-pool", "0"], 2),
    # in float64 (FLOAT64)
    "night2day-multiscale": ("night2day", ["--model", "multiscale", "--image-size", "32", "--filters", "2",
                                           "--batch-size", "2"], 2),
    "inpainting-improved": ("inpainting", ["--model", "improved", "--image-size", "32", "--filters", "4",
                                           "--bottleneck", "8", "--batch-size", "4", "--mask", "random-block"], 2),
    "inpainting-context-encoder": ("inpainting", ["--model", "context-encoder", "--image-size", "32", "--filters",
                                                  "4", "--bottleneck", "8", "--batch-size", "4"], 2),
    # label smoothing, 10% flips, instance noise and an EMA generator: every per-image draw and the EMA
    "watches-dcgan": ("watches", ["--model", "dcgan", "--image-size", "16", "--filters", "4", "--batch-size", "4",
                                  "--instance-noise", "0.1", "--g-ema-kimg", "0.01"], 3),
    # step 0 runs all four phases (path length, R1) and an ADA adjustment; step 1 the main phases only;
    # ADA starts at p 0.5 so the augmentations act; minibatch-std groups of 2 within each replica's 2
    "watches-stylegan2": ("watches", ["--model", "stylegan2", "--image-size", "16", "--batch-size", "4",
                                      "--channel-base", "64", "--channel-max", "8", "--w-dim", "8", "--latent-dim",
                                      "8", "--mbstd-group", "2", "--augment-p", "0.5"], 2),
}


def _task(name):
    if name == "night2day":
        from night2day.task import Night2DayTask
        from night2day.train import parse_config
        return Night2DayTask(), parse_config
    if name == "inpainting":
        from inpainting.task import InpaintingTask
        from inpainting.train import parse_config
        return InpaintingTask(), parse_config
    from watches.task import WatchesTask
    from watches.train import parse_config
    return WatchesTask(), parse_config


def _values(model):
    return {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v, dtype=np.float64)
            for k, v in keyed_variables(model).items()}


def group(key):
    """network/<net> | optimizer/<name>:<slot> | the key itself (model state)."""
    parts = key.split("/")
    if parts[0] == "network":
        return "/".join(parts[:2])
    if parts[0] == "optimizer":
        return f"{parts[1]}:{key.rsplit(':', 1)[-1]}" if ":" in key else key
    return key


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
    # relative to the scale of the variable's group: a network's weights, one optimizer slot kind (Adam's
    # second moments are ~1e-8, weights ~1), or one piece of model state. Pooled, because a variable whose
    # true gradient is 0 (a conv bias before a norm, an attention key bias) gets rounding noise that Adam
    # turns into +-lr steps; a gradient off by a factor shows in its group's moments.
    scale = {}
    for k in a:
        scale[group(k)] = max(scale.get(group(k), 0.0), float(np.max(np.abs(a[k]))) if a[k].size else 0.0)
    relative = {k: diffs[k] / max(scale[group(k)], 1e-30) for k in a}
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
