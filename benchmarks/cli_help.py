"""How long `--help` of every command line takes, in fresh processes.

    python -m benchmarks.cli_help [--repeats 3] [--limit 1.0] [--only night2day.train,...]

Each CLI's `python -m <module> --help` runs --repeats times in a new interpreter (cwd: the
repository, so its packages are the ones timed); prints the median seconds per CLI and exits 1 when
any median exceeds --limit seconds (or a --help fails). A --help that imports TensorFlow is the
usual reason for a slow one: the heavy imports belong after the arguments are parsed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# every `python -m ...` a user runs (the benchmarks' own CLIs excepted)
CLIS = (
    "night2day.train", "night2day.evaluate", "night2day.translate", "night2day.prepare", "night2day.demo",
    "inpainting.train", "inpainting.evaluate", "inpainting.fill", "inpainting.prepare", "inpainting.masks",
    "inpainting.demo",
    "watches.train", "watches.generate", "watches.evaluate", "watches.project", "watches.prepare",
    "watches.convert", "watches.nvidia_pickle", "watches.demo",
    "common.metrics.evaluate", "ganworks.app",
)


def time_help(module: str, repeats: int) -> tuple[float, int]:
    """(median seconds, the last exit code) of `python -m module --help`."""
    times, code = [], 0
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
        code = code or done.returncode
    return statistics.median(times), code


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cli_help", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3, help="runs per CLI; the median is reported (default: 3)")
    p.add_argument("--limit", type=float, default=1.0, help="seconds a --help may take (default: 1.0)")
    p.add_argument("--only", default="", help="comma list of modules to time (default: every CLI)")
    args = p.parse_args(argv)
    modules = [m.strip() for m in args.only.split(",") if m.strip()] or list(CLIS)
    width = max(len(m) for m in modules) + 2
    print(f"{'CLI'.ljust(width)}{'median s':>9}  status")
    failed = []
    for module in modules:
        seconds, code = time_help(module, args.repeats)
        status = "ok" if code == 0 and seconds <= args.limit else ("exit %d" % code if code else "SLOW")
        if status != "ok":
            failed.append(module)
        print(f"{('python -m ' + module).ljust(width + 10)}{seconds:>9.3f}  {status}", flush=True)
    if failed:
        print(f"{len(failed)} of {len(modules)} over {args.limit:g} s or failing: {', '.join(failed)}")
        return 1
    print(f"all {len(modules)} within {args.limit:g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
