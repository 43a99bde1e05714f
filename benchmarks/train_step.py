"""Seconds per training step of every night2day CycleGAN, beside the PyTorch reference CycleGAN.

    python -m benchmarks.train_step                          # everything: both models x sizes x XLA x precision
    python -m benchmarks.train_step --models resnet --sizes 128 --xla off,on --mixed-precision off \\
        --repeats 3 --steps 5 --torch-python /path/to/torch-venv/bin/python
    python -m benchmarks.train_step --env TF_NUM_INTEROP_THREADS=1 --env OMP_NUM_THREADS=2 --json out.json

Each configuration (model, image size, batch, XLA on/off, mixed precision on/off) is timed in
its own fresh process, --repeats times: identical processes on one machine settle at
different, discrete speeds (1.7, 2.6 or 3.4 s for the same ResNet step at 128 px), so one
process says little. The processes of all configurations are interleaved (round after round)
so that a change in the machine's load touches every configuration alike. A worker builds
the model from night2day.models and night2day.cycle_gan.CycleGAN, compiles it as its preset
trains (ResNet: four Adam(2e-4, beta_1 0.5); multi-scale: generators Adam(5e-5), discriminators
Adam(1e-4) with the legacy 6e-8 inverse-time decay; mixed precision is what `--mixed-precision
true` trains with: mixed_float16 with each optimizer in a LossScaleOptimizer on a GPU,
mixed_bfloat16 (no loss scaling) on a CPU), then runs `model.fit` on a repeated in-memory batch -- the path and cost
of real training, minus reading images -- for --warmup steps (tracing, XLA compilation; not
timed) plus --steps timed steps, and prints one JSON line. The process's number is the median
of its steps; the table shows the median over processes and their min-max spread.

The PyTorch reference step (benchmarks/torch_cyclegan.py: the reference CycleGAN's ResNet
generators and 70x70 PatchGANs, one Adam over both generators, one over both discriminators)
runs the same way for every ResNet size and batch, in float32 and, for the mixed-precision rows,
under torch.autocast("cpu", bfloat16); each ResNet row gets the ratio ours / torch of seconds per
step against the torch row of the same precision (above 1: ours is slower). PyTorch is optional and never a
dependency of ganworks: point --torch-python at an interpreter that has it (a separate venv);
without torch the table says so.

The environment passes through to every worker (thread settings such as
TF_NUM_INTEROP_THREADS, TF_NUM_INTRAOP_THREADS, OMP_NUM_THREADS, TF_ENABLE_ONEDNN_OPTS);
--env KEY=VALUE adds or overrides variables for the workers only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TORCH_SCRIPT = Path(__file__).resolve().parent / "torch_cyclegan.py"
TORCH_MISSING = "torch not installed (pip install torch==2.13.0 into a separate venv; see --torch-python)"

# What each preset trains with (night2day.build.PRESETS; SPEC section 1), restated here so that
# the benchmark builds from night2day.models + CycleGAN alone.
PRESETS = {
    "resnet": {"image_size": 256, "batch_size": 1, "filters": 64, "res_blocks": 9, "weight_init": "normal",
               "lr_g": 2e-4, "lr_d": 2e-4, "beta_1": 0.5, "beta_2": 0.999, "inverse_time_decay": 0.0,
               "cycle_weight": 10.0, "identity_weight": 5.0},
    "multiscale": {"image_size": 256, "batch_size": 4, "filters": 16, "kernel_size": 5, "fusion_kernel": 16,
                   "lr_g": 5e-5, "lr_d": 1e-4, "beta_1": 0.9, "beta_2": 0.999, "inverse_time_decay": 6e-8,
                   "cycle_weight": 10.0, "identity_weight": 0.5},
}

ENV_SHOWN = ("TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "TF_ENABLE_ONEDNN_OPTS", "TF_XLA_FLAGS", "XLA_FLAGS", "KMP_AFFINITY", "KMP_BLOCKTIME",
             "TF_CPP_MIN_LOG_LEVEL", "CUDA_VISIBLE_DEVICES")


# ---- worker: one measurement in this process ---------------------------------------------------------

def _max_rss_mb():
    try:
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    except (ImportError, OSError):
        return None


def _build(config):
    """The compiled CycleGAN of a worker config (call under the precision policy wanted)."""
    import keras

    from common.runtime.distribute import needs_loss_scaling
    from common.runtime.optimizers import Adam
    from night2day import models
    from night2day.cycle_gan import CycleGAN

    name, size = config["model"], config["image_size"]
    p = {**PRESETS[name], **{k: v for k, v in config.items() if k in ("filters", "res_blocks") and v}}
    if name == "resnet":
        def gen(n):
            return models.resnet_generator(size, filters=p["filters"], res_blocks=p["res_blocks"],
                                           weight_init=p["weight_init"], name=n)

        def disc(n):
            return models.patch_discriminator(size, filters=p["filters"], weight_init=p["weight_init"], name=n)
    else:
        def gen(n):
            return models.multiscale_generator(size, filters=p["filters"], kernel_size=p["kernel_size"],
                                               fusion_kernel=p["fusion_kernel"], name=n)

        def disc(n):
            return models.multiscale_discriminator(size, filters=p["filters"], kernel_size=p["kernel_size"], name=n)

    model = CycleGAN(gen("generator_g"), gen("generator_f"), disc("discriminator_x"), disc("discriminator_y"))

    def adam(lr):
        if p["inverse_time_decay"]:  # legacy Adam(decay=rate): lr / (1 + rate * iteration)
            lr = keras.optimizers.schedules.InverseTimeDecay(lr, decay_steps=1, decay_rate=p["inverse_time_decay"])
        opt = Adam(lr, beta_1=p["beta_1"], beta_2=p["beta_2"])  # training's Adam (fused update kernel)
        return keras.optimizers.LossScaleOptimizer(opt) if needs_loss_scaling() else opt

    model.compile(g_optimizer=adam(p["lr_g"]), f_optimizer=adam(p["lr_g"]), dx_optimizer=adam(p["lr_d"]),
                  dy_optimizer=adam(p["lr_d"]), cycle_weight=p["cycle_weight"],
                  identity_weight=p["identity_weight"], jit_compile=bool(config["xla"]))
    # as training does (common.runtime.trainer): the optimizers' slots exist before the first step. Created
    # inside the first step's trace instead, the 336 slot variables took 5.3 s of it (16 ms each, 1 ms eagerly).
    model.build_optimizers()
    return model


def run_keras(config: dict) -> dict:
    """Build, compile and `fit` warmup + steps steps; the per-step wall times from a callback."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import numpy as np
    import tensorflow as tf

    steps, warmup = int(config["steps"]), int(config["warmup"])
    size, batch = int(config["image_size"]), int(config["batch_size"])
    keras.utils.set_random_seed(0)
    from common.runtime.distribute import graph_optimizer, mixed_precision_policy

    graph = graph_optimizer(config.get("graph_optimizer", "auto"))  # as training sets it
    previous = keras.mixed_precision.global_policy()
    if config["mixed_precision"]:  # what --mixed-precision true trains with: float16 on a GPU, bfloat16 elsewhere
        keras.mixed_precision.set_global_policy(mixed_precision_policy())
    try:
        start = time.perf_counter()
        model = _build(config)
        build_seconds = time.perf_counter() - start

        rng = np.random.default_rng(0)
        low = -1.0 if config["model"] == "resnet" else 0.0  # ResNet works in [-1, 1], multi-scale in [0, 1]
        x = rng.uniform(low, 1.0, (batch, size, size, 3)).astype("float32")
        y = rng.uniform(low, 1.0, (batch, size, size, 3)).astype("float32")
        dataset = tf.data.Dataset.from_tensors((x, y)).repeat().prefetch(2)

        class StepTimer(keras.callbacks.Callback):
            """Wall time between consecutive step ends (the logs arrive as Python floats: the step is done)."""

            def on_train_begin(self, logs=None):
                self.ends = [time.perf_counter()]
                self.last = {}

            def on_train_batch_end(self, batch, logs=None):
                self.ends.append(time.perf_counter())
                self.last = dict(logs or {})

        timer = StepTimer()
        model.fit(dataset, epochs=1, steps_per_epoch=warmup + steps, verbose=0, callbacks=[timer])
    finally:
        keras.mixed_precision.set_global_policy(previous)

    times = [b - a for a, b in zip(timer.ends, timer.ends[1:])]
    if len(times) != warmup + steps:
        raise RuntimeError(f"fit ran {len(times)} steps, expected {warmup + steps}")
    timed = times[warmup:]
    median = statistics.median(timed)
    g_total = timer.last.get("g_total")
    return {
        "seconds_per_step": median, "step_seconds": timed, "warmup_seconds": times[:warmup],
        "images_per_second": batch / median, "build_seconds": build_seconds, "graph_optimizer_in_use": graph,
        "params": {n: int(net.count_params()) for n, net in model.networks.items()},
        "last_g_total": None if g_total is None else float(g_total),
        "tensorflow_version": tf.__version__, "keras_version": keras.__version__,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "max_rss_mb": _max_rss_mb(),
    }


def worker(config_json: str) -> int:
    """Print one JSON line: the config plus its result, or plus {"error": one line}. Exit 0 / 1."""
    config = json.loads(config_json)
    try:
        result = run_keras(config)
    except Exception as exc:  # the table shows one line instead of a traceback
        text = str(exc).strip()
        line = text.splitlines()[0] if text else ""
        print(json.dumps({**config, "error": f"{type(exc).__name__}: {line}"[:300]}), flush=True)
        return 1
    print(json.dumps({**config, **result}), flush=True)
    return 0


# ---- driver: fresh processes, summary table ------------------------------------------------------------

def _csv(text, allowed=None, what="value"):
    items = [t.strip().lower() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"empty {what} list")
    if allowed is not None:
        bad = [t for t in items if t not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {what} {bad}: choose from {', '.join(allowed)}")
    return list(dict.fromkeys(items))


def _sizes(text):
    items = _csv(text, what="size")
    for t in items:
        if t != "preset" and not (t.isdigit() and int(t) > 0):
            raise argparse.ArgumentTypeError(f"--sizes takes 'preset' and positive integers, got {t!r}")
    return items


def _env_pair(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--env takes KEY=VALUE, got {text!r}")
    return key, value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.train_step", description=__doc__.split("\n\n")[0].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=lambda t: _csv(t, ("resnet", "multiscale"), "model"),
                        default=["resnet", "multiscale"], help="resnet,multiscale (default both)")
    parser.add_argument("--sizes", type=_sizes, default=["preset", "128"],
                        help="'preset' (256 for both) and/or pixel sizes (default preset,128)")
    parser.add_argument("--xla", type=lambda t: _csv(t, ("on", "off"), "--xla value"), default=["off", "on"],
                        help="jit_compile: off,on (default both)")
    parser.add_argument("--mixed-precision", type=lambda t: _csv(t, ("off", "on"), "--mixed-precision value"),
                        default=["off", "on"],
                        help="--mixed-precision true's policy (mixed_float16 on a GPU, mixed_bfloat16 on a CPU; "
                             "torch: bfloat16 autocast on the CPU): off,on (default both)")
    parser.add_argument("--graph-optimizer", type=lambda t: _csv(t, ("auto", "on", "off"), "--graph-optimizer value"),
                        default=["auto"], help="training's --graph-optimizer: auto, on, off or a list (default auto)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per process (default 10)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed steps first: tracing and XLA compilation (default 3)")
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per configuration (default 5)")
    parser.add_argument("--batch-size", type=int, default=None, help="override every preset's batch size")
    parser.add_argument("--filters", type=int, default=None, help="override the base filters (small test runs)")
    parser.add_argument("--res-blocks", type=int, default=None, help="override the ResNet's residual blocks")
    parser.add_argument("--env", type=_env_pair, action="append", default=[], metavar="KEY=VALUE",
                        help="an environment variable for the workers (repeatable)")
    parser.add_argument("--torch-python", default=sys.executable, metavar="PATH",
                        help="interpreter for the PyTorch worker (a venv with torch); default: this one")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before a worker is killed")
    parser.add_argument("--json", metavar="FILE", help="also write every process's result here")
    parser.add_argument("--worker", metavar="JSON", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is None:
        for flag in ("steps", "repeats"):
            if getattr(args, flag) < 1:
                parser.error(f"--{flag} must be at least 1")
        if args.warmup < 0:
            parser.error("--warmup must be non-negative")
    return args


def plan(args) -> list[dict]:
    """The worker configs, Keras ones first, then one PyTorch config per ResNet size run in float32."""
    configs = []
    for model in args.models:
        preset = PRESETS[model]
        sizes = [preset["image_size"] if s == "preset" else int(s) for s in args.sizes]
        for size in dict.fromkeys(sizes):
            for xla in args.xla:
                for mp, graph in itertools.product(args.mixed_precision, args.graph_optimizer):
                    configs.append({
                        "framework": "keras", "model": model, "image_size": size,
                        "batch_size": args.batch_size or preset["batch_size"],
                        "xla": xla == "on", "mixed_precision": mp == "on", "graph_optimizer": graph,
                        "filters": args.filters, "res_blocks": args.res_blocks if model == "resnet" else None,
                        "steps": args.steps, "warmup": args.warmup})
    if not args.no_torch:
        seen = set()
        for c in configs:
            key = (c["image_size"], c["batch_size"])
            key = (*key, c["mixed_precision"])
            if c["model"] == "resnet" and key not in seen:
                seen.add(key)
                torch_config = {"framework": "torch", "model": "resnet", "image_size": c["image_size"],
                                "batch_size": c["batch_size"], "xla": False,
                                "mixed_precision": c["mixed_precision"],
                                "steps": args.steps, "warmup": args.warmup}
                torch_config.update({k: getattr(args, k) for k in ("filters", "res_blocks") if getattr(args, k)})
                configs.append(torch_config)
    return configs


def worker_env(args) -> dict:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("KERAS_BACKEND", "tensorflow")
    env.update(dict(args.env))
    return env


def run_worker(config, args, env) -> dict:
    """One fresh process; its JSON line, or {"error": one line} whatever went wrong."""
    payload = json.dumps(config)
    if config["framework"] == "torch":
        command = [args.torch_python, str(TORCH_SCRIPT), "--worker", payload]
    else:
        command = [sys.executable, "-m", "benchmarks.train_step", "--worker", payload]
    try:
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {**config, "error": f"timed out after {args.timeout:g} s"}
    except OSError as exc:  # e.g. --torch-python does not exist
        return {**config, "error": f"cannot run {command[0]}: {exc.strerror or exc}"}
    for line in reversed(done.stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                break
    last = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
    return {**config, "error": f"exit code {done.returncode}" + (f": {last[-1][:240]}" if last else "")}


def summarise(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    errors = [r["error"] for r in runs if "error" in r]
    if not ok:
        first = errors[0] if errors else "no runs"
        torch_missing = any(r.get("torch_missing") for r in runs)
        return {"ok": 0, "failed": len(errors), "error": TORCH_MISSING if torch_missing else first}
    per_process = [r["seconds_per_step"] for r in ok]
    median = statistics.median(per_process)
    return {"ok": len(ok), "failed": len(errors), "errors": sorted(set(errors)),
            "seconds_per_step": median, "min": min(per_process), "max": max(per_process),
            "per_process": per_process, "images_per_second": ok[0]["batch_size"] / median,
            "first_step_seconds": statistics.median(r["warmup_seconds"][0] for r in ok) if ok[0]["warmup_seconds"]
            else None}


def _key(c):
    return (c["framework"], c["model"], c["image_size"], c["batch_size"], c["xla"], c["mixed_precision"],
            c.get("graph_optimizer", "-"))


def machine_info(args, env, results) -> dict:
    from importlib import metadata

    def version(*names):
        for n in names:
            try:
                return metadata.version(n)
            except metadata.PackageNotFoundError:
                continue
        return None

    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = None
    torch_runs = [r for runs in results.values() for r in runs if r.get("framework") == "torch"]
    torch_ok = [r for r in torch_runs if "error" not in r]
    if torch_ok:
        torch_text = (f"{torch_ok[0]['torch_version']} ({torch_ok[0]['num_threads']} threads, "
                      f"{torch_ok[0]['num_interop_threads']} inter-op) via {args.torch_python}")
    elif torch_runs:
        torch_text = ("not installed" if any(r.get("torch_missing") for r in torch_runs) else "failed") + \
            f" ({args.torch_python})"
    else:
        torch_text = "not run"
    keras_ok = [r for runs in results.values() for r in runs if r.get("framework") == "keras" and "error" not in r]
    return {
        "cpu_count": os.cpu_count(), "usable_cpus": usable, "cpu_model": cpu_model,
        "platform": platform.platform(), "python": platform.python_version(),
        "tensorflow": keras_ok[0]["tensorflow_version"] if keras_ok else version("tensorflow", "tensorflow-cpu"),
        "keras": keras_ok[0]["keras_version"] if keras_ok else version("keras"),
        "torch": torch_text,
        "env": {k: env.get(k) for k in ENV_SHOWN},
        "env_added": dict(args.env),
    }


def format_table(configs, results, args) -> str:
    summaries = {_key(c): summarise(results[_key(c)]) for c in configs}
    torch_median = {(k[2], k[3], k[5]): s["seconds_per_step"] for k, s in summaries.items()
                    if k[0] == "torch" and s["ok"]}
    header = ["model", "size", "batch", "xla", "mixed", "graph", f"s/step median [min-max] of {args.repeats} proc",
              "images/s", "1st step s", "ours/torch"]
    rows = []
    for c in configs:
        s = summaries[_key(c)]
        name = "torch-ref" if c["framework"] == "torch" else c["model"]
        cells = [name, str(c["image_size"]), str(c["batch_size"]),
                 "-" if c["framework"] == "torch" else ("on" if c["xla"] else "off"),
                 "on" if c["mixed_precision"] else "off", c.get("graph_optimizer", "-")]
        if not s["ok"]:
            text = s["error"] if s["error"] == TORCH_MISSING else f"failed: {s['error']}"
            rows.append(cells + [text])
            continue
        timing = f"{s['seconds_per_step']:.3f} [{s['min']:.3f}-{s['max']:.3f}]"
        if s["failed"]:
            timing += f" ({s['failed']} failed: {s['errors'][0]})"
        ratio = ""
        ref = torch_median.get((c["image_size"], c["batch_size"], c["mixed_precision"]))
        if c["framework"] == "keras" and c["model"] == "resnet" and ref:
            ratio = f"{s['seconds_per_step'] / ref:.2f}x"
        elif c["framework"] == "torch":
            ratio = "1.00x"
        first = "" if s["first_step_seconds"] is None else f"{s['first_step_seconds']:.1f}"
        rows.append(cells + [timing, f"{s['images_per_second']:.2f}", first, ratio])
    # a failed row's message spans the remaining columns: it does not widen them
    widths = [max(len(r[i]) for r in [header] + rows if i < len(r) - 1 or len(r) == len(header))
              for i in range(len(header))]

    def line(cells):
        out = []
        for i, cell in enumerate(cells):
            last = i == len(cells) - 1
            out.append(cell if last else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        return worker(args.worker)
    configs = plan(args)
    env = worker_env(args)
    results = {_key(c): [] for c in configs}
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    total = len(configs) * args.repeats
    began = time.perf_counter()
    done = 0
    for round_ in range(args.repeats):  # interleaved: load changes hit every configuration alike
        for c in configs:
            result = run_worker(c, args, env)
            results[_key(c)].append(result)
            done += 1
            what = (f"{'torch-ref' if c['framework'] == 'torch' else c['model']} {c['image_size']}px "
                    f"b{c['batch_size']} xla={'on' if c['xla'] else 'off'} "
                    f"mp={'on' if c['mixed_precision'] else 'off'}"
                    + (f" graph={c['graph_optimizer']}" if "graph_optimizer" in c else ""))
            outcome = (f"error: {result['error']}" if "error" in result
                       else f"{result['seconds_per_step']:.3f} s/step")
            print(f"[{done}/{total} {time.perf_counter() - began:.0f}s] round {round_ + 1}: {what}: {outcome}",
                  file=sys.stderr, flush=True)
    load_after = os.getloadavg() if hasattr(os, "getloadavg") else None

    info = machine_info(args, env, results)
    print(f"machine: {info['cpu_count']} CPUs ({info['usable_cpus']} usable), {info['cpu_model']}, "
          f"{info['platform']}")
    print(f"python {info['python']}, TensorFlow {info['tensorflow']}, Keras {info['keras']}, torch {info['torch']}")
    print("env: " + ", ".join(f"{k}={v}" for k, v in info["env"].items() if v is not None)
          + (f"  (--env: {', '.join(f'{k}={v}' for k, v in args.env)})" if args.env else ""))
    if load_before:
        print(f"load average (1 min): {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"{args.steps} timed steps after {args.warmup} warm-up steps per process, {args.repeats} fresh "
          f"process(es) per configuration, interleaved.\n"
          f"s/step: median over processes of each process's median step, [min-max] of the process medians; "
          f"1st step s: the first warm-up step (tracing, XLA compilation); ours/torch: s/step ratio, > 1 = ours "
          f"slower")
    print()
    print(format_table(configs, results, args))
    if args.json:
        report = {"machine": info, "settings": {k: v for k, v in vars(args).items() if k != "worker"},
                  "load_average": {"before": load_before, "after": load_after},
                  "results": [{"config": c, "summary": summarise(results[_key(c)]), "runs": results[_key(c)]}
                              for c in configs]}
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
