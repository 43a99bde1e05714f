"""Generate watch images from a trained generator.

    python -m watches.generate --checkpoint runs/watches --seeds 0-63 --out generated/ --grid
    python -m watches.generate --checkpoint runs/watches --interpolate 3,7 --out generated/
    python -m watches.generate --checkpoint runs/watches/export/generator.keras --seeds 0,5,9 --out gen/

It writes what it is asked for: each seed's image as <out>/seeds/seed0007.png (for --seeds, or seeds
0-15 when no sheet is asked for), and beside that folder the sheets asked for: grid.png (--grid: the
seeds' images, each captioned with its seed), interpolation_A_B.png (--interpolate),
style_mixing.png (--style-mix) and truncation.png (--truncation-grid: a row per seed, a column per
psi). Sheets show every image at least 128 px wide (small ones enlarged).

    python -m watches.generate --checkpoint runs/sg2 --seeds 0-15 --truncation 0.7 --out gen/ --grid
    python -m watches.generate --checkpoint runs/sg2 --style-mix 85,100,75:55,821,1789,293 --out gen/
    python -m watches.generate --checkpoint runs/sg2 --seeds 0-3 --truncation-grid 1,0.7,0.5,0 --out gen/

Seed s always gives the same image: its latent is N(0, 1) drawn by numpy's PCG64 from s, the same
on every machine. --truncation PSI (1 = off; less variety, fewer failures): a StyleGAN2 generator moves
w towards the tracked average w (PSI 0 is the average watch); a DCGAN one scales the latent towards 0.
With an EMA generator (StyleGAN2 always; DCGAN with --g-ema-kimg) the EMA weights are used.

StyleGAN2 only: --noise-mode const (a fixed noise image per layer, the default, as NVIDIA's
generate.py), random or none; interpolation runs linearly in w space; --style-mix ROWS:COLUMNS writes the
paper's Figure 3: each row seed's image with the --styles (coarse = 4-8 px layers, middle = 16-32 px,
fine = 64 px and up, or a range of w indices such as 0-3) taken from each column seed.

StyleGAN2, a projected w (`python -m watches.project`'s projected_w.npz): --projected-w FILE writes
proj00.png (one image per w in the file, as NVIDIA's generate.py), with the projection's noise images
as the constant noise when the file holds them (then every image of this call is drawn with that
noise); with --style-mix the projection is the sheet's first row (--style-mix :COLUMNS for it alone):

    python -m watches.generate --checkpoint runs/sg2 --projected-w proj/projected_w.npz --out gen/
    python -m watches.generate --checkpoint runs/sg2 --projected-w proj/projected_w.npz --style-mix :55,821 --out gen/
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
    p.add_argument("--seeds", type=parse_seeds, default=None,
                   help="write these seeds' images to DIR/seeds/, e.g. 0-63 or 1,5,9 (default: 0-15 when no sheet is asked for)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the images and sheets")
    p.add_argument("--grid", action="store_true",
                   help="write grid.png: the seeds' images, captioned (--seeds, or 0-15)")
    p.add_argument("--interpolate", metavar="A,B", help="also write interpolation_A_B.png between two seeds (default: none)")
    p.add_argument("--steps", type=int, default=8, help="images in the interpolation strip (8)")
    p.add_argument("--truncation-grid", metavar="PSIS", help="write truncation.png: each seed (--seeds, or 0-3) "
                                                            "at each truncation psi, e.g. 1,0.7,0.5,0 (default: none)")
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                   help="truncation (1 = off; StyleGAN2: 0 = the average w)")
    p.add_argument("--noise-mode", choices=["const", "random", "none"], default=None,
                   help="StyleGAN2's noise inputs (default: const)")
    p.add_argument("--style-mix", metavar="ROWS:COLUMNS", help="StyleGAN2: write style_mixing.png for these seeds, "
                                                              "e.g. 85,100,75:55,821,1789 (default: none)")
    p.add_argument("--projected-w", metavar="FILE",
                   help="StyleGAN2: write proj00.png from this projected_w.npz (watches.project), also the first "
                        "row of --style-mix (default: none)")
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
            mix = (parse_seeds(rows) if rows.strip() or not args.projected_w else [], parse_seeds(cols))
        except argparse.ArgumentTypeError as exc:
            p.error(f"--style-mix: {exc}")
    psis = None
    if args.truncation_grid:
        try:
            psis = [float(v) for v in args.truncation_grid.split(",")]
        except ValueError:
            psis = []
        if not psis or not all(0 <= v <= 1 for v in psis):
            p.error(f"--truncation-grid takes psi values in [0, 1], e.g. 1,0.7,0.5,0; got {args.truncation_grid!r}")
    if args.projected_w and not Path(args.projected_w).is_file():
        p.error(f"--projected-w not found: {args.projected_w}")
    pair = parse_seeds(args.interpolate) if args.interpolate else None
    if pair is not None and len(pair) != 2:
        p.error("--interpolate takes two seeds, e.g. 3,7")
    quiet_tensorflow(args.verbose)

    from common.data import DataError
    from common.report import output_folder
    from common.runtime.images import save_png, to_uint8
    from watches.inference import (generate, interpolation, interpolation_sheet, is_stylegan2, load_generator,
                                   style_mixing, truncation_grid)
    from watches.sampling import seed_sheet

    try:
        generator, latent_dim = load_generator(args.checkpoint)
        out = output_folder(args.out)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not is_stylegan2(generator) and (args.noise_mode or mix or args.projected_w):
        p.error("--noise-mode, --style-mix and --projected-w need a StyleGAN2 generator (--model stylegan2)")
    written, images, projected = [], None, None
    if is_stylegan2(generator):
        from watches.stylegan2 import set_noise_mode

        set_noise_mode(generator, args.noise_mode or "const")
    if args.projected_w:
        from watches.inference import split_generator
        from watches.projection import load_projected_w, set_noise_images

        synthesis = split_generator(generator)[1]
        try:
            projected, noise = load_projected_w(args.projected_w, *synthesis.inputs[0].shape[1:])
            if (args.noise_mode or "const") == "const":
                set_noise_images(synthesis, noise)
        except DataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for i, image in enumerate(to_uint8(synthesis(projected, training=False))):
            save_png(out / f"proj{i:02d}.png", image)
        written.append(", ".join(f"proj{i:02d}.png" for i in range(len(projected))))
    seeds = args.seeds if args.seeds is not None else parse_seeds("0-15")
    if args.seeds is not None or not (args.grid or pair or mix or psis or args.projected_w):
        images = generate(generator, latent_dim, seeds, args.truncation)
        for seed, image in zip(seeds, images):
            save_png(out / "seeds" / f"seed{seed:04d}.png", image)
        written.append(f"{len(images)} images in seeds/")
    if args.grid:
        if images is None:
            images = generate(generator, latent_dim, seeds, args.truncation)
        save_png(out / "grid.png", seed_sheet(images, seeds))
        written.append("grid.png")
    if pair:
        strip = interpolation(generator, latent_dim, *pair, steps=args.steps, truncation=args.truncation)
        save_png(out / f"interpolation_{pair[0]}_{pair[1]}.png", interpolation_sheet(strip, *pair))
        written.append(f"interpolation_{pair[0]}_{pair[1]}.png")
    if psis:
        rows = args.seeds if args.seeds is not None else parse_seeds("0-3")
        save_png(out / "truncation.png", truncation_grid(generator, latent_dim, rows, psis))
        written.append("truncation.png")
    if mix:
        try:
            figure = style_mixing(generator, latent_dim, *mix, styles=args.styles, truncation=args.truncation,
                                  projected=projected)
        except argparse.ArgumentTypeError as exc:
            p.error(str(exc))
        save_png(out / "style_mixing.png", figure)
        written.append("style_mixing.png")
    print(f"wrote {', '.join(written)} to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
