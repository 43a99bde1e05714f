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
import sys
from pathlib import Path

from common.report import add_verbose, one_line_errors, parse_seeds, quiet_tensorflow


def main(argv=None) -> int:
    p = one_line_errors(argparse.ArgumentParser(prog="python -m watches.generate", description=__doc__,
                                                formatter_class=argparse.RawDescriptionHelpFormatter))
    p.add_argument("--checkpoint", required=True, help="run folder, checkpoint folder or exported .keras generator")
    p.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-15"), help="e.g. 0-63 or 1,5,9 (default: 0-15)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the images")
    p.add_argument("--grid", action="store_true", help="also write grid.png of all the seeds")
    p.add_argument("--interpolate", metavar="A,B",
                   help="also write interpolation_A_B.png between two seeds (default: none)")
    p.add_argument("--steps", type=int, default=8, help="images in the interpolation strip")
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                   help="truncation (1 = off; StyleGAN2: 0 = the average w)")
    p.add_argument("--noise-mode", choices=["const", "random", "none"], default=None,
                   help="StyleGAN2's noise inputs (default: const)")
    p.add_argument("--style-mix", metavar="ROWS:COLUMNS", help="StyleGAN2: write style_mixing.png for these seeds, "
                                                              "e.g. 85,100,75:55,821,1789 (default: none)")
    p.add_argument("--styles", default="coarse", help="what the column seeds give in --style-mix: coarse, middle, "
                                                      "fine or w indices such as 0-3")
    add_verbose(p)
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
    quiet_tensorflow(args.verbose)

    from common.data import DataError
    from common.report import output_folder
    from common.runtime.images import image_grid, save_png
    from watches.inference import generate, interpolation, is_stylegan2, load_generator, style_mixing

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
