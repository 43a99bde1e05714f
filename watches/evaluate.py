"""Evaluate a watches generator: FID, KID, Inception Score and precision/recall against the real images.

    python -m watches.evaluate --checkpoint runs/watches --data kaggle:minhquntntht/wrist-watch-128 [--num-fake 10000]

Prints a table and writes JSON (default <run>/evaluation.json). The library: watches.evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common.report import one_line_errors  # noqa: E402


def main(argv=None) -> int:
    from common.metrics.evaluate import extractor_arg

    p = one_line_errors(argparse.ArgumentParser(prog="python -m watches.evaluate", description=__doc__,
                                                formatter_class=argparse.RawDescriptionHelpFormatter))
    p.add_argument("--checkpoint", required=True, help="run folder, checkpoint folder or exported .keras generator")
    p.add_argument("--data", required=True, help="the real images: a folder, 'demo' or 'kaggle:<owner>/<dataset>'")
    p.add_argument("--num-fake", type=int, default=10000, help="generated images (10000)")
    p.add_argument("--max-real", type=int, default=None, help="use at most N real images (all)")
    p.add_argument("--metrics", default="fid,kid,is,pr", help="comma list of fid, kid, is, pr")
    p.add_argument("--extractor", default="inception", type=extractor_arg, metavar="NAME|FILE.keras",
                   help="features: inception (Keras ImageNet InceptionV3), inception-2015 (the TF-slim graph of "
                        "published FIDs) or a saved Keras feature model (FILE.keras: images -> features)")
    p.add_argument("--inception-weights", default=None,
                   help="local InceptionV3 weights file (else Keras's ImageNet download; env "
                        "GANWORKS_INCEPTION_WEIGHTS)")
    p.add_argument("--json", default=None, help="results file (default <run>/evaluation.json)")
    args = p.parse_args(argv)
    if not Path(args.checkpoint).exists():
        p.error(f"--checkpoint not found: {args.checkpoint}")
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if args.num_fake < 2 or not metrics or set(metrics) - {"fid", "kid", "is", "pr"}:
        p.error("--num-fake must be at least 2 and --metrics a list of fid, kid, is, pr")

    from common.data import DataError
    from common.data_source import resolve_data
    from watches.data import LAYOUTS
    from watches.demo import demo_dataset
    from common.metrics.evaluate import build_extractor, format_table
    from common.metrics.features import WeightsUnavailableError
    from watches.evaluation import evaluate_generator
    from watches.generate import load_generator

    try:
        root = resolve_data(args.data, layouts=LAYOUTS, build_demo=demo_dataset)
        generator, latent_dim = load_generator(args.checkpoint)
        extractor = build_extractor(args.extractor, args.inception_weights)
        result = evaluate_generator(generator, latent_dim, root, extractor=extractor, num_fake=args.num_fake,
                                    metrics=metrics, max_real=args.max_real)
    except (DataError, WeightsUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(result, metrics))
    run = Path(args.checkpoint)
    run = run.parent.parent if run.suffix == ".keras" or run.name.startswith("ckpt-") else run
    target = Path(args.json) if args.json else run / "evaluation.json"
    target.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
