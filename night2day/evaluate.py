"""Evaluate a night2day checkpoint on the test split.

    python -m night2day.evaluate --checkpoint runs/night2day --data data/night2day [--max-images 400]

Reports FID and KID between translated test-night images (G(testA)) and real
test-day images (testB), and cycle-reconstruction PSNR/SSIM (testA vs F(G(testA)),
testB vs G(F(testB))) on [0, 1] pixels. Prints a table and writes JSON. Test images that
cannot be read are left out and named, each with a one-line reason, in the table and in
the JSON's "skipped_files". The library behind it: night2day.evaluation.
"""

from __future__ import annotations

import json
import sys

from common.report import evaluation_args, evaluation_parser, results_path


def build_parser():
    p = evaluation_parser("python -m night2day.evaluate", __doc__, metrics="fid,kid",
                          data_help="folder with testA/ (night) and testB/ (day), 'demo' or 'kaggle:<owner>/<dataset>'",
                          max_images_help="use at most N test images per domain")
    p.add_argument("--batch-size", type=int, default=8, help="images per batch")
    return p


def main(argv=None) -> int:
    args, metrics = evaluation_args(build_parser(), argv)

    from common.data import DataError
    from common.runtime.run_report import rewrite_report
    from common.data_source import resolve_data
    from night2day.data import LAYOUTS
    from night2day.demo import demo_dataset
    from common.metrics.features import WeightsUnavailableError, inception_extractor
    from night2day.evaluation import evaluate, format_results

    try:
        data_root = resolve_data(args.data, layouts=LAYOUTS, build_demo=demo_dataset)
        skipped_metrics = None
        try:
            extractor = inception_extractor(args.inception_weights) if metrics else None
        except WeightsUnavailableError as exc:  # everything else can still be measured
            skipped_metrics, extractor, metrics = (f"{','.join(metrics)} skipped: {exc} (or pass --metrics '' "
                                                   "to measure only the rest)"), None, []
        results = evaluate(args.checkpoint, data_root, extractor=extractor, metrics=metrics,
                           max_images=args.max_images, batch_size=args.batch_size)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if skipped_metrics:
        results["skipped_metrics"] = skipped_metrics
    print(format_results(results))
    if skipped_metrics:
        print(f"note: {skipped_metrics}", file=sys.stderr)
    target = results_path(args.checkpoint, args.json)
    target.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {target}")
    report = rewrite_report(args.checkpoint, target)
    if report is not None:
        print(f"wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
