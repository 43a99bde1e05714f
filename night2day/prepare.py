"""Build the night2day folders from BDD100K (SPEC section 1, "Data").

    python -m night2day.prepare --bdd-images bdd100k/images/100k/train \\
        --bdd-labels bdd100k/labels/bdd100k_labels_images_train.json --out data/night2day

writes trainA/ testA/ (night: attributes.timeofday == "night") and trainB/ testB/
(day: "daytime") under --out, drawing images at random with --seed; train and test
never share an image. The ResNet CycleGAN used 1,200 train + 400 test per domain.
The library behind it: night2day.bdd100k.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from night2day.bdd100k import FOLDERS, PrepareError, prepare_bdd100k

from common.report import one_line_errors  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m night2day.prepare",
        description="Build trainA/ testA/ (night) and trainB/ testB/ (day) from BDD100K images and their "
                    "label JSON, choosing images at random (train and test disjoint).",
        epilog="If a domain has fewer images than train + test asks for, all of them are used, split in the "
               "same train:test proportion, with a warning. Labelled images missing from --bdd-images are "
               "counted and skipped.")
    parser.add_argument("--bdd-images", required=True, metavar="DIR",
                        help="BDD100K image folder, e.g. bdd100k/images/100k/train (searched recursively by file name)")
    parser.add_argument("--bdd-labels", required=True, metavar="FILE.json",
                        help="BDD100K label JSON with attributes.timeofday, e.g. "
                             "bdd100k/labels/bdd100k_labels_images_train.json")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (gets trainA trainB testA testB)")
    parser.add_argument("--train-per-domain", type=int, default=1200, metavar="N", help="default: %(default)s")
    parser.add_argument("--test-per-domain", type=int, default=400, metavar="N", help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=0, help="random choice of images (default: %(default)s)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--copy", dest="mode", action="store_const", const="copy", help="copy the files (default)")
    how.add_argument("--link", dest="mode", action="store_const", const="link",
                     help="hard-link the files (symlink where a hard link is impossible, e.g. across filesystems) "
                          "(default: --copy)")
    how.add_argument("--symlink", dest="mode", action="store_const", const="symlink",
                     help="symlink the files (default: --copy)")
    parser.set_defaults(mode="copy")
    parser.add_argument("--overwrite", action="store_true",
                        help="empty existing non-empty output folders first (otherwise that is an error)")
    return one_line_errors(parser)


def main(argv=None) -> dict[str, int]:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        counts = prepare_bdd100k(args.bdd_images, args.bdd_labels, args.out, args.train_per_domain,
                                 args.test_per_domain, args.seed, args.mode, args.overwrite,
                                 log=lambda message: print(message, file=sys.stderr))
    except PrepareError as e:
        parser.error(str(e))
    print(f"{counts['night']} night and {counts['day']} day images available ({counts['missing']} labelled "
          "but missing)")
    for folder in FOLDERS:
        print(f"{Path(args.out) / folder}: {counts[folder]} images")
    return counts


if __name__ == "__main__":
    main()
