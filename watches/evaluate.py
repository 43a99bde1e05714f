"""Evaluate a watches generator: FID, KID, Inception Score and precision/recall against the real images.

    python -m watches.evaluate --checkpoint runs/watches --data kaggle:minhquntntht/wrist-watch-128 [--num-fake 10000]

Prints a table and writes JSON (default <run>/evaluation.json). The library: watches.evaluation.
"""

from __future__ import annotations

import json
import sys

from common.report import evaluation_args, evaluation_parser, extractor_arg, results_path


def main(argv=None) -> int:
    p = evaluation_parser("python -m watches.evaluate", __doc__, metrics="fid,kid,is,pr",
                          data_help="the real images: a folder, 'demo' or 'kaggle:<owner>/<dataset>'",
                          max_images_help="use at most N real images")
    p.add_argument("--num-fake", type=int, default=10000, metavar="N", help="generated images scored")
    p.add_argument("--extractor", default="inception", type=extractor_arg, metavar="NAME|FILE.keras",
                   help="features: inception (Keras ImageNet InceptionV3), inception-2015 (the TF-slim graph of "
                        "published FIDs) or a saved Keras feature model (FILE.keras: images -> features)")
    args, metrics = evaluation_args(p, argv)
    if args.num_fake < 2 or not metrics or set(metrics) - {"fid", "kid", "is", "pr"}:
        p.error("--num-fake must be at least 2 and --metrics a list of fid, kid, is, pr")

    from common.data import DataError
    from common.runtime.run_report import rewrite_report
    from common.data_source import resolve_data
    from watches.data import LAYOUTS
    from watches.demo import demo_dataset
    from common.metrics.evaluate import build_extractor, format_table
    from common.metrics.features import WeightsUnavailableError
    from watches.evaluation import evaluate_generator
    from watches.inference import load_generator

    try:
        root = resolve_data(args.data, layouts=LAYOUTS, build_demo=demo_dataset)
        generator, latent_dim = load_generator(args.checkpoint)
        extractor = build_extractor(args.extractor, args.inception_weights)
        result = evaluate_generator(generator, latent_dim, root, extractor=extractor, num_fake=args.num_fake,
                                    metrics=metrics, max_real=args.max_images)
    except (DataError, WeightsUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(result, metrics))
    target = results_path(args.checkpoint, args.json)
    target.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {target}")
    report = rewrite_report(args.checkpoint, target)
    if report is not None:
        print(f"wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
