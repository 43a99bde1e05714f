"""BDD100K -> the night2day folders (SPEC section 1, "Data"); what `python -m night2day.prepare` runs.

trainA/ testA/ get night images (attributes.timeofday == "night"), trainB/ testB/ day
images ("daytime"), drawn at random with a seed; train and test never share an image.
Pure Python (no TensorFlow): a file-copying tool should start in a blink.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

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
    # checked before the (slow) label parsing; the stale folders are emptied only once the selection succeeded
    stale = _check_request(images_dir, labels_file, out_dir, train_per_domain, test_per_domain, mode, overwrite)
    timeofday = read_bdd_labels(labels_file)
    on_disk = _index_images(images_dir)
    found, missing = _labelled_on_disk(timeofday, on_disk, images_dir, labels_file)
    chosen = _choose_splits(found, train_per_domain, test_per_domain, seed, log)
    if missing:
        log(f"{missing} labelled night/day images are not under {images_dir}; using the {len(found['A'])} night "
            f"and {len(found['B'])} day images that are")
    if not _place_files(chosen, on_disk, out_dir, mode, replace=stale):
        log("warning: hard links were not possible for some files (another filesystem?); symlinked those")
    return {"night": len(found["A"]), "day": len(found["B"]), "missing": missing,
            **{folder: len(names) for folder, names in chosen.items()}}


def _check_request(images_dir, labels_file, out_dir, train_per_domain, test_per_domain, mode, overwrite):
    """PrepareError for arguments that cannot work; -> the non-empty output folders (to replace: overwrite)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if train_per_domain < 0 or test_per_domain < 0 or train_per_domain + test_per_domain == 0:
        raise PrepareError("--train-per-domain and --test-per-domain must be >= 0 and not both 0")
    if not images_dir.is_dir():
        raise PrepareError(f"images folder not found: {images_dir}")
    if not labels_file.is_file():
        raise PrepareError(f"label file not found: {labels_file}")
    stale = [out_dir / f for f in FOLDERS if (out_dir / f).is_dir() and any((out_dir / f).iterdir())]
    if stale and not overwrite:
        raise PrepareError(f"{stale[0]} is not empty; remove it, choose another --out, or pass --overwrite")
    return stale


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


def _index_images(images_dir: Path) -> dict[str, Path]:
    """{file name: path} for every file under images_dir (first in sorted order if a name repeats)."""
    index = {}
    for root, dirs, files in os.walk(images_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                index.setdefault(name, Path(root) / name)
    return index


def _labelled_on_disk(timeofday, on_disk, images_dir, labels_file):
    """-> ({domain letter: sorted names labelled for it and on disk}, how many labelled night/day images
    are not on disk); PrepareError if a domain has none on disk."""
    found, missing = {}, 0
    for letter, value in DOMAINS.items():
        names = sorted(n for n, t in timeofday.items() if t == value)
        found[letter] = [n for n in names if n in on_disk]
        missing += len(names) - len(found[letter])
        if not found[letter]:
            raise PrepareError(f"no {value} images found: {len(names)} are labelled {value!r} in {labels_file} "
                               f"but none of them is under {images_dir} (does the folder match the label file's "
                               "split, e.g. images/100k/train with bdd100k_labels_images_train.json?)")
    return found, missing


def _choose_splits(found, train_per_domain, test_per_domain, seed, log) -> dict[str, list[str]]:
    """{"trainA": names, "testA": ..., "trainB": ..., "testB": ...}: each domain shuffled by (seed, letter),
    then cut into train and test (scaled down in proportion, with a warning, when there are too few)."""
    chosen = {}
    for letter, names in found.items():
        names = list(names)
        random.Random(f"{seed}/{letter}").shuffle(names)
        n_train, n_test = _split_sizes(len(names), train_per_domain, test_per_domain)
        if (n_train, n_test) != (train_per_domain, test_per_domain):
            log(f"warning: only {len(names)} {DOMAINS[letter]} images for {train_per_domain} train + "
                f"{test_per_domain} test; using {n_train} + {n_test}")
        chosen[f"train{letter}"] = names[:n_train]
        chosen[f"test{letter}"] = names[n_train:n_train + n_test]
    return chosen


def _split_sizes(available, train, test):
    """(train, test) to take from `available` images: as asked, or scaled down in the same proportion."""
    if available >= train + test:
        return train, test
    test_taken = round(available * test / (train + test))
    return available - test_taken, test_taken


def _place_files(chosen, on_disk, out_dir, mode, replace=()) -> bool:
    """Empty the folders in replace, then copy/link each chosen name into out_dir/<folder>/.
    -> False if some hard link fell back to a symlink."""
    for target in replace:
        shutil.rmtree(target)
    exact = True
    for folder in FOLDERS:
        target = out_dir / folder
        target.mkdir(parents=True, exist_ok=True)
        for name in chosen[folder]:
            exact &= _place(on_disk[name], target / name, mode) == mode
    return exact


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
