"""Translate images with a trained night2day generator.

    python -m night2day.translate --checkpoint runs/night2day --input photos/ --output day/
    python -m night2day.translate --checkpoint runs/night2day --input a.jpg --output out/ --grid
    python -m night2day.translate --checkpoint runs/night2day --export generator.keras

--checkpoint: a ckpt-* folder, a run folder, or an exported generator (.keras).

One image that cannot be translated does not stop the batch: files that cannot be read
(empty, not an image, truncated, corrupt), images smaller than the generator's minimum
(8 px a side for the ResNet generator) and any other per-image failure are skipped with
one line each on stderr, and the end says how many were translated and skipped.
Exit code: 0 if at least one image was translated (or only --export was asked for),
1 if every input image was skipped, 2 for bad arguments or checkpoint.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_parser():
    p = argparse.ArgumentParser(prog="python -m night2day.translate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="checkpoint folder, run folder or .keras generator")
    p.add_argument("--input", help="an image or a folder of images")
    p.add_argument("--output", help="folder for the translated images (PNG, same names)")
    p.add_argument("--direction", default="night2day", choices=["night2day", "day2night"])
    p.add_argument("--size", default="original",
                   help="'original' (the image's own resolution) or a square size in pixels, e.g. 256")
    p.add_argument("--grid", action="store_true",
                   help="also write <name>_grid.png: input | translated | reconstructed (needs a checkpoint)")
    p.add_argument("--export", metavar="FILE.keras",
                   help="save the chosen direction's generator as a standalone .keras file")
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.size != "original" and not args.size.isdigit():
        parser.error(f"--size must be 'original' or a whole number of pixels, got {args.size!r}")
    if not args.export and not (args.input and args.output):
        parser.error("give --input and --output (and/or --export FILE.keras)")
    if args.input and not Path(args.input).exists():
        parser.error(f"--input not found: {args.input}")
    if not Path(args.checkpoint).exists():
        parser.error(f"--checkpoint not found: {args.checkpoint}")

    from common.data import DataError, IMAGE_EXTENSIONS, list_images
    from night2day.inference import ImageTooSmallError, Translator

    try:
        translator = Translator.load(args.checkpoint, args.direction)
    except (DataError, ValueError) as exc:
        parser.exit(2, f"error: {exc}\n")
    if args.export:
        translator.forward.save(args.export)
        print(f"exported {args.direction} generator to {args.export}")
    if not args.input:
        return 0
    if args.size != "original":
        if not translator.fully_convolutional and int(args.size) != translator.image_size:
            parser.exit(2, f"error: this generator has dense layers and only runs at its training size "
                           f"{translator.image_size}; use --size {translator.image_size} or original\n")
        try:
            translator.check_size(int(args.size), int(args.size), args.size)
        except ImageTooSmallError as exc:
            parser.exit(2, f"error: {exc}\n")
    if args.size == "original" and not translator.fully_convolutional:
        print(f"note: the multi-scale generator has dense layers and needs its training size "
              f"{translator.image_size}; images are resized to it and back")
    if args.grid and translator.backward is None:
        parser.exit(2, "error: --grid needs a checkpoint (an exported generator has no inverse)\n")
    src = Path(args.input)
    try:
        paths = [src] if src.is_file() else [Path(p) for p in list_images(src)]
    except DataError as exc:
        parser.exit(2, f"error: {exc}\n")
    if src.is_file() and src.suffix.lower() not in IMAGE_EXTENSIONS:
        parser.exit(2, f"error: not an image file: {src}\n")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    translated_count, skipped = 0, 0
    for path in paths:
        reason = _translate_one(path, translator, out, size=args.size, grid=args.grid)
        if reason is None:
            translated_count += 1
        else:
            print(f"skipped {path}: {reason}", file=sys.stderr)
            skipped += 1
    summary = f"translated {translated_count} of {len(paths)} image(s) to {out}"
    print(summary + (f"; skipped {skipped} (reasons above)" if skipped else ""))
    if not translated_count:
        print(f"error: none of the {len(paths)} image(s) could be translated", file=sys.stderr)
        return 1
    return 0


def _translate_one(path, translator, out, *, size, grid) -> str | None:
    """Translate one file and write <out>/<stem>.png (and _grid.png) -> None, or why it was
    skipped, in one line (no traceback, no TensorFlow function_node text)."""
    from common.data import check_image_file
    from common.metrics.evaluate import one_line_error
    from common.runtime.images import image_grid, save_png
    from night2day.inference import ImageTooSmallError, read_image

    reason = check_image_file(path)
    if reason is not None:
        return reason
    try:
        image = read_image(path)
    except Exception as exc:  # noqa: BLE001 - one unreadable file must not stop the batch
        return f"cannot be decoded ({one_line_error(exc)})"
    try:
        translated = translator.translate(image, size)  # checks the size before running the network
        sheet = None
        if grid:
            rebuilt = translator.reconstruct(translated, size)
            shown = image
            if image.shape != translated.shape:  # --size N: show the input at the size it was translated
                import tensorflow as tf

                shown = tf.cast(tf.round(tf.image.resize(image, translated.shape[:2], antialias=True)), tf.uint8)
            sheet = image_grid([[shown, translated, rebuilt]])
        save_png(out / f"{path.stem}.png", translated)
        if sheet is not None:
            save_png(out / f"{path.stem}_grid.png", sheet)
    except ImageTooSmallError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - nor must one image the network fails on
        return f"translation failed ({type(exc).__name__}: {one_line_error(exc)})"
    return None

if __name__ == "__main__":
    sys.exit(main())
