"""Does night2day learn? A ResNet CycleGAN trained briefly on the demo data, scored against the true
day images of the demo's paired test split, beside a non-learned baseline.

    python -m benchmarks.night2day_quality                   # about 20 minutes on a 2-core CPU
    python -m benchmarks.night2day_quality --steps 600 --curve 200

Trains `python -m night2day.train --model resnet --data demo` with the preset's recipe (Adam 2e-4,
beta_1 0.5, N(0, 0.02) init, LSGAN, cycle 10, identity 5, a history pool of 50 fakes, batch 1, the
720/256 load scale) and the CycleGAN paper's schedule (constant learning rate for the first half,
linear decay to 0 over the second: --decay-fraction) on 64-px crops, with a narrower, shallower
generator than the preset's (--filters 32 --res-blocks 6 by default) so that a CPU gets through
thousands of steps in 20 minutes. Then `night2day.evaluate` runs on the demo's held-out pairs
(testA/NNN.png is the night rendering of testB/NNN.png) at the training scale and prints PSNR/SSIM against the true day image
for the untranslated night image (the floor), a per-channel mean/std colour transfer to the day
statistics (the non-learned baseline) and G(night), with the training time. --curve N also scores
every N-th step's checkpoint, to show the learning curve. Exit code 0 when G(night) beats the
colour transfer on both PSNR and SSIM, 1 when it does not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.night2day_quality",
                                description=__doc__.split("\n\n")[0].strip())
    p.add_argument("--steps", type=int, default=4000, help="training steps (default 4000)")
    p.add_argument("--max-minutes", type=float, default=20.0,
                   help="stop training (cleanly, with a checkpoint) after this long, whatever --steps says")
    p.add_argument("--image-size", type=int, default=64, help="training crop (default 64)")
    p.add_argument("--filters", type=int, default=32, help="base filters (default 32; the preset's 64 is 4x slower)")
    p.add_argument("--res-blocks", type=int, default=6, help="residual blocks (default 6; the preset has 9)")
    p.add_argument("--decay-fraction", type=float, default=0.5,
                   help="decay the learning rates linearly to 0 over this last fraction of the steps (default 0.5: "
                        "the CycleGAN paper's constant first half, linear decay to 0 in the second)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--curve", type=int, default=0, metavar="N", help="also score the checkpoint of every N-th step")
    p.add_argument("--out", default=None, help="run folder (default: a temporary one, deleted afterwards)")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--train-arg", action="append", default=[], metavar="ARG",
                   help="one more night2day.train argument, e.g. --train-arg=--mixed-precision=true "
                        "(repeatable; it overrides the settings above)")
    args = p.parse_args(argv)
    if args.steps < 1 or args.max_minutes <= 0:
        p.error("--steps and --max-minutes must be positive")
    if not 0 <= args.decay_fraction <= 1:
        p.error("--decay-fraction must be between 0 and 1")
    if args.curve < 0:
        p.error("--curve must be non-negative")
    return args


def train_argv(args, out: Path) -> list[str]:
    steps_per_epoch = min(100, args.steps)  # epochs of 100 steps
    epochs = -(-args.steps // steps_per_epoch)
    every = args.curve or epochs * steps_per_epoch
    return ["--model", "resnet", "--data", "demo", "--image-size", str(args.image_size),
            "--filters", str(args.filters), "--res-blocks", str(args.res_blocks),
            "--steps-per-epoch", str(steps_per_epoch), "--epochs", str(epochs), "--seed", str(args.seed),
            "--decay-epochs", str(int(epochs * args.decay_fraction)),
            "--checkpoint-every", str(every), "--keep-checkpoints", "1000", "--sample-every", str(every),
            "--max-duration", f"{args.max_minutes * 60:.0f}s", "--wandb", "disabled", "--out", str(out),
            *args.train_arg]


def main(argv=None) -> int:
    args = parse_args(argv)
    from benchmarks.training import TrainingFailed, timed_training
    from night2day.demo import demo_dataset
    from common.runtime import checkpoint as ckpt
    from night2day import train
    from night2day.evaluation import evaluate, format_results

    with tempfile.TemporaryDirectory(prefix="night2day-quality-") as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "run"
        argv = train_argv(args, out)
        try:
            seconds, checkpoints = timed_training("night2day", train.main, argv, out)
        except TrainingFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        root = demo_dataset()
        curve = []
        if args.curve:
            print("\nlearning curve (paired test images, PSNR dB / SSIM):")
            for path in checkpoints:
                paired = evaluate(path, root, metrics=())["paired"]
                row = {"step": ckpt.read_state(path)["step"],
                       **{k: paired[k] for k in ("colour transfer", "G(night)")}}
                curve.append(row)
                print(f"  step {row['step']:>6}  G(night) {row['G(night)']['psnr']:6.2f} / "
                      f"{row['G(night)']['ssim']:.3f}   colour transfer {row['colour transfer']['psnr']:6.2f} / "
                      f"{row['colour transfer']['ssim']:.3f}", flush=True)
        results = evaluate(checkpoints[-1], root, metrics=())
        step = ckpt.read_state(checkpoints[-1])["step"]

    paired = results["paired"]
    wins = {m: paired["G(night)"][m] > paired["colour transfer"][m] for m in ("psnr", "ssim")}
    print()
    print(format_results(results))
    print(f"\ntrained {step} steps in {seconds / 60:.1f} min (wall time, including start-up and checkpoints)")
    print(f"G(night) vs colour transfer: PSNR {'beats' if wins['psnr'] else 'does not beat'} it "
          f"({paired['G(night)']['psnr']:.2f} vs {paired['colour transfer']['psnr']:.2f} dB), SSIM "
          f"{'beats' if wins['ssim'] else 'does not beat'} it ({paired['G(night)']['ssim']:.3f} vs "
          f"{paired['colour transfer']['ssim']:.3f})")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "train_seconds": seconds, "steps": step,
                                               "curve": curve, "argv": argv}, indent=2) + "\n")
    return 0 if all(wins.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
