"""Images per second of the metrics' Inception-v3 feature extraction on this machine.

    python -m benchmarks.feature_extraction [--batch-size 64] [--batches 5] [--image-size 256]
    python -m benchmarks.feature_extraction --folder DIR      # also time decode + resize from disk

Uses the real InceptionV3 architecture with random weights (the cost of a forward pass
does not depend on the weights, and this machine cannot download ImageNet weights).
Timed after one warm-up batch, which traces the tf.function. Inputs of --image-size are
resized to 299x299 inside the extractor, as in a real evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def time_model(extractor, batch_size: int, batches: int, image_size: int) -> dict:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(batch_size, image_size, image_size, 3), dtype=np.uint8)
    extractor(images)  # warm-up: tracing and oneDNN kernel selection
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        extractor(images)
        times.append(time.perf_counter() - start)
    per_batch = float(np.median(times))
    return {
        "what": "InceptionV3 forward (resize to 299 + pool + logits), in-memory batches",
        "batch_size": batch_size,
        "image_size": image_size,
        "batches": batches,
        "seconds_per_batch_median": round(per_batch, 3),
        "images_per_second": round(batch_size / per_batch, 2),
    }


def time_folder(extractor, folder, batch_size: int, max_images: int | None) -> dict:
    from common.metrics import features as F

    paths = F.select_images(folder, max_images)
    dataset = F.folder_dataset(paths, extractor.input_size, batch_size)
    extractor(next(iter(dataset)), (0, 255))  # warm-up
    start = time.perf_counter()
    feats = F.collect_features(dataset, extractor, (0, 255), total=len(paths), progress=True, label="benchmark")
    seconds = time.perf_counter() - start
    return {
        "what": "tf.data pipeline from a folder (decode + resize, AUTOTUNE, prefetch) + InceptionV3",
        "folder": str(folder),
        "images": len(feats["pool"]),
        "batch_size": batch_size,
        "seconds": round(seconds, 2),
        "images_per_second": round(len(feats["pool"]) / seconds, 2),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=5, help="timed batches after the warm-up")
    parser.add_argument("--image-size", type=int, default=256, help="input size before the resize to 299")
    parser.add_argument("--folder", default=None, help="also time the full pipeline on this image folder")
    parser.add_argument("--max-images", type=int, default=None)
    args = parser.parse_args(argv)

    import tensorflow as tf

    from common.metrics import features as F

    extractor = F.untrained_inception_extractor()
    report = {
        "machine": {"cpus": os.cpu_count(), "gpus": len(tf.config.list_physical_devices("GPU")),
                    "tensorflow": tf.__version__},
        "model": time_model(extractor, args.batch_size, args.batches, args.image_size),
    }
    if args.folder:
        report["folder"] = time_folder(extractor, args.folder, args.batch_size, args.max_images)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
