"""Build the night2day folders from BDD100K (SPEC section 1, "Data").

    python -m night2day.prepare --bdd-images bdd100k/images/100k/train \\
        --bdd-labels bdd100k/labels/bdd100k_labels_images_train.json --out data/night2day

writes trainA/ testA/ (night: attributes.timeofday == "night") and trainB/ testB/
(day: "daytime") under --out, drawing images at random with --seed; train and test
never share an image. The ResNet CycleGAN used 1,200 train + 400 test per domain.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
from pathlib import Path

__all__ = ["DOMAINS", "FOLDERS", "PrepareError", "read_bdd_labels", "prepare_bdd100k", "main"]

# domain letter -> BDD100K attributes.timeofday value
DOMAINS = {"A": "night", "B": "daytime"}
FOLDERS = ("trainA", "trainB", "testA", "testB")
MODES = ("copy", "link", "symlink")



class PrepareError(ValueError):
    """A user error (missing path, wrong label format, ...) with a one-line message naming the path.

    Own class rather than common.data.DataError: that module imports TensorFlow, which
    this file-copying tool does not need (seconds of start-up and log noise).
    """


_EXPECTED = ('BDD100K\'s label JSON: a list of {"name": "<file>.jpg", "attributes": {"timeofday": ...}, ...} '
             'entries (e.g. bdd100k_labels_images_train.json)')


def _iter_json_list(path, chunk_size=1 << 20):
    """Yield the elements of a top-level JSON list one at a time.

    BDD100K's train label file is hundreds of MB with a box list per image; decoding it
    element by element keeps only what we extract, not the whole document, in memory.
    """
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8") as f:
        buffer, pos, eof = "", 0, False

        def more():
            nonlocal buffer, pos, eof
            chunk = f.read(chunk_size)
            eof = not chunk
            buffer, pos = buffer[pos:] + chunk, 0

        def skip(chars):
            nonlocal pos
            while True:
                while pos < len(buffer) and buffer[pos] in chars:
                    pos += 1
                if pos < len(buffer) or eof:
                    return
                more()

        skip(" \t\r\n")
        if pos >= len(buffer) or buffer[pos] != "[":
            raise ValueError("not a JSON list")
        pos += 1
        while True:
            skip(" \t\r\n,")
            if pos >= len(buffer):
                raise ValueError("the list is not closed (truncated file?)")
            if buffer[pos] == "]":
                return
            while True:
                try:
                    item, end = decoder.raw_decode(buffer, pos)
                    break
                except json.JSONDecodeError:
                    if eof:
                        raise
                    more()  # the element may continue in the next chunk
            pos = end
            yield item


def read_bdd_labels(labels_file) -> dict[str, str]:
    """{image file name: timeofday} from a BDD100K label JSON.

    Accepts the list format (bdd100k_labels_images_*.json, det_20) and a Scalabel
    {"frames": [...]} document. Entries without attributes.timeofday are skipped; a
    file with none at all, or not a list of objects with "name", raises PrepareError.
    """
    path = Path(labels_file)
    try:
        with open(path, encoding="utf-8") as f:
            head = f.read(4096).lstrip()
        if head.startswith("["):
            entries = _iter_json_list(path)
        else:
            document = json.loads(path.read_text(encoding="utf-8"))
            entries = document.get("frames") if isinstance(document, dict) else None
            if not isinstance(entries, list):
                found = (f"an object with keys {', '.join(map(str, list(document)[:5]))}"
                         if isinstance(document, dict) else f"a JSON {type(document).__name__}")
                raise PrepareError(f"{path} is not in BDD100K format: found {found}; expected {_EXPECTED}")
        timeofday = {}
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise PrepareError(f"{path} is not in BDD100K format: found an entry {str(entry)[:60]!r}; "
                                f"expected {_EXPECTED}")
            attributes = entry.get("attributes")
            value = attributes.get("timeofday") if isinstance(attributes, dict) else None
            if isinstance(value, str):
                timeofday.setdefault(os.path.basename(entry["name"]), value)
    except PrepareError:
        raise
    except (ValueError, UnicodeDecodeError) as e:  # json.JSONDecodeError is a ValueError
        raise PrepareError(f"{path} is not valid JSON ({str(e).splitlines()[0]}); expected {_EXPECTED}") from None
    if not timeofday:
        raise PrepareError(f"{path} has no entry with attributes.timeofday; expected {_EXPECTED}")
    return timeofday


def _index_images(images_dir: Path) -> dict[str, Path]:
    """{file name: path} for every file under images_dir (first in sorted order if a name repeats)."""
    index = {}
    for root, dirs, files in os.walk(images_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                index.setdefault(name, Path(root) / name)
    return index


def _split_sizes(available, train, test):
    """(train, test) to take from `available` images: as asked, or scaled down in the same proportion."""
    if available >= train + test:
        return train, test
    test_taken = round(available * test / (train + test))
    return available - test_taken, test_taken


def _place(source: Path, target: Path, mode: str) -> str:
    """Copy or link source to target; returns the mode actually used (a hard link falls back to a symlink)."""
    if mode == "copy":
        shutil.copyfile(source, target)
        return mode
    if mode == "link":
        try:
            os.link(source, target)
            return mode
        except OSError:  # another filesystem, or one without hard links (e.g. a read-only Kaggle input)
            pass
    os.symlink(source.resolve(), target)
    return "symlink"


def prepare_bdd100k(images_dir, labels_file, out_dir, train_per_domain=1200, test_per_domain=400, seed=0,
                    mode="copy", overwrite=False, log=print) -> dict[str, int]:
    """Build out_dir/{trainA, trainB, testA, testB} from BDD100K images and labels.

    A = night (timeofday "night"), B = day ("daytime"). Only labelled images found
    (by file name, anywhere under images_dir) are used. Each domain's images are sorted
    by name and shuffled with a generator seeded by (seed, domain): the first
    train_per_domain go to train, the next test_per_domain to test, so the split is
    disjoint and the same for a seed whatever the label file's order. If a domain has
    fewer images than asked, what there is is split in the same train:test proportion
    and a warning is logged. mode: "copy", "link" (hard link, symlink where that is not
    possible) or "symlink". Existing non-empty output folders are an error unless
    overwrite=True (then they are emptied first), so splits of two runs never mix.

    Returns counts: trainA, trainB, testA, testB (files written), night and day
    (matching images available), missing (labelled night/day images not found).
    Raises PrepareError with a one-line message for every user error.
    """
    images_dir, labels_file, out_dir = Path(images_dir), Path(labels_file), Path(out_dir)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if train_per_domain < 0 or test_per_domain < 0 or train_per_domain + test_per_domain == 0:
        raise PrepareError("--train-per-domain and --test-per-domain must be >= 0 and not both 0")
    if not images_dir.is_dir():
        raise PrepareError(f"images folder not found: {images_dir}")
    if not labels_file.is_file():
        raise PrepareError(f"label file not found: {labels_file}")
    # checked before the (slow) label parsing; emptied only once the selection succeeded
    stale = [out_dir / f for f in FOLDERS if (out_dir / f).is_dir() and any((out_dir / f).iterdir())]
    if stale and not overwrite:
        raise PrepareError(f"{stale[0]} is not empty; remove it, choose another --out, or pass --overwrite")

    timeofday = read_bdd_labels(labels_file)
    on_disk = _index_images(images_dir)
    counts, chosen, missing = {}, {}, 0
    for letter, value in DOMAINS.items():
        names = sorted(n for n, t in timeofday.items() if t == value)
        found = [n for n in names if n in on_disk]
        missing += len(names) - len(found)
        counts["night" if letter == "A" else "day"] = len(found)
        if not found:
            raise PrepareError(f"no {value} images found: {len(names)} are labelled {value!r} in {labels_file} "
                            f"but none of them is under {images_dir} (does the folder match the label file's "
                            "split, e.g. images/100k/train with bdd100k_labels_images_train.json?)")
        random.Random(f"{seed}/{letter}").shuffle(found)
        n_train, n_test = _split_sizes(len(found), train_per_domain, test_per_domain)
        if (n_train, n_test) != (train_per_domain, test_per_domain):
            log(f"warning: only {len(found)} {value} images for {train_per_domain} train + {test_per_domain} "
                f"test; using {n_train} + {n_test}")
        chosen[f"train{letter}"] = found[:n_train]
        chosen[f"test{letter}"] = found[n_train:n_train + n_test]
    counts["missing"] = missing
    if missing:
        log(f"{missing} labelled night/day images are not under {images_dir}; using the {counts['night']} night "
            f"and {counts['day']} day images that are")

    for target in stale:
        shutil.rmtree(target)
    fell_back = False
    for folder in FOLDERS:
        target = out_dir / folder
        target.mkdir(parents=True, exist_ok=True)
        for name in chosen[folder]:
            fell_back |= _place(on_disk[name], target / name, mode) != mode
        counts[folder] = len(chosen[folder])
    if fell_back:
        log("warning: hard links were not possible for some files (another filesystem?); symlinked those")
    return counts


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
                     help="hard-link the files (symlink where a hard link is impossible, e.g. across filesystems)")
    how.add_argument("--symlink", dest="mode", action="store_const", const="symlink", help="symlink the files")
    parser.set_defaults(mode="copy")
    parser.add_argument("--overwrite", action="store_true",
                        help="empty existing non-empty output folders first (otherwise that is an error)")
    return parser


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
