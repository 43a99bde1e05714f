"""Fill the holes in your own photos with a trained inpainting generator.

    python -m inpainting.fill --checkpoint runs/inpainting --input photo.jpg --mask mask.png [--out out.png]
    python -m inpainting.fill --checkpoint runs/inpainting --input photo.jpg --mask free-form [--seed 3]
    python -m inpainting.fill --checkpoint runs/inpainting --input photos/ --mask masks/ --out filled/
    python -m inpainting.fill --checkpoint runs/inpainting --export generator.keras

A mask is an image of the photo's size, white (> 127) where pixels are missing; a folder of
masks is matched to the photos by file name (photo.jpg <- photo.png). Or draw one: centre,
random-block (or random) or free-form, seeded. Any photo size works, and each separate hole
of a mask is filled in its own window: see inpainting.inference.
Every pixel outside the holes is written back unchanged, in the photo's own mode (grey stays
grey, the alpha channel is kept; a palette photo is written as RGB, or RGBA when it has
transparency), as PNG unless --out names another format. For a JPEG photo the pixels kept
are Pillow's (libjpeg) decode of it, written losslessly to the PNG.
--export writes the generator as a standalone .keras file with its model card (.json) beside it;
it does not overwrite an existing file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.report import add_verbose, one_line_error, one_line_errors, quiet_tensorflow

DRAWN = {"centre": "centre", "random": "random-block", "random-block": "random-block", "free-form": "free-form"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m inpainting.fill", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="run folder, checkpoint folder or exported .keras generator")
    p.add_argument("--input", help="a photo or a folder of photos (default: none)")
    p.add_argument("--mask", help="a mask image, a folder of same-named masks, or centre|random-block|free-form "
                                  "(default: none, required with --input)")
    p.add_argument("--out", "--output", dest="out", metavar="PATH",
                   help="output file (one photo) or folder (default: <photo>_filled.png beside it, "
                        "or <folder>_filled/)")
    p.add_argument("--seed", type=int, default=0, help="seed of a drawn mask")
    p.add_argument("--export", metavar="PATH.keras", help="write the generator as a standalone .keras file "
                                                          "(default: none)")
    return add_verbose(one_line_errors(p))


def drawn_mask(kind, height, width, seed):
    """A centre / random-block / free-form mask drawn at the photo's size -> float32 [H, W]."""
    import numpy as np

    from inpainting.masks import make_masks

    options = {"hole_size": (height // 2, width // 2)} if kind == "centre" else {}
    masks = make_masks(kind, seed=seed, step=0, batch_size=1, image_size=(height, width), **options)
    return np.asarray(masks)[0, ..., 0]


def jobs(args, p):
    """[(photo, mask path or None, output path)] for the arguments, or a one-line parser error."""
    from common.data import DataError
    from common.runtime.images import input_images

    source = Path(args.input)
    if not source.exists():
        p.error(f"--input not found: {source}")
    photos = input_images(source)
    if not photos:
        raise DataError(f"no images in {source}")
    drawn = args.mask in DRAWN
    masks = None if drawn else Path(args.mask)
    if masks is not None and not masks.exists():
        p.error(f"--mask not found: {masks} (or give centre, random-block or free-form)")
    if source.is_file():
        if masks is not None and masks.is_dir():
            p.error("--mask must be a mask image (or a kind) when --input is one photo")
        out = Path(args.out) if args.out else source.with_name(f"{source.stem}_filled.png")
        return [(source, masks, out)]
    if masks is not None and masks.is_file():
        p.error("--mask must be a folder of masks (or a kind) when --input is a folder")
    out_dir = Path(args.out) if args.out else source.with_name(f"{source.name}_filled")
    by_stem = {} if masks is None else {m.stem: m for m in input_images(masks)}
    return [(photo, None if drawn else by_stem.get(photo.stem, "missing"), out_dir / f"{photo.stem}.png")
            for photo in photos]


def check_export(path, p) -> None:
    """--export must name a new .keras file in an existing folder (a one-line parser error otherwise)."""
    if path.suffix != ".keras":
        p.error(f"--export {path} must end in .keras")
    if path.exists():
        p.error(f"--export {path} already exists: remove it or choose another name")
    if not path.parent.is_dir():
        p.error(f"--export {path}: the folder {path.parent} does not exist")


LOSSY = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WebP"}
JPEG_NOTE = ("note: outside the holes, a JPEG photo's pixels are Pillow's (libjpeg) decode of the file, written "
             "losslessly")


def main(argv=None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if not Path(args.checkpoint).exists():
        p.error(f"--checkpoint not found: {args.checkpoint}")
    if args.input is None and args.export is None:
        p.error("give --input (and --mask) to fill photos, or --export")
    if args.input is not None and args.mask is None:
        p.error("--mask is required with --input: a mask image or folder, or centre|random-block|free-form")
    if args.export:
        check_export(Path(args.export), p)
    quiet_tensorflow(args.verbose)

    import numpy as np
    from PIL import Image

    from common.data import DataError
    from inpainting.inference import Inpainter, read_photo, write_photo

    try:
        todo = jobs(args, p) if args.input is not None else []
        inpainter = Inpainter.load(args.checkpoint)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.export:
        try:
            path = inpainter.export(args.export)
        except OSError as exc:  # a full disk, a read-only folder: nothing half-written is left
            print(f"error: cannot export to {args.export}: {one_line_error(exc)}", file=sys.stderr)
            return 2
        print(f"generator exported to {path} (model card {path.with_suffix('.json').name})")
    done, skipped, told = 0, 0, set()
    for photo, mask_path, out in todo:
        try:
            if mask_path == "missing":
                raise DataError(f"no mask named {photo.stem}.* in {args.mask}")
            source = read_photo(photo)
            image = source.rgb
            if mask_path is None:
                mask = drawn_mask(DRAWN[args.mask], *image.shape[:2], args.seed)
                write_photo(out.with_name(f"{out.stem}_mask.png"), Image.fromarray((mask * 255).astype(np.uint8)))
            else:
                mask = read_photo(mask_path).rgb[..., 0]
            filled = inpainter.fill(image, mask)
            write_photo(out, source.completed(filled.image, filled.hole))
            done += 1
            print(f"{photo} -> {out}" + (f" ({filled.note})" if filled.note else ""))
            lossy = out.suffix.lower() in LOSSY
            notes = [JPEG_NOTE] if source.format == "JPEG" and not lossy else []
            if lossy:
                notes.append(f"note: {LOSSY[out.suffix.lower()]} output is lossy: the pixels outside the holes are "
                             "re-encoded (write .png to keep them exactly)")
            for line in notes:  # once per run
                if line not in told:
                    told.add(line)
                    print(line)
        except Exception as exc:  # noqa: BLE001 - one bad photo must not stop the others
            skipped += 1
            print(f"skipped {photo}: {one_line_error(exc)}", file=sys.stderr)
    if todo:
        print(f"filled {done} photo(s)" + (f", skipped {skipped}" if skipped else ""))
    return 0 if done or not todo else 2


if __name__ == "__main__":
    sys.exit(main())
