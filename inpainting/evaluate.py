"""Evaluate an inpainting checkpoint on the test split, beside OpenCV's classical inpainting.

    python -m inpainting.evaluate --checkpoint runs/inpainting --data DIR [--mask centre] [--max-images 500]

Every test image (resized to the model's input size) gets a hole drawn from --seed; the model,
cv2.inpaint Telea and cv2.inpaint Navier-Stokes fill the same holes. Reported per method:
PSNR, SSIM, MAE and RMSE on the completed full image and on the hole only, the perceptual
(LPIPS-like) distance, and FID/KID of completed vs original images. Prints a table, writes
JSON (default <run>/evaluation.json) and a side-by-side sheet of the first images
(input | Telea | NS | model | original, default <run>/evaluation.png). The scoring library
is inpainting.evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common.report import one_line_errors  # noqa: E402

METHOD_NAMES = {"telea": "Telea (cv2)", "ns": "Navier-Stokes (cv2)"}


def build_parser() -> argparse.ArgumentParser:
    from inpainting.masks import KINDS

    p = argparse.ArgumentParser(prog="python -m inpainting.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="run folder, checkpoint folder or exported .keras generator")
    p.add_argument("--data", required=True,
                   help="folder with test/ (or val/, or just images), 'demo' or 'kaggle:<owner>/<dataset>'")
    p.add_argument("--mask", default=None, choices=KINDS, help="hole shape (default: the one the model trained on)")
    p.add_argument("--max-images", type=int, default=None, help="use at most N test images")
    p.add_argument("--seed", type=int, default=0, help="seed of the holes (the same for every method)")
    p.add_argument("--metrics", default="fid,kid", help="distribution metrics (comma list, '' for none)")
    p.add_argument("--perceptual", default="on", choices=["on", "off"],
                   help="the VGG16 perceptual distance (needs ImageNet VGG16 weights)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--inception-weights", default=None,
                   help="local InceptionV3 weights file (else Keras's ImageNet download; "
                        "env GANWORKS_INCEPTION_WEIGHTS)")
    p.add_argument("--vgg16-weights", default=None,
                   help="local VGG16 (notop) weights file for the perceptual distance (else Keras's ImageNet "
                        "download; env GANWORKS_VGG16_WEIGHTS)")
    p.add_argument("--json", default=None, help="results file (default <run>/evaluation.json)")
    p.add_argument("--sheet", default=None, help="comparison sheet PNG (default <run>/evaluation.png)")
    return one_line_errors(p)


def test_images(data_root, max_images=None) -> list[str]:
    """The readable images of the test split (val/, or the folder itself when it has neither)."""
    from common.data import list_images, scan_images
    from inpainting.data import splits

    root = Path(data_root)
    folder = splits(root)["test"] or root
    good, _ = scan_images(list_images(folder))
    return good[:max_images] if max_images else good


def evaluate(inpainter, paths, *, mask=None, seed=0, batch_size=16, feature_extractor=None,
             perceptual_extractor=None, metrics=("fid", "kid"), sheet_rows=8):
    """Score an Inpainter and cv2's Telea and NS on the same seeded holes in these images.

    -> (results {"images", "mask", "methods": {method: {metric: value}}}, uint8 comparison sheet).
    """
    import numpy as np
    import tensorflow as tf

    from inpainting import data
    from inpainting.evaluation import ScoreAccumulator, classical_fill, comparison_sheet
    from inpainting.inpainting_gan import masked_input
    from inpainting.holes import paste_holes
    from inpainting.masks import hole_boxes, make_masks

    card = inpainter.card
    size = inpainter.size
    kind = mask or card["mask"]
    options = card["mask_options"] if kind == card["mask"] else {}  # another kind: its defaults
    scores = ScoreAccumulator(perceptual_extractor=perceptual_extractor, feature_extractor=feature_extractor,
                              metrics=metrics)
    shown = None
    for step, batch in enumerate(data.ordered_images(paths, image_size=size, batch_size=batch_size)):
        masks = make_masks(kind, seed=seed, step=step, batch_size=int(batch.shape[0]), image_size=size, **options)
        content = inpainter.generator(masked_input(batch, masks, inpainter.fill_value), training=False)
        completed = data.to_uint8(paste_holes(batch, tf.cast(content, tf.float32), hole_boxes(masks), masks))
        originals = data.to_uint8(batch)
        masks_np = np.asarray(masks)
        by_method = {"model": completed, **{name: classical_fill(originals, masks_np, name) for name in METHOD_NAMES}}
        scores.add(originals, by_method, masks_np)
        if shown is None:
            shown = (data.to_uint8(masked_input(batch, masks, 0.0)), by_method, originals)
    if shown is None:
        from common.data import DataError

        raise DataError("no test image could be read")
    results = {"images": scores.count, "mask": kind, "image_size": size, "seed": seed, "methods": scores.result()}
    masked, by_method, originals = shown
    order = {name: by_method[name] for name in (*METHOD_NAMES, "model")}
    return results, comparison_sheet(masked, order, originals, limit=sheet_rows)


def main(argv=None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if not Path(args.checkpoint).exists():
        p.error(f"--checkpoint not found: {args.checkpoint}")
    if args.max_images is not None and args.max_images < 1:
        p.error("--max-images must be positive")
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]

    from common.data import DataError
    from common.data_source import resolve_data
    from inpainting.data import LAYOUTS
    from inpainting.demo import demo_dataset
    from common.metrics.features import WeightsUnavailableError, inception_extractor, vgg16_extractor
    from common.runtime.images import save_png
    from inpainting.evaluation import format_results
    from inpainting.inference import Inpainter

    notes = []
    try:
        root = resolve_data(args.data, layouts=LAYOUTS, build_demo=demo_dataset)
        paths = test_images(root, args.max_images)
        inpainter = Inpainter.load(args.checkpoint)
        features = perceptual = None
        try:
            features = inception_extractor(args.inception_weights) if metrics else None
        except WeightsUnavailableError as exc:  # everything else can still be measured
            notes.append(f"{','.join(metrics)} skipped: {exc}")
            metrics = []
        if args.perceptual == "on":
            try:
                perceptual = vgg16_extractor(args.vgg16_weights)
            except WeightsUnavailableError as exc:
                notes.append(f"perceptual distance skipped: {exc}")
        results, sheet = evaluate(inpainter, paths, mask=args.mask, seed=args.seed, batch_size=args.batch_size,
                                  feature_extractor=features, perceptual_extractor=perceptual, metrics=metrics)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results["notes"] = notes
    print(format_results(results["methods"], results["images"], results["mask"]))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    run = Path(args.checkpoint)
    run = run.parent if run.suffix == ".keras" or run.name.startswith("ckpt-") else run
    target = Path(args.json) if args.json else run / "evaluation.json"
    target.write_text(json.dumps(results, indent=2) + "\n")
    sheet_path = Path(args.sheet) if args.sheet else run / "evaluation.png"
    save_png(sheet_path, sheet)
    print(f"wrote {target} and {sheet_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
