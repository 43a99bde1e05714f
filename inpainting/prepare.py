"""Build the inpainting experiment's subset of Places365 (SPEC section 2, "Data").

    python -m inpainting.prepare --places DIR --categories 20 --per-category 5000 --size 128 --out data/places20

DIR (a folder, or kaggle:<owner>/<dataset>) holds Places365-small's data_256/<letter>/<category>/
[<sub-category>/] images (DIR may be data_256 itself or up to two levels above it), or a flat
<category>/ layout. --categories K are drawn at random with --seed (or named: --category-list),
--per-category N images each (all of a category's when it has fewer); each image is centre-cropped
to a square and resized to --size, and every category is split into train/ val/ test/ (disjoint,
seeded). Writes OUT/split.json with the file lists; an unreadable image is skipped and counted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common.report import format_table, one_line_errors

SPLITS = ("train", "val", "test")


class PrepareError(ValueError):
    """A layout or setting that cannot work (one line)."""


def _images(folder: Path) -> list[Path]:
    from common.data import IMAGE_EXTENSIONS

    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def find_categories(root) -> dict[str, list[Path]]:
    """{category: sorted image paths} for the data_256/<letter>/<category>[/<sub>] or flat <category>/ layout."""
    from common.data_source import describe_folder, find_layout

    root = Path(root)
    base = find_layout(root, (), accept=lambda f: f.name == "data_256", missing_ok=True)
    if base is not None:  # Places365-small: letters, then categories, some with sub-categories
        found = {}
        for letter in sorted(p for p in base.iterdir() if p.is_dir()):
            for category in sorted(p for p in letter.iterdir() if p.is_dir()):
                for folder in [category, *sorted(p for p in category.iterdir() if p.is_dir())]:
                    images = _images(folder)
                    if images:
                        found[folder.relative_to(letter).as_posix()] = images
        if found:
            return found
    flat = {p.name: _images(p) for p in sorted(root.iterdir()) if p.is_dir()} if root.is_dir() else {}
    flat = {name: images for name, images in flat.items() if images}
    if not flat:
        raise PrepareError(f"{root} holds neither Places365-small's data_256/<letter>/<category>/ nor "
                           f"<category>/ folders of images ({describe_folder(root) if root.is_dir() else 'missing'})")
    return flat


def choose(categories, *, count, names, per_category, seed) -> dict[str, list[Path]]:
    """The categories and images to use: named ones or `count` drawn at random, each with a seeded
    sample of at most per_category images."""
    rng = random.Random(seed)
    available = sorted(categories)
    if names:
        unknown = [n for n in names if n not in categories]
        if unknown:
            raise PrepareError(f"unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)} "
                               f"(available: {', '.join(available[:6])}{', ...' if len(available) > 6 else ''})")
        picked = list(names)
    else:
        if count > len(available):
            raise PrepareError(f"--categories {count}: only {len(available)} categories found")
        picked = sorted(rng.sample(available, count))
    chosen = {}
    for name in picked:
        images = categories[name]
        chosen[name] = sorted(rng.sample(images, min(per_category, len(images))))
    return chosen


def split(images, fractions, seed) -> dict[str, list[Path]]:
    """Shuffle with the seed and cut into train/val/test by the fractions (val, test)."""
    order = list(images)
    random.Random(seed).shuffle(order)
    n_val, n_test = (round(len(order) * f) for f in fractions)
    return {"val": order[:n_val], "test": order[n_val:n_val + n_test], "train": order[n_val + n_test:]}


# at most this many skipped images are named on the terminal (split.json lists them all)
SHOWN_SKIPPED = 5


def convert(source: Path, target: Path, size: int) -> bool:
    """Centre-crop to a square, resize to size x size, write JPEG (quality 95); False if unreadable."""
    return conversion_error(source, target, size) is None


def conversion_error(source: Path, target: Path, size: int) -> str | None:
    """`convert`, saying why it failed (one line) or None when the JPEG was written.

    The file is first checked like a training image (common.data.check_image_file: empty,
    not an image, truncated, larger than common.data.MAX_IMAGE_PIXELS, from its header),
    then read as bytes and decoded by OpenCV: that works for any file name, UTF-8 or not.
    """
    import cv2
    import numpy as np

    from common.data import check_image_file

    reason = check_image_file(source)
    if reason is not None:
        return reason
    try:
        image = cv2.imdecode(np.fromfile(source, np.uint8), cv2.IMREAD_COLOR)
    except (OSError, cv2.error) as exc:
        return f"cannot be decoded ({str(exc).strip().splitlines()[-1]})"
    if image is None:
        return "cannot be decoded"
    h, w = image.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    crop = image[y:y + side, x:x + side]
    method = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    ok, encoded = cv2.imencode(".jpg", cv2.resize(crop, (size, size), interpolation=method),
                               [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        return "cannot be encoded as JPEG"
    try:
        encoded.tofile(target)
    except OSError as exc:
        return f"cannot be written to {target} ({exc.strerror or exc})"
    return None


def prepare(places, out, *, categories=20, per_category=5000, size=128, seed=0, fractions=(0.1, 0.1),
            names=None, overwrite=False, workers=None) -> dict:
    """Build OUT/train, OUT/val, OUT/test and OUT/split.json -> {"counts": {category: {split: n}},
    "skipped": [paths], "reasons": {path: why it was skipped}}."""
    out = Path(out)
    if (out / "split.json").exists() and not overwrite:
        raise PrepareError(f"{out} already holds a prepared set (split.json); add --overwrite to replace it")
    chosen = choose(find_categories(places), count=categories, names=names, per_category=per_category, seed=seed)
    jobs, plan = [], {s: [] for s in SPLITS}
    for name, images in chosen.items():
        for part, files in split(images, fractions, seed).items():
            for source in files:
                target = out / part / f"{name.replace('/', '_')}_{source.stem}.jpg"
                jobs.append((name, part, source, target))
    for part in SPLITS:
        (out / part).mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(workers or os.cpu_count() or 2) as pool:  # OpenCV releases the GIL
        errors = list(pool.map(lambda job: conversion_error(job[2], job[3], size), jobs))
    counts = {name: dict.fromkeys(SPLITS, 0) for name in chosen}
    skipped, reasons = [], {}
    for (name, part, source, target), error in zip(jobs, errors):
        if error is None:
            counts[name][part] += 1
            plan[part].append(target.name)
        else:
            skipped.append(str(source))
            reasons[str(source)] = error
    settings = {"places": str(places), "categories": sorted(chosen), "per_category": per_category, "size": size,
                "seed": seed, "val_fraction": fractions[0], "test_fraction": fractions[1]}
    (out / "split.json").write_text(json.dumps({"settings": settings, "skipped": skipped,
                                                **{p: sorted(plan[p]) for p in SPLITS}}, indent=1) + "\n")
    return {"counts": counts, "skipped": skipped, "reasons": reasons, "short": {n: len(v) for n, v in chosen.items()
                                                          if len(v) < per_category}}


def main(argv=None) -> int:
    p = one_line_errors(argparse.ArgumentParser(prog="python -m inpainting.prepare", description=__doc__,
                                                formatter_class=argparse.RawDescriptionHelpFormatter))
    p.add_argument("--places", required=True, metavar="DIR", help="Places365 folder or kaggle:<owner>/<dataset>")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--categories", type=int, default=20, help="how many categories to draw (default 20)")
    p.add_argument("--category-list", default=None, help="comma-separated category names instead of a draw")
    p.add_argument("--per-category", type=int, default=5000, help="images per category (default 5000)")
    p.add_argument("--size", type=int, default=128, help="output side in pixels (default 128)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--test-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace an existing prepared set")
    args = p.parse_args(argv)
    if min(args.categories, args.per_category, args.size) < 1:
        p.error("--categories, --per-category and --size must be positive")
    if not (0 <= args.val_fraction and 0 <= args.test_fraction and args.val_fraction + args.test_fraction < 1):
        p.error("--val-fraction and --test-fraction must be >= 0 and leave some images for training")
    from common.data import DataError, display_path
    from common.data_source import resolve_data

    names = [n.strip() for n in args.category_list.split(",") if n.strip()] if args.category_list else None
    try:
        places = resolve_data(args.places)
        result = prepare(places, args.out, categories=args.categories, per_category=args.per_category,
                         size=args.size, seed=args.seed, fractions=(args.val_fraction, args.test_fraction),
                         names=names, overwrite=args.overwrite)
    except (PrepareError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = result["counts"]
    rows = [(name, *(c[s] for s in SPLITS)) for name, c in counts.items()]
    rows.append(("total", *(sum(c[s] for c in counts.values()) for s in SPLITS)))
    print(format_table(rows, ("category", *SPLITS)))
    for name, n in result["short"].items():
        print(f"note: {name} has only {n} images (fewer than --per-category {args.per_category}): all are used")
    skipped = result["skipped"]
    if skipped:
        print(f"skipped {len(skipped)} unreadable image(s), all listed in {Path(args.out) / 'split.json'}:")
        for path in skipped[:SHOWN_SKIPPED]:
            print(f"  {display_path(path)}: {result['reasons'][path]}")
        if len(skipped) > SHOWN_SKIPPED:
            print(f"  and {len(skipped) - SHOWN_SKIPPED} more")
    print(f"wrote {Path(args.out) / 'split.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
