"""Generate watch images from a trained generator.

    python -m watches.generate --checkpoint runs/watches --seeds 0-63 --out generated/ --grid
    python -m watches.generate --checkpoint runs/watches --interpolate 3,7 --out generated/
    python -m watches.generate --checkpoint runs/watches/export/generator.keras --seeds 0,5,9 --out gen/

Seed s always gives the same image: its latent is N(0, 1) drawn by numpy's PCG64 from s, the same
on every machine. --truncation PSI scales the latent towards its mean (0) by PSI (1 = off): less
variety, fewer failures. With an EMA generator (--g-ema-kimg in training) the EMA weights are used.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common.report import one_line_errors  # noqa: E402


def parse_seeds(text) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7]."""
    seeds = []
    for part in str(text).split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise argparse.ArgumentTypeError(f"not a seed list: {text!r} (examples: 0-63, 1,5,9)")
        seeds += list(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
    return seeds


def load_generator(path):
    """A run folder, checkpoint or exported .keras file -> (generator, latent size)."""
    import keras

    from common.runtime import checkpoint as ckpt
    from watches.build import build_gan

    path = Path(path)
    if path.suffix == ".keras":
        generator = keras.saving.load_model(path, compile=False)
        return generator, int(generator.input_shape[-1])
    found = ckpt.find_checkpoint(path)
    config = ckpt.read_state(found)["config"]
    model = build_gan(config)
    ckpt.restore(model, found)
    return model.sampler, int(config["latent_dim"])


def generate(generator, latent_dim, seeds, truncation=1.0):
    """uint8 [len(seeds), S, S, 3], one image per seed."""
    from watches.task import seed_latents, to_uint8

    return to_uint8(generator(seed_latents(seeds, latent_dim) * truncation, training=False))


def interpolation(generator, latent_dim, a, b, steps=8, truncation=1.0):
    """uint8 [steps, S, S, 3]: spherical interpolation between the latents of seeds a and b."""
    import numpy as np

    from watches.task import seed_latents, to_uint8

    za, zb = seed_latents([a, b], latent_dim)
    omega = np.arccos(np.clip(np.dot(za / np.linalg.norm(za), zb / np.linalg.norm(zb)), -1.0, 1.0))
    ts = np.linspace(0.0, 1.0, steps)
    if omega < 1e-6:
        zs = np.stack([(1 - t) * za + t * zb for t in ts])
    else:
        zs = np.stack([(np.sin((1 - t) * omega) * za + np.sin(t * omega) * zb) / np.sin(omega) for t in ts])
    return to_uint8(generator(zs.astype("float32") * truncation, training=False))


def main(argv=None) -> int:
    p = one_line_errors(argparse.ArgumentParser(prog="python -m watches.generate", description=__doc__,
                                                formatter_class=argparse.RawDescriptionHelpFormatter))
    p.add_argument("--checkpoint", required=True, help="run folder, checkpoint folder or exported .keras generator")
    p.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-15"), help="e.g. 0-63 or 1,5,9 (0-15)")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--grid", action="store_true", help="also write grid.png of all the seeds")
    p.add_argument("--interpolate", metavar="A,B", help="also write interpolation_A_B.png between two seeds")
    p.add_argument("--steps", type=int, default=8, help="images in the interpolation strip (8)")
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI", help="latent truncation (1 = off)")
    args = p.parse_args(argv)
    if not Path(args.checkpoint).exists():
        p.error(f"--checkpoint not found: {args.checkpoint}")
    if not 0 < args.truncation <= 1 or args.steps < 2:
        p.error("--truncation must be in (0, 1] and --steps at least 2")
    pair = parse_seeds(args.interpolate) if args.interpolate else None
    if pair is not None and len(pair) != 2:
        p.error("--interpolate takes two seeds, e.g. 3,7")

    from common.data import DataError
    from common.runtime.images import image_grid, save_png

    try:
        generator, latent_dim = load_generator(args.checkpoint)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    images = generate(generator, latent_dim, args.seeds, args.truncation)
    for seed, image in zip(args.seeds, images):
        save_png(out / f"seed{seed:04d}.png", image)
    written = [f"{len(images)} images"]
    if args.grid:
        columns = int(len(images) ** 0.5 + 0.999)
        save_png(out / "grid.png", image_grid([list(images[i:i + columns]) for i in range(0, len(images), columns)]))
        written.append("grid.png")
    if pair:
        strip = interpolation(generator, latent_dim, *pair, steps=args.steps, truncation=args.truncation)
        save_png(out / f"interpolation_{pair[0]}_{pair[1]}.png", image_grid([list(strip)]))
        written.append(f"interpolation_{pair[0]}_{pair[1]}.png")
    print(f"wrote {', '.join(written)} to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
