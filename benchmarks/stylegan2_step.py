"""Seconds per kimg of StyleGAN2-ADA training (full-size 128-px networks, NVIDIA's --cfg auto settings)
on this machine, with and without XLA, so a GPU figure can be projected and later measured.

    python -m benchmarks.stylegan2_step                        # batch 4, XLA off and on, 2 timed steps each
    python -m benchmarks.stylegan2_step --batch-size 8 --xla on --mixed-precision off,on --repeats 2
    python -m benchmarks.stylegan2_step --cfg cpu --xla off      # the CPU preset (32 px, batch 8)

A training step is not one cost: every step runs Gmain and Dmain, every 4th adds the path-length
regulariser (Greg) and every 16th R1 (Dreg). Each configuration runs in its own fresh process
(--repeats times, interleaved round by round so the machine's drifting load touches all alike).
A worker builds the networks and the compiled training model exactly as `python -m watches.train
--model stylegan2` does, traces the train function, then times the Keras train function (the path
`fit` takes, on an in-memory batch) at step counters 1 (main phases only), 4 (+ path length) and
16 (+ path length + R1), --steps times each. Amortised seconds per step = main + (pl - main) / 4 +
(r1 - pl) / 16; seconds per kimg = that * 1000 / batch. The table shows the median over processes.

With --torch-python (a virtualenv holding torch) and --nvidia-repo (a checkout of NVlabs/stylegan2-ada-
pytorch), NVIDIA's own code runs the same phases in the same rounds (benchmarks/torch_stylegan2.py) and
every row gets its time relative to it. PyTorch is never a dependency of ganworks.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def worker(args) -> dict:
    import numpy as np
    import tensorflow as tf

    from common.runtime.config import run_config
    from common.runtime.distribute import graph_optimizer
    from watches.build import StyleGAN2Options, build_gan
    from watches.stylegan2 import trainable_count

    # the sizes given (batch and image size on the command line; the test's tiny networks as attributes the
    # command line does not set) over the --cfg's
    sizes = {k: getattr(args, k) for k in ("batch_size", "image_size") if getattr(args, k) is not None}
    sizes.update({k: getattr(args, k) for k in ("channel_base", "channel_max", "w_dim", "latent_dim")
                  if getattr(args, k, None)})
    config = run_config(StyleGAN2Options, "watches", cfg=getattr(args, "cfg", "auto"), **sizes,
                        jit_compile=args.xla, mixed_precision=args.mixed_precision == "on",
                        graph_optimizer=args.graph_optimizer)
    graph = graph_optimizer(config["graph_optimizer"])  # as training sets it
    args.batch_size, args.image_size = config["batch_size"], config["image_size"]
    started = time.perf_counter()
    if config["mixed_precision"]:
        import keras

        from common.runtime.distribute import mixed_precision_policy
        keras.mixed_precision.set_global_policy(mixed_precision_policy())
    model = build_gan(config)
    real = tf.random.stateless_uniform([args.batch_size, args.image_size, args.image_size, 3], [0, 1], -1, 1)
    iterator = iter(tf.data.Dataset.from_tensors(real).repeat())
    model.make_train_function()
    train_function = model.train_function

    def step_at(counter):
        model.global_step.assign(counter)
        t = time.perf_counter()
        logs = train_function(iterator)
        float(logs["g_loss"])  # wait for the step
        return time.perf_counter() - t

    built = time.perf_counter() - started
    # a run's first step is step 0, where every phase is due: the all-phases function, as at counter 16
    first = step_at(16)
    for counter in (1, 4):  # trace (and with XLA compile) the other sets of phases
        step_at(counter)
    setup = time.perf_counter() - started
    times = {kind: float(np.median([step_at(counter) for _ in range(args.steps)]))
             for kind, counter in (("main", 1), ("pl", 4), ("r1", 16))}
    per_step = times["main"] + (times["pl"] - times["main"]) / 4 + (times["r1"] - times["pl"]) / 16
    g = trainable_count(model.networks["mapping"]) + trainable_count(model.networks["synthesis"])
    return {"xla": args.xla, "mixed_precision": args.mixed_precision, "graph_optimizer": graph,
            "batch": args.batch_size, "build_s": built, "first_step_s": first,
            "size": args.image_size, **{f"s_{k}": v for k, v in times.items()}, "s_per_step": per_step,
            "s_per_kimg": per_step * 1000 / args.batch_size, "setup_s": setup, "g_params": g,
            "d_params": trainable_count(model.networks["discriminator"])}


def _label(row) -> str:
    if row["xla"] == "torch":
        return "NVIDIA PyTorch"
    return f"ours (XLA {row['xla']}, mixed {row['mixed_precision']}, graph optimizer {row['graph_optimizer']})"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.stylegan2_step", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", default="auto", choices=["auto", "cpu"], help="the watches.train --cfg (auto)")
    p.add_argument("--batch-size", type=int, default=None, help="(4 with --cfg auto, else the cfg's)")
    p.add_argument("--image-size", type=int, default=None, help="(the cfg's: 128 auto, 32 cpu)")
    p.add_argument("--xla", default="off,on", help="off, on or both (off,on)")
    p.add_argument("--mixed-precision", default="off", help="off, on or both (off,on)")
    p.add_argument("--graph-optimizer", default="auto",
                   help="watches.train's --graph-optimizer: auto, on, off or a list (auto)")
    p.add_argument("--steps", type=int, default=2, help="timed steps of each kind per process (2)")
    p.add_argument("--repeats", type=int, default=1, help="processes per configuration (1)")
    p.add_argument("--torch-python", metavar="PYTHON", help="an interpreter with torch, for NVIDIA's reference")
    p.add_argument("--nvidia-repo", metavar="DIR", help="a checkout of NVlabs/stylegan2-ada-pytorch")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.batch_size is None and args.cfg == "auto":
        args.batch_size = 4
    if args.worker:
        print(json.dumps(worker(args)), flush=True)
        return 0
    if bool(args.torch_python) != bool(args.nvidia_repo):
        p.error("--torch-python and --nvidia-repo go together")
    if args.torch_python and args.cfg != "auto":
        p.error("NVIDIA's reference (--torch-python) runs --cfg auto's networks only")
    configs = [(x, m, g) for x in args.xla.split(",") for m in args.mixed_precision.split(",")
               for g in args.graph_optimizer.split(",")]
    if args.torch_python:
        configs.append(("torch", "off", "-"))
    results = {c: [] for c in configs}
    sizes = ["--steps", str(args.steps), *(["--batch-size", str(args.batch_size)] if args.batch_size else []),
             *(["--image-size", str(args.image_size)] if args.image_size else [])]
    for round_ in range(args.repeats):
        for xla, mp, graph in configs:
            if xla == "torch":
                cmd = [args.torch_python, os.path.join(os.path.dirname(__file__), "torch_stylegan2.py"),
                       "--repo", args.nvidia_repo, *sizes]
            else:
                cmd = [sys.executable, "-m", "benchmarks.stylegan2_step", "--worker", "--cfg", args.cfg, "--xla", xla,
                       "--mixed-precision", mp, "--graph-optimizer", graph, *sizes]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"xla {xla}, mixed precision {mp}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            results[(xla, mp, graph)].append(row)
            who = "NVIDIA's PyTorch code" if xla == "torch" else \
                f"xla {xla}, mixed precision {mp}, graph optimizer {row['graph_optimizer']}"
            print(f"round {round_ + 1}: {who}: {row['s_per_kimg']:.0f} s/kimg, first step {row['first_step_s']:.1f} s",
                  flush=True)
    import numpy as np

    first = next((runs[0] for (xla, _, _), runs in results.items() if runs and xla != "torch"), None)
    if first is not None:
        print(f"\nStyleGAN2-ADA --cfg {args.cfg}, {first['size']} px (G {first['g_params']:,} / "
              f"D {first['d_params']:,} parameters), batch {first['batch']}, {os.cpu_count()} CPU cores; medians over {args.repeats} "
              "process(es); 1st s: the first step (step 0: every phase; tracing included, building not)")
    print(f"{'XLA':>5} {'mixed':>6} {'graph':>6} {'main s':>8} {'+PL s':>8} {'+R1 s':>8} {'s/step':>8} {'s/kimg':>9} "
          f"{'1st s':>7}")
    rows = []
    for (xla, mp, _), runs in results.items():
        if not runs:
            continue
        med = {k: float(np.median([r[k] for r in runs])) for k in ("s_main", "s_pl", "s_r1", "s_per_step",
                                                                    "s_per_kimg", "first_step_s")}
        graph = runs[0].get("graph_optimizer", "-")
        rows.append({"xla": xla, "mixed_precision": mp, "graph_optimizer": graph,
                     "batch": runs[0].get("batch", args.batch_size), **med, "runs": runs})
        print(f"{xla:>5} {mp:>6} {graph:>6} {med['s_main']:8.2f} {med['s_pl']:8.2f} {med['s_r1']:8.2f} "
              f"{med['s_per_step']:8.2f} {med['s_per_kimg']:9.0f} {med['first_step_s']:7.1f}")
    reference = next((r for r in rows if r["xla"] == "torch"), rows[0] if rows else None)
    for r in rows:
        if r is not reference:
            print(f"{_label(r)} / {_label(reference)}: {r['s_per_kimg'] / reference['s_per_kimg']:.2f}x the time, "
                  f"first step {r['first_step_s'] / reference['first_step_s']:.2f}x")
    print("NVIDIA's README: 12.8-13.7 s/kimg at 128 px on one Tesla V100 (batch 32, its custom CUDA ops).")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
