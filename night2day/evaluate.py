"""Evaluate a night2day checkpoint on the test split.

    python -m night2day.evaluate --checkpoint runs/night2day --data data/night2day [--max-images 400]

Reports FID and KID between translated test-night images (G(testA)) and real
test-day images (testB), and cycle-reconstruction PSNR/SSIM (testA vs F(G(testA)),
testB vs G(F(testB))) on [0, 1] pixels. Prints a table and writes JSON. Test images that
cannot be read are left out and named, each with a one-line reason, in the table and in
the JSON's "skipped_files".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def _cycle_scores(forward, backward, dataset, value_range, save_dir=None, limit=None):
    """Run x -> forward -> backward over a dataset; PSNR/SSIM of x vs reconstruction on [0, 1]."""
    from common.data import from_range
    from common.metrics import psnr, ssim
    from common.runtime.images import save_png

    psnrs, ssims, count = [], [], 0
    for batch in dataset:
        if limit is not None and count >= limit:
            break
        if limit is not None:
            batch = batch[: limit - count]
        translated = forward(batch, training=False)
        rebuilt = backward(translated, training=False)
        x = np.asarray(from_range(batch, value_range), np.float32) / 255.0
        r = np.asarray(from_range(rebuilt, value_range), np.float32) / 255.0
        psnrs.extend(np.atleast_1d(np.asarray(psnr(x, r, max_val=1.0))).tolist())
        ssims.extend(np.atleast_1d(np.asarray(ssim(x, r, max_val=1.0))).tolist())
        if save_dir is not None:
            for i, image in enumerate(np.asarray(from_range(translated, value_range))):
                save_png(Path(save_dir) / f"{count + i:06d}.png", image)
        count += int(batch.shape[0])
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)), "images": count}


def _readable_test_files(folder, limit=None):
    """The first ``limit`` (all if None) readable images of a test folder, in order, and the
    skipped ones before them as [{"path", "reason"}]. Each file is checked and decoded here,
    so the dataset gets only files that decode and every left-out file can be named."""
    from common.data import DataError, list_images
    from common.metrics.evaluate import find_unreadable

    paths = list_images(folder)
    readable, skipped = find_unreadable(paths, decode=True, stop_after=limit)
    if not readable:
        first = skipped[0]
        raise DataError(f"none of the {len(paths)} images in {folder} can be read "
                        f"(first: {first['path']}: {first['reason']})")
    return readable, skipped


def evaluate(checkpoint, data_root, *, extractor=None, metrics=("fid", "kid"), max_images=None,
             batch_size=8, kid_subset_size=1000):
    """-> dict of results. extractor: a common.metrics.features extractor (default Inception-v3).

    results["skipped_files"]: [{"path", "reason"}] for every test image left out because it
    cannot be read (empty, not an image, truncated, corrupt), from either domain.
    """
    from common.metrics.evaluate import evaluate_folders
    from night2day import data
    from night2day.inference import load_cyclegan

    model, config = load_cyclegan(checkpoint)
    folders = data.domain_folders(data_root, splits=("testA", "testB"))
    vr = data.value_range_of(config["model"])
    files = {split: _readable_test_files(folders[split], max_images) for split in ("testA", "testB")}
    skipped = files["testA"][1] + files["testB"][1]

    def test_set(split):
        return data.test_dataset(files[split][0], model=config["model"], image_size=config["image_size"],
                                 batch_size=batch_size)

    G, F = model.generator_g, model.generator_f
    results = {"checkpoint": str(checkpoint), "model": config["model"], "image_size": config["image_size"]}
    with tempfile.TemporaryDirectory(prefix="night2day-eval-") as fake_dir:
        forward = _cycle_scores(G, F, test_set("testA"), vr, save_dir=fake_dir, limit=max_images)
        backward = _cycle_scores(F, G, test_set("testB"), vr, limit=max_images)
        results["cycle_night_psnr"], results["cycle_night_ssim"] = forward["psnr"], forward["ssim"]
        results["cycle_day_psnr"], results["cycle_day_ssim"] = backward["psnr"], backward["ssim"]
        results["n_test_night"], results["n_test_day"] = forward["images"], backward["images"]
        if metrics:
            dist = evaluate_folders(folders["testB"], fake_dir, metrics=list(metrics), extractor=extractor,
                                    max_images=max_images, kid_subset_size=kid_subset_size)
            seen = {item["path"] for item in skipped}  # FID's seeded subset of testB may hold others
            skipped += [item for item in dist.pop("skipped_files", []) if item["path"] not in seen]
            results.update({f"day_vs_translated_{k}": v for k, v in dist.items()})
    results["skipped_files"] = skipped
    return results


def format_table(results: dict) -> str:
    """The numbers as aligned "name  value" lines, then the skipped test images, one a line."""
    from common.metrics.evaluate import format_skipped

    rows = [(k, f"{v:.4f}" if isinstance(v, float) else str(v)) for k, v in results.items()
            if not isinstance(v, (dict, list))]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    return "\n".join(lines + format_skipped(results.get("skipped_files"), "test image"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m night2day.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="checkpoint folder or run folder")
    p.add_argument("--data", required=True,
                   help="folder with testA/ (night) and testB/ (day), 'demo' or 'kaggle:<owner>/<dataset>'")
    p.add_argument("--metrics", default="fid,kid", help="distribution metrics (comma list, '' for none)")
    p.add_argument("--max-images", type=int, default=None, help="use at most N test images per domain")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--inception-weights", default=None,
                   help="local InceptionV3 weights file (else Keras's ImageNet download; env GANWORKS_INCEPTION_WEIGHTS)")
    p.add_argument("--json", default=None, help="where to write the results (default <checkpoint run>/evaluation.json)")
    args = p.parse_args(argv)
    if not Path(args.checkpoint).exists():
        p.error(f"--checkpoint not found: {args.checkpoint}")
    if args.max_images is not None and args.max_images < 1:
        p.error("--max-images must be positive")
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]

    from common.data import DataError
    from common.datasets import resolve_data
    from common.metrics.features import WeightsUnavailableError, inception_extractor

    try:
        data_root = resolve_data(args.data, task="night2day")
        extractor = inception_extractor(args.inception_weights) if metrics else None
        results = evaluate(args.checkpoint, data_root, extractor=extractor, metrics=metrics,
                           max_images=args.max_images, batch_size=args.batch_size)
    except (DataError, WeightsUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(results))
    target = Path(args.json) if args.json else _default_json(args.checkpoint)
    target.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {target}")
    return 0


def _default_json(checkpoint) -> Path:
    path = Path(checkpoint)
    run = path.parent.parent if path.name.startswith("ckpt-") else path
    return run / "evaluation.json"


if __name__ == "__main__":
    sys.exit(main())
