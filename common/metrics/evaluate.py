"""Compare a folder of generated images with a folder of real ones: FID, KID, IS, precision/recall.

    python -m common.metrics.evaluate --real DIR --fake DIR [--metrics fid,kid,is,pr]
        [--max-images N] [--batch-size 64] [--json metrics.json]
        [--extractor inception|inception-2015|FILE.keras] [--inception-weights PATH]

Prints a table and writes every number, with its sample counts and the extractor that
produced it, to a JSON file. Unreadable images (empty, not an image, truncated, corrupt)
are left out and named, with a one-line reason, in the table and in the JSON's
``skipped_files``. Real-folder features are cached on disk (see
:func:`common.metrics.features.folder_features`), so re-evaluating new samples against
the same dataset only extracts the generated images.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from common import report
from common.report import EXTRACTORS, extractor_arg  # noqa: F401  (the --extractor type, light)

if __name__ != "__main__":  # `python -m common.metrics.evaluate` parses its flags before TensorFlow loads (main)
    from common.data import decode_error, scan_images
    from common.metrics import features as F
    from common.metrics import registry

DEFAULT_METRICS = ("fid", "kid", "is", "pr")
INCEPTION_2015_ENV = "GANWORKS_INCEPTION_2015_GRAPH"


def comparability_note(extractor: F.FeatureExtractor) -> str:
    """One sentence saying what the numbers from this extractor can be compared with."""
    if extractor.name.startswith("random-"):
        return "random weights: the numbers only check the plumbing and mean nothing"
    if extractor.name.startswith("keras-model-"):
        return "a Keras feature model of your own: comparable only with runs that use the same file"
    if extractor.name.startswith("inception_v3-keras"):
        return (
            "Keras InceptionV3 ImageNet weights: comparable with other runs of this tool, not with papers "
            "that use the 2015 TF Inception graph (TTUR, pytorch-fid, clean-fid, StyleGAN)"
        )
    if extractor.name.startswith("inception-2015-graph"):
        return (
            "2015 TF Inception graph (as TTUR/pytorch-fid/clean-fid); resizing is antialiased bilinear, "
            "so small differences from each of those remain"
        )
    return f"features from {extractor.name}"


# --------------------------------------------------------------------------- unreadable files

def _skipped_by_features(paths, n_features: int) -> list[dict]:
    """The files among ``paths`` that :func:`common.metrics.features.folder_features` left out,
    given that it returned ``n_features`` rows, with a one-line reason each.

    folder_features skips every file TensorFlow cannot decode without saying which. The
    cheap header check names almost all of them; files it flags are decoded to be sure
    (a JPEG with trailing data fails the check but decodes). Only if the count still does
    not add up (a file passes the check but fails to decode) is every file decoded.
    """
    _, flagged = scan_images(paths, report=False)
    skipped = [item for item in flagged if decode_error(item["path"]) is not None]
    if len(paths) - len(skipped) != n_features:
        flagged_reason = {item["path"]: item["reason"] for item in flagged}
        skipped = []
        for path in paths:
            error = decode_error(path)
            if error is not None:
                skipped.append({"path": os.fspath(path), "reason": flagged_reason.get(os.fspath(path), error)})
    return skipped


def _metric_names(metrics) -> list[str]:
    names = [m.strip() for m in (metrics.split(",") if isinstance(metrics, str) else metrics) if m.strip()]
    for name in names:
        registry.get_metric(name)  # fail on a typo before minutes of feature extraction
    return names


def _check_options(options: dict) -> None:
    unknown = set(options) - registry.metric_options()
    if unknown:
        raise TypeError(f"unknown metric options {sorted(unknown)}; known: {sorted(registry.metric_options())}")


def evaluate_features(real: dict, fake: dict, metrics=DEFAULT_METRICS, **options) -> dict:
    """Feature dicts {"pool": [N, D], "logits": [N, K]} -> one flat dict of every metric's results.

    options: metric options by prefixed name, e.g. kid_subsets=100, kid_subset_size=1000,
    is_splits=10, pr_k=3 (see common.metrics.registry); each metric takes its own.
    """
    _check_options(options)
    result: dict = {}
    for name in _metric_names(metrics):
        result.update(registry.compute_metric(name, real, fake, **options))
    return result


def _folder_features(folder, paths, extractor, **kwargs) -> dict:
    """F.folder_features, with "no image can be read" as a DataError naming the folder and a file."""
    from common.data import DataError

    try:
        return F.folder_features(folder, extractor, **kwargs)
    except ValueError as exc:
        if "no images to extract features from" not in str(exc):
            raise
        first = (_skipped_by_features(paths, 0) or [{"path": paths[0], "reason": "unreadable"}])[0]
        raise DataError(f"none of the {len(paths)} images in {folder} can be read "
                        f"(first: {first['path']}: {first['reason']})") from None


def evaluate_folders(
    real,
    fake,
    metrics=DEFAULT_METRICS,
    extractor: F.FeatureExtractor | None = None,
    max_images: int | None = None,
    batch_size: int = 64,
    *,
    cache_dir=None,
    progress: bool = False,
    **options,
) -> dict:
    """Metrics between the images in folder ``real`` and folder ``fake`` -> flat dict.

    extractor: default :func:`common.metrics.features.inception_extractor` (ImageNet
    weights from $GANWORKS_INCEPTION_WEIGHTS or Keras; raises WeightsUnavailableError
    if neither). max_images: a seeded random subset of at most this many per folder.
    The result holds the metric values ("fid", "kid", "kid_std", "is", "is_std",
    "precision", "recall", ...), "n_real"/"n_fake", "extractor", "comparability", the
    folders, the extraction speed and "skipped_files": [{"path", "reason"}] for every
    image left out because it cannot be read. Only the real folder's features are cached
    (``cache_dir``: None = default location, False = off): generated images change
    every evaluation. options: metric options (kid_subsets, kid_subset_size, is_splits,
    pr_k), as :func:`evaluate_features`.
    """
    metrics = _metric_names(metrics)
    _check_options(options)
    extractor = extractor or F.inception_extractor()
    real_paths, fake_paths = F.select_images(real, max_images), F.select_images(fake, max_images)
    start = time.perf_counter()
    real_feats = _folder_features(
        real, real_paths, extractor, max_images=max_images, batch_size=batch_size, cache_dir=cache_dir,
        progress=progress,
    )
    mid = time.perf_counter()
    fake_feats = _folder_features(
        fake, fake_paths, extractor, max_images=max_images, batch_size=batch_size, cache_dir=False,
        progress=progress,
    )
    end = time.perf_counter()
    skipped = _skipped_by_features(real_paths, len(real_feats["pool"]))
    named = {item["path"] for item in skipped}  # a folder compared with itself: each file once
    skipped += [s for s in _skipped_by_features(fake_paths, len(fake_feats["pool"])) if s["path"] not in named]
    result = {
        "real": str(real),
        "fake": str(fake),
        "extractor": extractor.name,
        "comparability": comparability_note(extractor),
        "n_real": len(real_feats["pool"]),
        "n_fake": len(fake_feats["pool"]),
        "max_images": max_images,
        "fake_images_per_second": round(len(fake_feats["pool"]) / max(end - mid, 1e-9), 2),
        "seconds": round(end - start, 2),
        "skipped_files": skipped,
    }
    result.update(evaluate_features(real_feats, fake_feats, metrics, **options))
    return result


def format_table(result: dict, metrics=DEFAULT_METRICS) -> str:
    """The headline numbers as a small aligned text table, then the notes and skipped files."""
    rows = []
    for name in metrics:
        for key in registry.get_metric(name).values:
            std = result.get(f"{key}_std")
            rows.append((key, f"{result[key]:.6g}", "" if std is None else f"{std:.3g}"))
    lines = [report.format_table(rows, header=("metric", "value", "std"))]
    lines.append(f"n_real={result['n_real']}  n_fake={result['n_fake']}  extractor={result['extractor']}")
    lines.append(f"note: {result['comparability']}")
    lines.extend(report.format_skipped(result.get("skipped_files")))
    return "\n".join(lines)


def build_extractor(kind: str, weights: str | None) -> F.FeatureExtractor:
    """CLI choice -> extractor. inception: Keras InceptionV3 (weights: .h5 path, else env/Keras);
    inception-2015: the TF-slim-era graph .pb (path, else $GANWORKS_INCEPTION_2015_GRAPH);
    a path ending in .keras: that saved feature model (F.keras_model_extractor; weights unused)."""
    if kind == "inception":
        return F.inception_extractor(weights)
    if kind == "inception-2015":
        path = weights or os.environ.get(INCEPTION_2015_ENV)
        if not path:
            raise F.WeightsUnavailableError(
                "--extractor inception-2015 needs the graph file: pass --inception-weights "
                f"classify_image_graph_def.pb or set {INCEPTION_2015_ENV} (the file is inside "
                "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz)"
            )
        return F.inception_2015_extractor(path)
    if str(kind).endswith(".keras"):
        return F.keras_model_extractor(kind)
    raise ValueError(f"unknown extractor {kind!r}: give {' or '.join(EXTRACTORS)} or the path of a .keras "
                     "feature model")


def build_parser():
    parser = report.one_line_errors(
        argparse.ArgumentParser(prog="python -m common.metrics.evaluate", description=__doc__.split("\n")[0]))
    parser.add_argument("--real", required=True, help="folder of real images (searched recursively)")
    parser.add_argument("--fake", required=True, help="folder of generated images")
    parser.add_argument("--metrics", default=",".join(DEFAULT_METRICS), help="comma list of fid, kid, is, pr")
    parser.add_argument("--max-images", type=int, default=None, metavar="N",
                        help="at most N images per folder (seeded subset; default: all)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", "--out", dest="json", default="metrics.json", metavar="FILE",
                        help="JSON file for the full results")
    parser.add_argument("--extractor", default="inception", type=extractor_arg, metavar="NAME|FILE.keras",
                        help="inception: Keras InceptionV3 ImageNet; inception-2015: the 2015 TF graph used by "
                        "papers (needs its .pb); FILE.keras: a saved Keras model, images [B, S, S, 3] in "
                        "[0, 255] -> features [B, D] (or features and logits)")
    parser.add_argument("--inception-weights", default=None, metavar="PATH",
                        help="weights file (.h5 for inception, .pb for inception-2015); default "
                        "$GANWORKS_INCEPTION_WEIGHTS, else Keras's download")
    parser.add_argument("--cache-dir", default=None, help="feature cache (default $GANWORKS_FEATURE_CACHE or "
                        "~/.cache/ganworks/features)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write cached real features")
    parser.add_argument("--kid-subsets", type=int, default=100)
    parser.add_argument("--kid-subset-size", type=int, default=1000)
    parser.add_argument("--pr-k", type=int, default=3)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return report.add_verbose(parser)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    report.quiet_tensorflow(args.verbose)
    from common.metrics import evaluate  # this module under its own name, with its TensorFlow imports

    return evaluate.run(args)


def run(args) -> int:
    """The command line's work once its arguments are parsed."""
    try:
        metrics = _metric_names(args.metrics)
        extractor = build_extractor(args.extractor, args.inception_weights)
    except (ValueError, F.WeightsUnavailableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from common.data import DataError

    try:
        result = evaluate_folders(
            args.real,
            args.fake,
            metrics,
            extractor,
            max_images=args.max_images,
            batch_size=args.batch_size,
            cache_dir=False if args.no_cache else args.cache_dir,
            progress=not args.quiet,
            kid_subsets=args.kid_subsets,
            kid_subset_size=args.kid_subset_size,
            pr_k=args.pr_k,
        )
    except DataError as err:  # a missing folder, or one where no image can be read
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_table(result, metrics))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
