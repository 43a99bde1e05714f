"""Does inpainting learn? The improved Context-Encoder GAN trained briefly on the demo data, scored on the
held-out demo images beside OpenCV's Telea and Navier-Stokes inpainting on the same holes.

    python -m benchmarks.inpainting_quality                 # about 10 minutes on a 2-core CPU
    python -m benchmarks.inpainting_quality --steps 300 --mask centre

Trains `python -m inpainting.train --model improved --data demo` with the preset's recipe (U-Net
generator predicting the hole's content from a window around the hole, attention discriminator,
0.001 BCE + 0.999 overlap-weighted MSE, Adam 2e-4 beta_1 0.5) at a CPU-sized scale (--image-size 64, --filters 32, batch 16 by
default; random crops and flips, as the demo has only 40 training images), then
`inpainting.evaluate` fills the demo's test images with holes drawn from a fixed seed and prints
PSNR/SSIM/MAE/RMSE on the full image and on the hole only for the model, Telea and NS, with the
training time. Exit code 0 when the model beats both classical methods on hole PSNR, 1 when it
does not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def training_arguments(p, *, steps, max_minutes, mask, mask_help):
    """The training options both inpainting benchmarks take (train_argv reads them), added to parser p."""
    from inpainting.masks import KINDS

    p.add_argument("--steps", type=int, default=steps, help=f"training steps (default {steps})")
    p.add_argument("--max-minutes", type=float, default=max_minutes,
                   help="stop training (cleanly, with a checkpoint) after this long, whatever --steps says")
    p.add_argument("--image-size", type=int, default=64, help="training size (default 64; the preset's is 128)")
    p.add_argument("--filters", type=int, default=32, help="base filters (default 32; the preset's is 64)")
    p.add_argument("--batch-size", type=int, default=16, help="batch (default 16; the preset's is 256)")
    p.add_argument("--mask", default=mask, choices=KINDS, help=mask_help)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="run folder (default: a temporary one, deleted afterwards)")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--train-arg", action="append", default=[], metavar="ARG",
                   help="one more inpainting.train argument, e.g. --train-arg=--adv-weight=0 "
                        "(repeatable; it overrides the settings above)")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.inpainting_quality",
                                description=__doc__.split("\n\n")[0].strip())
    training_arguments(p, steps=2000, max_minutes=10.0, mask="random-block", mask_help="holes in training and evaluation")
    p.add_argument("--augment", default="on", choices=["on", "off"],
                   help="random crops (--load-size 1.25 x the image size) and flips: the demo has 40 training images")
    args = p.parse_args(argv)
    if args.steps < 1 or args.max_minutes <= 0 or args.batch_size < 1:
        p.error("--steps, --batch-size and --max-minutes must be positive")
    return args


def train_argv(args, out: Path, data="demo") -> list[str]:
    steps_per_epoch = min(100, args.steps)
    epochs = -(-args.steps // steps_per_epoch)
    return ["--model", "improved", "--data", str(data), "--image-size", str(args.image_size),
            "--filters", str(args.filters), "--bottleneck", str(32 * args.filters),
            "--batch-size", str(args.batch_size), "--mask", args.mask,
            *(["--load-size", str(args.image_size * 5 // 4), "--flip", "true"] if args.augment == "on" else []),
            "--steps-per-epoch", str(steps_per_epoch), "--epochs", str(epochs), "--seed", str(args.seed),
            "--checkpoint-every", str(epochs * steps_per_epoch), "--sample-every", str(epochs * steps_per_epoch),
            "--max-duration", f"{args.max_minutes * 60:.0f}s", "--wandb", "disabled", "--out", str(out),
            *args.train_arg]


def main(argv=None) -> int:
    args = parse_args(argv)
    from benchmarks.training import TrainingFailed, timed_training
    from inpainting.demo import demo_dataset
    from common.runtime import checkpoint as ckpt
    from inpainting import train
    from inpainting.evaluation import evaluate, test_images
    from inpainting.inference import Inpainter

    with tempfile.TemporaryDirectory(prefix="inpainting-quality-") as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "run"
        argv = train_argv(args, out)
        try:
            seconds, checkpoints = timed_training("inpainting", train.main, argv, out)
        except TrainingFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        latest = checkpoints[-1]
        step = ckpt.read_state(latest)["step"]
        results, _ = evaluate(Inpainter.load(latest), test_images(demo_dataset()), seed=args.seed,
                              metrics=())

    wins = report(results, seconds, step)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "train_seconds": seconds, "steps": step,
                                               "argv": argv}, indent=2) + "\n")
    return 0 if all(wins.values()) else 1


def report(results, seconds, step, margin=0.0) -> dict[str, bool]:
    """Print the table and the model's hole PSNR/SSIM against Telea and NS -> {"telea": wins, "ns": wins},
    a win being a hole PSNR more than `margin` dB above the method's."""
    from inpainting.evaluation import format_results

    methods = results["methods"]
    print()
    print(format_results(methods, results["images"], results["mask"]))
    print(f"\ntrained {step} steps in {seconds / 60:.1f} min (wall time, including start-up and checkpoints)")
    model = methods["model"]
    wins = {name: model["psnr_hole"] > methods[name]["psnr_hole"] + margin for name in ("telea", "ns")}
    by = f" by more than {margin:g} dB" if margin else ""
    for name, label in (("telea", "Telea"), ("ns", "Navier-Stokes")):
        print(f"model vs {label}: hole PSNR {model['psnr_hole']:.2f} vs {methods[name]['psnr_hole']:.2f} dB "
              f"({'beats' if wins[name] else 'does not beat'} it{by}), hole SSIM {model['ssim_hole']:.3f} vs "
              f"{methods[name]['ssim_hole']:.3f}")
    return wins


if __name__ == "__main__":
    sys.exit(main())
