"""Where a ResNet CycleGAN training step spends its time, op type by op type, beside PyTorch's reference step.

    python -m benchmarks.profile_step                              # 256 px, float32, ours only
    python -m benchmarks.profile_step --torch-python /path/to/torch-venv/bin/python --mixed-precision on

Ours: the model benchmarks.train_step builds (night2day.models + CycleGAN, the preset's Adam, slots built
before the first step as training builds them) runs --warmup steps through `fit`, then --steps more under
TensorFlow's profiler; the trace (the .xplane.pb file TensorBoard would read) is summed per op type over
the executor's threads. PyTorch's reference step (benchmarks/torch_cyclegan.py's networks and step) runs
the same way under torch.profiler, summed per aten op (self time). Both tables give seconds per step;
"busy" is the sum over ops, which exceeds the step's wall time when ops run side by side (TensorFlow runs
independent ops on its inter-op threads at once, PyTorch's eager step one op after another).

It answers what benchmarks.train_step's ratio is made of: on a 2-core AVX-512 CPU at 256 px both steps
are ~90% convolution kernels (oneDNN's, in both frameworks) of the same shapes.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TORCH_SCRIPT = Path(__file__).resolve().parent / "torch_cyclegan.py"

# op types of both frameworks, grouped so the two tables can be read side by side
GROUPS = {
    "conv forward": ("Conv2D", "FusedConv2D", "PadWithConv2D", "aten::mkldnn_convolution", "aten::_convolution",
                     "aten::convolution"),
    "conv backward": ("Conv2DBackpropFilter", "Conv2DBackpropInput", "Conv2DBackpropFilterWithBias",
                      "aten::convolution_backward"),
}


def group_of(op: str) -> str:
    name = op.replace("_MklNative", "").replace("_Mkl", "").lstrip("_")
    for group, members in GROUPS.items():
        if name in members or op in members:
            return group
    return "other"


def summarise_xplane(logdir: str) -> tuple[dict, float]:
    """({op type: [seconds, count]} summed over the TensorFlow executor's threads, the seconds from their first op's
    start to their last op's end) of the newest trace in logdir."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    files = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))
    if not files:
        raise RuntimeError(f"no profiler trace under {logdir}")
    space = xplane_pb2.XSpace()
    space.ParseFromString(Path(files[-1]).read_bytes())
    ops = collections.defaultdict(lambda: [0.0, 0])
    starts, ends = [], []
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):  # the executor's threads (not Python's, not tf.data's)
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" in name and "::" not in name:  # "<node name>:<op type>"
                    entry = ops[name.rsplit(":", 1)[1]]
                    entry[0] += event.duration_ps / 1e12
                    entry[1] += 1
                    start = line.timestamp_ns * 1000 + event.offset_ps
                    starts.append(start)
                    ends.append(start + event.duration_ps)
    return dict(ops), ((max(ends) - min(starts)) / 1e12 if starts else 0.0)


def run_ours(config: dict) -> dict:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import numpy as np
    import tensorflow as tf

    from benchmarks.train_step import _build
    from common.runtime.distribute import graph_optimizer, mixed_precision_policy

    graph_optimizer("auto")  # as training sets it
    size, steps = int(config["image_size"]), int(config["steps"])
    keras.utils.set_random_seed(0)
    if config["mixed_precision"]:
        keras.mixed_precision.set_global_policy(mixed_precision_policy())
    model = _build({"model": "resnet", "image_size": size, "batch_size": 1, "xla": False,
                    "mixed_precision": config["mixed_precision"], "filters": config.get("filters"),
                    "res_blocks": config.get("res_blocks")})
    rng = np.random.default_rng(0)
    x, y = (rng.uniform(-1.0, 1.0, (1, size, size, 3)).astype("float32") for _ in range(2))
    dataset = tf.data.Dataset.from_tensors((x, y)).repeat()
    model.fit(dataset, epochs=1, steps_per_epoch=int(config["warmup"]), verbose=0)
    with tempfile.TemporaryDirectory() as logdir:
        start = time.perf_counter()
        tf.profiler.experimental.start(logdir)
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)  # the traced train function, reused
        python_wall = time.perf_counter() - start  # fit's own overhead and the profiler's collection included
        tf.profiler.experimental.stop()
        ops, span = summarise_xplane(logdir)
    # the step's time: from the executor's first op to its last (Python's wall time around fit adds ~9 s of the
    # profiler's bookkeeping at 256 px)
    return {"wall_seconds": span / steps, "python_wall_seconds": python_wall / steps,
            "ops": {k: [s / steps, c // steps] for k, (s, c) in ops.items()}}


TORCH_WORKER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import torch_cyclegan
config = json.loads(sys.argv[2])
print(json.dumps(torch_cyclegan.profile(config)))
"""


def run_torch(config: dict, python: str) -> dict:
    out = subprocess.run([python, "-c", TORCH_WORKER, str(TORCH_SCRIPT.parent), json.dumps(config)],
                         capture_output=True, text=True, timeout=3600)
    if out.returncode:
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"the PyTorch worker failed: {tail}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(title: str, result: dict, top: int) -> str:
    ops, wall = result["ops"], result["wall_seconds"]
    busy = sum(s for s, _ in ops.values())
    lines = [f"{title}: {wall:.3f} s/step (first op to last), {busy:.3f} s/step busy in ops"]
    groups = collections.defaultdict(float)
    for op, (seconds, _) in ops.items():
        groups[group_of(op)] += seconds
    for group in ("conv forward", "conv backward", "other"):
        share = groups[group] / busy if busy else 0.0
        lines.append(f"  {group:14s} {groups[group]:8.3f} s  {share:6.1%}")
    lines.append(f"  {'op':40s} {'s/step':>8s} {'calls':>6s}")
    for op, (seconds, count) in sorted(ops.items(), key=lambda kv: -kv[1][0])[:top]:
        lines.append(f"  {op[:40]:40s} {seconds:8.3f} {count:6d}")
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile_step",
                                description=__doc__.split("\n\n")[0].strip(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image-size", type=int, default=256, help="pixels (default 256, the preset's)")
    p.add_argument("--mixed-precision", choices=["off", "on"], default="off",
                   help="on: mixed_bfloat16 (ours), bfloat16 autocast (torch) on a CPU")
    p.add_argument("--steps", type=int, default=1, help="profiled steps (default 1)")
    p.add_argument("--warmup", type=int, default=2, help="unprofiled steps first (default 2)")
    p.add_argument("--filters", type=int, default=None, help="override the base filters (small test runs)")
    p.add_argument("--res-blocks", type=int, default=None, help="override the residual blocks")
    p.add_argument("--top", type=int, default=15, help="op types listed per table (default 15)")
    p.add_argument("--torch-python", metavar="PATH", help="an interpreter with torch: profile the reference too")
    p.add_argument("--json", metavar="FILE", help="also write both summaries here")
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 1 or args.image_size < 16:
        p.error("--steps and --warmup must be at least 1, --image-size at least 16")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    config = {"image_size": args.image_size, "mixed_precision": args.mixed_precision == "on",
              "steps": args.steps, "warmup": args.warmup, "filters": args.filters, "res_blocks": args.res_blocks}
    results = {"ours": run_ours(config)}
    print(table("ours (TensorFlow)", results["ours"], args.top), flush=True)
    if args.torch_python:
        torch_config = {k: v for k, v in config.items() if v is not None}
        results["torch"] = run_torch(torch_config, args.torch_python)
        print(table("PyTorch reference", results["torch"], args.top))
        print(f"ours / torch: {results['ours']['wall_seconds'] / results['torch']['wall_seconds']:.2f}x wall")
    if args.json:
        Path(args.json).write_text(json.dumps({"config": config, **results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
