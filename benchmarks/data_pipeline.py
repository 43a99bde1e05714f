"""Images per second of common.data's training pipeline, read from disk on this machine.

    python -m benchmarks.data_pipeline                                # BDD-like 1280x720 JPEGs, ResNet CycleGAN recipe
    python -m benchmarks.data_pipeline --source-size 128 --image-size 128 --resize-to 0 --no-crop --batch-size 64
    python -m benchmarks.data_pipeline --folder DIR                   # your own images

Without --folder, writes --images JPEGs of --source-size (crops of scikit-image photos)
into a temporary folder first. Each order ("shuffle", "random": the training paths,
which can swap in a substitute for an undecodable file; "sequential": the plain
evaluation path) is timed over --steps batches after --warmup batches, and printed as
JSON. The pipeline decodes, resizes, crops and flips in parallel (AUTOTUNE) and
prefetches; nothing is cached, so every image is read and decoded every time.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def write_folder(folder: Path, count: int, width: int, height: int) -> Path:
    """`count` JPEGs of width x height cut from the scikit-image photos (seeded)."""
    import numpy as np
    from PIL import Image

    from common.demo_data import SCENES, load_photos

    rng = np.random.default_rng(0)
    photos = load_photos(SCENES)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        ch = int(rng.integers(h // 2, h + 1))
        cw = min(w, int(ch * width / height))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = Image.fromarray(photo[y:y + ch, x:x + cw]).resize((width, height), Image.BILINEAR)
        crop.save(folder / f"{i:05d}.jpg", quality=90)
    return folder


def time_order(folder, order: str, args) -> dict:
    from common.data import image_dataset

    dataset = image_dataset(folder, image_size=args.image_size, batch_size=args.batch_size, order=order,
                            seed=0, resize_to=args.resize_to or None, random_crop=args.crop,
                            random_flip=args.flip)
    iterator = iter(dataset)
    for _ in range(args.warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(args.steps):
        next(iterator)
    seconds = time.perf_counter() - start
    return {"order": order, "batches": args.steps, "seconds": round(seconds, 2),
            "images_per_second": round(args.steps * args.batch_size / seconds, 1)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", default=None, help="time on this image folder instead of generated JPEGs")
    parser.add_argument("--images", type=int, default=200, help="generated images")
    parser.add_argument("--source-size", default="1280x720", help="generated image size, WxH or N")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--resize-to", type=int, default=720, help="resize before cropping; 0 = off")
    parser.add_argument("--no-crop", dest="crop", action="store_false", help="resize to --image-size, no crop")
    parser.add_argument("--no-flip", dest="flip", action="store_false")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--steps", type=int, default=100, help="timed batches per order")
    parser.add_argument("--warmup", type=int, default=10, help="untimed batches first (threads, autotuning)")
    parser.add_argument("--orders", default="shuffle,random,sequential")
    args = parser.parse_args(argv)

    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="ganworks-bench-") as scratch:
        if args.folder:
            folder = Path(args.folder)
            source = "folder"
        else:
            width, _, height = args.source_size.partition("x")
            folder = write_folder(Path(scratch), args.images, int(width), int(height or width))
            source = f"{args.images} generated JPEGs of {args.source_size}"
        results = [time_order(folder, order, args) for order in args.orders.split(",")]
    report = {
        "machine": {"cpus": os.cpu_count(), "tensorflow": tf.__version__},
        "data": source if args.folder is None else str(folder),
        "recipe": {"image_size": args.image_size, "resize_to": args.resize_to or None, "random_crop": args.crop,
                   "random_flip": args.flip, "batch_size": args.batch_size},
        "results": results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
