"""Generate watch images from a trained generator.

    python -m watches.generate --checkpoint runs/watches --seeds 0-63 --out generated/ --grid
    python -m watches.generate --checkpoint runs/watches --interpolate 3,7 --out generated/
    python -m watches.generate --checkpoint runs/watches/export/generator.keras --seeds 0,5,9 --out gen/

    python -m watches.generate --checkpoint runs/sg2 --seeds 0-15 --truncation 0.7 --out gen/ --grid
    python -m watches.generate --checkpoint runs/sg2 --style-mix 85,100,75:55,821,1789,293 --out gen/

Seed s always gives the same image: its latent is N(0, 1) drawn by numpy's PCG64 from s, the same
on every machine. --truncation PSI (1 = off; less variety, fewer failures): a StyleGAN2 generator moves
w towards the tracked average w (PSI 0 is the average watch); a DCGAN one scales the latent towards 0.
With an EMA generator (StyleGAN2 always; DCGAN with --g-ema-kimg) the EMA weights are used.

StyleGAN2 only: --noise-mode const (a fixed noise image per layer, the default, as NVIDIA's
generate.py), random or none; interpolation runs linearly in w space; --style-mix ROWS:COLUMNS writes the
paper's Figure 3: each row seed's image with the --styles (coarse = 4-8 px layers, middle = 16-32 px,
fine = 64 px and up, or a range of w indices such as 0-3) taken from each column seed.
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
    from watches import stylegan2  # noqa: F401 - registers the StyleGAN2 layers for loading
    from watches.build import build_gan
    from watches.task import latent_size

    path = Path(path)
    if path.suffix == ".keras":
        generator = ckpt.load_keras_file(path)
        return generator, latent_size(generator)
    found, state = ckpt.open_checkpoint(path, "watches")
    config = state["config"]
    model = build_gan(config)
    ckpt.restore(model, found)
    return model.sampler, int(config["latent_dim"])


def is_stylegan2(generator) -> bool:
    return len(generator.inputs) == 2


def split_generator(generator):
    """A StyleGAN2 [z, psi] generator -> (mapping [z, psi] -> w, synthesis ws -> images), its own sub-models."""
    import keras

    subs = [layer for layer in generator.layers if isinstance(layer, keras.Model)]
    mapping = next(m for m in subs if len(m.inputs) == 2)
    synthesis = next(m for m in subs if len(m.inputs[0].shape) == 3)
    return mapping, synthesis


def generate(generator, latent_dim, seeds, truncation=1.0):
    """uint8 [len(seeds), S, S, 3], one image per seed."""
    from watches.task import run_generator, seed_latents, to_uint8

    return to_uint8(run_generator(generator, seed_latents(seeds, latent_dim), truncation))


def _ws(generator, latent_dim, seeds, truncation):
    """StyleGAN2: the (truncated) w of each seed, broadcast to every layer: [len(seeds), num_ws, w_dim]."""
    import numpy as np

    from watches.task import seed_latents

    mapping, synthesis = split_generator(generator)
    z = seed_latents(seeds, latent_dim)
    w = np.asarray(mapping([z, np.full([len(seeds), 1], truncation, np.float32)], training=False))
    return np.repeat(w[:, None], synthesis.inputs[0].shape[1], axis=1), synthesis


STYLE_RANGES = {"coarse": (0, 4), "middle": (4, 8), "fine": (8, None)}


def style_indices(styles, num_ws) -> list[int]:
    """'coarse' | 'middle' | 'fine' | 'A-B' -> the w indices whose styles come from the column seed."""
    if styles in STYLE_RANGES:
        lo, hi = STYLE_RANGES[styles]
        return list(range(lo, num_ws if hi is None else min(hi, num_ws)))
    seeds = parse_seeds(styles)
    if max(seeds) >= num_ws:
        raise argparse.ArgumentTypeError(f"--styles {styles}: this generator has w indices 0-{num_ws - 1}")
    return seeds


def style_mixing(generator, latent_dim, rows, columns, styles="coarse", truncation=1.0):
    """uint8 grid image: top row the column seeds' images, left column the row seeds', and at (r, c) row
    seed r's image with the `styles` layers' w taken from column seed c (the StyleGAN paper's Figure 3)."""
    import numpy as np

    from common.runtime.images import image_grid
    from watches.task import to_uint8

    ws, synthesis = _ws(generator, latent_dim, list(rows) + list(columns), truncation)
    row_ws, col_ws = ws[:len(rows)], ws[len(rows):]
    take = style_indices(styles, ws.shape[1])
    mixed = np.repeat(row_ws[:, None], len(columns), axis=1)  # [R, C, num_ws, w_dim]
    mixed[:, :, take] = col_ws[None, :, take]
    size = synthesis.outputs[0].shape[1]
    row_images = to_uint8(synthesis(row_ws, training=False))
    col_images = to_uint8(synthesis(col_ws, training=False))
    mixed_images = to_uint8(synthesis(mixed.reshape(-1, *ws.shape[1:]), training=False))
    blank = np.full((size, size, 3), 255, np.uint8)
    grid = [[blank] + list(col_images)]
    for r in range(len(rows)):
        grid.append([row_images[r]] + list(mixed_images[r * len(columns):(r + 1) * len(columns)]))
    return image_grid(grid)


def interpolation(generator, latent_dim, a, b, steps=8, truncation=1.0):
    """uint8 [steps, S, S, 3] between seeds a and b: linear in w for StyleGAN2 (as the paper's
    interpolations), spherical in z for DCGAN."""
    import numpy as np

    from watches.task import seed_latents, to_uint8

    if is_stylegan2(generator):
        ws, synthesis = _ws(generator, latent_dim, [a, b], truncation)
        ts = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None, None]
        return to_uint8(synthesis((1 - ts) * ws[:1] + ts * ws[1:], training=False))
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
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                   help="truncation (1 = off; StyleGAN2: 0 = the average w)")
    p.add_argument("--noise-mode", choices=["const", "random", "none"], default=None,
                   help="StyleGAN2's noise inputs (const)")
    p.add_argument("--style-mix", metavar="ROWS:COLUMNS", help="StyleGAN2: write style_mixing.png for these seeds, "
                                                              "e.g. 85,100,75:55,821,1789")
    p.add_argument("--styles", default="coarse", help="what the column seeds give in --style-mix: coarse, middle, "
                                                      "fine or w indices such as 0-3 (coarse)")
    args = p.parse_args(argv)
    if not Path(args.checkpoint).exists():
        p.error(f"--checkpoint not found: {args.checkpoint}")
    if not 0 <= args.truncation <= 1 or args.steps < 2:
        p.error("--truncation must be in [0, 1] and --steps at least 2")
    mix = None
    if args.style_mix:
        rows, sep, cols = args.style_mix.partition(":")
        if not sep:
            p.error(f"--style-mix takes ROWS:COLUMNS seed lists, e.g. 85,100:55,821; got {args.style_mix!r}")
        try:
            mix = (parse_seeds(rows), parse_seeds(cols))
        except argparse.ArgumentTypeError as exc:
            p.error(f"--style-mix: {exc}")
    pair = parse_seeds(args.interpolate) if args.interpolate else None
    if pair is not None and len(pair) != 2:
        p.error("--interpolate takes two seeds, e.g. 3,7")

    from common.data import DataError
    from common.report import output_folder
    from common.runtime.images import image_grid, save_png

    try:
        generator, latent_dim = load_generator(args.checkpoint)
        out = output_folder(args.out)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not is_stylegan2(generator) and (args.noise_mode or mix):
        p.error("--noise-mode and --style-mix need a StyleGAN2 generator (--model stylegan2)")
    if is_stylegan2(generator):
        from watches.stylegan2 import set_noise_mode

        set_noise_mode(generator, args.noise_mode or "const")
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
    if mix:
        try:
            figure = style_mixing(generator, latent_dim, *mix, styles=args.styles, truncation=args.truncation)
        except argparse.ArgumentTypeError as exc:
            p.error(str(exc))
        save_png(out / "style_mixing.png", figure)
        written.append("style_mixing.png")
    print(f"wrote {', '.join(written)} to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
