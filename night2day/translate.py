"""Translate images with a trained night2day generator.

    python -m night2day.translate --checkpoint runs/night2day --input photos/ --out day/
    python -m night2day.translate --checkpoint runs/night2day --input a.jpg --out out/ --grid
    python -m night2day.translate --checkpoint runs/night2day --export generator.keras

--checkpoint: a ckpt-* folder, a run folder, or an exported generator (.keras).

One image that cannot be translated does not stop the batch: files that cannot be read
(empty, not an image, truncated, corrupt), images smaller than the generator's minimum
(8 px a side for the ResNet generator) and any other per-image failure are skipped with
one line each on stderr, and the end says how many were translated and skipped.
Exit code: 0 if at least one image was translated (or only --export was asked for),
1 if every input image was skipped, 2 for bad arguments or checkpoint.
The library behind it: night2day.inference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.report import add_verbose, one_line_errors, quiet_tensorflow


def build_parser():
    p = argparse.ArgumentParser(prog="python -m night2day.translate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="checkpoint folder, run folder or .keras generator")
    p.add_argument("--input", help="an image or a folder of images")
    p.add_argument("--out", "--output", dest="out", metavar="DIR",
                   help="folder for the translated images (PNG, same names) (default: none, required with --input)")
    p.add_argument("--direction", default="night2day", choices=["night2day", "day2night"])
    p.add_argument("--size", default="train",
                   help="'train' (the default: the scale the generator learned at - the image is resized to the "
                        "training load size, as in training, and the result back to the image's size), "
                        "'original' (the image's own resolution) or a square size in pixels, e.g. 256")
    p.add_argument("--grid", action="store_true",
                   help="also write <name>_grid.png: input | translated | reconstructed (needs a checkpoint)")
    p.add_argument("--export", metavar="FILE.keras",
                   help="save the chosen direction's generator as a standalone .keras file (default: none)")
    return add_verbose(one_line_errors(p))


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.size not in ("train", "original") and not args.size.isdigit():
        parser.error(f"--size must be 'train', 'original' or a whole number of pixels, got {args.size!r}")
    if not args.export and not (args.input and args.out):
        parser.error("give --input and --out (and/or --export FILE.keras)")
    if args.input and not Path(args.input).exists():
        parser.error(f"--input not found: {args.input}")
    if not Path(args.checkpoint).exists():
        parser.error(f"--checkpoint not found: {args.checkpoint}")
    quiet_tensorflow(args.verbose)

    from common.data import DataError
    from common.runtime.generator import export
    from common.runtime.images import input_images
    from night2day.inference import Translator, translate_files

    try:
        translator = Translator.load(args.checkpoint, args.direction)
    except (DataError, ValueError) as exc:
        parser.exit(2, f"error: {exc}\n")
    if args.export:
        export(translator.forward, args.export, translator.card)
        print(f"exported {args.direction} generator to {args.export} (its card beside it)")
    if not args.input:
        return 0
    if args.size not in ("train", "original"):
        try:
            translator.check_size(int(args.size), int(args.size), args.size)
        except ValueError as exc:  # below the minimum, or not the training size of a generator with dense layers
            parser.exit(2, f"error: {exc}\n")
    if args.size == "original" and not translator.fully_convolutional:
        print(f"note: the multi-scale generator has dense layers and needs its training size "
              f"{translator.image_size}; images are resized to it and back")
    if args.grid and translator.backward is None:
        parser.exit(2, "error: --grid needs a checkpoint (an exported generator has no inverse)\n")
    from common.report import output_folder

    try:
        paths = input_images(args.input)
        out = output_folder(args.out, "--out")
    except DataError as exc:
        parser.exit(2, f"error: {exc}\n")

    translated, skipped = translate_files(
        translator, paths, out, size=args.size, grid=args.grid,
        on_skip=lambda path, reason: print(f"skipped {path}: {reason}", file=sys.stderr))
    summary = f"translated {len(translated)} of {len(paths)} image(s) to {out}"
    print(summary + (f"; skipped {len(skipped)} (reasons above)" if skipped else ""))
    if not translated:
        print(f"error: none of the {len(paths)} image(s) could be translated", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
