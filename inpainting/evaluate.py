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

import json
import sys

from common.report import evaluation_args, evaluation_parser, results_path


def build_parser():
    from inpainting.options import KINDS

    p = evaluation_parser("python -m inpainting.evaluate", __doc__, metrics="fid,kid",
                          data_help="folder with test/ (or val/, or just images), 'demo' or 'kaggle:<owner>/<dataset>'",
                          max_images_help="use at most N test images")
    p.add_argument("--mask", default=None, choices=KINDS, help="hole shape (default: the one the model trained on)")
    p.add_argument("--seed", type=int, default=0, help="seed of the holes, the same for every method")
    p.add_argument("--perceptual", default="on", choices=["on", "off"],
                   help="the VGG16 perceptual distance (needs ImageNet VGG16 weights)")
    p.add_argument("--batch-size", type=int, default=16, help="images per batch")
    p.add_argument("--vgg16-weights", default=None,
                   help="local VGG16 (notop) weights file for the perceptual distance (else Keras's ImageNet "
                        "download; env GANWORKS_VGG16_WEIGHTS)")
    p.add_argument("--sheet", default=None, help="comparison sheet PNG (default <run>/evaluation.png)")
    return p


def main(argv=None) -> int:
    args, metrics = evaluation_args(build_parser(), argv)

    from common.data import DataError
    from common.runtime.run_report import rewrite_report
    from common.data_source import resolve_data
    from inpainting.data import LAYOUTS
    from inpainting.demo import demo_dataset
    from common.metrics.features import WeightsUnavailableError, inception_extractor, vgg16_extractor
    from common.runtime.images import save_png
    from inpainting.evaluation import evaluate, format_results, test_images
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
    target = results_path(args.checkpoint, args.json)
    target.write_text(json.dumps(results, indent=2) + "\n")
    sheet_path = results_path(args.checkpoint, args.sheet, "evaluation.png")
    save_png(sheet_path, sheet)
    print(f"wrote {target} and {sheet_path}")
    report = rewrite_report(args.checkpoint, target, sheet_path)
    if report is not None:
        print(f"wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
