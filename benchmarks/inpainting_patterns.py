"""Does inpainting learn what is predictable? The improved preset trained for a few CPU minutes on
procedural images whose hole content follows from its surroundings, scored against OpenCV's Telea
and Navier-Stokes inpainting on the same holes.

    python -m benchmarks.inpainting_patterns                      # about 5 minutes on a 2-core CPU
    python -m benchmarks.inpainting_patterns --mask random-block
    python -m benchmarks.inpainting_patterns --train-arg=--context=image --train-arg=--adv-weight=0.01
    python -m benchmarks.inpainting_patterns --patterns stripes,checkerboard,rings --angles any

The images (`pattern_images`, 64 px by default) are stripes, checkerboards and concentric rings, each
in two random colours, with random period and phase; by default stripes and checkerboards along the
image axes (`--angles axis`; `any` turns them by any angle). A classical method that propagates the
border inwards cannot continue a period, a context encoder can. The benchmark writes
`--train-images` (20,000) of them into train/ and `--test-images` more into test/, trains
`python -m inpainting.train --model improved --data <that folder>` at a CPU size (32 filters, batch
16, centre holes of half the image by default), fills the test images with the model, Telea and NS
(inpainting.evaluation, the same seeded holes) and prints the table with hole PSNR/SSIM. Exit code 0
when the model's hole PSNR beats both classical methods by more than --margin dB, 1 when it does not.

The preset as shipped (measured 2026-12-03, 1,500 steps, 48 test images, hole PSNR / hole SSIM; Telea
and NS on the same holes):
    centre holes (the default)                                    21.93 / 0.661   Telea 16.78, NS 17.13   exit 0
    --mask random-block                                           20.12 / 0.564   Telea 16.72, NS 17.01   exit 0
in 5-6 wall-clock minutes on the shared 2-core CPU. Two changes from the source got it there, each measured:

1. The adversarial weight (centre holes; before it, the preset had the source's w = weightRecon = 0.99):
    w = 0.99, adversarial weight 0.01 (overlap 2 px at 64, x10)    17.99 / 0.425   exit 1
      --train-arg=--overlap=0                                      20.07 / 0.536   exit 1 (Telea +3.3, NS +2.9)
      --train-arg=--adv-weight=0                                   21.98 / 0.659   exit 0 (Telea +5.2, NS +4.9)
      w = 0.999, adversarial weight 0.001 (Pathak's wtl2)          21.94 / 0.660   exit 0 (Telea +5.2, NS +4.8)
    pure hole-L2 regression of the same generator, 1,500 / 3,000 steps   23.02 / 25.07 (NS 17.29 on 96 images)
   At 0.01 the discriminator wins early (D(x) 0.78, D(G(z)) 0.13 at 1,500 steps) and its term costs about
   4 dB; the x10 band costs about 2 (it weighs 2,720 against the hole's 1,024 at 64 px). The preset now
   uses Pathak et al.'s w = 0.999 (paper and train.lua); --recon-weight 0.99 --adv-weight 0.01 is the source's.
2. The generator's context (random-block holes, w = 0.999): the source's generator sees the whole image
   and its U-Net skips join encoder features of that image to decoder features of the hole's box, so the
   two meet at the same place and scale only for a centre hole of half the image:
    --train-arg=--context=image (the whole image, as the source)   15.53 / 0.244   exit 1 (below Telea)
      the same with --adv-weight 0                                 16.96 / 0.353   exit 1
      the same with every hole 32 x 32 (--hole-min = --hole-max = 0.5) 15.40 / 0.217  exit 1 (NS 16.71)
    context "hole" (the default): a window of twice the hole's box  20.12 / 0.564   exit 0
   Fixed-size holes at random places fail as random sizes do, and without the adversarial term too: the
   place, not the scale or the GAN, is what the network could not learn. With --context hole
   (inpainting.holes.hole_context) the generator sees the window of twice the hole's box around it,
   resampled to its input size: every hole then sits in the middle half of the input, as a centre hole
   does in the image (for which the window is the image itself, bit for bit). No layer changes.

Why the defaults changed from the first version of this benchmark (2,000 images of all three kinds at
any angle): on those, every variant stayed within a dB of filling the hole with the context's mean
colour, and the measurements below show why: the network memorised 2,000 images, and continuing a
rotated period or a ring over half the image is slow for this family of networks even by L2 alone.

First version, 2,000 images of all kinds at any angle (2-core CPU, 1,000 steps each, centre holes, 48 test images; Telea 16.30 dB, NS 16.44 dB,
filling the hole with the context's mean colour 17.37 dB; hole PSNR / hole SSIM):
    improved preset (overlap 2 px at 64, x10, adv 0.01, lr 2e-4)    16.54 / 0.303
      evaluated with BatchNorm batch statistics (no dropout)       15.79 / 0.286   (inference mode is not the problem)
      --overlap 0 (no band)                                        16.06 / 0.243
      --adv-weight 0                                               17.47 / 0.358
      --adv-weight 0 --lr-g 1e-3                                   17.35 / 0.384
      --lr-g 2e-3 (Pathak's 10 x for G)                            16.04 / 0.301
      no skips (the context-encoder network, same losses)          16.00 / 0.277
      no normalisation in G                                        15.12 / 0.202
      U-Net predicting the whole image, skips aligned, box cropped 16.70 / 0.350
(the last three with the networks patched for the measurement). No variant gets clearly past the
mean-colour fill in 1,000 steps: the slow learning is not BatchNorm's inference statistics, the band,
the adversarial term, the learning rate or the skips alone.

Pure hole-L2 regression of the same generator (no discriminator, no band; 64 px, 32 filters, batch 16,
Adam 2e-4, 96 test images; mean-colour fill 17.50, Telea 16.49, NS 16.67 on them), test / train PSNR:
    2,000 training images, steps 250/500/750/1000      16.81/17.04/17.13/17.13 test, 16.66/17.31/17.85/18.44 train
    20,000 training images, steps 500/1000/1500/2000   17.13/17.29/17.39/17.94 test (train the same)
    20,000 images, lr 1e-3, 1,000 steps                 17.31
    20,000 images, a U-Net whose skips meet the decoder at their own scale (decoding the whole image,
      hole cropped), 1,000 steps                        18.17
    stripes only, 1,000 steps                           17.65
    sine-edged stripes/checkers/rings of period 12-32 px (Telea 21.55, NS 21.81, mean 20.60), 1,000 steps 21.95
    all three kinds along the axes (NS 16.91), steps 1000 / 3000      19.46 / 20.84 (aligned skips, 1000: 20.47)
    stripes and checkerboards along the axes (NS 17.29), 1000 / 3000  22.37 / 25.07
So: with the default 2,000 images the network memorises them (train PSNR rises, test stalls); the
experiment's U-Net joins encoder features of the whole image to decoder features of the hole box
(the same grid size, half the scale), which costs about 0.9 dB against aligned skips; and continuing a
period over half the image is slow for this family of networks under L2 whatever the data: still
under a dB past the mean-colour fill after 2,000 steps; along the axes and without rings it is fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PATTERNS = ("stripes", "checkerboard", "rings")
PERIOD = (6.0, 16.0)  # px, at any image size
EDGE = 0.6  # soft edges: the pattern's sign is blended over about this many pixels (no aliasing)


ANGLES = ("axis", "any")


def pattern_image(kind, rng, size, angles="any") -> np.ndarray:
    """One uint8 [size, size, 3] image of a pattern kind, its parameters drawn from rng; angles "any"
    turns it by a uniform angle in [0, pi), "axis" by 0 or pi/2 only."""
    ys, xs = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64), indexing="ij")
    if angles not in ANGLES:
        raise ValueError(f"angles must be one of {', '.join(ANGLES)}, got {angles!r}")
    angle = rng.uniform(0, np.pi) if angles == "any" else float(rng.integers(0, 2)) * np.pi / 2
    period = rng.uniform(*PERIOD)
    u = xs * np.cos(angle) + ys * np.sin(angle)
    v = -xs * np.sin(angle) + ys * np.cos(angle)
    phase = rng.uniform(0, 2 * np.pi)
    if kind == "stripes":
        wave = np.sin(2 * np.pi * u / period + phase)
    elif kind == "checkerboard":
        wave = np.sin(np.pi * u / period + phase) * np.sin(np.pi * v / period + rng.uniform(0, 2 * np.pi))
    elif kind == "rings":
        cy, cx = rng.uniform(0, size, 2)
        wave = np.sin(2 * np.pi * np.hypot(ys - cy, xs - cx) / period + phase)
    else:
        raise ValueError(f"unknown pattern {kind!r}; choose from {', '.join(PATTERNS)}")
    # a square wave with edges about EDGE px wide: the slope of the sine is ~2 pi / period per px
    t = 0.5 + 0.5 * np.tanh(wave * period / (2 * np.pi * EDGE))
    first, second = rng.uniform(0, 255, (2, 3))
    return np.round(first + t[..., None] * (second - first)).astype(np.uint8)


def pattern_images(n, size=64, seed=0, kinds=PATTERNS, angles="any") -> np.ndarray:
    """uint8 [n, size, size, 3]: the kinds in turn (stripes, checkerboard, rings, stripes, ...), each image
    drawn from its own generator (seed, index), so a set is the same whatever n."""
    return np.stack([pattern_image(kinds[i % len(kinds)], np.random.default_rng([seed, i]), size, angles)
                     for i in range(n)])


def write_pattern_set(root, *, train, test, size, seed, kinds=PATTERNS, angles="any") -> Path:
    """root/train/ and root/test/ of PNG pattern images (the test ones drawn from another seed)."""
    from PIL import Image

    root = Path(root)
    for split, n, split_seed in (("train", train, seed), ("test", test, seed + 1_000_003)):
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(pattern_images(n, size, split_seed, kinds, angles)):
            Image.fromarray(image).save(folder / f"{kinds[i % len(kinds)]}_{i:05d}.png")
    return root


def parse_args(argv=None):
    from benchmarks.inpainting_quality import training_arguments

    p = argparse.ArgumentParser(prog="python -m benchmarks.inpainting_patterns",
                                description=__doc__.split("\n\n")[0].strip())
    training_arguments(p, steps=1500, max_minutes=8.0, mask="centre",
                       mask_help="holes in training and evaluation (default centre: half the image)")
    p.add_argument("--patterns", default="stripes,checkerboard",
                   help=f"comma-separated pattern kinds of {', '.join(PATTERNS)} (default stripes,checkerboard)")
    p.add_argument("--angles", default="axis", choices=ANGLES,
                   help="axis: patterns along the image axes (default); any: turned by any angle")
    p.add_argument("--train-images", type=int, default=20000,
                   help="training images (default 20000: with 2000 the network memorises them)")
    p.add_argument("--test-images", type=int, default=48)
    p.add_argument("--margin", type=float, default=3.0,
                   help="dB of hole PSNR the model must win by (default 3)")
    args = p.parse_args(argv)
    if min(args.steps, args.batch_size, args.train_images, args.test_images) < 1 or args.max_minutes <= 0:
        p.error("--steps, --batch-size, --train-images, --test-images and --max-minutes must be positive")
    args.patterns = tuple(k.strip() for k in args.patterns.split(",") if k.strip())
    unknown = [k for k in args.patterns if k not in PATTERNS]
    if unknown or not args.patterns:
        p.error(f"--patterns takes kinds of {', '.join(PATTERNS)}, got {','.join(unknown) or 'none'}")
    args.augment = "off"  # thousands of images: no crops or flips
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from benchmarks.inpainting_quality import report, train_argv
    from benchmarks.training import TrainingFailed, timed_training
    from common.runtime import checkpoint as ckpt
    from inpainting import train
    from inpainting.evaluation import evaluate, test_images
    from inpainting.inference import Inpainter

    with tempfile.TemporaryDirectory(prefix="inpainting-patterns-") as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "run"
        data = write_pattern_set(Path(tmp) / "patterns", train=args.train_images, test=args.test_images,
                                 size=args.image_size, seed=args.seed, kinds=args.patterns,
                                 angles=args.angles)
        argv = train_argv(args, out, data)
        try:
            seconds, checkpoints = timed_training("inpainting", train.main, argv, out)
        except TrainingFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        latest = checkpoints[-1]
        step = ckpt.read_state(latest)["step"]
        results, _ = evaluate(Inpainter.load(latest), test_images(data), seed=args.seed, metrics=())

    wins = report(results, seconds, step, margin=args.margin)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "train_seconds": seconds, "steps": step,
                                               "argv": argv}, indent=2) + "\n")
    return 0 if all(wins.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
